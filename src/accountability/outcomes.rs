//! Target outcomes of a ledger ([`super::ledger`]): business seconds
//! counted from the escalation outside paused time, due and near-breach
//! instants, and whether each target is met, breached, near or open.

use serde::Serialize;

use super::calendar::{Calendar, Timestamp};
use super::ledger::{Interval, LinkLedger};
use super::targets::{TargetKind, Targets};

/// How a target stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done within the target.
    Met,
    /// Done late, or not done and past due.
    Breached,
    /// Not done; past the near-breach threshold.
    Near,
    /// Not done; within the threshold.
    Open,
}

/// One target of one link.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetResult {
    pub kind: TargetKind,
    /// The `[[targets.priority]]` entry used (a label or `*`).
    pub target_label: String,
    pub calendar: String,
    pub target_secs: i64,
    /// Business seconds counted (pauses excluded) until the event, or `as_of`.
    pub elapsed_secs: i64,
    /// When it was done (response or resolution).
    pub done_at: Option<Timestamp>,
    /// When the target falls due; `None` while paused before it.
    pub due: Option<Timestamp>,
    /// When the near-breach threshold is (was) crossed; `None` while paused before it.
    pub near_at: Option<Timestamp>,
    pub outcome: Outcome,
}

/// The target results of a ledger built without targets (or to re-evaluate
/// one at another moment): what [`ledgers`] fills in `targets`.
pub fn evaluate(ledger: &LinkLedger, targets: &Targets, as_of: Timestamp) -> Vec<TargetResult> {
    let Some(priority) = targets.for_priority(ledger.priority.as_deref()) else {
        return Vec::new();
    };
    let calendar = &priority.calendar;
    let mut results = Vec::new();
    for kind in TargetKind::ALL {
        let Some(target) = priority.secs(kind) else {
            continue;
        };
        let done_at = match kind {
            TargetKind::FirstResponse => ledger.first_response.as_ref().map(|r| r.at),
            TargetKind::Resolution => ledger.resolved_at,
        };
        let until = done_at
            .or(ledger.ended_at)
            .unwrap_or(as_of)
            .max(ledger.escalated_at);
        let elapsed = counted_secs(calendar, ledger.escalated_at, until, &ledger.paused);
        let near_secs = ((target as f64) * targets.near_breach).ceil() as i64;
        let due = due_at(calendar, ledger.escalated_at, target, &ledger.paused);
        let near_at = due_at(calendar, ledger.escalated_at, near_secs, &ledger.paused);
        let outcome = match done_at {
            Some(_) if elapsed <= target => Outcome::Met,
            Some(_) => Outcome::Breached,
            None if elapsed >= target => Outcome::Breached,
            None if elapsed >= near_secs => Outcome::Near,
            None => Outcome::Open,
        };
        results.push(TargetResult {
            kind,
            target_label: priority.label.clone(),
            calendar: priority.calendar_name.clone(),
            target_secs: target,
            elapsed_secs: elapsed,
            done_at,
            due,
            near_at,
            outcome,
        });
    }
    results
}

/// The stretches of `[from, ∞)` outside the pauses, in order; the last is
/// open-ended unless a pause still lasts.
fn active_pieces(from: Timestamp, pauses: &[Interval]) -> Vec<(Timestamp, Option<Timestamp>)> {
    let mut pieces = Vec::new();
    let mut start = Some(from);
    for pause in pauses {
        let Some(s) = start else { break };
        if pause.from > s {
            pieces.push((s, Some(pause.from)));
        }
        start = pause.to.map(|to| to.max(s));
    }
    if let Some(s) = start {
        pieces.push((s, None));
    }
    pieces
}

/// Business seconds in `[from, to)` outside the pauses.
pub fn counted_secs(
    calendar: &Calendar,
    from: Timestamp,
    to: Timestamp,
    pauses: &[Interval],
) -> i64 {
    active_pieces(from, pauses)
        .into_iter()
        .map(|(a, b)| calendar.business_secs(a, b.map_or(to, |b| b.min(to))))
        .sum()
}

/// When `target` business seconds outside the pauses have elapsed since
/// `from`; `None` while a lasting pause holds the clock before that.
pub fn due_at(
    calendar: &Calendar,
    from: Timestamp,
    target: i64,
    pauses: &[Interval],
) -> Option<Timestamp> {
    let mut remaining = target;
    for (a, b) in active_pieces(from, pauses) {
        let Some(b) = b else {
            return calendar.add_business_secs(a, remaining);
        };
        let secs = calendar.business_secs(a, b);
        if remaining <= secs {
            return calendar.add_business_secs(a, remaining);
        }
        remaining -= secs;
    }
    None
}
