//! Configuration reload (SIGHUP, [`super::Daemon::reload_on_sighup`]).
//!
//! The file is loaded and validated exactly as at start-up and by
//! `check --offline`. A file that fails, or that changes a setting only a
//! restart can apply ([`crate::config::changes`], the setting is named),
//! is refused: the running configuration stays, the reason is logged at
//! ERROR, shown in `/healthz` (`config.last_reload`) and audited
//! (`config_reload_failed`).
//!
//! A valid file is applied as a new **generation**: a new [`Engine`] over the
//! same store (connectors of unchanged connections are kept; new or changed
//! ones are built afresh), then
//!
//! 1. the webhook, admin and metrics routers switch to it ([`Swap`]), so
//!    intake never pauses: a webhook arriving meanwhile is stored by the old
//!    or the new router, into the same inbox;
//! 2. the old generation's planner, pruner, pollers and registrations stop;
//!    its delivery workers start nothing new and let in-flight deliveries
//!    finish within `daemon.shutdown_timeout_secs`, then abandon them (they
//!    stay in the durable outbox; every delivery looks for the bridge's
//!    marker before writing, so the repeat is safe);
//! 3. the new generation's tasks start: planner, pruner, and per connection
//!    a delivery worker and a poller at its (new) interval; webhooks are
//!    registered for connections that are new, changed or not registered yet.
//!
//! Removed connections' operations stay in the outbox until the connection
//! comes back. The audit entry `config_reloaded` names the digest of the
//! files (no secrets) and what changed; reload entries are filed under the
//! key [`AUDIT_KEY`] (`psa-bridge audit --ticket daemon:config`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::Request;
use axum::response::IntoResponse;
use axum::Router;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinSet;
use tokio::time::{timeout_at, Instant};
use tower::ServiceExt;

use super::health::{Health, Registration, Reload};
use super::supervise::{Stop, Supervisor};
use super::webhook_watch::{self, WebhookActivity};
use super::{spawn_registration, spawn_watch, spawn_workers, Tuning};
use crate::admin;
use crate::clock::SharedClock;
use crate::config::{changes, LoadedConfig};
use crate::delivery::DrainTally;
use crate::engine::{Connection, Engine};
use crate::ingest::{router as webhook_router, WebhookState};
use crate::store::{AuditRecord, Store};

/// The ticket key reload entries are audited under, so that
/// `psa-bridge audit --ticket daemon:config` lists them.
pub const AUDIT_KEY: &str = "daemon:config";

/// A router whose routes can be replaced while it serves: requests
/// already inside keep the router they entered.
#[derive(Clone)]
pub(super) struct Swap(Arc<RwLock<Router>>);

impl Swap {
    pub(super) fn new(router: Router) -> Self {
        Self(Arc::new(RwLock::new(router)))
    }

    pub(super) fn set(&self, router: Router) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = router;
    }

    fn current(&self) -> Router {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A router that hands every request to the current routes.
    pub(super) fn router(&self) -> Router {
        let swap = self.clone();
        Router::new().fallback(move |request: Request| {
            let router = swap.current();
            async move {
                match router.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
                .into_response()
            }
        })
    }
}

/// The tasks that work for one configuration: planner, pruner, delivery
/// workers, pollers and webhook registrations.
pub(super) struct Generation {
    pub(super) engine: Arc<Engine>,
    stop: watch::Sender<bool>,
    abandon: watch::Sender<bool>,
    pub(super) tasks: JoinSet<()>,
    pub(super) tally: DrainTally,
    names: BTreeSet<String>,
}

impl Generation {
    /// Starts the tasks of `loaded` on `engine`; registers webhooks for
    /// the connections in `register` (with `base` as the public URL).
    pub(super) fn start(
        engine: Arc<Engine>,
        loaded: &LoadedConfig,
        (health, activity): (&Health, &Arc<WebhookActivity>),
        tuning: &Tuning,
        register: &[String],
        base: &str,
    ) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let (abandon, abandon_rx) = watch::channel(false);
        let supervisor = Supervisor::new(health.clone(), Stop::new(stop_rx), tuning.restart);
        let mut tasks = JoinSet::new();
        let tally = DrainTally::default();
        let tick = Duration::from_millis(loaded.config.daemon.tick_ms.max(10));
        spawn_workers(
            &supervisor,
            &mut tasks,
            &engine,
            &loaded.config,
            tick,
            (&Stop::new(abandon_rx), &tally),
        );
        let mut names: BTreeSet<String> = ["planner".to_string(), "pruner".to_string()].into();
        if loaded.pairings.iter().any(|p| p.mapping.targets.is_some()) {
            names.insert("targets".to_string());
        }
        for (name, conn) in &loaded.config.connections {
            names.insert(format!("delivery:{name}"));
            if conn.polling {
                names.insert(format!("poller:{name}"));
            }
        }
        let webhook_url = |name: &str| format!("{}/webhooks/{name}", base.trim_end_matches('/'));
        for name in register {
            if let Some(conn) = engine.connection(name) {
                let url = webhook_url(name);
                spawn_registration(&supervisor, &mut tasks, health, conn, url, tuning.register);
                names.insert(format!("register:{name}"));
            }
        }
        // Every generation watches every registered webhook (self-healing).
        if loaded.config.daemon.register_webhooks {
            for name in webhook_connections(loaded) {
                let Some(conn_cfg) = loaded.config.connections.get(name.as_str()) else {
                    continue;
                };
                let watch = webhook_watch::Watch::new(
                    engine.clone(),
                    &name,
                    &webhook_url(&name),
                    webhook_watch::WatchSettings::of(conn_cfg),
                    health.clone(),
                    activity.clone(),
                );
                spawn_watch(&supervisor, &mut tasks, watch, tuning.webhook_watch_tick);
                names.insert(format!("webhook_watch:{name}"));
            }
        }
        Self {
            engine,
            stop,
            abandon,
            tasks,
            tally,
            names,
        }
    }

    /// Tells the tasks to stop taking work.
    pub(super) fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Tells delivery workers to give up what is still in flight.
    pub(super) fn abandon(&self) {
        let _ = self.abandon.send(true);
    }

    /// Stops every task: in-flight deliveries may finish until `deadline`,
    /// then are abandoned (left in the outbox); anything left is cancelled.
    async fn retire(&mut self, deadline: Instant) {
        self.stop();
        if !join_until(&mut self.tasks, deadline).await {
            self.abandon();
            if !join_until(&mut self.tasks, Instant::now() + Duration::from_secs(2)).await {
                self.tasks.abort_all();
                while self.tasks.join_next().await.is_some() {}
            }
        }
    }
}

/// Waits for every task of `tasks` until `deadline`; `false` if some still run.
pub(super) async fn join_until(tasks: &mut JoinSet<()>, deadline: Instant) -> bool {
    timeout_at(deadline, async {
        while let Some(joined) = tasks.join_next().await {
            if let Err(e) = joined {
                tracing::error!(error = %e, "a supervised task failed while stopping");
            }
        }
    })
    .await
    .is_ok()
}

/// What the routers need besides the engine.
pub(super) struct Routers {
    pub(super) public: Swap,
    pub(super) admin: Swap,
    pub(super) metrics: Option<Swap>,
    pub(super) guard: admin::AdminGuard,
}

impl Routers {
    /// Points every listener at `engine` and `loaded`'s intake settings.
    fn switch(&self, engine: &Arc<Engine>, loaded: &LoadedConfig, health: &Health) {
        self.public.set(public_routes(engine, loaded));
        self.admin.set(admin::router(
            engine.clone(),
            health.clone(),
            self.guard.clone(),
            self.metrics.is_none(),
        ));
        if let Some(metrics) = &self.metrics {
            metrics.set(admin::metrics_router(engine.clone(), health.clone()));
        }
    }
}

/// The connections of `loaded` that accept webhooks.
pub(super) fn webhook_connections(loaded: &LoadedConfig) -> HashSet<String> {
    loaded
        .config
        .connections
        .iter()
        .filter(|(_, conn)| conn.webhooks)
        .map(|(name, _)| name.clone())
        .collect()
}

/// `POST /webhooks/{connection}` for `engine`.
pub(super) fn public_routes(engine: &Arc<Engine>, loaded: &LoadedConfig) -> Router {
    webhook_router(
        WebhookState {
            engine: engine.clone(),
            enabled: Arc::new(webhook_connections(loaded)),
        },
        &loaded.config.daemon,
    )
}

/// The configuration in force and the tasks working for it.
pub(super) struct Running {
    /// The loaded file (its pairings moved into the engine).
    pub(super) applied: LoadedConfig,
    pub(super) generation: Generation,
    /// Set by the shutdown: no reload after it.
    pub(super) closed: bool,
}

/// Reloads the configuration on request; shared by the SIGHUP task and
/// [`super::Daemon::reload`].
pub struct Reloader {
    pub(super) path: PathBuf,
    pub(super) running: Mutex<Running>,
    pub(super) routers: Routers,
    pub(super) health: Health,
    pub(super) store: Store,
    pub(super) clock: SharedClock,
    pub(super) tuning: Tuning,
    /// Base URL webhooks are registered at.
    pub(super) base: String,
    /// Webhook deliveries seen, kept across generations.
    pub(super) activity: Arc<WebhookActivity>,
    pub(super) drain: Duration,
}

/// What a successful reload changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub digest: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Connections whose connector was built afresh (new credentials, URL, limits…).
    pub rebuilt: Vec<String>,
    pub pairings: Vec<String>,
}

impl Reloader {
    /// Loads the file again and applies it, or keeps the running
    /// configuration and reports why not (also in `/healthz` and the audit log).
    pub async fn reload(&self) -> Result<ReloadReport, String> {
        let mut running = self.running.lock().await;
        if running.closed {
            return Err("the daemon is stopping".to_string());
        }
        let result = self.apply(&mut running).await;
        let now = self.clock.now();
        let at_unix_ms = now.timestamp_millis();
        let (kind, message, detail) = match &result {
            Ok(report) => {
                self.health.config_loaded(at_unix_ms);
                tracing::info!(
                    digest = %report.digest,
                    added = ?report.added,
                    removed = ?report.removed,
                    rebuilt = ?report.rebuilt,
                    "configuration reloaded from {}",
                    self.path.display()
                );
                (
                    "config_reloaded",
                    format!("configuration reloaded from {}", self.path.display()),
                    serde_json::json!({
                        "digest": report.digest,
                        "added": report.added,
                        "removed": report.removed,
                        "rebuilt": report.rebuilt,
                        "pairings": report.pairings,
                    }),
                )
            }
            Err(error) => {
                tracing::error!(error = %error, "configuration reload refused; the running configuration stays");
                (
                    "config_reload_failed",
                    format!(
                        "configuration reload refused, the running configuration stays: {error}"
                    ),
                    serde_json::json!({ "error": error }),
                )
            }
        };
        self.health.config_reload(Reload {
            ok: result.is_ok(),
            at_unix_ms,
            error: result.as_ref().err().cloned(),
        });
        let audited = self.store.transact(|tx| {
            tx.audit(
                now,
                AuditRecord {
                    kind,
                    pairing: None,
                    link: None,
                    tickets: vec![AUDIT_KEY.to_string()],
                    message: message.clone(),
                    detail: detail.clone(),
                },
            )
        });
        if let Err(e) = audited {
            tracing::error!(error = %e, "cannot audit the reload");
        } else if let Err(e) = self.store.flush().await {
            tracing::error!(error = %e, "cannot flush the reload's audit entry");
        }
        result
    }

    async fn apply(&self, running: &mut Running) -> Result<ReloadReport, String> {
        let mut loaded = crate::config::load(&self.path, &|name| std::env::var(name).ok())
            .map_err(|e| e.to_string())?;
        let refused = changes::restart_only_changes(&running.applied, &loaded);
        if !refused.is_empty() {
            return Err(format!(
                "{}: {} only applied by a restart; restart psa-bridge to apply this file",
                refused.join(", "),
                if refused.len() == 1 { "is" } else { "are" }
            ));
        }
        let old = running.generation.engine.clone();
        let mut report = ReloadReport {
            digest: loaded.digest.clone(),
            ..ReloadReport::default()
        };
        let mut connections = HashMap::new();
        for (name, config) in &loaded.config.connections {
            let kept = (!changes::connector_changed(&running.applied, &loaded, name))
                .then(|| old.connection(name).cloned())
                .flatten();
            let connection = match kept {
                Some(connection) => connection,
                None => {
                    let connector = crate::connections::build_connector(name, config)
                        .map_err(|e| format!("connections.{name}: {e}"))?;
                    if old.connection(name).is_some() {
                        report.rebuilt.push(name.clone());
                    } else {
                        report.added.push(name.clone());
                    }
                    Connection {
                        name: name.clone(),
                        connector,
                    }
                }
            };
            connections.insert(name.clone(), connection);
        }
        report.removed = old
            .connections
            .keys()
            .filter(|name| !connections.contains_key(*name))
            .cloned()
            .collect();
        report.removed.sort();
        let pairings = std::mem::take(&mut loaded.pairings);
        report.pairings = pairings.iter().map(|p| p.name.clone()).collect();
        let mut engine = Engine::new(
            self.store.clone(),
            connections,
            pairings,
            self.clock.clone(),
            crate::retry::RetryPolicy::for_hours(loaded.config.daemon.retry_for_hours),
        );
        // Wake-ups and round counters stay shared across generations.
        engine.outbox_ready = old.outbox_ready.clone();
        engine.inbox_ready = old.inbox_ready.clone();
        engine.delivery_rounds = old.delivery_rounds.clone();
        // Last poll and webhook per connection, and the budgets, carry on.
        engine.live = old.live.clone();
        for (name, conn) in &loaded.config.connections {
            let budget = crate::connections::effective_limits(conn).requests_per_hour;
            engine.live.set_budget(name, budget);
        }
        let engine = Arc::new(engine);

        // Intake first: it never pauses.
        self.routers.switch(&engine, &loaded, &self.health);
        self.health
            .watch_readiness(crate::telemetry::Readiness::new(&engine, &loaded.config));
        running.generation.retire(Instant::now() + self.drain).await;
        let register = self.to_register(&loaded, &report);
        let generation = Generation::start(
            engine.clone(),
            &loaded,
            (&self.health, &self.activity),
            &self.tuning,
            &register,
            &self.base,
        );
        let gone: Vec<String> = running
            .generation
            .names
            .difference(&generation.names)
            .cloned()
            .collect();
        let webhooks = webhook_connections(&loaded);
        let unregistered: Vec<String> = old
            .connections
            .keys()
            .filter(|name| !webhooks.contains(*name))
            .cloned()
            .collect();
        self.health.forget(&gone, &unregistered);
        running.generation = generation;
        running.applied = loaded;
        // Work stored while no worker ran.
        engine.inbox_ready.notify_one();
        engine.outbox_ready.notify_waiters();
        Ok(report)
    }

    /// Connections whose webhook is registered by the new generation: new,
    /// rebuilt, or not registered yet.
    fn to_register(&self, loaded: &LoadedConfig, report: &ReloadReport) -> Vec<String> {
        if !loaded.config.daemon.register_webhooks {
            return Vec::new();
        }
        let mut names: Vec<String> = webhook_connections(loaded)
            .into_iter()
            .filter(|name| {
                report.added.contains(name)
                    || report.rebuilt.contains(name)
                    || !matches!(
                        self.health.registration(name),
                        Some(Registration::Registered { .. })
                    )
            })
            .collect();
        names.sort();
        names
    }
}
