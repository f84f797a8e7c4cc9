//! The report as Markdown (`report.md`) and CSV (`report.csv`, one row per
//! escalated ticket; the per-priority and breach tables are in the Markdown). Vendor text (ticket numbers, owner names, messages) is
//! escaped for each format; a CSV cell that a spreadsheet would run as a
//! formula is prefixed with `'`.

use chrono::Duration;
use psa_connector::Timestamp;

use super::figures::Stats;
use super::sections::{basis_text, count_outcome, custody_section, targets_sections};
use super::{owner_of, Ending, Report, NO_TARGETS};
use crate::accountability::ledger::Outcome;
use crate::evidence::ChainSummary;

/// What the report says about its evidence bundle.
pub struct EvidenceNote<'a> {
    pub file: &'a str,
    pub chain: &'a ChainSummary,
    /// Key ids of the bundle's signatures.
    pub signed_by: Vec<String>,
}

pub(super) fn time(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `2d 04h 10m`, `3h 05m`, `45m`, `30s`.
pub fn duration(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, mins) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m:02}m"),
        (d, h, m) => format!("{d}d {h:02}h {m:02}m"),
    }
}

pub(super) fn stats_line(stats: &Option<Stats>, of: usize) -> String {
    match stats {
        Some(s) => format!(
            "p50 {} · p90 {} · max {} ({} of {of})",
            duration(s.p50),
            duration(s.p90),
            duration(s.max),
            s.count
        ),
        None => format!("none in the period (0 of {of})"),
    }
}

/// Text safe inside a Markdown table cell or list item.
pub(super) fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The Markdown report.
pub fn markdown(report: &Report, evidence: &EvidenceNote<'_>) -> String {
    let mut out = String::new();
    let n = report.escalations.len();
    let resolved = report
        .escalations
        .iter()
        .filter(|e| e.times.resolved_at.is_some())
        .count();
    let line = |out: &mut String, s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(
        &mut out,
        format!("# Escalation report: pairing {}\n", md(&report.pairing)),
    );
    line(
        &mut out,
        format!(
            "Period: {} to {} (entries stamped from the first, before the second). Generated {}.\n",
            time(report.from),
            time(report.to),
            time(report.generated_at)
        ),
    );
    line(&mut out, "## Summary\n".into());
    line(&mut out, "| | |\n|---|---|".into());
    line(&mut out, format!("| Tickets escalated | {n} |"));
    line(&mut out, format!("| Resolved in the period | {resolved} |"));
    line(
        &mut out,
        format!("| Still open at the end of the period | {} |", n - resolved),
    );
    line(
        &mut out,
        format!(
            "| First response | {} |",
            stats_line(&report.first_response, n)
        ),
    );
    line(
        &mut out,
        format!("| Resolution | {} |", stats_line(&report.resolution, n)),
    );
    line(
        &mut out,
        format!(
            "| Response targets | {} |",
            match &report.targets {
                Some(_) => format!(
                    "{} breached, {} near at the end of the period",
                    count_outcome(report, Outcome::Breached),
                    count_outcome(report, Outcome::Near)
                ),
                None => NO_TARGETS.to_string(),
            }
        ),
    );
    let (retried, discarded, open) =
        report
            .dead_letters
            .iter()
            .fold((0, 0, 0), |(r, d, o), dl| match dl.ending {
                Ending::Retried { .. } => (r + 1, d, o),
                Ending::Discarded { .. } => (r, d + 1, o),
                Ending::Open => (r, d, o + 1),
            });
    line(
        &mut out,
        format!(
            "| Dead letters | {} (retried {retried}, discarded {discarded}, still dead {open}) |",
            report.dead_letters.len()
        ),
    );
    line(&mut out, basis_text(report.targets.as_ref()));
    targets_sections(&mut out, report);
    line(&mut out, "## Escalated tickets\n".into());
    if report.escalations.is_empty() {
        line(&mut out, "None in the period.\n".into());
    } else {
        line(
            &mut out,
            "| Link | Escalated | From | To | Priority | First response | Resolved | Owner (receiving) | Owner (escalating) |"
                .into(),
        );
        line(&mut out, "|---|---|---|---|---|---|---|---|---|".into());
        for e in &report.escalations {
            let after = |at: Option<Timestamp>, d: Option<Duration>| match (at, d) {
                (Some(at), Some(d)) => format!("{} ({})", time(at), duration(d)),
                _ => "-".into(),
            };
            let priority = e.ledger.priority.as_deref().unwrap_or("-");
            line(
                &mut out,
                format!(
                    "| {} | {} | {} {} | {} {} | {} | {} | {} | {} | {} |",
                    e.link,
                    time(e.escalated_at),
                    md(&e.origin_connection),
                    md(&e.origin_ticket),
                    md(&e.target_connection),
                    md(e.target_ticket.as_deref().unwrap_or("-")),
                    md(priority),
                    after(e.times.first_response_at, e.times.first_response),
                    after(e.times.resolved_at, e.times.resolution),
                    md(e.target_owner.as_deref().unwrap_or("-")),
                    md(e.origin_owner.as_deref().unwrap_or("-")),
                ),
            );
        }
        if !report.owners_recorded {
            line(
                &mut out,
                "\nNo owner changes (`custody` entries) were recorded in the period.".into(),
            );
        }
        out.push('\n');
        custody_section(&mut out, report);
    }
    if !report.earlier_links.is_empty() {
        let links: Vec<String> = report.earlier_links.iter().map(u64::to_string).collect();
        line(
            &mut out,
            format!(
                "Links escalated before the period, not measured here (their escalation is \
                 outside this bundle; report a period that starts before it): {}.\n",
                links.join(", ")
            ),
        );
    }
    line(&mut out, "## Dead letters\n".into());
    if report.dead_letters.is_empty() {
        line(&mut out, "None in the period.\n".into());
    } else {
        for d in &report.dead_letters {
            let ending = match &d.ending {
                Ending::Retried {
                    at,
                    message,
                    delivered_at,
                } => format!(
                    "retried {} ({}){}",
                    time(*at),
                    md(message),
                    delivered_at
                        .map(|t| format!(", delivered {}", time(t)))
                        .unwrap_or_default()
                ),
                Ending::Discarded { at, reason } => format!(
                    "discarded {} (reason: {})",
                    time(*at),
                    md(reason.as_deref().unwrap_or("none given"))
                ),
                Ending::Open => "still dead at the end of the period".into(),
            };
            line(
                &mut out,
                format!(
                    "- Operation {} ({}), dead {} (audit #{}): {}\n  → {ending}",
                    d.op,
                    md(&d.tickets.join(" ")),
                    time(d.at),
                    d.seq,
                    md(&d.message)
                ),
            );
        }
        out.push('\n');
    }
    line(&mut out, "## Evidence\n".into());
    let chain = evidence.chain;
    line(
        &mut out,
        format!(
            "Bundle `{}`: {} entries of this pairing in full, {} entries of others as hashes; \
             anchor #{} `{}`, chain head #{} `{}`.",
            md(evidence.file),
            chain.entries,
            chain.stubs,
            chain.anchor.seq,
            chain.anchor.hash,
            chain.head.seq,
            chain.head.hash
        ),
    );
    line(
        &mut out,
        if evidence.signed_by.is_empty() {
            "Not signed. Check it with `psa-bridge audit verify --bundle FILE`.".to_string()
        } else {
            format!(
                "Signed by key id {}. Check it with `psa-bridge audit verify --bundle FILE \
                 --public-key KEY.pub`.",
                evidence.signed_by.join(", ")
            )
        },
    );
    out
}

/// One CSV cell: quoted when needed, a leading formula character defused.
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The CSV report: a header and one row per escalated ticket. `*_secs` are
/// counted on the priority's calendar (`calendar`; empty: wall clock),
/// `*_wall_secs` wall-clock; `custody` lists `connection: holder from..to`.
pub fn csv(report: &Report) -> String {
    let mut out = String::from(
        "link,escalated_at,from_connection,from_ticket,to_connection,to_ticket,priority,calendar,\
         first_response_at,first_response_secs,first_response_wall_secs,first_response_target_secs,first_response_outcome,\
         resolved_at,resolution_secs,resolution_wall_secs,resolution_target_secs,resolution_outcome,\
         owner_receiving,owner_escalating,custody\n",
    );
    let rfc3339 = |t: Timestamp| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let rfc = |t: Option<Timestamp>| t.map(rfc3339).unwrap_or_default();
    let secs = |d: Option<Duration>| d.map(|d| d.num_seconds().to_string()).unwrap_or_default();
    for e in &report.escalations {
        let target = |kind| e.ledger.targets.iter().find(|r| r.kind == kind);
        let target_secs = |kind| {
            target(kind)
                .map(|r| r.target_secs.to_string())
                .unwrap_or_default()
        };
        let outcome = |kind| {
            target(kind)
                .and_then(|r| serde_json::to_value(r.outcome).ok())
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        let custody: Vec<String> = e
            .ledger
            .custody
            .iter()
            .map(|s| {
                let connection = if s.side == e.origin {
                    &e.origin_connection
                } else {
                    &e.target_connection
                };
                let holder = owner_of(s).replace(['\n', '\r'], " ");
                format!("{connection}: {holder} {}..{}", rfc3339(s.from), rfc(s.to))
            })
            .collect();
        use crate::accountability::targets::TargetKind::{FirstResponse, Resolution};
        let row = [
            e.link.to_string(),
            rfc3339(e.escalated_at),
            e.origin_connection.clone(),
            e.origin_ticket.clone(),
            e.target_connection.clone(),
            e.target_ticket.clone().unwrap_or_default(),
            e.ledger.priority.clone().unwrap_or_default(),
            e.times.calendar.clone().unwrap_or_default(),
            rfc(e.times.first_response_at),
            secs(e.times.first_response),
            secs(e.times.first_response_wall),
            target_secs(FirstResponse),
            outcome(FirstResponse),
            rfc(e.times.resolved_at),
            secs(e.times.resolution),
            secs(e.times.resolution_wall),
            target_secs(Resolution),
            outcome(Resolution),
            e.target_owner.clone().unwrap_or_default(),
            e.origin_owner.clone().unwrap_or_default(),
            custody.join("; "),
        ];
        out.push_str(&row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}
