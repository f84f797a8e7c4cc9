//! The ingest ceiling: a minimal webhook receiver on the daemon's own HTTP
//! stack (its accept loop `psa_bridge::daemon::serve_listener`, hyper, an
//! axum router, the listener limits of the same `[daemon]` config) that
//! asks the same Autotask connector, built from the same config, to verify
//! the signature, and answers 200 without storing anything. What the
//! daemon achieves over what this achieves is the cost of durability
//! (inbox transaction, flush, dedup and replay keys, audit).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use psa_bridge::daemon::{serve_listener, ListenerLimits};
use psa_connector::{Connector, WebhookRequest};
use tokio::sync::oneshot;

/// A running ceiling server; stops when dropped.
pub struct Ceiling {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

/// Starts the ceiling for connection `name` of the config at `config_path`.
pub async fn start(config_path: &std::path::Path, name: &str) -> Result<Ceiling> {
    let loaded = psa_bridge::config::load(config_path, &|var| std::env::var(var).ok())
        .map_err(|e| anyhow!("load {}: {e}", config_path.display()))?;
    let connection = loaded
        .config
        .connections
        .get(name)
        .ok_or_else(|| anyhow!("no connection {name} in the config"))?;
    let connector = psa_bridge::connections::build_connector(name, connection)?;
    let app = Router::new()
        .route("/webhooks/{connection}", post(receive))
        .with_state(connector);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("bind the ceiling server")?;
    let addr = listener.local_addr()?;
    let limits = ListenerLimits::from_config(&loaded.config.daemon);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        serve_listener("ceiling", listener, app, limits, async {
            let _ = stopped.await;
        })
        .await;
    });
    Ok(Ceiling { addr, _stop: stop })
}

/// Verifies the signature over the raw bytes; 200 or 401, nothing stored.
async fn receive(
    State(connector): State<Arc<dyn Connector>>,
    Path(_connection): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let request = WebhookRequest {
        headers,
        query,
        body,
    };
    match connector.verify_webhook(&request).await {
        Ok(_) => (StatusCode::OK, "{\"ok\":true}"),
        Err(_) => (StatusCode::UNAUTHORIZED, "{\"ok\":false}"),
    }
}
