//! Wiring the daemon together: store, connectors, planner, delivery workers,
//! pollers and the HTTP server (webhooks + admin). The listener and the clock
//! are injected, so tests bind `127.0.0.1:0` and can use a manual clock.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::clock::SharedClock;
use crate::config::LoadedConfig;
use crate::engine::{run_planner, Engine};
use crate::ingest::{router as webhook_router, run_poller, run_pruner, WebhookState};
use crate::store::{Store, StoreError};
use crate::{admin, connections, delivery};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("connector: {0}")]
    Connector(#[from] psa_connector::ConnectorError),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves `app` on `listener` until `shutdown` resolves.
fn serve(
    tasks: &mut JoinSet<()>,
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let app = app.layer(tower_http::trace::TraceLayer::new_for_http());
    tasks.spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
}

/// Where a running daemon records its admin address: beside the store.
pub fn address_file(store_path: &std::path::Path) -> std::path::PathBuf {
    let mut name = store_path.as_os_str().to_owned();
    name.push(".addr");
    std::path::PathBuf::from(name)
}

/// The two sockets the daemon serves: public webhooks, private admin API.
pub struct Listeners {
    pub webhooks: TcpListener,
    pub admin: TcpListener,
}

impl Listeners {
    /// Binds `daemon.listen` and `daemon.admin_listen`.
    pub async fn bind(config: &crate::config::DaemonConfig) -> std::io::Result<Self> {
        Ok(Self {
            webhooks: TcpListener::bind(config.listen).await?,
            admin: TcpListener::bind(config.admin_listen).await?,
        })
    }
}

/// A running daemon.
pub struct Daemon {
    /// Where webhooks are received.
    pub addr: SocketAddr,
    /// Where the admin API and metrics are served.
    pub admin_addr: SocketAddr,
    store_path: std::path::PathBuf,
    pub engine: Arc<Engine>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

fn stopped(rx: &watch::Sender<bool>) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut rx = rx.subscribe();
    async move {
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Starts every part of the daemon on `listener`.
pub async fn start(
    loaded: LoadedConfig,
    listeners: Listeners,
    clock: SharedClock,
) -> Result<Daemon, DaemonError> {
    let addr = listeners.webhooks.local_addr()?;
    let admin_addr = listeners.admin.local_addr()?;
    if let Some(parent) = loaded.store_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let store = Store::open(&loaded.store_path)?;
    let connections = connections::build_all(&loaded.config.connections)?;
    let daemon_cfg = &loaded.config.daemon;
    let tick = Duration::from_millis(daemon_cfg.tick_ms.max(10));
    let engine = Arc::new(Engine {
        store,
        connections,
        pairings: loaded.pairings,
        clock,
        retry: crate::retry::RetryPolicy::for_hours(daemon_cfg.retry_for_hours),
        outbox_ready: Arc::new(Notify::new()),
        inbox_ready: Arc::new(Notify::new()),
    });
    let (stop, _) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(run_planner(engine.clone(), tick, stopped(&stop)));
    tasks.spawn(run_pruner(engine.clone(), stopped(&stop)));
    let mut webhooks = HashSet::new();
    for (name, conn) in &loaded.config.connections {
        tasks.spawn(delivery::run_delivery(
            engine.clone(),
            name.clone(),
            tick,
            stopped(&stop),
        ));
        if conn.polling {
            tasks.spawn(run_poller(
                engine.clone(),
                name.clone(),
                Duration::from_secs(conn.poll_interval_secs),
                Duration::from_secs(conn.poll_overlap_secs),
                stopped(&stop),
            ));
        }
        if conn.webhooks {
            webhooks.insert(name.clone());
        }
    }
    let _ = admin::prometheus();
    let public = webhook_router(
        WebhookState {
            engine: engine.clone(),
            enabled: Arc::new(webhooks.clone()),
        },
        daemon_cfg,
    )
    .route("/healthz", axum::routing::get(|| async { "ok" }));
    serve(&mut tasks, listeners.webhooks, public, stopped(&stop));
    serve(
        &mut tasks,
        listeners.admin,
        admin::router(engine.clone()),
        stopped(&stop),
    );
    if daemon_cfg.register_webhooks {
        let base = daemon_cfg
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        for name in &webhooks {
            let url = format!("{}/webhooks/{name}", base.trim_end_matches('/'));
            if let Some(conn) = engine.connection(name) {
                match conn.connector.register_webhook(&url).await {
                    Ok(()) => tracing::info!(connection = %name, %url, "webhook registered"),
                    Err(e) => {
                        tracing::warn!(connection = %name, error = %e, "cannot register webhook; polling still covers changes")
                    }
                }
            }
        }
    }
    // Lets `outbox` / `audit` find the admin API when the port was chosen by the OS.
    if let Err(e) = std::fs::write(address_file(&loaded.store_path), admin_addr.to_string()) {
        tracing::warn!(error = %e, "cannot write the address file");
    }
    tracing::info!(%addr, %admin_addr, "psa-bridge running");
    Ok(Daemon {
        addr,
        admin_addr,
        store_path: loaded.store_path.clone(),
        engine,
        stop,
        tasks,
    })
}

impl Daemon {
    /// Stops every task and waits for them.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        if let Err(e) = self.engine.store.flush().await {
            tracing::error!(error = %e, "final flush failed");
        }
        let _ = std::fs::remove_file(address_file(&self.store_path));
    }
}
