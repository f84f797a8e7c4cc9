//! Self-healing webhooks. Vendors silently stop sending (Autotask deactivates
//! a webhook after 25 failed deliveries in a row, ConnectWise a callback
//! after 3 days of failures, a Jira admin can switch one off), so for each
//! connection whose webhook the daemon registers, a supervised task checks
//! `Connector::webhook_status`:
//!
//! - every `webhook_check_interval_secs`;
//! - at once when the connector received the vendor's authenticated
//!   `Deactivated` notice (`Connector::take_webhook_deactivated`);
//! - when webhooks went silent: the poller found changes (its cursor moved)
//!   and no webhook delivery arrived for longer than the poll interval
//!   before (at most once per poll interval; own writes a vendor does not
//!   announce can trigger it, which costs one status check).
//!
//! A webhook that is missing, inactive or incomplete is audited
//! (`webhook_disabled_detected`), registered again (`webhook_reregistered`),
//! and the gap is polled with the poller's code path (`catch_up_poll`,
//! from the last delivery or last healthy check minus the poll overlap), so
//! changes made meanwhile are stored like poll hits, each once. Checks wait
//! until the start-up registration is done. Decisions use the engine's
//! clock, so tests drive [`Watch::tick`] with a manual clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use psa_connector::{Timestamp, WebhookStatus};
use serde_json::json;

use super::health::{Health, Registration};
use super::supervise::Stop;
use crate::clock::SharedClock;
use crate::engine::Engine;
use crate::store::AuditRecord;

/// When each connection's last accepted webhook delivery arrived.
pub struct WebhookActivity {
    clock: SharedClock,
    last: Mutex<HashMap<String, Timestamp>>,
}

impl WebhookActivity {
    pub fn new(clock: SharedClock) -> Arc<Self> {
        Arc::new(Self {
            clock,
            last: Mutex::new(HashMap::new()),
        })
    }

    /// Notes a delivery to `connection` now.
    pub fn record(&self, connection: &str) {
        let now = self.clock.now();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.insert(connection.to_string(), now);
    }

    pub fn last(&self, connection: &str) -> Option<Timestamp> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.get(connection).copied()
    }
}

/// Middleware on the public listener: a `POST /webhooks/{connection}`
/// answered 2xx (verified and stored, or a replay) counts as a delivery.
pub async fn observe(
    State(activity): State<Arc<WebhookActivity>>,
    request: Request,
    next: Next,
) -> Response {
    let connection = request
        .uri()
        .path()
        .strip_prefix("/webhooks/")
        .filter(|rest| !rest.is_empty() && !rest.contains('/'))
        .map(str::to_string);
    let response = next.run(request).await;
    if let Some(connection) = connection {
        if response.status().is_success() {
            activity.record(&connection);
        }
    }
    response
}

/// Why a check ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Periodic,
    /// The vendor's `Deactivated` notice arrived.
    Deactivated,
    /// Polling found changes while webhooks were silent.
    Silence,
}

impl Reason {
    fn label(self) -> &'static str {
        match self {
            Reason::Periodic => "periodic check",
            Reason::Deactivated => "the vendor's deactivation notice",
            Reason::Silence => "polling found changes while webhooks were silent",
        }
    }
}

/// What a check found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Healthy,
    /// The vendor cannot tell (an admin sets the notification up).
    Unsupported,
    /// Registered again; the catch-up poll stored this many notices.
    Repaired {
        caught_up: usize,
    },
    /// The status read, the registration or the catch-up failed (retried
    /// at the next check).
    Failed(String),
}

/// Timing of one connection's checks.
#[derive(Clone, Copy, Debug)]
pub struct WatchSettings {
    pub check_every: chrono::Duration,
    pub poll_interval: chrono::Duration,
    pub poll_overlap: chrono::Duration,
}

impl WatchSettings {
    /// The connection's `webhook_check_interval_secs`, poll interval and overlap.
    pub fn of(config: &crate::config::ConnectionConfig) -> Self {
        let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
        Self {
            check_every: secs(config.webhook_check_interval_secs),
            poll_interval: secs(config.poll_interval_secs),
            poll_overlap: secs(config.poll_overlap_secs),
        }
    }
}

/// One connection's watcher.
pub struct Watch {
    engine: Arc<Engine>,
    connection: String,
    url: String,
    settings: WatchSettings,
    health: Health,
    activity: Arc<WebhookActivity>,
    started: Timestamp,
    last_check: Option<Timestamp>,
    last_healthy: Option<Timestamp>,
    /// The poll cursor last seen (outer None: not read yet).
    cursor_seen: Option<Option<Timestamp>>,
    /// When the poller was last seen finding changes.
    poll_found_at: Option<Timestamp>,
}

impl Watch {
    pub fn new(
        engine: Arc<Engine>,
        connection: &str,
        url: &str,
        settings: WatchSettings,
        health: Health,
        activity: Arc<WebhookActivity>,
    ) -> Self {
        let started = engine.clock.now();
        Self {
            engine,
            connection: connection.to_string(),
            url: url.to_string(),
            settings,
            health,
            activity,
            started,
            last_check: None,
            last_healthy: None,
            cursor_seen: None,
            poll_found_at: None,
        }
    }

    pub fn connection(&self) -> &str {
        &self.connection
    }

    /// Why a check is due now, if one is.
    fn due(&mut self, now: Timestamp) -> Option<Reason> {
        let conn = self.engine.connection(&self.connection)?;
        match self.engine.store.cursor(&self.connection) {
            Ok(cursor) => {
                // A first cursor (None before) is where polling starts,
                // not a finding.
                if matches!(self.cursor_seen, Some(Some(seen)) if Some(seen) != cursor) {
                    self.poll_found_at = Some(now);
                }
                self.cursor_seen = Some(cursor);
            }
            Err(e) => {
                tracing::warn!(connection = %self.connection, error = %e, "cannot read the poll cursor")
            }
        }
        if conn.connector.take_webhook_deactivated() {
            return Some(Reason::Deactivated);
        }
        let checked = self.last_check.unwrap_or(self.started);
        if now - checked >= self.settings.check_every {
            return Some(Reason::Periodic);
        }
        let interval = self.settings.poll_interval;
        let found = self.poll_found_at.filter(|found| *found > checked)?;
        let quiet = self
            .activity
            .last(&self.connection)
            .is_none_or(|delivery| found - delivery > interval);
        (quiet && found - self.started > interval && now - checked >= interval)
            .then_some(Reason::Silence)
    }

    /// One round: runs a check when one is due. Waits while the start-up
    /// registration is not done (its task owns the webhook until then).
    pub async fn tick(&mut self) -> Option<(Reason, Outcome)> {
        if !matches!(
            self.health.registration(&self.connection),
            Some(Registration::Registered { .. })
        ) {
            return None;
        }
        let now = self.engine.clock.now();
        let reason = self.due(now)?;
        let outcome = self.check(reason, now).await;
        Some((reason, outcome))
    }

    fn audit(&self, kind: &str, message: String, detail: serde_json::Value) {
        let now = self.engine.clock.now();
        let result = self.engine.store.transact(|tx| {
            tx.audit(
                now,
                AuditRecord {
                    kind,
                    pairing: None,
                    link: None,
                    tickets: Vec::new(),
                    message: message.clone(),
                    detail: detail.clone(),
                },
            )
        });
        if let Err(e) = result {
            tracing::error!(connection = %self.connection, kind, error = %e, "cannot write the audit entry");
        }
    }

    async fn check(&mut self, reason: Reason, now: Timestamp) -> Outcome {
        self.last_check = Some(now);
        let Some(conn) = self.engine.connection(&self.connection) else {
            return Outcome::Failed("unknown connection".into());
        };
        let connector = conn.connector.clone();
        let status = match connector.webhook_status(&self.url).await {
            Ok(status) => status,
            Err(e) => {
                tracing::warn!(connection = %self.connection, error = %e, reason = reason.label(), "cannot read the webhook's status; trying again at the next check");
                return Outcome::Failed(e.to_string());
            }
        };
        if !status.supported {
            return Outcome::Unsupported;
        }
        if !status.needs_repair() {
            self.last_healthy = Some(now);
            tracing::debug!(connection = %self.connection, reason = reason.label(), "webhook active");
            return Outcome::Healthy;
        }
        self.repair(&*connector, reason, status, now).await
    }

    async fn repair(
        &mut self,
        connector: &dyn psa_connector::Connector,
        reason: Reason,
        status: WebhookStatus,
        now: Timestamp,
    ) -> Outcome {
        let connection = self.connection.clone();
        tracing::warn!(connection = %connection, problems = ?status.problems, reason = reason.label(), "the vendor's webhook is missing or inactive; registering it again");
        self.audit(
            "webhook_disabled_detected",
            format!(
                "{connection}: the vendor's webhook is missing or inactive ({})",
                reason.label()
            ),
            json!({"connection": connection, "url": self.url, "reason": reason.label(), "problems": status.problems, "hooks": status.hooks}),
        );
        if let Err(e) = connector.register_webhook(&self.url).await {
            tracing::warn!(connection = %connection, error = %e, "cannot register the webhook again; trying at the next check (polling covers changes)");
            return Outcome::Failed(e.to_string());
        }
        self.audit(
            "webhook_reregistered",
            format!("{connection}: webhook registered again at {}", self.url),
            json!({"connection": connection, "url": self.url}),
        );
        // The gap: since the webhook was last known to work.
        let known_good = [self.activity.last(&connection), self.last_healthy]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(self.started);
        let from = known_good - self.settings.poll_overlap;
        let result = crate::ingest::poll_since(&self.engine, &connection, from).await;
        let gap_secs = (now - known_good).num_seconds();
        let outcome = match &result {
            Ok(n) => Outcome::Repaired { caught_up: *n },
            Err(e) => Outcome::Failed(format!("catch-up poll: {e}")),
        };
        let (notices, error) = match result {
            Ok(n) => (Some(n), None),
            Err(e) => {
                tracing::warn!(connection = %connection, error = %e, "the catch-up poll failed; the regular poller covers the gap");
                (None, Some(e))
            }
        };
        self.audit(
            "catch_up_poll",
            format!(
                "{connection}: polled the {gap_secs} s webhook gap from {}",
                from.to_rfc3339()
            ),
            json!({"connection": connection, "from": from, "to": now, "gap_secs": gap_secs, "notices": notices, "error": error}),
        );
        if let Err(e) = self.engine.store.flush().await {
            tracing::error!(connection = %connection, error = %e, "cannot flush the audit entries");
        }
        self.last_healthy = Some(now);
        outcome
    }
}

/// Runs `watch` every `tick` until `stop`.
pub async fn run_watch(watch: Arc<tokio::sync::Mutex<Watch>>, tick: Duration, stop: Stop) {
    loop {
        tokio::select! {
            _ = stop.wait() => return,
            _ = tokio::time::sleep(tick) => {}
        }
        let mut watch = watch.lock().await;
        tokio::select! {
            _ = stop.wait() => return,
            _ = watch.tick() => {}
        }
    }
}

#[cfg(test)]
#[path = "webhook_watch_tests.rs"]
mod tests;
