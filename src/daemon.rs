//! Wiring the daemon together: store, connectors, planner, delivery workers,
//! pollers, webhook registration and the HTTP servers (webhooks, admin, and
//! optionally metrics). The listeners and the clock are injected, so tests
//! bind `127.0.0.1:0` and can use a manual clock. Every long-running task is
//! supervised ([`supervise`]): restarted with backoff when it fails, and
//! reported by `/healthz` ([`health`]).
//!
//! [`Daemon::shutdown`] stops within `daemon.shutdown_timeout_secs`: the
//! webhook intake drains first ([`drain`]: new webhooks get 503, admitted
//! ones finish), the workers stop taking work while in-flight deliveries may
//! finish until the deadline, the HTTP listeners close last, then the store
//! is flushed ([`shutdown`]).

mod drain;
mod health;
mod listen;
mod register;
mod reload;
mod shutdown;
mod spawn;
mod supervise;
mod webhook_url;
pub mod webhook_watch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::SharedClock;
use crate::config::{ConfigError, LoadedConfig};
use crate::engine::{run_planner, Engine};
use crate::ingest::{run_poller, run_pruner};
use crate::store::{Store, StoreError};
use crate::{admin, connections, delivery};

pub use health::{Health, Registration, TaskHealth, TaskState};
/// The daemon's HTTP/1 accept loop, for the benchmark's no-storage ceiling server.
pub use listen::serve as serve_listener;
pub use listen::ListenerLimits;
pub use register::RegisterPolicy;
pub use reload::{ReloadReport, Reloader, AUDIT_KEY as RELOAD_AUDIT_KEY};
pub use shutdown::ShutdownReport;
use spawn::{serve, spawn_registration, spawn_watch, spawn_workers};
pub use supervise::{Lifetime, RestartPolicy, Stop, Supervisor};
pub use webhook_url::{configured_webhook_url, webhook_url};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("connector: {0}")]
    Connector(#[from] psa_connector::ConnectorError),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Token(#[from] admin::token::TokenError),
}

/// Where a running daemon records its admin address: beside the store.
pub fn address_file(store_path: &std::path::Path) -> std::path::PathBuf {
    crate::side_file::beside(store_path, ".addr")
}

/// The sockets the daemon serves: public webhooks, private admin API, and
/// optionally a separate metrics listener.
pub struct Listeners {
    pub webhooks: TcpListener,
    pub admin: TcpListener,
    pub metrics: Option<TcpListener>,
}

impl Listeners {
    /// Binds `daemon.listen`, `daemon.admin_listen` and `daemon.metrics_listen`.
    pub async fn bind(config: &crate::config::DaemonConfig) -> std::io::Result<Self> {
        let metrics = match config.metrics_listen {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        Ok(Self {
            webhooks: TcpListener::bind(config.listen).await?,
            admin: TcpListener::bind(config.admin_listen).await?,
            metrics,
        })
    }
}

/// Knobs tests can turn; the defaults are what `psa-bridge run` uses.
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    pub restart: RestartPolicy,
    pub register: RegisterPolicy,
    /// How long `start` waits for the first registration attempts to finish
    /// (succeed or fail) before returning; they go on in the background.
    pub first_registration_wait: Duration,
    /// How often the webhook watchers wake up to see whether a check is due
    /// ([`webhook_watch`]; the checks themselves follow the clock).
    pub webhook_watch_tick: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            restart: RestartPolicy::default(),
            register: RegisterPolicy::default(),
            first_registration_wait: Duration::from_secs(5),
            webhook_watch_tick: Duration::from_secs(1),
        }
    }
}

/// A running daemon.
pub struct Daemon {
    /// Where webhooks are received.
    pub addr: SocketAddr,
    /// Where the admin API (and metrics unless `metrics_addr`) is served.
    pub admin_addr: SocketAddr,
    /// Where `/metrics` is served when `daemon.metrics_listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    store_path: std::path::PathBuf,
    pub engine: Arc<Engine>,
    /// Task and webhook-registration health, as `/healthz` shows it.
    pub health: Health,
    supervisor: Supervisor,
    /// Stops the tasks added by [`Daemon::supervise`] (the workers of the
    /// configuration in force are stopped through [`Reloader`]).
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// The HTTP listeners, stopped last.
    stop_http: watch::Sender<bool>,
    http_tasks: JoinSet<()>,
    intake: drain::Intake,
    shutdown_timeout: Duration,
    /// The configuration in force, its workers, and how to replace them.
    reloader: Arc<Reloader>,
}

/// Starts every part of the daemon on `listeners`.
pub async fn start(
    loaded: LoadedConfig,
    listeners: Listeners,
    clock: SharedClock,
) -> Result<Daemon, DaemonError> {
    start_with(loaded, listeners, clock, Tuning::default()).await
}

/// [`start`] with explicit restart and registration backoff.
pub async fn start_with(
    mut loaded: LoadedConfig,
    listeners: Listeners,
    clock: SharedClock,
    tuning: Tuning,
) -> Result<Daemon, DaemonError> {
    let addr = listeners.webhooks.local_addr()?;
    let admin_addr = listeners.admin.local_addr()?;
    let metrics_addr = match &listeners.metrics {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    if let Some(parent) = loaded.store_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // The store's lock first: a second daemon on the same store stops
    // here, before it could race the first for the token file.
    let store = Store::open_with_cache(&loaded.store_path, loaded.config.daemon.store_cache_mb)?;
    let (token, token_source) = admin::token::resolve(&loaded)?;
    if !admin_addr.ip().is_loopback() {
        tracing::warn!(%admin_addr, "the admin API listens beyond loopback; it is protected by daemon.admin_token only, so keep it on a private network");
    }
    let connections = connections::build_all(&loaded.config.connections)?;
    let engine = Arc::new(Engine::new(
        store,
        connections,
        std::mem::take(&mut loaded.pairings),
        clock.clone(),
        crate::retry::RetryPolicy::for_hours(loaded.config.daemon.retry_for_hours),
    ));
    let daemon_cfg = &loaded.config.daemon;
    for (name, conn) in &loaded.config.connections {
        let budget = connections::effective_limits(conn).requests_per_hour;
        engine.live.set_budget(name, budget);
    }
    let (stop, stop_rx) = watch::channel(false);
    let (stop_http, stop_http_rx) = watch::channel(false);
    let health = Health::default();
    health.watch_store(engine.store.clone());
    health.config_loaded(engine.clock.now().timestamp_millis());
    health.watch_readiness(crate::telemetry::Readiness::new(&engine, &loaded.config));
    let supervisor = Supervisor::new(health.clone(), Stop::new(stop_rx), tuning.restart);
    let http_supervisor = Supervisor::new(health.clone(), Stop::new(stop_http_rx), tuning.restart);
    let tasks = JoinSet::new();
    let mut http_tasks = JoinSet::new();
    let shutdown_timeout = Duration::from_secs(daemon_cfg.shutdown_timeout_secs.max(1));
    let intake = drain::Intake::new(daemon_cfg.shutdown_timeout_secs);
    let _ = admin::prometheus();
    // Each listener gets its own connection cap, so a flood on the public
    // one cannot lock operators out of the admin API.
    let limits = ListenerLimits::from_config(daemon_cfg);
    // The routes that use the engine can be switched by a reload ([`reload`]).
    let routers = reload::Routers {
        public: reload::Swap::new(reload::public_routes(&engine, &loaded)),
        admin: reload::Swap::new(axum::Router::new()),
        metrics: metrics_addr.map(|_| reload::Swap::new(axum::Router::new())),
        guard: admin::AdminGuard::new(&token, admin_addr, &daemon_cfg.admin_hosts),
    };
    routers.admin.set(admin::router(
        engine.clone(),
        health.clone(),
        routers.guard.clone(),
        metrics_addr.is_none(),
    ));
    if let Some(metrics) = &routers.metrics {
        metrics.set(admin::metrics_router(engine.clone(), health.clone()));
    }
    let public_health = health.clone();
    // Webhook deliveries seen per connection (silence detection), shared by
    // every generation of workers.
    let activity = webhook_watch::WebhookActivity::new(engine.clock.clone());
    let public = axum::Router::new()
        .route(
            "/healthz",
            axum::routing::get(move || async move { public_health.respond(false) }),
        )
        .fallback_service(routers.public.router())
        .layer(axum::middleware::from_fn_with_state(
            activity.clone(),
            webhook_watch::observe,
        ))
        .layer(axum::middleware::from_fn_with_state(
            intake.clone(),
            drain::gate,
        ));
    serve(
        &http_supervisor,
        &mut http_tasks,
        "http:webhooks",
        listeners.webhooks,
        public,
        limits,
    )?;
    serve(
        &http_supervisor,
        &mut http_tasks,
        "http:admin",
        listeners.admin,
        routers.admin.router(),
        limits,
    )?;
    if let (Some(listener), Some(metrics)) = (listeners.metrics, &routers.metrics) {
        serve(
            &http_supervisor,
            &mut http_tasks,
            "http:metrics",
            listener,
            metrics.router(),
            limits,
        )?;
    }
    let base = daemon_cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let mut register: Vec<String> = if daemon_cfg.register_webhooks {
        reload::webhook_connections(&loaded).into_iter().collect()
    } else {
        Vec::new()
    };
    register.sort();
    let generation = reload::Generation::start(
        engine.clone(),
        &loaded,
        (&health, &activity),
        &tuning,
        &register,
        &base,
    );
    // Everything already serves; a short wait keeps "registered at start-up"
    // the usual case (and the state tests and operators see right after
    // start) without letting a slow or failing vendor hold the daemon up.
    health
        .first_registrations(tuning.first_registration_wait)
        .await;
    // Lets `outbox` / `audit` find the admin API when the port was chosen by the OS.
    let address = admin_addr.to_string();
    if let Err(e) =
        crate::side_file::write_atomic(&address_file(&loaded.store_path), address.as_bytes(), 0o644)
    {
        tracing::warn!(error = %e, "cannot write the address file");
    }
    tracing::info!(%addr, %admin_addr, metrics_addr = ?metrics_addr, admin_token = %token_source, "psa-bridge running");
    let store_path = loaded.store_path.clone();
    let reloader = Arc::new(Reloader {
        path: loaded.path.clone(),
        running: tokio::sync::Mutex::new(reload::Running {
            applied: loaded,
            generation,
            closed: false,
        }),
        routers,
        health: health.clone(),
        store: engine.store.clone(),
        clock,
        tuning,
        base,
        activity,
        drain: shutdown_timeout,
    });
    Ok(Daemon {
        addr,
        admin_addr,
        metrics_addr,
        store_path,
        engine,
        health,
        supervisor,
        stop,
        tasks,
        stop_http,
        http_tasks,
        intake,
        shutdown_timeout,
        reloader,
    })
}

impl Daemon {
    /// Runs one more task under the daemon's supervision (shown in
    /// `/healthz`, stopped by [`Daemon::shutdown`]).
    pub fn supervise<F, Fut>(&mut self, name: &str, make: F)
    where
        F: FnMut(Stop) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.supervisor
            .spawn(&mut self.tasks, name, Lifetime::UntilStop, make);
    }

    /// Loads the configuration file again and applies it, or keeps the
    /// running configuration and says why (see [`reload`]).
    pub async fn reload(&self) -> Result<ReloadReport, String> {
        self.reloader.reload().await
    }

    /// The engine of the configuration in force (`engine` is the one the
    /// daemon started with; both share the store).
    pub async fn current_engine(&self) -> Arc<Engine> {
        self.reloader.running.lock().await.generation.engine.clone()
    }

    /// Reloads the configuration on every SIGHUP until the daemon stops.
    /// The signal handler is installed before this returns.
    pub fn reload_on_sighup(&mut self) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let first = std::sync::Mutex::new(Some(signal(SignalKind::hangup())?));
            let reloader = self.reloader.clone();
            self.supervise("reload", move |stop| {
                let reloader = reloader.clone();
                let hangups = first
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .map_or_else(|| signal(SignalKind::hangup()), Ok);
                async move {
                    let mut hangups = match hangups {
                        Ok(hangups) => hangups,
                        Err(e) => {
                            tracing::error!(error = %e, "cannot listen for SIGHUP");
                            return;
                        }
                    };
                    loop {
                        tokio::select! {
                            _ = stop.wait() => return,
                            received = hangups.recv() => {
                                if received.is_none() {
                                    return;
                                }
                                tracing::info!("SIGHUP: reloading the configuration");
                                // The outcome is logged, audited and in /healthz.
                                let _ = reloader.reload().await;
                            }
                        }
                    }
                }
            });
        }
        Ok(())
    }

    /// Stops within `daemon.shutdown_timeout_secs`; see [`Daemon::shutdown_within`].
    pub async fn shutdown(self) -> ShutdownReport {
        let bound = self.shutdown_timeout;
        self.shutdown_within(bound).await
    }
}
