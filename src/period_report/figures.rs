//! Response and resolution times of one escalation, and their percentiles.
//!
//! This is the one place that turns a link's audit entries into times, so
//! it can be switched to a business-hours ledger (targets, calendars,
//! paused statuses) without touching the rest of the report. Here the times
//! are wall-clock, from the `escalated` entry's stamp:
//!
//! - **first response**: the first entry of the link showing the receiving
//!   side acting on the ticket: one of its notes planned across
//!   (`note_planned` with `side` = receiving side), a field it changed
//!   planned back to the escalating side (`planned` with `target` = the
//!   escalating side), or it closing the ticket (`closed`, not by the
//!   bridge). An owner being assigned (`custody`) is not a response.
//! - **resolution**: the first `closed` entry of the link not caused by the
//!   bridge's own status write, from either side.

use chrono::Duration;
use psa_connector::Timestamp;

use crate::evidence::BundleEntry;
use crate::store::Side;

/// Times of one escalation; `None` when it did not happen in the period.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TicketTimes {
    pub first_response_at: Option<Timestamp>,
    pub first_response: Option<Duration>,
    pub resolved_at: Option<Timestamp>,
    pub resolution: Option<Duration>,
}

/// How the durations are measured (said in the report).
pub const BASIS: &str = "wall-clock time from the escalation";

fn side_field(entry: &BundleEntry, field: &str) -> Option<Side> {
    serde_json::from_value(entry.detail.get(field)?.clone()).ok()
}

fn by_bridge(entry: &BundleEntry) -> bool {
    entry.detail.get("by_bridge").and_then(|v| v.as_bool()) == Some(true)
}

/// Whether `entry` shows the `receiving` side acting on the ticket.
fn is_response(entry: &BundleEntry, receiving: Side) -> bool {
    match entry.kind.as_str() {
        "note_planned" => side_field(entry, "side") == Some(receiving),
        "planned" => side_field(entry, "target") == Some(receiving.other()),
        "closed" => side_field(entry, "side") == Some(receiving) && !by_bridge(entry),
        _ => false,
    }
}

/// The times of an escalation made at `escalated_at` whose far ticket is on
/// `receiving`, from the link's entries in the period (chain order).
pub fn ticket_times(
    escalated_at: Timestamp,
    receiving: Side,
    link_entries: &[&BundleEntry],
) -> TicketTimes {
    let after = || link_entries.iter().filter(|e| e.at >= escalated_at);
    let first_response_at = after().find(|e| is_response(e, receiving)).map(|e| e.at);
    let resolved_at = after()
        .find(|e| e.kind == "closed" && !by_bridge(e))
        .map(|e| e.at);
    TicketTimes {
        first_response_at,
        first_response: first_response_at.map(|t| t - escalated_at),
        resolved_at,
        resolution: resolved_at.map(|t| t - escalated_at),
    }
}

/// Percentiles of a set of durations (nearest rank: the p-th percentile of
/// n sorted values is the ⌈p·n/100⌉-th).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    pub count: usize,
    pub p50: Duration,
    pub p90: Duration,
    pub max: Duration,
}

/// `None` for no durations.
pub fn stats(durations: impl IntoIterator<Item = Duration>) -> Option<Stats> {
    let mut sorted: Vec<Duration> = durations.into_iter().collect();
    sorted.sort();
    let n = sorted.len();
    let rank = |p: usize| sorted[(p * n).div_ceil(100).clamp(1, n) - 1];
    let max = *sorted.last()?;
    Some(Stats {
        count: n,
        p50: rank(50),
        p90: rank(90),
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mins = |v: &[i64]| stats(v.iter().map(|m| Duration::minutes(*m))).unwrap();
        let s = mins(&[10, 1, 9, 2, 8, 3, 7, 4, 6, 5]);
        assert_eq!(
            (s.count, s.p50, s.p90, s.max),
            (
                10,
                Duration::minutes(5),
                Duration::minutes(9),
                Duration::minutes(10)
            )
        );
        let s = mins(&[42]);
        assert_eq!((s.p50, s.p90, s.max), (s.max, s.max, Duration::minutes(42)));
        let s = mins(&[1, 2, 3]);
        assert_eq!((s.p50, s.p90), (Duration::minutes(2), Duration::minutes(3)));
        assert!(stats(Vec::new()).is_none());
    }
}
