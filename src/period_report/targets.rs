//! The period report's figures against response targets: per MSP priority
//! the targets, met / breached / near / open counts and percentiles; the
//! breaches (and open near-breaches) with due and crossing times; and the
//! targets as the report states them, so the figures can be recomputed
//! from the bundle and these.

use std::collections::BTreeMap;

use psa_connector::Timestamp;

use super::figures::{self, Stats};
use super::Escalation;
use crate::accountability::ledger::Outcome;
use crate::accountability::targets::{TargetKind, Targets};

/// How the targets of one kind stood for one priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub met: usize,
    pub breached: usize,
    pub near: usize,
    pub open: usize,
}

/// The figures of one MSP priority label.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorityFigures {
    /// The MSP ticket's priority label (`None`: none known).
    pub priority: Option<String>,
    /// The `[[targets.priority]]` entry that applies (a label or `*`).
    pub target_label: Option<String>,
    pub calendar: Option<String>,
    pub escalations: usize,
    pub first_response_target: Option<i64>,
    pub resolution_target: Option<i64>,
    pub first_response: Option<Stats>,
    pub resolution: Option<Stats>,
    pub first_response_outcomes: Counts,
    pub resolution_outcomes: Counts,
}

/// A target breached, or near its breach and still open, at the end of the period.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    pub link: u64,
    pub priority: Option<String>,
    pub kind: TargetKind,
    pub outcome: Outcome,
    pub target_secs: i64,
    pub elapsed_secs: i64,
    pub due: Option<Timestamp>,
    /// When the threshold was crossed: the due time for a breach, the
    /// near-breach instant for a near one.
    pub crossed_at: Option<Timestamp>,
    pub done_at: Option<Timestamp>,
    /// When the monitor recorded it (`target_breached` / `target_near_breach`).
    pub recorded_at: Option<Timestamp>,
}

/// The targets the figures were measured against, as the report states them.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetsNote {
    pub near_breach: f64,
    pub pause_statuses: Vec<String>,
    pub priorities: Vec<PriorityNote>,
}

/// One `[[targets.priority]]` entry as the report states it.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorityNote {
    pub label: String,
    pub first_response: Option<i64>,
    pub resolution: Option<i64>,
    pub calendar: String,
    pub time_zone: String,
}

pub(super) fn note_of(targets: &Targets) -> TargetsNote {
    TargetsNote {
        near_breach: targets.near_breach,
        pause_statuses: targets.pause_statuses.iter().cloned().collect(),
        priorities: targets
            .priorities
            .iter()
            .map(|p| PriorityNote {
                label: p.label.clone(),
                first_response: p.first_response,
                resolution: p.resolution,
                calendar: p.calendar_name.clone(),
                time_zone: p.calendar.time_zone().name().to_string(),
            })
            .collect(),
    }
}

/// The per-priority figures, in label order (no priority last).
pub(super) fn priorities(
    escalations: &[Escalation],
    targets: Option<&Targets>,
) -> Vec<PriorityFigures> {
    let mut groups: BTreeMap<(bool, Option<String>), Vec<&Escalation>> = BTreeMap::new();
    for e in escalations {
        let p = e.ledger.priority.clone();
        groups.entry((p.is_none(), p)).or_default().push(e);
    }
    groups
        .into_iter()
        .map(|((_, priority), group)| {
            let entry = targets.and_then(|t| t.for_priority(priority.as_deref()));
            let counts = |kind: TargetKind| {
                let mut c = Counts::default();
                for r in group.iter().flat_map(|e| &e.ledger.targets) {
                    if r.kind == kind {
                        match r.outcome {
                            Outcome::Met => c.met += 1,
                            Outcome::Breached => c.breached += 1,
                            Outcome::Near => c.near += 1,
                            Outcome::Open => c.open += 1,
                        }
                    }
                }
                c
            };
            PriorityFigures {
                target_label: entry.map(|p| p.label.clone()),
                calendar: entry.map(|p| p.calendar_name.clone()),
                escalations: group.len(),
                first_response_target: entry.and_then(|p| p.first_response),
                resolution_target: entry.and_then(|p| p.resolution),
                first_response: figures::stats(group.iter().filter_map(|e| e.times.first_response)),
                resolution: figures::stats(group.iter().filter_map(|e| e.times.resolution)),
                first_response_outcomes: counts(TargetKind::FirstResponse),
                resolution_outcomes: counts(TargetKind::Resolution),
                priority,
            }
        })
        .collect()
}

/// Targets breached, or near and still open, at the end of the period.
pub(super) fn breaches(escalations: &[Escalation]) -> Vec<Breach> {
    let mut out = Vec::new();
    for e in escalations {
        for r in &e.ledger.targets {
            let crossed_at = match r.outcome {
                Outcome::Breached => r.due,
                Outcome::Near => r.near_at,
                Outcome::Met | Outcome::Open => continue,
            };
            let breached = r.outcome == Outcome::Breached;
            out.push(Breach {
                link: e.link,
                priority: e.ledger.priority.clone(),
                kind: r.kind,
                outcome: r.outcome,
                target_secs: r.target_secs,
                elapsed_secs: r.elapsed_secs,
                due: r.due,
                crossed_at,
                done_at: r.done_at,
                recorded_at: e
                    .ledger
                    .alerts
                    .iter()
                    .find(|a| a.kind == r.kind && a.breached == breached)
                    .map(|a| a.at),
            });
        }
    }
    out
}
