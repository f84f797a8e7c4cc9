//! Backfill: what `psa-bridge backfill` and `POST /api/v1/backfill` ask for
//! and answer. Tickets that met a pairing's trigger before the bridge saw
//! them (they existed before it started, or before the pairing was
//! configured) never got a change notice, so they were never linked; a far
//! ticket the bridge created whose link was lost (a store restored from an
//! old backup) would be created again. Backfill lists the trigger side's
//! tickets changed since a date and, for each, skips it (linked already, or
//! the trigger is not met: the engine's own rule), links the far ticket the
//! bridge created earlier (found by its marker), or has the planner escalate
//! it as a live change would. The work is in `crate::engine` (`backfill`);
//! this module holds the request, the per-ticket results, the summary, and
//! the parsing of `--since`.

use chrono::{NaiveDate, TimeZone, Utc};
use psa_connector::Timestamp;
use serde::{Deserialize, Serialize};

/// A backfill run: the pairing, the oldest change to look at, and whether
/// to only say what would happen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillRequest {
    pub pairing: String,
    pub since: Timestamp,
    #[serde(default)]
    pub dry_run: bool,
}

/// What backfill did, or would do (`dry_run`), with one ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Linked in this pairing already: left to the live sync.
    AlreadyLinked,
    /// Does not meet the pairing's trigger (other queue, closed, created
    /// by the bridge).
    NotMatched,
    /// Met the trigger, and the far ticket the bridge created for it earlier
    /// exists (found by its marker): linked to it, nothing created.
    LinkByMarker,
    /// Met the trigger with no far ticket: escalated by the planner, as a
    /// live trigger would be (a create with the bridge's marker is queued).
    Escalate,
    /// Could not be decided or done; `detail` says why.
    Failed,
}

impl Decision {
    pub fn describe(self, dry_run: bool) -> &'static str {
        match (self, dry_run) {
            (Decision::AlreadyLinked, _) => "already linked",
            (Decision::NotMatched, _) => "does not meet the trigger",
            (Decision::LinkByMarker, true) => "would link to the far ticket found by marker",
            (Decision::LinkByMarker, false) => "linked to the far ticket found by marker",
            (Decision::Escalate, true) => "would escalate",
            (Decision::Escalate, false) => "escalated",
            (Decision::Failed, _) => "failed",
        }
    }
}

/// One ticket's line in the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketOutcome {
    pub connection: String,
    pub ticket_id: String,
    /// The number people see (the id when the ticket could not be read).
    pub number: String,
    #[serde(default)]
    pub title: String,
    pub decision: Decision,
    /// Unlinked and meeting the trigger (also when linking it then failed).
    #[serde(default)]
    pub met_trigger: bool,
    /// The link, when there is one (already, or made now).
    #[serde(default)]
    pub link: Option<u64>,
    /// The far ticket's number (linked or found by marker).
    #[serde(default)]
    pub far_ticket: Option<String>,
    /// Why a ticket failed, or what else is worth saying.
    #[serde(default)]
    pub detail: Option<String>,
}

/// The counts at the end of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub pairing: String,
    pub connection: String,
    pub since: Option<Timestamp>,
    pub dry_run: bool,
    /// Tickets the trigger side listed as changed since `since`.
    pub found: usize,
    /// Unlinked tickets that meet the trigger.
    pub matched: usize,
    pub already_linked: usize,
    pub not_matched: usize,
    pub linked_by_marker: usize,
    pub escalated: usize,
    pub failed: usize,
    /// `connection:ticket: reason` of each failure.
    pub failures: Vec<String>,
    /// The run stopped before every ticket was looked at (the caller went
    /// away); running it again completes it.
    #[serde(default)]
    pub interrupted: bool,
}

impl Summary {
    /// Counts one ticket's outcome.
    pub fn count(&mut self, outcome: &TicketOutcome) {
        if outcome.met_trigger {
            self.matched += 1;
        }
        match outcome.decision {
            Decision::AlreadyLinked => self.already_linked += 1,
            Decision::NotMatched => self.not_matched += 1,
            Decision::LinkByMarker => self.linked_by_marker += 1,
            Decision::Escalate => self.escalated += 1,
            Decision::Failed => {
                self.failed += 1;
                self.failures.push(format!(
                    "{}:{}: {}",
                    outcome.connection,
                    outcome.number,
                    outcome.detail.as_deref().unwrap_or("failed")
                ));
            }
        }
    }
}

/// What a run reports as it goes (the admin API streams these as NDJSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The trigger side was listed: `total` tickets to look at.
    Listed {
        total: usize,
    },
    Ticket {
        ticket: TicketOutcome,
    },
    Summary {
        summary: Summary,
    },
    /// The run failed as a whole (listing refused, store failing).
    Error {
        error: String,
    },
}

/// A `--since` that is neither form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "since {0:?} is not a time: give an RFC 3339 time (2026-11-01T08:00:00Z, \
     2026-11-01T09:00:00+01:00) or a date YYYY-MM-DD (midnight UTC)"
)]
pub struct SinceError(pub String);

/// Parses `--since`: an RFC 3339 time, or a date `YYYY-MM-DD` meaning
/// midnight UTC of that day.
pub fn parse_since(text: &str) -> Result<Timestamp, SinceError> {
    let text = text.trim();
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    if text.len() == 10 {
        if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            if let Some(midnight) = day.and_hms_opt(0, 0, 0) {
                return Ok(Utc.from_utc_datetime(&midnight));
            }
        }
    }
    Err(SinceError(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_rfc3339_or_a_date() {
        assert_eq!(
            parse_since("2026-11-01T09:00:00+01:00").unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
        );
        assert_eq!(
            parse_since("2026-11-01").unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
        );
        for bad in [
            "yesterday",
            "2026-13-01",
            "2026-11-1",
            "01/11/2026",
            "",
            "2026-11-01T08:00",
        ] {
            let error = parse_since(bad).unwrap_err().to_string();
            assert!(
                error.contains("RFC 3339") && error.contains("YYYY-MM-DD"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn the_summary_counts_each_decision() {
        let mut summary = Summary::default();
        let mut outcome = TicketOutcome {
            connection: "autotask".into(),
            ticket_id: "7".into(),
            number: "T7".into(),
            title: String::new(),
            decision: Decision::Escalate,
            met_trigger: true,
            link: None,
            far_ticket: None,
            detail: None,
        };
        summary.count(&outcome);
        outcome.decision = Decision::Failed;
        outcome.detail = Some("403 forbidden".into());
        summary.count(&outcome);
        // A ticket that met the trigger, then failed, is counted as matched too.
        assert_eq!(
            (summary.matched, summary.escalated, summary.failed),
            (2, 1, 1)
        );
        assert_eq!(
            summary.failures,
            vec!["autotask:T7: 403 forbidden".to_string()]
        );
    }
}
