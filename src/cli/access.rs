//! How inspection commands reach the data: the store directly when the daemon
//! is stopped, or the running daemon's admin API when it holds the store.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use psa_bridge::clock::SystemClock;
use psa_bridge::config::{load, LoadedConfig};
use psa_bridge::engine::Engine;
use psa_bridge::store::Store;
use tokio::sync::Notify;

pub enum Access {
    Local(Arc<Engine>),
    Remote {
        base: String,
        client: reqwest::Client,
    },
}

/// Loads the config without needing secrets (inspection never calls vendors).
pub fn load_for_inspection(config: &Path) -> anyhow::Result<LoadedConfig> {
    Ok(load(config, &|name| {
        Some(std::env::var(name).unwrap_or_default())
    })?)
}

pub async fn connect(config: &Path) -> anyhow::Result<Access> {
    let loaded = load_for_inspection(config)?;
    match Store::open(&loaded.store_path) {
        Ok(store) => {
            let connections = psa_bridge::connections::build_all(&loaded.config.connections)
                .unwrap_or_else(|_| HashMap::new());
            Ok(Access::Local(Arc::new(Engine {
                store,
                connections,
                pairings: loaded.pairings,
                clock: Arc::new(SystemClock),
                retry: psa_bridge::retry::RetryPolicy::for_hours(
                    loaded.config.daemon.retry_for_hours,
                ),
                outbox_ready: Arc::new(Notify::new()),
                inbox_ready: Arc::new(Notify::new()),
            })))
        }
        Err(open_error) => {
            let recorded =
                std::fs::read_to_string(psa_bridge::daemon::address_file(&loaded.store_path)).ok();
            let addr = recorded
                .map(|a| a.trim().to_string())
                .unwrap_or_else(|| loaded.config.daemon.admin_listen.to_string());
            let base = format!("http://{addr}");
            let client = reqwest::Client::new();
            let alive = client
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if alive {
                Ok(Access::Remote { base, client })
            } else {
                Err(open_error).with_context(|| {
                    "cannot open the store, and no daemon answers at daemon.admin_listen"
                })
            }
        }
    }
}

impl Access {
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        client: &reqwest::Client,
        url: String,
    ) -> anyhow::Result<T> {
        let response = client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        if !status.is_success() {
            anyhow::bail!(
                "daemon answered {status}: {}",
                response.text().await.unwrap_or_default()
            );
        }
        Ok(response.json().await?)
    }
}
