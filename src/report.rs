//! Reading the store for people: the outbox with the tickets each operation
//! concerns (and which wait behind a dead letter), as the rows the CLI
//! prints and the [`OpView`]s and [`NoticeView`]s the admin API answers
//! with; one ticket's audit history across both sides, and the audit chain
//! check's verdict.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::store::{AuditEntry, DeadNotice, OutboxOp, Store, StoreError, VerifyReport};

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
    /// Why the operation is held (its link is out of scope), if it is.
    #[serde(default)]
    pub held: Option<String>,
}

/// Every outbox operation, oldest first, with the tickets it concerns.
pub fn outbox_rows(engine: &Engine) -> Result<Vec<OutboxRow>, StoreError> {
    let ops = engine.store.outbox()?;
    let blocked = crate::delivery::blocked_by(&ops);
    let waiting_behind = waiting_counts(&blocked);
    let mut tickets_of: HashMap<u64, Vec<String>> = HashMap::new();
    let mut held_of: HashMap<u64, Option<String>> = HashMap::new();
    ops.into_iter()
        .map(|op| {
            let held = held_of
                .entry(op.link)
                .or_insert_with(|| crate::engine::scope::hold_warning(&engine.store, op.link))
                .clone();
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
                held,
            })
        })
        .collect()
}

/// An outbox operation as the admin API shows it (`/api/v1/outbox`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpView {
    pub id: String,
    /// `pending` (due, scheduled or waiting behind a dead letter) or `dead`.
    pub state: String,
    pub connection: String,
    pub pairing: String,
    pub link: String,
    /// `create_ticket`, `update_ticket`, `add_comment`, `set_comment_visibility`.
    pub kind: String,
    /// What the operation writes, in words.
    pub summary: String,
    /// What it writes, in full: the stored action (tagged by `kind`: the
    /// ticket to create, the field update, the note's text).
    pub action: serde_json::Value,
    pub tickets: Vec<String>,
    pub attempts: u32,
    /// The vendor's message: the dead letter's, else the last failure's.
    pub last_error: Option<String>,
    /// The HTTP status of the dead letter, when the vendor answered one.
    pub status: Option<u16>,
    pub dead_unix_ms: Option<i64>,
    /// When it is tried next (`null` for a dead letter).
    pub next_attempt_unix_ms: Option<i64>,
    /// The dead letter it waits behind.
    pub blocked_by: Option<String>,
    /// For a dead letter: how many operations wait behind it.
    pub waiting: usize,
    /// Set while the operation's link is out of its pairing's scope: why
    /// it is held (not delivered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

impl From<&OutboxRow> for OpView {
    fn from(row: &OutboxRow) -> Self {
        let op = &row.op;
        let action = serde_json::to_value(&op.action).unwrap_or_default();
        let kind = action["kind"].as_str().unwrap_or_default().to_string();
        OpView {
            id: op.id.to_string(),
            state: if op.dead.is_some() { "dead" } else { "pending" }.to_string(),
            connection: op.connection.clone(),
            pairing: op.pairing.clone(),
            link: op.link.to_string(),
            kind,
            summary: op.action.describe(),
            action,
            tickets: row.tickets.clone(),
            attempts: op.attempts,
            last_error: op
                .dead
                .as_ref()
                .map(|d| d.message.clone())
                .or_else(|| op.last_error.clone()),
            status: op.dead.as_ref().and_then(|d| d.status),
            dead_unix_ms: op.dead.as_ref().map(|d| d.at.timestamp_millis()),
            next_attempt_unix_ms: op
                .dead
                .is_none()
                .then(|| op.next_attempt_at.timestamp_millis()),
            blocked_by: row.blocked_by.map(|b| b.to_string()),
            waiting: row.waiting,
            held: row.held.clone(),
        }
    }
}

/// A dead notice as the admin API shows it (`/api/v1/notices/dead`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoticeView {
    pub id: String,
    pub connection: String,
    /// The vendor's ticket id the notice is about.
    pub ticket: String,
    /// `webhook` or `poll`.
    pub source: String,
    pub received_unix_ms: i64,
    pub attempts: u32,
    /// The vendor's HTTP status, when it answered one.
    pub status: Option<u16>,
    /// Why planning failed for good (the vendor's message).
    pub message: String,
    pub dead_unix_ms: i64,
}

impl From<&DeadNotice> for NoticeView {
    fn from(notice: &DeadNotice) -> Self {
        let item = &notice.item;
        NoticeView {
            id: item.id.to_string(),
            connection: item.connection.clone(),
            ticket: item.ticket_id.clone(),
            source: match item.source {
                crate::store::IntakeSource::Webhook => "webhook",
                crate::store::IntakeSource::Poll => "poll",
                crate::store::IntakeSource::Backfill => "backfill",
            }
            .to_string(),
            received_unix_ms: item.received_at.timestamp_millis(),
            attempts: item.attempts,
            status: notice.dead.status,
            message: notice.dead.message.clone(),
            dead_unix_ms: notice.dead.at.timestamp_millis(),
        }
    }
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

/// The audit chain check's verdict as JSON: `ok` (and `intact`, its older
/// name), `entries` (how many were checked), `head` (the last hash; `null`
/// when broken), `problem` (what is wrong; `null` when intact) and, when
/// broken, `entry` (the first bad entry) and `reason` (= `problem`).
pub fn verify_json(report: &VerifyReport) -> serde_json::Value {
    match report {
        VerifyReport::Intact { entries, head } => json!({
            "ok": true, "intact": true, "entries": entries, "head": head, "problem": null
        }),
        VerifyReport::Broken { seq, reason } => json!({
            "ok": false, "intact": false, "entries": seq.saturating_sub(1), "head": null,
            "problem": format!("entry #{seq}: {reason}"), "entry": seq, "reason": reason
        }),
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
