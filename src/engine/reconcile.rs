//! Reconciling one link: both sides against the shadow, field by field.
//!
//! A field "changed" on a side when its current value differs from the
//! shadow, unless an operation writing that field to that side is still in
//! the outbox (its current value is stale, not a change). Echoes of the
//! bridge's own writes therefore diff to nothing. When both sides changed a
//! field to values that do not correspond, the field's owner wins and the
//! other value is recorded in the audit log.

use std::collections::{BTreeMap, HashSet};

use psa_connector::{Ticket, TicketUpdate};
use serde_json::json;

use super::observe::STATUS;
use super::{observe, Engine, EngineError, Plan, PlannedOp};
use crate::config::companion::{self, CompanionContext};
use crate::config::mapping::DescriptionUpdates;
use crate::config::LoadedPairing;
use crate::store::{Action, Link, OutboxOp, Side, SideState};

/// Current tickets of a link's sides (`None` where not yet created).
pub struct Sides {
    pub a: Option<Ticket>,
    pub b: Option<Ticket>,
}

impl Sides {
    pub fn get(&self, side: Side) -> Option<&Ticket> {
        match side {
            Side::A => self.a.as_ref(),
            Side::B => self.b.as_ref(),
        }
    }
}

/// Whether a side is closed now, and whose doing a close is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SideClose {
    Open,
    /// Closed by someone on that side: the pairing's close rule applies.
    ByItself,
    /// Closed with the very status the shadow already holds for that side:
    /// the echo of the bridge's own status write (or nothing new), so the
    /// close rule must not fire ("The MSP closed its ticket." would be false).
    ByBridge,
}

impl SideClose {
    fn judge(now: &SideState, base: &SideState) -> SideClose {
        if !now.closed {
            return SideClose::Open;
        }
        match base.values.get(STATUS) {
            Some(known) if now.values.get(STATUS) == Some(known) => SideClose::ByBridge,
            _ => SideClose::ByItself,
        }
    }
}

/// Adds to each planned status write the fields the mapping says go with
/// it (ServiceNow's `close_code` with Resolved, say), rendered from the other
/// side's latest resolution note (`resolutions`, per side). Fields the
/// mapping already writes are kept.
pub(super) fn add_status_companions(
    pairing: &LoadedPairing,
    resolutions: &BTreeMap<Side, String>,
    plan: &mut Plan,
) {
    for op in &mut plan.ops {
        let Action::UpdateTicket { update } = &mut op.action else {
            continue;
        };
        let Some(status) = &update.status else {
            continue;
        };
        let Some(companions) = pairing.mapping.status_companions(op.target, status) else {
            continue;
        };
        let context = CompanionContext {
            resolution: resolutions.get(&op.target.other()).map(String::as_str),
        };
        for (field, value) in companion::render(companions, &context) {
            update.fields.entry(field).or_insert(value);
        }
    }
}

/// The audit kind recording a person's change of `field` on one side
/// (status and priority: what response targets are measured by).
fn tracked_change(field: &str) -> Option<&'static str> {
    match field {
        "status" => Some("status_changed"),
        "priority" => Some("priority_changed"),
        _ => None,
    }
}

/// Fields with a write still in the outbox, per target side. The outbox must
/// be read *before* the tickets are fetched: an operation delivered after the
/// fetch would otherwise make the fetched (stale) value look like a change.
pub fn in_flight(outbox: &[OutboxOp], link: u64) -> HashSet<(Side, String)> {
    outbox
        .iter()
        .filter(|op| op.link == link)
        .flat_map(|op| op.fields.iter().map(move |f| (op.target, f.clone())))
        .collect()
}

impl Engine {
    /// Plans what one link needs, given both sides' current tickets.
    pub(super) fn plan_link(
        &self,
        pairing: &LoadedPairing,
        link: Link,
        sides: &Sides,
        outbox_before_fetch: &[OutboxOp],
    ) -> Result<Plan, EngineError> {
        let mapping = &pairing.mapping;
        let pending = in_flight(outbox_before_fetch, link.id);
        let mut shadow = self.store.shadow(link.id)?;
        let mut plan = Plan {
            link: link.clone(),
            new_link: false,
            base_shadow: shadow.clone(),
            shadow: shadow.clone(),
            ops: Vec::new(),
            comments: Vec::new(),
            audit: Vec::new(),
        };
        let now_a = sides.a.as_ref().map(|t| observe(mapping, Side::A, t));
        let now_b = sides.b.as_ref().map(|t| observe(mapping, Side::B, t));
        let now = |side: Side| {
            if side == Side::A {
                now_a.as_ref()
            } else {
                now_b.as_ref()
            }
        };
        let mut updates: BTreeMap<Side, (TicketUpdate, Vec<String>)> = BTreeMap::new();

        for rule in &mapping.fields {
            let name = rule.name();
            let value = |side: Side| now(side).and_then(|s| s.values.get(name)).cloned();
            let old = |side: Side| shadow.side(side).values.get(name).cloned();
            let changed = |side: Side| {
                let current = value(side);
                current.is_some()
                    && current != old(side)
                    && !pending.contains(&(side, name.to_string()))
            };
            let (a_changed, b_changed) = (changed(Side::A), changed(Side::B));
            let winner = match (a_changed, b_changed) {
                (false, false) => continue,
                (true, false) => Side::A,
                (false, true) => Side::B,
                (true, true) => {
                    let (a, b) = (
                        value(Side::A).unwrap_or_default(),
                        value(Side::B).unwrap_or_default(),
                    );
                    if rule.translate(Side::A, &a).as_deref() == Some(b.as_str()) {
                        shadow.a.values.insert(name.into(), a);
                        shadow.b.values.insert(name.into(), b);
                        continue;
                    }
                    let owner = rule.owner;
                    let loser = owner.other();
                    let (kept, lost) = if owner == Side::A { (&a, &b) } else { (&b, &a) };
                    plan.note(
                        "conflict",
                        format!(
                            "{name} changed on both sides: kept {kept:?} from side {owner} (owner), discarded {lost:?} from side {loser}"
                        ),
                        json!({ "field": name, "owner": owner, "kept": kept, "discarded": lost }),
                    );
                    owner
                }
            };
            let current = value(winner).unwrap_or_default();
            if let Some(kind) = tracked_change(name) {
                // Evidence for the custody ledger (`accountability::ledger`):
                // the side's new label, what the other side gets, and when.
                let written = rule
                    .direction
                    .allows(winner)
                    .then(|| rule.translate(winner, &current))
                    .flatten();
                let (previous, ticket) = (old(winner), sides.get(winner));
                plan.note(
                    kind,
                    format!("{name} on side {winner}: {previous:?} → {current:?}"),
                    json!({ "side": winner, "from": previous, "to": current, "written": written,
                            "closed": ticket.map(|t| t.closed), "at": ticket.map(|t| t.updated_at) }),
                );
            }
            shadow
                .side_mut(winner)
                .values
                .insert(name.into(), current.clone());
            if !rule.direction.allows(winner) {
                continue;
            }
            let target = winner.other();
            let Some(mapped) = rule.translate(winner, &current) else {
                plan.note(
                    "unmapped",
                    format!("{name} {current:?} on side {winner} has no counterpart in the mapping; not synced"),
                    json!({ "field": name, "side": winner, "value": current }),
                );
                continue;
            };
            let target_exists = link.side(target).is_some();
            // The target already holds the value, unless an operation still
            // queued will overwrite it with an older one (a change reverted
            // while its write waits): then the value is written again after it.
            let overwritten = pending.contains(&(target, name.to_string()));
            if target_exists && !overwritten && value(target).as_deref() == Some(mapped.as_str()) {
                shadow.side_mut(target).values.insert(name.into(), mapped);
                continue;
            }
            let entry = updates.entry(target).or_default();
            match name {
                "title" => entry.0.title = Some(mapped.clone()),
                "status" => entry.0.status = Some(mapped.clone()),
                "priority" => entry.0.priority = Some(mapped.clone()),
                _ => {
                    let field = if target == Side::A {
                        &rule.a_field
                    } else {
                        &rule.b_field
                    };
                    if let Some(f) = field {
                        entry.0.fields.insert(f.clone(), mapped.clone());
                    }
                }
            }
            entry.1.push(name.to_string());
            shadow.side_mut(target).values.insert(name.into(), mapped);
        }

        for side in [Side::A, Side::B] {
            let Some(state) = now(side) else { continue };
            let closing = SideClose::judge(state, plan.base_shadow.side(side));
            self.plan_close(pairing, side, closing, &mut shadow, &mut updates, &mut plan)?;
            self.plan_description(
                pairing,
                side,
                state.description.as_deref(),
                &mut shadow,
                &mut plan,
            )?;
        }

        for (target, (update, fields)) in updates {
            if update.is_empty() {
                continue;
            }
            let action = Action::UpdateTicket { update };
            plan.note(
                "planned",
                format!("side {target}: {}", action.describe()),
                json!({ "target": target, "fields": fields }),
            );
            plan.ops.push(PlannedOp {
                target,
                action,
                fields,
            });
        }
        plan.shadow = shadow;
        Ok(plan)
    }

    /// A side that just closed triggers the pairing's close rule on the other side.
    fn plan_close(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        closing: SideClose,
        shadow: &mut crate::store::Shadow,
        updates: &mut BTreeMap<Side, (TicketUpdate, Vec<String>)>,
        plan: &mut Plan,
    ) -> Result<(), EngineError> {
        let was_closed = shadow.side(side).closed;
        let closed_now = closing != SideClose::Open;
        shadow.side_mut(side).closed = closed_now;
        if !closed_now || was_closed {
            return Ok(());
        }
        if closing == SideClose::ByBridge {
            plan.note(
                "closed",
                format!(
                    "side {side} closed by the status the bridge wrote; close rule not applied"
                ),
                json!({ "side": side, "by_bridge": true }),
            );
            return Ok(());
        }
        plan.note(
            "closed",
            format!("side {side} closed"),
            json!({ "side": side }),
        );
        let Some(rule) = pairing.mapping.on_close.when_closed(side) else {
            return Ok(());
        };
        let other = side.other();
        if plan.link.side(other).is_none() {
            return Ok(());
        }
        if let Some(status) = &rule.set_status {
            let entry = updates.entry(other).or_default();
            let other_closed = shadow.side(other).closed;
            if entry.0.status.is_none()
                && !other_closed
                && shadow.side(other).values.get("status") != Some(status.get_ref())
            {
                entry.0.status = Some(status.get_ref().clone());
                entry.1.push("status".into());
                shadow
                    .side_mut(other)
                    .values
                    .insert("status".into(), status.get_ref().clone());
            }
        }
        if let Some(note) = &rule.note {
            let marker = plan.link.event_marker("close", side, self.store.next_id()?);
            plan.add_comment(
                other,
                note.clone(),
                rule.note_visibility,
                marker,
                false,
                None,
            );
        }
        Ok(())
    }

    /// Description edits after linking become a note on the other side.
    fn plan_description(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        current: Option<&str>,
        shadow: &mut crate::store::Shadow,
        plan: &mut Plan,
    ) -> Result<(), EngineError> {
        let Some(current) = current else {
            return Ok(());
        };
        let previous = shadow.side(side).description.clone();
        shadow.side_mut(side).description = Some(current.to_string());
        let Some(previous) = previous else {
            return Ok(());
        };
        if previous == current {
            return Ok(());
        }
        let visibility = match pairing.mapping.description.updates {
            DescriptionUpdates::Ignore => return Ok(()),
            DescriptionUpdates::InternalNote => psa_connector::Visibility::Internal,
            DescriptionUpdates::PublicNote => psa_connector::Visibility::Public,
        };
        let conn = pairing.connection(side);
        // A fresh store id, not a timestamp: two edits in one second must
        // not share a marker (the second would be "adopted" as the first).
        let marker = plan.link.event_marker("desc", side, self.store.next_id()?);
        plan.add_comment(
            side.other(),
            format!("Description updated in {conn}:\n{current}"),
            visibility,
            marker,
            false,
            None,
        );
        plan.note(
            "planned",
            format!(
                "side {}: description change as a {visibility} note",
                side.other()
            ),
            json!({}),
        );
        Ok(())
    }
}
