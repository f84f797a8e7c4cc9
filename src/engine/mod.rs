//! The planner: turns inbox items into outbox operations.
//!
//! For each change notice it reads the ticket from the source (the API is the
//! truth, webhook bodies are hints), finds the pairings and links it belongs
//! to, and reconciles the link: both sides are diffed against the shadow (the
//! last agreed state), the mapping decides what flows where, and the outbox
//! operations, new shadow, comment map entries and audit entries are written
//! in one store transaction together with the removal of the inbox item.

mod backfill;
mod comments;
mod commit;
pub mod custody;
mod lanes;
mod observe;
pub mod owners;
mod plan_run;
mod read_plan;
mod reconcile;
mod schedule;
pub(crate) mod scope;
mod trigger;
mod unlink;
pub mod unowned;
mod visibility;
mod worker;

#[cfg(test)]
mod companion_tests;
#[cfg(test)]
mod owners_tests;
#[cfg(test)]
mod read_economy_tests;
#[cfg(test)]
mod recovery_tests;
#[cfg(test)]
mod replan_tests;
#[cfg(test)]
mod reverse_tests;
#[cfg(test)]
mod schedule_tests;
#[cfg(test)]
mod scope_tests;
#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod stop_tests;
#[cfg(test)]
mod target_evidence_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod visibility_tests;

use std::collections::HashMap;
use std::sync::Arc;

use psa_connector::{Connector, ConnectorError, NewComment, Visibility};

use crate::clock::SharedClock;
use crate::config::LoadedPairing;
use crate::store::{Action, CommentEntry, Link, Shadow, Side, Store, StoreError};

pub use backfill::BackfillError;
pub use observe::observe;
#[cfg(test)]
pub(crate) use plan_run::plan_round;
pub use plan_run::run_planner;
pub use trigger::write_back_ops;
pub(crate) use unlink::UnlinkCause;

/// A planning failure: retried later when the vendor may recover.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{connection}: {source}")]
    Vendor {
        connection: String,
        source: ConnectorError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EngineError {
    pub fn is_retryable(&self) -> bool {
        match self {
            EngineError::Vendor { source, .. } => source.is_retryable(),
            EngineError::Store(e) => store_error_is_transient(e),
        }
    }
}

/// Whether planning that failed on this store error should be tried again
/// (a plan raced a concurrent change, or the disk failed a read or write:
/// full, quota, I/O) rather than kept as a dead notice (a record that cannot
/// be decoded will not decode next time either).
pub(crate) fn store_error_is_transient(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Conflict(_) | StoreError::Sled(_) | StoreError::Aborted(_)
    )
}

/// One connection as the engine sees it.
#[derive(Clone)]
pub struct Connection {
    pub name: String,
    pub connector: Arc<dyn Connector>,
}

/// Everything planning and delivery share.
pub struct Engine {
    pub store: Store,
    pub connections: HashMap<String, Connection>,
    pub pairings: Vec<LoadedPairing>,
    pub clock: SharedClock,
    /// How failed planning and delivery steps are retried.
    pub retry: crate::retry::RetryPolicy,
    /// Woken when new outbox operations are written.
    pub outbox_ready: Arc<tokio::sync::Notify>,
    /// Woken when new inbox items are written.
    pub inbox_ready: Arc<tokio::sync::Notify>,
    /// Completed delivery rounds per connection (tests wait on these
    /// instead of sleeping).
    pub delivery_rounds: Arc<Rounds>,
    /// Last successful poll and webhook per connection (admin API status).
    pub live: Arc<crate::admin::live::Live>,
}

/// A counter per connection of completed worker rounds.
#[derive(Default)]
pub struct Rounds(std::sync::Mutex<HashMap<String, u64>>);

impl Rounds {
    pub fn bump(&self, connection: &str) {
        let mut rounds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *rounds.entry(connection.to_string()).or_default() += 1;
    }

    pub fn get(&self, connection: &str) -> u64 {
        let rounds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        rounds.get(connection).copied().unwrap_or(0)
    }
}

/// An operation to write, before it gets an id.
#[derive(Debug, Clone)]
pub struct PlannedOp {
    pub target: Side,
    pub action: Action,
    pub fields: Vec<String>,
}

/// One audit line to write with the plan.
#[derive(Debug, Clone)]
pub struct AuditLine {
    pub kind: &'static str,
    pub message: String,
    pub detail: serde_json::Value,
}

/// Everything one reconciliation decided, written atomically by [`commit`].
#[derive(Debug)]
pub struct Plan {
    pub link: Link,
    pub new_link: bool,
    /// The shadow the plan was computed from; the commit refuses to write if
    /// the stored shadow or link changed meanwhile (a delivery recorded).
    pub base_shadow: Shadow,
    pub shadow: Shadow,
    pub ops: Vec<PlannedOp>,
    pub comments: Vec<(Side, String, CommentEntry)>,
    pub audit: Vec<AuditLine>,
}

impl Plan {
    pub fn note(&mut self, kind: &'static str, message: String, detail: serde_json::Value) {
        self.audit.push(AuditLine {
            kind,
            message,
            detail,
        });
    }

    /// Adds a comment op to `target`.
    pub fn add_comment(
        &mut self,
        target: Side,
        body: String,
        visibility: Visibility,
        marker: String,
        resolution: bool,
        source: Option<(Side, String)>,
    ) {
        self.ops.push(PlannedOp {
            target,
            action: Action::AddComment {
                comment: NewComment {
                    body,
                    visibility,
                    marker,
                    resolution,
                },
                source,
            },
            fields: Vec::new(),
        });
    }
}

impl Engine {
    /// An engine over `store` with fresh wake-ups and counters.
    pub fn new(
        store: Store,
        connections: HashMap<String, Connection>,
        pairings: Vec<LoadedPairing>,
        clock: SharedClock,
        retry: crate::retry::RetryPolicy,
    ) -> Self {
        Engine {
            store,
            connections,
            pairings,
            clock,
            retry,
            outbox_ready: Arc::new(tokio::sync::Notify::new()),
            inbox_ready: Arc::new(tokio::sync::Notify::new()),
            delivery_rounds: Arc::new(Rounds::default()),
            live: Arc::default(),
        }
    }

    pub fn connection(&self, name: &str) -> Option<&Connection> {
        self.connections.get(name)
    }

    /// The connection on `side` of a pairing.
    pub fn side_connection(&self, pairing: &LoadedPairing, side: Side) -> Option<&Connection> {
        self.connection(pairing.connection(side))
    }

    pub fn pairing(&self, name: &str) -> Option<&LoadedPairing> {
        self.pairings.iter().find(|p| p.name == name)
    }

    fn vendor_error(connection: &str) -> impl Fn(ConnectorError) -> EngineError + '_ {
        move |source| EngineError::Vendor {
            connection: connection.to_string(),
            source,
        }
    }
}

/// `connection:id` and `connection:number` keys for audit lookups.
pub fn ticket_keys(connection: &str, id: &str, number: &str) -> Vec<String> {
    let mut keys = vec![format!("{connection}:{id}")];
    if number != id {
        keys.push(format!("{connection}:{number}"));
    }
    keys
}
