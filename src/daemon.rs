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
mod shutdown;
mod supervise;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::SharedClock;
use crate::config::{ConfigError, LoadedConfig};
use crate::engine::{run_planner, Engine};
use crate::ingest::{router as webhook_router, run_poller, run_pruner, WebhookState};
use crate::store::{Store, StoreError};
use crate::{admin, connections, delivery};

pub use health::{Health, Registration, TaskHealth, TaskState};
pub use listen::ListenerLimits;
pub use register::RegisterPolicy;
pub use shutdown::ShutdownReport;
pub use supervise::{Lifetime, RestartPolicy, Stop, Supervisor};

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

/// Serves `app` on `listener` as the supervised task `name` with the
/// connection limits of [`listen`]; a restart serves again on the same socket.
fn serve(
    supervisor: &Supervisor,
    tasks: &mut JoinSet<()>,
    name: &str,
    listener: TcpListener,
    app: axum::Router,
    limits: ListenerLimits,
) -> std::io::Result<()> {
    // A 5xx the bridge answers on purpose (503 while draining or while the
    // store cannot write, so senders retry) is a warning; the code that
    // decided it logs the cause.
    let app = app.layer(
        tower_http::trace::TraceLayer::new_for_http()
            .on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::WARN)),
    );
    let socket = listener.into_std()?;
    let label = name.to_string();
    supervisor.spawn(tasks, name, Lifetime::UntilStop, move |stop| {
        let listener = socket.try_clone().and_then(TcpListener::from_std);
        let app = app.clone();
        let label = label.clone();
        async move {
            let listener = match listener {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::error!(server = %label, error = %e, "cannot reuse the listening socket");
                    return;
                }
            };
            let short = label.trim_start_matches("http:");
            listen::serve(short, listener, app, limits, stop.wait()).await;
        }
    });
    Ok(())
}

/// The planner, the pruner, and per connection a delivery worker and a poller.
fn spawn_workers(
    supervisor: &Supervisor,
    tasks: &mut JoinSet<()>,
    engine: &Arc<Engine>,
    config: &crate::config::Config,
    tick: Duration,
    (abandon, tally): (&Stop, &delivery::DrainTally),
) {
    let e = engine.clone();
    supervisor.spawn(tasks, "planner", Lifetime::UntilStop, move |stop| {
        run_planner(e.clone(), tick, stop.wait())
    });
    let e = engine.clone();
    supervisor.spawn(tasks, "pruner", Lifetime::UntilStop, move |stop| {
        run_pruner(e.clone(), stop.wait())
    });
    for (name, conn) in &config.connections {
        let (e, connection) = (engine.clone(), name.clone());
        let (abandon, tally) = (abandon.clone(), tally.clone());
        supervisor.spawn(
            tasks,
            &format!("delivery:{name}"),
            Lifetime::UntilStop,
            move |stop| {
                delivery::run_delivery_until(
                    e.clone(),
                    connection.clone(),
                    tick,
                    stop.wait(),
                    abandon.wait(),
                    tally.clone(),
                )
            },
        );
        if conn.polling {
            let (e, connection) = (engine.clone(), name.clone());
            let interval = Duration::from_secs(conn.poll_interval_secs);
            let overlap = Duration::from_secs(conn.poll_overlap_secs);
            supervisor.spawn(
                tasks,
                &format!("poller:{name}"),
                Lifetime::UntilStop,
                move |stop| {
                    run_poller(
                        e.clone(),
                        connection.clone(),
                        interval,
                        overlap,
                        stop.wait(),
                    )
                },
            );
        }
    }
}

/// Registers `conn`'s webhook at `url` in the background until it succeeds.
fn spawn_registration(
    supervisor: &Supervisor,
    tasks: &mut JoinSet<()>,
    health: &Health,
    conn: &crate::engine::Connection,
    url: String,
    policy: RegisterPolicy,
) {
    health.set_registration(&conn.name, Registration::Registering);
    let (connector, connection, health) =
        (conn.connector.clone(), conn.name.clone(), health.clone());
    supervisor.spawn(
        tasks,
        &format!("register:{}", conn.name),
        Lifetime::UntilDone,
        move |stop| {
            register::register_until_done(
                connector.clone(),
                connection.clone(),
                url.clone(),
                health.clone(),
                policy,
                stop,
            )
        },
    );
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
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            restart: RestartPolicy::default(),
            register: RegisterPolicy::default(),
            first_registration_wait: Duration::from_secs(5),
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
    /// Stops the planner, pruner, pollers, delivery workers and registration.
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// Tells delivery workers to give up what is still in flight.
    abandon: watch::Sender<bool>,
    tally: delivery::DrainTally,
    /// The HTTP listeners, stopped last.
    stop_http: watch::Sender<bool>,
    http_tasks: JoinSet<()>,
    intake: drain::Intake,
    shutdown_timeout: Duration,
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
    loaded: LoadedConfig,
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
    let daemon_cfg = &loaded.config.daemon;
    let tick = Duration::from_millis(daemon_cfg.tick_ms.max(10));
    let engine = Arc::new(Engine::new(
        store,
        connections,
        loaded.pairings,
        clock,
        crate::retry::RetryPolicy::for_hours(daemon_cfg.retry_for_hours),
    ));
    for (name, conn) in &loaded.config.connections {
        let budget = connections::effective_limits(conn).requests_per_hour;
        engine.live.set_budget(name, budget);
    }
    let (stop, stop_rx) = watch::channel(false);
    let (abandon, abandon_rx) = watch::channel(false);
    let (stop_http, stop_http_rx) = watch::channel(false);
    let health = Health::default();
    health.watch_store(engine.store.clone());
    let supervisor = Supervisor::new(health.clone(), Stop::new(stop_rx), tuning.restart);
    let http_supervisor = Supervisor::new(health.clone(), Stop::new(stop_http_rx), tuning.restart);
    let mut tasks = JoinSet::new();
    let mut http_tasks = JoinSet::new();
    let tally = delivery::DrainTally::default();
    let shutdown_timeout = Duration::from_secs(daemon_cfg.shutdown_timeout_secs.max(1));
    spawn_workers(
        &supervisor,
        &mut tasks,
        &engine,
        &loaded.config,
        tick,
        (&Stop::new(abandon_rx), &tally),
    );
    let intake = drain::Intake::new(daemon_cfg.shutdown_timeout_secs);
    let webhooks: HashSet<String> = loaded
        .config
        .connections
        .iter()
        .filter(|(_, conn)| conn.webhooks)
        .map(|(name, _)| name.clone())
        .collect();
    let _ = admin::prometheus();
    // Each listener gets its own connection cap, so a flood on the public
    // one cannot lock operators out of the admin API.
    let limits = ListenerLimits::from_config(daemon_cfg);
    let public_health = health.clone();
    let public = webhook_router(
        WebhookState {
            engine: engine.clone(),
            enabled: Arc::new(webhooks.clone()),
        },
        daemon_cfg,
    )
    .route(
        "/healthz",
        axum::routing::get(move || async move { public_health.respond(false) }),
    )
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
    let guard = admin::AdminGuard::new(&token, admin_addr, &daemon_cfg.admin_hosts);
    let admin_app = admin::router(
        engine.clone(),
        health.clone(),
        guard,
        metrics_addr.is_none(),
    );
    serve(
        &http_supervisor,
        &mut http_tasks,
        "http:admin",
        listeners.admin,
        admin_app,
        limits,
    )?;
    if let Some(listener) = listeners.metrics {
        let app = admin::metrics_router(engine.clone(), health.clone());
        serve(
            &http_supervisor,
            &mut http_tasks,
            "http:metrics",
            listener,
            app,
            limits,
        )?;
    }
    if daemon_cfg.register_webhooks {
        let base = daemon_cfg
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let mut names: Vec<&String> = webhooks.iter().collect();
        names.sort();
        for name in names {
            if let Some(conn) = engine.connection(name) {
                let url = format!("{}/webhooks/{name}", base.trim_end_matches('/'));
                spawn_registration(&supervisor, &mut tasks, &health, conn, url, tuning.register);
            }
        }
    }
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
    Ok(Daemon {
        addr,
        admin_addr,
        metrics_addr,
        store_path: loaded.store_path.clone(),
        engine,
        health,
        supervisor,
        stop,
        tasks,
        abandon,
        tally,
        stop_http,
        http_tasks,
        intake,
        shutdown_timeout,
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

    /// Stops within `daemon.shutdown_timeout_secs`; see [`Daemon::shutdown_within`].
    pub async fn shutdown(self) -> ShutdownReport {
        let bound = self.shutdown_timeout;
        self.shutdown_within(bound).await
    }
}
