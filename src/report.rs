//! Reading the store for people: the outbox with the tickets each operation
//! concerns (and which wait behind a dead letter), one ticket's audit history across both sides, and the audit
//! chain check's verdict.

use std::collections::{HashMap, HashSet};

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
    let waiting_behind = waiting_counts(&blocked);
    let mut tickets_of: HashMap<u64, Vec<String>> = HashMap::new();
    ops.into_iter()
        .map(|op| {
            let tickets = match tickets_of.get(&op.link) {
                Some(tickets) => tickets.clone(),
                None => {
                    let tickets = engine
                        .store
                        .link(op.link)?
                        .map(|l| engine.link_keys(&l))
                        .unwrap_or_default();
                    tickets_of.insert(op.link, tickets.clone());
                    tickets
                }
            };
            let waiting = waiting_behind.get(&op.id).copied().unwrap_or(0);
            Ok(OutboxRow {
                blocked_by: blocked.get(&op.id).copied(),
                waiting,
                op,
                tickets,
            })
        })
        .collect()
}

/// For every dead letter, how many operations wait behind it, in one pass
/// over `blocked` (operation → the dead letter it waits behind).
fn waiting_counts(blocked: &HashMap<u64, u64>) -> HashMap<u64, usize> {
    let mut counts = HashMap::new();
    for dead in blocked.values() {
        *counts.entry(*dead).or_insert(0) += 1;
    }
    counts
}

/// Entries concerning `ticket` (`connection:id` or `connection:number`),
/// including everything on the far-side ticket it is linked to.
pub fn ticket_history(store: &Store, ticket: &str) -> Result<Vec<AuditEntry>, StoreError> {
    let entries = store.audit_entries()?;
    let links: HashSet<u64> = entries
        .iter()
        .filter(|e| e.tickets.iter().any(|t| t == ticket))
        .filter_map(|e| e.link)
        .collect();
    let mut keys: HashSet<String> = HashSet::from([ticket.to_string()]);
    for e in &entries {
        if e.link.is_some_and(|l| links.contains(&l)) {
            keys.extend(e.tickets.iter().cloned());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_counts_per_dead_letter() {
        let blocked = HashMap::from([(3, 1), (5, 1), (7, 2), (9, 1)]);
        let counts = waiting_counts(&blocked);
        assert_eq!(counts.get(&1), Some(&3));
        assert_eq!(counts.get(&2), Some(&1));
        assert_eq!(counts.get(&3), None, "not a dead letter");
    }
}
