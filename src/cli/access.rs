//! How inspection commands reach the data: the store directly when the daemon
//! is stopped, or the running daemon's admin API (`/api/v1`) when it holds
//! the store. The API's bearer token comes from `PSA_BRIDGE_ADMIN_TOKEN`,
//! else `daemon.admin_token`, else the daemon's `<store_path>.token` file.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use psa_bridge::clock::SystemClock;
use psa_bridge::config::{load, LoadedConfig};
use psa_bridge::engine::Engine;
use psa_bridge::store::Store;

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
    match Store::open_with_cache(&loaded.store_path, loaded.config.daemon.store_cache_mb) {
        Ok(store) => {
            let connections = psa_bridge::connections::build_all(&loaded.config.connections)
                .unwrap_or_else(|_| HashMap::new());
            Ok(Access::Local(Arc::new(Engine::new(
                store,
                connections,
                loaded.pairings,
                Arc::new(SystemClock),
                psa_bridge::retry::RetryPolicy::for_hours(loaded.config.daemon.retry_for_hours),
            ))))
        }
        Err(open_error) => {
            let recorded =
                std::fs::read_to_string(psa_bridge::daemon::address_file(&loaded.store_path)).ok();
            let addr = recorded
                .map(|a| a.trim().to_string())
                .unwrap_or_else(|| loaded.config.daemon.admin_listen.to_string());
            let base = format!("http://{addr}");
            let client = admin_client(&loaded)?;
            // Any answer means a daemon is there (503 only says a task is restarting).
            let alive = client.get(format!("{base}/healthz")).send().await.is_ok();
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

/// The admin API token the CLI presents, if it can find one. A token file
/// that is there but unsafe (a link, someone else's, readable by others,
/// empty) is an error that says so, not a silent 401 later.
fn admin_token(loaded: &LoadedConfig) -> anyhow::Result<Option<String>> {
    let configured = || {
        loaded
            .config
            .daemon
            .admin_token
            .as_ref()
            .map(|t| t.0.trim().to_string())
    };
    let given = std::env::var("PSA_BRIDGE_ADMIN_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .or_else(|| configured().filter(|t| !t.is_empty()));
    if given.is_some() {
        return Ok(given);
    }
    let file = psa_bridge::admin::token::token_file(&loaded.store_path);
    match psa_bridge::side_file::read_private(&file) {
        Ok(token) => Ok(Some(token)),
        Err(e) if e.is_missing() => Ok(None),
        Err(e) => Err(anyhow::anyhow!("admin token file {e}")),
    }
}

/// An HTTP client that sends the admin token with every request.
fn admin_client(loaded: &LoadedConfig) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = admin_token(loaded)? {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .context("the admin token contains characters a header cannot carry")?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .build()?)
}

/// Explains a refusal by the admin API.
pub fn refusal(status: reqwest::StatusCode, body: &str) -> anyhow::Error {
    if status == reqwest::StatusCode::UNAUTHORIZED {
        anyhow::anyhow!(
            "daemon answered {status}: the admin API needs its token; the CLI reads \
             PSA_BRIDGE_ADMIN_TOKEN, daemon.admin_token, or <store_path>.token (readable \
             by the user that runs the daemon)"
        )
    } else {
        anyhow::anyhow!("daemon answered {status}: {body}")
    }
}

/// How the API answered a change.
pub enum Answer {
    Done(serde_json::Value),
    /// 404: no such id (the message says which).
    NotFound(String),
    /// 400 or 409: refused, with the API's message.
    Refused(String),
}

/// The API's `{"error": ...}` message, or the body as it is.
fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.to_string())
}

impl Access {
    /// `GET path` on the running daemon's API (a remote access only).
    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let Access::Remote { base, client } = self else {
            anyhow::bail!("not connected to a daemon");
        };
        let url = format!("{base}{path}");
        let response = client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(refusal(status, &response.text().await.unwrap_or_default()));
        }
        Ok(response.json().await?)
    }

    /// `POST path` with a JSON `body` on the running daemon's API.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<Answer> {
        let Access::Remote { base, client } = self else {
            anyhow::bail!("not connected to a daemon");
        };
        let url = format!("{base}{path}");
        let response = client
            .post(&url)
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        match status {
            s if s.is_success() => Ok(Answer::Done(serde_json::from_str(&text)?)),
            reqwest::StatusCode::NOT_FOUND => Ok(Answer::NotFound(error_message(&text))),
            reqwest::StatusCode::BAD_REQUEST | reqwest::StatusCode::CONFLICT => {
                Ok(Answer::Refused(error_message(&text)))
            }
            _ => Err(refusal(status, &text)),
        }
    }
}

/// Percent-encodes `s` for a URL path segment or query value.
pub fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
