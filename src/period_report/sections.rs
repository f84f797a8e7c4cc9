//! The Markdown sections of the period report that come from the custody
//! ledger and the response targets: what the times are measured in (which
//! calendars), per priority the targets, outcomes and percentiles, the
//! breaches, and custody (who held each ticket, how long).

use chrono::Duration;
use psa_connector::Timestamp;

use super::figures::BASIS;
use super::render::{duration, md, stats_line, time};
use super::{owner_of, Counts, Report, TargetsNote};
use crate::accountability::ledger::Outcome;

pub(super) fn count_outcome(report: &Report, outcome: Outcome) -> usize {
    report
        .escalations
        .iter()
        .flat_map(|e| &e.ledger.targets)
        .filter(|r| r.outcome == outcome)
        .count()
}

pub(super) fn secs(s: Option<i64>) -> String {
    s.map(|s| duration(Duration::seconds(s)))
        .unwrap_or_else(|| "-".into())
}

/// What the times are and which calendar they are counted on.
pub(super) fn basis_text(targets: Option<&TargetsNote>) -> String {
    let events = "First response is the custody ledger's: the MSP side's first public note \
                  that crossed, a status change a person made there, or it closing its ticket; \
                  resolution the first close of either ticket. Percentiles are nearest-rank. \
                  Only entries inside the period count: a ticket answered or closed after it \
                  shows \"-\".";
    match targets {
        None => format!("\nTimes are {BASIS}. {events}\n"),
        Some(t) => {
            let calendars: Vec<String> = t
                .priorities
                .iter()
                .map(|p| {
                    format!(
                        "{} on {} ({})",
                        md(&p.label),
                        md(&p.calendar),
                        md(&p.time_zone)
                    )
                })
                .collect();
            let paused = if t.pause_statuses.is_empty() {
                "no paused statuses".to_string()
            } else {
                format!(
                    "time in the MSP statuses {} excluded",
                    t.pause_statuses
                        .iter()
                        .map(|s| md(s))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            format!(
                "\nTimes are business time from the escalation on each priority's calendar \
                 ({}), {paused}; a priority without a target entry is measured in wall-clock \
                 time. Wall-clock times are in the CSV. {events}\n",
                calendars.join("; ")
            )
        }
    }
}

pub(super) fn counts(c: &Counts) -> String {
    format!(
        "{} met · {} breached · {} near · {} open",
        c.met, c.breached, c.near, c.open
    )
}

/// Per priority and the breaches (with targets only).
pub(super) fn targets_sections(out: &mut String, report: &Report) {
    let Some(note) = &report.targets else {
        return;
    };
    out.push_str("## Response targets per priority\n\n");
    out.push_str(&format!(
        "Near-breach at {}% of a target.\n\n",
        (note.near_breach * 100.0).round()
    ));
    out.push_str("| Priority | Targets (entry, calendar) | Escalated | First response: target · outcomes · p50/p90/max | Resolution: target · outcomes · p50/p90/max |\n|---|---|---|---|---|\n");
    for p in &report.priorities {
        let entry = match (&p.target_label, &p.calendar) {
            (Some(l), Some(c)) => format!("{}, {}", md(l), md(c)),
            _ => "none (wall clock)".into(),
        };
        out.push_str(&format!(
            "| {} | {entry} | {} | {} · {} · {} | {} · {} · {} |\n",
            md(p.priority.as_deref().unwrap_or("(none)")),
            p.escalations,
            secs(p.first_response_target),
            counts(&p.first_response_outcomes),
            stats_line(&p.first_response, p.escalations),
            secs(p.resolution_target),
            counts(&p.resolution_outcomes),
            stats_line(&p.resolution, p.escalations),
        ));
    }
    out.push_str("\n## Breaches\n\n");
    if report.breaches.is_empty() {
        out.push_str("None in the period.\n\n");
        return;
    }
    out.push_str("| Link | Priority | Target | Outcome | Due | Crossed | Done | Counted / target | Recorded |\n|---|---|---|---|---|---|---|---|---|\n");
    let at = |t: Option<Timestamp>| t.map(time).unwrap_or_else(|| "-".into());
    for b in &report.breaches {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} | {} |\n",
            b.link,
            md(b.priority.as_deref().unwrap_or("-")),
            b.kind,
            if b.outcome == Outcome::Breached {
                "breached"
            } else {
                "near (open)"
            },
            at(b.due),
            at(b.crossed_at),
            b.done_at.map(time).unwrap_or_else(|| "not yet".into()),
            secs(Some(b.elapsed_secs)),
            secs(Some(b.target_secs)),
            at(b.recorded_at),
        ));
    }
    out.push('\n');
}

/// Who held each ticket, from when, for how long.
pub(super) fn custody_section(out: &mut String, report: &Report) {
    out.push_str("## Custody\n\n");
    out.push_str("Who held each ticket (from `custody` entries; the MSP side holds it from the escalation until one names its owner), wall-clock time held until the next owner, the resolution, or the end of the period.\n\n");
    out.push_str("| Link | Side | Holder | From | To | Held |\n|---|---|---|---|---|---|\n");
    for e in &report.escalations {
        for span in &e.ledger.custody {
            let connection = if span.side == e.origin {
                &e.origin_connection
            } else {
                &e.target_connection
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                e.link,
                md(connection),
                md(&owner_of(span)),
                time(span.from),
                span.to.map(time).unwrap_or_else(|| "end of period".into()),
                duration(Duration::seconds(span.secs)),
            ));
        }
    }
    out.push('\n');
}
