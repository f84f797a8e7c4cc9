//! Reading the store for people: the outbox with the tickets each operation
//! concerns (and which wait behind a dead letter), one ticket's audit history across both sides, and the audit
//! chain check's verdict.

use serde_json::json;

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::store::{AuditEntry, OutboxOp, Store, StoreError, VerifyReport};

/// An outbox operation with the `connection:id/number` keys of its link's tickets.
#[derive(Debug, Serialize, Deserialize)]
pub struct OutboxRow {
    #[serde(flatten)]
    pub op: OutboxOp,
    pub tickets: Vec<String>,
    /// The dead letter this operation waits behind (same ticket and side).
    #[serde(default)]
    pub blocked_by: Option<u64>,
    /// For a dead letter: how many operations wait behind it.
    #[serde(default)]
    pub waiting: usize,
}

/// Every outbox operation, oldest first, with the tickets it concerns.
pub fn outbox_rows(engine: &Engine) -> Result<Vec<OutboxRow>, StoreError> {
    let ops = engine.store.outbox()?;
    let blocked = crate::delivery::blocked_by(&ops);
    ops.into_iter()
        .map(|op| {
            let tickets = engine
                .store
                .link(op.link)?
                .map(|l| engine.link_keys(&l))
                .unwrap_or_default();
            let waiting = blocked.values().filter(|dead| **dead == op.id).count();
            Ok(OutboxRow {
                blocked_by: blocked.get(&op.id).copied(),
                waiting,
                op,
                tickets,
            })
        })
        .collect()
}

/// Entries concerning `ticket` (`connection:id` or `connection:number`),
/// including everything on the far-side ticket it is linked to.
pub fn ticket_history(store: &Store, ticket: &str) -> Result<Vec<AuditEntry>, StoreError> {
    let entries = store.audit_entries()?;
    let links: Vec<u64> = entries
        .iter()
        .filter(|e| e.tickets.iter().any(|t| t == ticket))
        .filter_map(|e| e.link)
        .collect();
    let mut keys: Vec<String> = vec![ticket.to_string()];
    for e in &entries {
        if e.link.is_some_and(|l| links.contains(&l)) {
            for t in &e.tickets {
                if !keys.contains(t) {
                    keys.push(t.clone());
                }
            }
        }
    }
    Ok(entries
        .into_iter()
        .filter(|e| {
            e.link.is_some_and(|l| links.contains(&l)) || e.tickets.iter().any(|t| keys.contains(t))
        })
        .collect())
}

/// Human-readable lines of a history.
pub fn render_history(entries: &[AuditEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&format!(
            "#{:<5} {} {:<13} {}\n",
            e.seq,
            e.at.format("%Y-%m-%d %H:%M:%S"),
            e.kind,
            e.message
        ));
    }
    out
}

pub fn verify_json(report: &VerifyReport) -> serde_json::Value {
    match report {
        VerifyReport::Intact { entries, head } => {
            json!({ "intact": true, "entries": entries, "head": head })
        }
        VerifyReport::Broken { seq, reason } => {
            json!({ "intact": false, "entry": seq, "reason": reason })
        }
    }
}
