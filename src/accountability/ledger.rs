//! The custody ledger: per link, derived **only** from audit entries (the
//! hash-chained trail both teams can verify), what happened and when:
//!
//! - **escalated at**: the link's `escalated` entry (or `backfill_linked`,
//!   `linked_by_operator`); its `create` gives the MSP ticket's first status
//!   and priority.
//! - **first MSP response**: the earliest of (1) a public note written on the
//!   MSP side that crossed to the other side (`note_planned` with that side
//!   and `public`), at the note's vendor time; (2) a status change a person
//!   made on the MSP side to a status other than the ticket's initial one
//!   (`status_changed`), at the ticket's vendor change time; (3) the MSP
//!   closing its ticket (`closed`, not by the bridge). Vendor times are
//!   clamped between the escalation and the entry's own time.
//! - **resolved at**: the first close of either ticket (`closed`); a later
//!   status change that reopens a closed side clears it.
//! - **paused**: while the MSP ticket's status (its initial one, changes made
//!   there, and labels the bridge wrote there, `status_changed.written`) is
//!   one of the pairing's `pause_statuses`.
//! - **custody**: `custody` entries (owners helper: side, person, group and
//!   the vendor time), per side a span until that side's next entry or the
//!   end; without any for the MSP side, the MSP holds it from the escalation
//!   (person and group unknown). Before the escalation the ledger has no
//!   start time, so the internal side's custody shows only from its entries.
//! - **targets**: per [`TargetKind`], business seconds of the priority's
//!   calendar from escalation to the event (or `as_of`) minus paused time,
//!   the due and near-breach instants, and the outcome; and the
//!   `target_near_breach` / `target_breached` entries already recorded.
//!
//! The priority is the MSP ticket's latest (creation, then
//! `priority_changed`): a re-prioritised ticket is measured against its new
//! priority's targets from its escalation.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::calendar::Timestamp;
pub use super::outcomes::{counted_secs, due_at, evaluate, Outcome, TargetResult};
use super::targets::{TargetKind, Targets};
use crate::store::{AuditEntry, Side};

/// Audit kinds that open a link's ledger.
pub const LINK_STARTS: [&str; 3] = ["escalated", "backfill_linked", "linked_by_operator"];
/// Audit kinds the monitor writes.
pub const NEAR_BREACH: &str = "target_near_breach";
pub const BREACHED: &str = "target_breached";

/// One link's ledger.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinkLedger {
    pub link: u64,
    pub pairing: String,
    /// Ticket keys (`connection:id`, `connection:number`) the entries named.
    pub tickets: Vec<String>,
    pub msp_side: Side,
    pub escalated_at: Timestamp,
    /// The MSP ticket's priority label, latest known.
    pub priority: Option<String>,
    pub first_response: Option<Response>,
    pub resolved_at: Option<Timestamp>,
    /// When the link was removed (unlinked), if it was.
    pub ended_at: Option<Timestamp>,
    pub paused: Vec<Interval>,
    pub custody: Vec<CustodySpan>,
    /// One per target the priority has (empty without targets).
    pub targets: Vec<TargetResult>,
    /// Near-breach and breach entries recorded for this link.
    pub alerts: Vec<Alert>,
}

/// The first MSP response and what it was.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Response {
    pub at: Timestamp,
    /// `public_note`, `status_change` or `close`.
    pub by: &'static str,
}

/// A time span; `to` is `None` while it lasts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub from: Timestamp,
    pub to: Option<Timestamp>,
}

/// A person as `custody` entries name them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// Who held one side's ticket, from when, until when.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustodySpan {
    pub side: Side,
    pub person: Option<Person>,
    pub group: Option<String>,
    pub from: Timestamp,
    /// `None`: still holding it at `as_of`.
    pub to: Option<Timestamp>,
    /// Wall-clock seconds held (until `to`, or `as_of`).
    pub secs: i64,
}

/// A `target_near_breach` / `target_breached` entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    pub kind: TargetKind,
    pub breached: bool,
    pub at: Timestamp,
    pub seq: u64,
}

/// The ledgers of `pairing`'s links, from `entries` (in chain order; pass
/// the whole trail, or at least everything since the oldest escalation you
/// report: a link whose escalation entry is missing is left out), as they
/// stood at `as_of` (later entries are ignored). With `targets`, each
/// ledger carries its target outcomes.
pub fn ledgers(
    entries: &[AuditEntry],
    pairing: &str,
    targets: Option<&Targets>,
    as_of: Timestamp,
) -> Vec<LinkLedger> {
    let mut all = read_ledgers(entries, pairing, targets, as_of);
    if let Some(targets) = targets {
        for ledger in &mut all {
            ledger.targets = evaluate(ledger, targets, as_of);
        }
    }
    all
}

/// [`ledgers`] without the target outcomes (no calendar work), pauses
/// read by `targets`' pause statuses; see [`evaluate`].
pub fn read_ledgers(
    entries: &[AuditEntry],
    pairing: &str,
    targets: Option<&Targets>,
    as_of: Timestamp,
) -> Vec<LinkLedger> {
    let mut builders: BTreeMap<u64, Builder> = BTreeMap::new();
    for entry in entries {
        let (Some(link), true) = (entry.link, entry.pairing.as_deref() == Some(pairing)) else {
            continue;
        };
        if entry.at > as_of {
            continue;
        }
        if LINK_STARTS.contains(&entry.kind.as_str()) && !builders.contains_key(&link) {
            builders.insert(link, Builder::start(entry, targets));
        }
        if let Some(builder) = builders.get_mut(&link) {
            builder.apply(entry, targets);
        }
    }
    builders.into_values().map(|b| b.finish(as_of)).collect()
}

/// A ledger being read.
struct Builder {
    ledger: LinkLedger,
    initial_status: Option<String>,
    msp_status: Option<String>,
    responses: Vec<Response>,
    closed_sides: BTreeSet<Side>,
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

fn side_of(value: &Value) -> Option<Side> {
    serde_json::from_value(value.clone()).ok()
}

fn time_of(value: &Value) -> Option<Timestamp> {
    serde_json::from_value(value.clone()).ok()
}

impl Builder {
    fn start(entry: &AuditEntry, targets: Option<&Targets>) -> Builder {
        let d = &entry.detail;
        let origin = side_of(&d["side"]);
        let msp_side = targets
            .map(|t| t.msp_side)
            .or(origin.map(Side::other))
            .unwrap_or(Side::B);
        // The create went to the side opposite the origin: the MSP's labels.
        let created =
            (entry.kind == "escalated" && origin != Some(msp_side)).then_some(&d["create"]);
        let initial_status = created.and_then(|c| text(&c["status"]));
        Builder {
            ledger: LinkLedger {
                link: entry.link.unwrap_or_default(),
                pairing: entry.pairing.clone().unwrap_or_default(),
                tickets: Vec::new(),
                msp_side,
                escalated_at: entry.at,
                priority: created.and_then(|c| text(&c["priority"])),
                first_response: None,
                resolved_at: None,
                ended_at: None,
                paused: Vec::new(),
                custody: Vec::new(),
                targets: Vec::new(),
                alerts: Vec::new(),
            },
            msp_status: initial_status.clone(),
            initial_status,
            responses: Vec::new(),
            closed_sides: BTreeSet::new(),
        }
    }

    /// A vendor time from the detail, within [escalation, entry time].
    fn clamp(&self, vendor: Option<Timestamp>, entry: &AuditEntry) -> Timestamp {
        vendor.unwrap_or(entry.at).clamp(
            self.ledger.escalated_at,
            entry.at.max(self.ledger.escalated_at),
        )
    }

    fn apply(&mut self, entry: &AuditEntry, targets: Option<&Targets>) {
        for key in &entry.tickets {
            if !self.ledger.tickets.contains(key) {
                self.ledger.tickets.push(key.clone());
            }
        }
        let d = &entry.detail;
        let msp = self.ledger.msp_side;
        let side = side_of(&d["side"]);
        match entry.kind.as_str() {
            "status_changed" => {
                let at = self.clamp(time_of(&d["at"]), entry);
                let (to, written) = (text(&d["to"]), text(&d["written"]));
                if side == Some(msp) {
                    if to.is_some() && to != self.initial_status {
                        self.responses.push(Response {
                            at,
                            by: "status_change",
                        });
                    }
                    self.set_msp_status(to, at, targets);
                } else if written.is_some() {
                    self.set_msp_status(written, at, targets);
                }
                let reopened = d["closed"] == Value::Bool(false)
                    && side.is_some_and(|s| self.closed_sides.contains(&s));
                if reopened {
                    self.closed_sides.clear();
                    self.ledger.resolved_at = None;
                }
            }
            "priority_changed" => {
                if side == Some(msp) {
                    self.ledger.priority = text(&d["to"]);
                } else if let Some(written) = text(&d["written"]) {
                    self.ledger.priority = Some(written);
                }
            }
            "note_planned" if side == Some(msp) && d["visibility"] == "public" => {
                let at = self.clamp(time_of(&d["created_at"]), entry);
                self.responses.push(Response {
                    at,
                    by: "public_note",
                });
            }
            "closed" => {
                if side == Some(msp) && d["by_bridge"] != Value::Bool(true) {
                    self.responses.push(Response {
                        at: entry.at,
                        by: "close",
                    });
                }
                if let Some(s) = side {
                    self.closed_sides.insert(s);
                }
                self.ledger.resolved_at.get_or_insert(entry.at);
            }
            "custody" => self.custody(entry),
            NEAR_BREACH | BREACHED => {
                let kind = serde_json::from_value(d["target"].clone());
                if let Ok(kind) = kind {
                    self.ledger.alerts.push(Alert {
                        kind,
                        breached: entry.kind == BREACHED,
                        at: entry.at,
                        seq: entry.seq,
                    });
                }
            }
            "unlinked" | "unlinked_by_operator" => {
                self.ledger.ended_at.get_or_insert(entry.at);
            }
            _ => {}
        }
    }

    fn set_msp_status(&mut self, status: Option<String>, at: Timestamp, targets: Option<&Targets>) {
        self.msp_status = status;
        let Some(targets) = targets else { return };
        let pausing = self
            .msp_status
            .as_ref()
            .is_some_and(|s| targets.pause_statuses.contains(s));
        let open = self.ledger.paused.last_mut().filter(|p| p.to.is_none());
        match (pausing, open) {
            (true, None) => self.ledger.paused.push(Interval { from: at, to: None }),
            (false, Some(pause)) => pause.to = Some(at),
            _ => {}
        }
    }

    fn custody(&mut self, entry: &AuditEntry) {
        let d = &entry.detail;
        let Some(side) = side_of(&d["side"]) else {
            return;
        };
        let mut at = time_of(&d["at"]).unwrap_or(entry.at).min(entry.at);
        if side == self.ledger.msp_side {
            at = at.max(self.ledger.escalated_at);
        }
        if let Some(open) = self
            .ledger
            .custody
            .iter_mut()
            .rev()
            .find(|s| s.side == side && s.to.is_none())
        {
            open.to = Some(at.max(open.from));
        }
        self.ledger.custody.push(CustodySpan {
            side,
            person: serde_json::from_value(d["person"].clone()).ok(),
            group: text(&d["group"]),
            from: at,
            to: None,
            secs: 0,
        });
    }

    fn finish(mut self, as_of: Timestamp) -> LinkLedger {
        // Custody opened on the pairing's initial state needs the MSP's start.
        let ledger = &mut self.ledger;
        let msp_first = ledger
            .custody
            .iter()
            .filter(|s| s.side == ledger.msp_side)
            .map(|s| s.from)
            .min();
        if msp_first.is_none_or(|first| first > ledger.escalated_at) {
            ledger.custody.insert(
                0,
                CustodySpan {
                    side: ledger.msp_side,
                    person: None,
                    group: None,
                    from: ledger.escalated_at,
                    to: msp_first,
                    secs: 0,
                },
            );
        }
        let end = [ledger.resolved_at, ledger.ended_at]
            .into_iter()
            .flatten()
            .min();
        for span in &mut ledger.custody {
            if span.to.is_none() {
                span.to = end;
            }
            span.secs = (span.to.unwrap_or(as_of) - span.from).num_seconds().max(0);
        }
        ledger.first_response = self.responses.iter().min_by_key(|r| r.at).cloned();
        self.ledger
    }
}

/// The kinds of audit entries a ledger reads (others can be left out of
/// what is passed to [`ledgers`]).
pub const LEDGER_KINDS: [&str; 13] = [
    "escalated",
    "backfill_linked",
    "linked_by_operator",
    "status_changed",
    "priority_changed",
    "note_planned",
    "closed",
    "custody",
    NEAR_BREACH,
    BREACHED,
    "unlinked",
    "unlinked_by_operator",
    // Kept for the ticket keys it names (the created ticket's).
    "delivered",
];

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
