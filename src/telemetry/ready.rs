//! `/readyz`: whether the daemon can do its job now, as opposed to
//! `/healthz` (its tasks are up). Ready means the store is open and
//! writable (no failed write since the last good flush, sled not asking for
//! a restart) and every connection is reachable within its budget.
//!
//! A connection is **unreachable** when its vendor calls have been failing
//! (an error status other than 429, or no answer) with no success in
//! between for longer than its budget: `poll_interval_secs +
//! timeout_secs` for a polling connection (at least one more poll had its
//! full timeout to get through), 60 s + `timeout_secs` for a webhook-only
//! one. No call yet, or a success since the last failure, is reachable; a
//! 429 is an answer (the vendor is there, asking us to slow down), so it
//! neither starts nor ends a failure run. The check is passive: it reads
//! the connection's [`ApiStats`] and sends nothing to the vendor, so
//! probing `/readyz` often costs no API budget. Any failing call starts the
//! clock, a refused credential (401/403) too, which is what should make a
//! connection unready; a stray 404 on an idle connection is ended by the
//! next successful call (each poll is one).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use psa_connector::{ApiStats, ApiStatsSnapshot};

use crate::config::Config;
use crate::engine::Engine;
use crate::store::Store;

/// Budget of a connection that does not poll, before its request timeout.
const WEBHOOK_ONLY_BUDGET: Duration = Duration::from_secs(60);

/// One connection's reachability.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    Reachable,
    Unreachable {
        /// How long calls have been failing.
        failing_for: Duration,
        budget: Duration,
    },
}

impl Reach {
    /// The reason text `/readyz` shows to token holders.
    pub fn reason(&self) -> Option<String> {
        match self {
            Reach::Reachable => None,
            Reach::Unreachable {
                failing_for,
                budget,
            } => Some(format!(
                "vendor calls have been failing for {} s with no success (budget {} s)",
                failing_for.as_secs(),
                budget.as_secs()
            )),
        }
    }
}

/// Judges one connection from its counters at `now_ms` (Unix ms).
pub fn judge(stats: &ApiStatsSnapshot, now_ms: u64, budget: Duration) -> Reach {
    let Some(since) = stats.failing_since_unix_ms else {
        return Reach::Reachable;
    };
    let failing_for = Duration::from_millis(now_ms.saturating_sub(since));
    if failing_for <= budget {
        Reach::Reachable
    } else {
        Reach::Unreachable {
            failing_for,
            budget,
        }
    }
}

/// The budget of a connection configured with these settings.
pub fn budget(polling: bool, poll_interval_secs: u64, timeout_secs: u64) -> Duration {
    let between_calls = if polling {
        Duration::from_secs(poll_interval_secs)
    } else {
        WEBHOOK_ONLY_BUDGET
    };
    between_calls + Duration::from_secs(timeout_secs)
}

struct Probe {
    name: String,
    stats: Option<ApiStats>,
    budget: Duration,
}

/// What `/readyz` checks: the store and every connection's call counters.
pub struct Readiness {
    store: Store,
    probes: Vec<Probe>,
}

/// The outcome of one [`Readiness::check`].
#[derive(Debug)]
pub struct Verdict {
    /// `None` when the store is writable, else why not.
    pub store: Option<String>,
    /// Every connection, sorted by name.
    pub connections: Vec<(String, Reach)>,
}

impl Verdict {
    pub fn ready(&self) -> bool {
        self.store.is_none() && self.connections.iter().all(|(_, r)| *r == Reach::Reachable)
    }

    /// HTTP status and body; `detail` adds the reason texts (token holders).
    pub fn report(&self, detail: bool) -> (StatusCode, Value) {
        let mut connections = Map::new();
        for (name, reach) in &self.connections {
            let mut entry = match reach {
                Reach::Reachable => json!({ "state": "reachable" }),
                Reach::Unreachable { .. } => json!({ "state": "unreachable" }),
            };
            if let (true, Some(reason)) = (detail, reach.reason()) {
                entry["reason"] = json!(reason);
            }
            connections.insert(name.clone(), entry);
        }
        let mut store = match &self.store {
            None => json!({ "state": "ok" }),
            Some(_) => json!({ "state": "failing" }),
        };
        if let (true, Some(reason)) = (detail, &self.store) {
            store["reason"] = json!(reason);
        }
        let ready = self.ready();
        let body = json!({
            "status": if ready { "ready" } else { "not_ready" },
            "store": store,
            "connections": connections,
        });
        let code = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        (code, body)
    }
}

impl Readiness {
    /// Readiness of `engine`'s store and connections, budgets from `config`.
    pub fn new(engine: &Engine, config: &Config) -> Self {
        Self::with_budgets(engine, |name| {
            config
                .connections
                .get(name)
                .map(|c| budget(c.polling, c.poll_interval_secs, c.timeout_secs))
                .unwrap_or(WEBHOOK_ONLY_BUDGET)
        })
    }

    /// Readiness of `engine`'s store and connections, each connection's
    /// budget given by `budget_of`.
    pub fn with_budgets(engine: &Engine, budget_of: impl Fn(&str) -> Duration) -> Self {
        let mut probes: Vec<Probe> = engine
            .connections
            .values()
            .map(|conn| Probe {
                name: conn.name.clone(),
                stats: conn.connector.api_stats(),
                budget: budget_of(&conn.name),
            })
            .collect();
        probes.sort_by(|a, b| a.name.cmp(&b.name));
        Self {
            store: engine.store.clone(),
            probes,
        }
    }

    /// Checks the store and every connection now.
    pub fn check(&self) -> Verdict {
        let store = if self.store.needs_restart() {
            Some("the storage engine reported an I/O error; restart the daemon".to_string())
        } else {
            self.store
                .write_failure()
                .map(|e| format!("the last store write failed: {e}"))
        };
        let now_ms = unix_ms();
        let connections = self
            .probes
            .iter()
            .map(|p| {
                let reach = match &p.stats {
                    Some(stats) => judge(&stats.snapshot(), now_ms, p.budget),
                    // A connector without counters cannot be judged: not held against it.
                    None => Reach::Reachable,
                };
                (p.name.clone(), reach)
            })
            .collect();
        Verdict { store, connections }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
