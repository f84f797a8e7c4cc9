//! The custody record: who holds each side of a linked ticket. When the
//! planner reads a linked ticket whose pairing has `[owners]`, a side's
//! holder (person and group) that differs from the one the shadow holds
//! (shadow key [`HOLDER`]) is audited `custody` with the vendor's change
//! time, so the audit trail says who held the escalation and from when
//! (the SLA ledger and the period report read these entries).

use psa_connector::Ticket;
use serde_json::{json, Value};

use super::reconcile::Sides;
use super::Plan;
use crate::store::Side;

/// Shadow key: the side's holder as last recorded (JSON).
pub const HOLDER: &str = "@holder";

/// The holder of `t` as the `custody` entry's `person` and `group`.
pub fn holder(t: &Ticket) -> Value {
    let person = t
        .assignee
        .person
        .as_ref()
        .map(|p| json!({ "id": p.id, "name": p.name, "email": p.email }));
    json!({ "person": person, "group": t.assignee.group })
}

/// Whether the holder recorded as `recorded` (a [`HOLDER`] value) has a person.
pub fn has_person(recorded: &str) -> bool {
    serde_json::from_str::<Value>(recorded)
        .ok()
        .is_some_and(|v| v.get("person").is_some_and(|p| !p.is_null()))
}

/// Adds a `custody` entry for each side whose holder changed.
pub(super) fn record(sides: &Sides, plan: &mut Plan) {
    for side in [Side::A, Side::B] {
        let Some(t) = sides.get(side) else { continue };
        let now = holder(t);
        let text = now.to_string();
        if plan.shadow.side(side).values.get(HOLDER) == Some(&text) {
            continue;
        }
        plan.shadow
            .side_mut(side)
            .values
            .insert(HOLDER.into(), text);
        let who = t
            .assignee
            .person
            .as_ref()
            .map(|p| p.name.clone().or(p.email.clone()).unwrap_or(p.id.clone()))
            .unwrap_or_else(|| "nobody".into());
        let group = t.assignee.group.as_deref().unwrap_or("no group");
        plan.note(
            "custody",
            format!("side {side} held by {who} ({group})"),
            json!({
                "side": side,
                "person": now["person"],
                "group": now["group"],
                "at": t.updated_at.to_rfc3339(),
            }),
        );
    }
}
