//! Reading the audit log for people: one ticket's history across both sides,
//! and the chain check's verdict.

use serde_json::json;

use crate::store::{AuditEntry, Store, StoreError, VerifyReport};

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
