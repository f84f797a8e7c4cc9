//! Response and resolution times of one escalation, and their percentiles.
//!
//! The events (first MSP response, resolution, paused time) are the custody
//! ledger's ([`crate::accountability::ledger`]): this module only measures
//! them. With `[targets]`, a time is the business time of the priority's
//! calendar outside paused statuses (what the targets are measured in);
//! without, or for a priority no target entry covers, it is wall-clock time
//! from the escalation. The wall-clock time is kept alongside in both cases.

use chrono::Duration;
use psa_connector::Timestamp;

use crate::accountability::ledger::{counted_secs, LinkLedger};
use crate::accountability::targets::Targets;

/// Times of one escalation; `None` when it did not happen in the period.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TicketTimes {
    pub first_response_at: Option<Timestamp>,
    /// Counted time ([`TicketTimes::basis`]) to the first response.
    pub first_response: Option<Duration>,
    pub first_response_wall: Option<Duration>,
    pub resolved_at: Option<Timestamp>,
    pub resolution: Option<Duration>,
    pub resolution_wall: Option<Duration>,
    /// The calendar the counted times are in (`None`: wall clock).
    pub calendar: Option<String>,
}

/// How the durations are measured without targets (said in the report).
pub const BASIS: &str = "wall-clock time from the escalation";

/// The times of `ledger`'s escalation, counted on its priority's calendar
/// (pauses excluded) when `targets` has an entry for it.
pub fn ticket_times(ledger: &LinkLedger, targets: Option<&Targets>) -> TicketTimes {
    let priority = targets.and_then(|t| t.for_priority(ledger.priority.as_deref()));
    let start = ledger.escalated_at;
    let counted = |at: Option<Timestamp>| {
        at.map(|at| match priority {
            Some(p) => Duration::seconds(counted_secs(&p.calendar, start, at, &ledger.paused)),
            None => at - start,
        })
    };
    let first_response_at = ledger.first_response.as_ref().map(|r| r.at);
    TicketTimes {
        first_response_at,
        first_response: counted(first_response_at),
        first_response_wall: first_response_at.map(|t| t - start),
        resolved_at: ledger.resolved_at,
        resolution: counted(ledger.resolved_at),
        resolution_wall: ledger.resolved_at.map(|t| t - start),
        calendar: priority.map(|p| p.calendar_name.clone()),
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
