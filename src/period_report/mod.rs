//! The period report of one pairing (`psa-bridge report`): escalations,
//! first-response and resolution times against the pairing's response
//! targets with percentiles per priority, breaches, custody (who held each
//! ticket and for how long), dead letters and how each ended, computed from
//! the evidence bundle's own entries (those stamped inside the period), so
//! anyone holding the bundle and the mapping's `[targets]` (which the
//! report states) can recompute every figure from what it proves.
//!
//! The events come from the custody ledger
//! ([`crate::accountability::ledgers`]), the one definition of first
//! response and resolution; [`figures`] measures them, [`render`] writes
//! Markdown and CSV. Only links escalated inside the period are measured:
//! a link escalated before `--from` has its escalation outside the bundle,
//! so it is listed by number only (report a period that starts before it).

pub mod figures;
pub mod render;
mod sections;
mod targets;

#[cfg(test)]
mod targets_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use psa_connector::Timestamp;
use serde_json::Value;

use crate::accountability::ledger::{self, CustodySpan, LinkLedger, LINK_STARTS};
use crate::accountability::targets::Targets;
use crate::evidence::{Body, BundleEntry};
use crate::store::{AuditEntry, Side};
use figures::{Stats, TicketTimes};
pub use targets::{Breach, Counts, PriorityFigures, PriorityNote, TargetsNote};

/// One escalation made in the period.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    pub link: u64,
    pub escalated_at: Timestamp,
    /// The side whose ticket met the trigger.
    pub origin: Side,
    pub origin_connection: String,
    /// The escalated ticket's number (its id when it has no number).
    pub origin_ticket: String,
    pub target_connection: String,
    /// The ticket the bridge created, once the period's entries name it.
    pub target_ticket: Option<String>,
    pub times: TicketTimes,
    /// The last owner recorded (`custody`) on the receiving side, and on
    /// the escalating side.
    pub target_owner: Option<String>,
    pub origin_owner: Option<String>,
    /// The link's ledger as of the end of the period (priority, custody,
    /// paused time, target outcomes, recorded alerts).
    pub ledger: LinkLedger,
}

/// How a dead letter ended, as far as the period's entries tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Re-queued by an operator (`requeued`), and delivered later if the
    /// same operation's delivery is recorded.
    Retried {
        at: Timestamp,
        message: String,
        delivered_at: Option<Timestamp>,
    },
    Discarded {
        at: Timestamp,
        reason: Option<String>,
    },
    /// Still a dead letter at the end of the period.
    Open,
}

/// An outbox operation of the pairing that became a dead letter in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub op: u64,
    pub seq: u64,
    pub at: Timestamp,
    pub tickets: Vec<String>,
    pub message: String,
    pub ending: Ending,
}

/// Everything the report says.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub pairing: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub generated_at: Timestamp,
    pub escalations: Vec<Escalation>,
    pub first_response: Option<Stats>,
    pub resolution: Option<Stats>,
    /// Per MSP priority, in label order (`None` last).
    pub priorities: Vec<PriorityFigures>,
    pub breaches: Vec<Breach>,
    /// Links with entries in the period whose escalation is before it.
    pub earlier_links: Vec<u64>,
    pub dead_letters: Vec<DeadLetter>,
    /// Whether any `custody` entry was recorded in the period.
    pub owners_recorded: bool,
    /// `None`: the mapping has no `[targets]` ([`NO_TARGETS`]).
    pub targets: Option<TargetsNote>,
}

/// What the report says when the pairing's mapping has no targets.
pub const NO_TARGETS: &str = "no targets configured";

fn connection_of(key: &str) -> &str {
    key.split_once(':').map(|(c, _)| c).unwrap_or(key)
}

/// The ticket number among `keys` of one ticket (`conn:id`, then
/// `conn:number` when it differs).
fn number_of(keys: &[&str]) -> Option<String> {
    keys.last()
        .and_then(|k| k.split_once(':'))
        .map(|(_, n)| n.to_string())
}

/// "name <email> (group)" of a custody span.
pub fn owner_of(span: &CustodySpan) -> String {
    let person = span.person.as_ref();
    let name = person.and_then(|p| {
        [p.name.as_deref(), p.email.as_deref(), Some(p.id.as_str())]
            .into_iter()
            .flatten()
            .find(|s| !s.is_empty())
    });
    let email = person
        .and_then(|p| p.email.as_deref())
        .filter(|e| Some(*e) != name && !e.is_empty());
    let mut text = name.unwrap_or("nobody").to_string();
    if let Some(email) = email {
        text.push_str(&format!(" <{email}>"));
    }
    if let Some(group) = span.group.as_deref().filter(|g| !g.is_empty()) {
        text.push_str(&format!(" ({group})"));
    }
    text
}

/// Builds the report from a bundle's body, measured against `targets` (the
/// pairing's `[targets]`, if any).
pub fn build(body: &Body, targets: Option<&Targets>) -> Report {
    let in_period: Vec<&BundleEntry> = body
        .entries()
        .filter(|e| e.at >= body.from && e.at < body.to)
        .collect();
    let entries: Vec<AuditEntry> = in_period.iter().map(|e| AuditEntry::from(*e)).collect();
    let as_of = body.to.min(body.generated_at.max(body.from));
    let ledgers = ledger::ledgers(&entries, &body.pairing, targets, as_of);
    let mut by_link: BTreeMap<u64, Vec<&BundleEntry>> = BTreeMap::new();
    for e in &in_period {
        if let Some(link) = e.link {
            by_link.entry(link).or_default().push(e);
        }
    }
    let measured: BTreeSet<u64> = ledgers.iter().map(|l| l.link).collect();
    let earlier_links = by_link
        .keys()
        .copied()
        .filter(|l| !measured.contains(l))
        .collect();
    let side_of = |connection: &str| {
        if body.connections.a == connection {
            Side::A
        } else {
            Side::B
        }
    };
    let connection = |side: Side| match side {
        Side::A => body.connections.a.clone(),
        Side::B => body.connections.b.clone(),
    };
    let mut escalations = Vec::new();
    for ledger in ledgers {
        let link = ledger.link;
        let link_entries = by_link.get(&link).cloned().unwrap_or_default();
        let Some(start) = link_entries
            .iter()
            .find(|e| LINK_STARTS.contains(&e.kind.as_str()))
        else {
            continue;
        };
        let Some(first_key) = start.tickets.first() else {
            continue;
        };
        let origin_connection = connection_of(first_key).to_string();
        let origin = side_of(&origin_connection);
        let target_connection = connection(origin.other());
        let origin_keys: Vec<&str> = start
            .tickets
            .iter()
            .map(String::as_str)
            .filter(|k| connection_of(k) == origin_connection)
            .collect();
        let target_ticket = link_entries.iter().find_map(|l| {
            let keys: Vec<&str> = l
                .tickets
                .iter()
                .map(String::as_str)
                .filter(|k| connection_of(k) == target_connection && !origin_keys.contains(k))
                .collect();
            number_of(&keys)
        });
        // The last span each side's custody entries recorded.
        let owner = |side: Side| {
            ledger
                .custody
                .iter()
                .rev()
                .find(|s| s.side == side && (s.person.is_some() || s.group.is_some()))
                .map(owner_of)
        };
        escalations.push(Escalation {
            link,
            escalated_at: ledger.escalated_at,
            origin,
            origin_ticket: number_of(&origin_keys).unwrap_or_default(),
            origin_connection,
            target_connection,
            target_ticket,
            times: figures::ticket_times(&ledger, targets),
            target_owner: owner(origin.other()),
            origin_owner: owner(origin),
            ledger,
        });
    }
    escalations.sort_by_key(|e| (e.escalated_at, e.link));
    let first_response = figures::stats(escalations.iter().filter_map(|e| e.times.first_response));
    let resolution = figures::stats(escalations.iter().filter_map(|e| e.times.resolution));
    Report {
        pairing: body.pairing.clone(),
        from: body.from,
        to: body.to,
        generated_at: body.generated_at,
        first_response,
        resolution,
        priorities: targets::priorities(&escalations, targets),
        breaches: targets::breaches(&escalations),
        earlier_links,
        escalations,
        dead_letters: dead_letters(&in_period),
        owners_recorded: in_period.iter().any(|e| e.kind == "custody"),
        targets: targets.map(targets::note_of),
    }
}

fn op_of(entry: &BundleEntry) -> Option<u64> {
    entry.detail.get("op").and_then(Value::as_u64)
}

/// The period's dead letters and what became of each.
fn dead_letters(in_period: &[&BundleEntry]) -> Vec<DeadLetter> {
    in_period
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == "dead_letter")
        .filter_map(|(i, e)| {
            let op = op_of(e)?;
            let rest = &in_period[i + 1..];
            let same_op = |l: &&&BundleEntry| op_of(l) == Some(op);
            let ending = match rest
                .iter()
                .filter(same_op)
                .find(|l| l.kind == "requeued" || l.kind == "discarded")
            {
                Some(l) if l.kind == "requeued" => Ending::Retried {
                    at: l.at,
                    message: l.message.clone(),
                    delivered_at: rest
                        .iter()
                        .filter(same_op)
                        .find(|d| d.seq > l.seq && d.kind == "delivered")
                        .map(|d| d.at),
                },
                Some(l) => Ending::Discarded {
                    at: l.at,
                    reason: l.detail["reason"].as_str().map(str::to_string),
                },
                None => Ending::Open,
            };
            Some(DeadLetter {
                op,
                seq: e.seq,
                at: e.at,
                tickets: e.tickets.clone(),
                message: e.message.clone(),
                ending,
            })
        })
        .collect()
}
