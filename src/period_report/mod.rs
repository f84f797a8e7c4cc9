//! The period report of one pairing (`psa-bridge report`): escalations,
//! first-response and resolution times with percentiles, owners, dead
//! letters and how each ended, computed from the evidence bundle's own
//! entries (those stamped inside the period), so anyone holding the bundle
//! can recompute every figure from what it proves.
//!
//! [`figures`] turns a link's entries into times; [`render`] writes
//! Markdown and CSV.

pub mod figures;
pub mod render;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use psa_connector::Timestamp;
use serde_json::Value;

use crate::evidence::{Body, BundleEntry};
use crate::store::Side;
use figures::{Stats, TicketTimes};

/// One escalation made in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub pairing: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub generated_at: Timestamp,
    pub escalations: Vec<Escalation>,
    pub first_response: Option<Stats>,
    pub resolution: Option<Stats>,
    pub dead_letters: Vec<DeadLetter>,
    /// Whether any `custody` entry was recorded in the period.
    pub owners_recorded: bool,
    /// What the report says about response targets.
    pub targets: String,
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

/// "name <email> (group)" from a custody entry's detail.
fn owner_of(detail: &Value) -> String {
    let person = &detail["person"];
    let name = ["name", "email", "id"]
        .iter()
        .find_map(|f| person[f].as_str().filter(|s| !s.is_empty()));
    let email = person["email"]
        .as_str()
        .filter(|e| Some(*e) != name && !e.is_empty());
    let mut text = name.unwrap_or("nobody").to_string();
    if let Some(email) = email {
        text.push_str(&format!(" <{email}>"));
    }
    if let Some(group) = detail["group"].as_str().filter(|g| !g.is_empty()) {
        text.push_str(&format!(" ({group})"));
    }
    text
}

/// Builds the report from a bundle's body; `targets` is what to say about
/// response targets ([`NO_TARGETS`] when the mapping has none).
pub fn build(body: &Body, targets: &str) -> Report {
    let in_period: Vec<&BundleEntry> = body
        .entries()
        .filter(|e| e.at >= body.from && e.at < body.to)
        .collect();
    let mut by_link: BTreeMap<u64, Vec<&BundleEntry>> = BTreeMap::new();
    for e in &in_period {
        if let Some(link) = e.link {
            by_link.entry(link).or_default().push(e);
        }
    }
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
    for e in in_period.iter().filter(|e| e.kind == "escalated") {
        let (Some(link), Some(first_key)) = (e.link, e.tickets.first()) else {
            continue;
        };
        let origin_connection = connection_of(first_key).to_string();
        let origin = side_of(&origin_connection);
        let target_connection = connection(origin.other());
        let origin_keys: Vec<&str> = e.tickets.iter().map(String::as_str).collect();
        let entries = by_link.get(&link).cloned().unwrap_or_default();
        let later: Vec<&BundleEntry> = entries.into_iter().filter(|l| l.seq >= e.seq).collect();
        let target_ticket = later.iter().find_map(|l| {
            let keys: Vec<&str> = l
                .tickets
                .iter()
                .map(String::as_str)
                .filter(|k| connection_of(k) == target_connection && !origin_keys.contains(k))
                .collect();
            number_of(&keys)
        });
        let owner = |side: Side| {
            later
                .iter()
                .rev()
                .find(|l| {
                    l.kind == "custody"
                        && serde_json::from_value::<Side>(l.detail["side"].clone()).ok()
                            == Some(side)
                })
                .map(|l| owner_of(&l.detail))
        };
        escalations.push(Escalation {
            link,
            escalated_at: e.at,
            origin,
            origin_ticket: number_of(&origin_keys).unwrap_or_default(),
            origin_connection,
            target_connection,
            target_ticket,
            times: figures::ticket_times(e.at, origin.other(), &later),
            target_owner: owner(origin.other()),
            origin_owner: owner(origin),
        });
    }
    let first_response = figures::stats(escalations.iter().filter_map(|e| e.times.first_response));
    let resolution = figures::stats(escalations.iter().filter_map(|e| e.times.resolution));
    Report {
        pairing: body.pairing.clone(),
        from: body.from,
        to: body.to,
        generated_at: body.generated_at,
        first_response,
        resolution,
        escalations,
        dead_letters: dead_letters(&in_period),
        owners_recorded: in_period.iter().any(|e| e.kind == "custody"),
        targets: targets.to_string(),
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
