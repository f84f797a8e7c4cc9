//! `GET /api/v1/pairings/{name}/escalations`: a pairing's open escalations
//! (neither resolved nor unlinked), from the custody ledger
//! ([`crate::accountability::ledgers`]) as of now: both ticket numbers, who
//! holds the MSP's ticket now (custody), and per response target the time
//! left or how long ago it was breached. The dashboard shows it per pairing.
//!
//! The ledger is read from the audit trail (the pairing's entries of the
//! kinds a ledger reads), so it answers what `report` and the monitor do.

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::api::{self, Api, ApiError, ApiResult};
use super::links::{LinkView, TicketView};
use crate::accountability::calendar::Timestamp;
use crate::accountability::ledger::{CustodySpan, LinkLedger, Outcome, TargetResult, LEDGER_KINDS};
use crate::accountability::{ledgers, pairing_targets};
use crate::engine::Engine;
use crate::store::{AuditEntry, Side, StoreError, TreeName};

/// Who holds a ticket now.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct OwnerView {
    pub side: Side,
    pub connection: String,
    /// `None`: no owner named yet (the MSP holds it from the escalation).
    pub person: Option<String>,
    pub email: Option<String>,
    pub group: Option<String>,
    pub since_unix_ms: i64,
}

/// One response target of an open escalation.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct TargetView {
    /// `first_response` or `resolution`.
    pub target: String,
    /// `met`, `open`, `near` or `breached`.
    pub outcome: String,
    /// The `[[targets.priority]]` entry (a label or `*`) and its calendar.
    pub label: String,
    pub calendar: String,
    pub target_secs: i64,
    /// Business seconds counted so far (pauses excluded).
    pub elapsed_secs: i64,
    /// `None` while a pause holds the clock before it.
    pub due_unix_ms: Option<i64>,
    /// Business seconds left (negative once breached).
    pub left_secs: i64,
    /// "2h 10m left", "breached 3h 5m ago", "met", "paused (1h left)".
    pub text: String,
}

/// One open escalation.
#[derive(Debug, Serialize, Deserialize)]
pub struct EscalationView {
    pub link: u64,
    pub escalated_unix_ms: i64,
    pub priority: Option<String>,
    pub msp_side: Side,
    /// Both tickets (absent while the far ticket is not created yet, or
    /// the link record is gone).
    pub a: Option<TicketView>,
    pub b: Option<TicketView>,
    /// The MSP ticket's holder now.
    pub owner: OwnerView,
    /// Whether an MSP pause status holds the clock now.
    pub paused: bool,
    /// Empty without `[targets]` (or no entry for the priority).
    pub targets: Vec<TargetView>,
}

/// The answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct EscalationsView {
    pub pairing: String,
    pub as_of_unix_ms: i64,
    pub targets_configured: bool,
    /// Oldest escalation first.
    pub items: Vec<EscalationView>,
}

/// `3d 4h`, `2h 5m`, `40s`.
fn span(secs: i64) -> String {
    let s = secs.max(0);
    let (days, hours, mins) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

fn target_view(r: &TargetResult, paused: bool, now: Timestamp) -> TargetView {
    let left = r.target_secs - r.elapsed_secs;
    let text = match (r.outcome, r.done_at) {
        (Outcome::Met, _) => "met".to_string(),
        (Outcome::Breached, Some(_)) => "breached (done late)".to_string(),
        (Outcome::Breached, None) => match r.due {
            Some(due) => format!("breached {} ago", span((now - due).num_seconds())),
            None => "breached".to_string(),
        },
        (_, _) if paused => format!("paused ({} left)", span(left)),
        (_, _) => format!("{} left", span(left)),
    };
    TargetView {
        target: r.kind.to_string(),
        outcome: serde_json::to_value(r.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        label: r.target_label.clone(),
        calendar: r.calendar.clone(),
        target_secs: r.target_secs,
        elapsed_secs: r.elapsed_secs,
        due_unix_ms: r.due.map(api::unix_ms),
        left_secs: left,
        text,
    }
}

fn owner_view(engine: &Engine, ledger: &LinkLedger) -> OwnerView {
    let msp = ledger.msp_side;
    let current: Option<&CustodySpan> = ledger
        .custody
        .iter()
        .rev()
        .find(|s| s.side == msp && s.to.is_none())
        .or_else(|| ledger.custody.iter().rev().find(|s| s.side == msp));
    let person = current.and_then(|s| s.person.as_ref());
    OwnerView {
        side: msp,
        connection: engine
            .pairing(&ledger.pairing)
            .map(|p| p.connection(msp).to_string())
            .unwrap_or_default(),
        person: person.map(|p| {
            p.name
                .clone()
                .filter(|n| !n.is_empty())
                .or_else(|| p.email.clone().filter(|e| !e.is_empty()))
                .unwrap_or_else(|| p.id.clone())
        }),
        email: person.and_then(|p| p.email.clone()),
        group: current.and_then(|s| s.group.clone()),
        since_unix_ms: api::unix_ms(current.map_or(ledger.escalated_at, |s| s.from)),
    }
}

/// The pairing's entries a ledger reads, in chain order.
fn pairing_entries(engine: &Engine, pairing: &str) -> Result<Vec<AuditEntry>, StoreError> {
    let mut entries = Vec::new();
    for kv in engine.store.raw_audit_tree().iter() {
        let (key, value) = kv?;
        let entry: AuditEntry = crate::store::decode(TreeName::Audit, &key, &value)?;
        if entry.link.is_some()
            && entry.pairing.as_deref() == Some(pairing)
            && LEDGER_KINDS.contains(&entry.kind.as_str())
        {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// The open escalations of `name` as of the engine's clock.
pub fn open_escalations(engine: &Engine, name: &str) -> Result<EscalationsView, ApiError> {
    let Some(pairing) = engine.pairing(name) else {
        return Err(ApiError::not_found(format!(
            "no pairing {name:?}; {}",
            engine.configured_pairings()
        )));
    };
    let targets = pairing_targets(pairing);
    let now = engine.clock.now();
    let entries = pairing_entries(engine, name)?;
    let mut items = Vec::new();
    for ledger in ledgers(&entries, name, targets.as_ref(), now) {
        if ledger.resolved_at.is_some() || ledger.ended_at.is_some() {
            continue;
        }
        let paused = ledger.paused.last().is_some_and(|p| p.to.is_none());
        let link = engine.store.link(ledger.link)?;
        let view = link.as_ref().map(|l| LinkView::of(engine, l));
        let (a, b) = view.map(|v| (v.a, v.b)).unwrap_or((None, None));
        items.push(EscalationView {
            link: ledger.link,
            escalated_unix_ms: api::unix_ms(ledger.escalated_at),
            priority: ledger.priority.clone(),
            msp_side: ledger.msp_side,
            a,
            b,
            owner: owner_view(engine, &ledger),
            paused,
            targets: ledger
                .targets
                .iter()
                .map(|r| target_view(r, paused, now))
                .collect(),
        });
    }
    items.sort_by_key(|i| (i.escalated_unix_ms, i.link));
    Ok(EscalationsView {
        pairing: name.to_string(),
        as_of_unix_ms: api::unix_ms(now),
        targets_configured: targets.is_some(),
        items,
    })
}

pub async fn list(
    State(api): State<Api>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<EscalationsView> {
    api::query(raw.as_deref(), &[])?;
    Ok(Json(open_escalations(&api.engine, &name)?))
}

#[cfg(test)]
#[path = "escalations_tests.rs"]
mod tests;
