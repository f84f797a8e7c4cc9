//! Syncing owners and categories of a linked ticket (`[owners]` and
//! `[categories]` of the mapping), after the field rules have planned.
//!
//! Each is diffed against the shadow like a field (shadow keys
//! [`PERSON`], [`GROUP`], [`CATEGORY`]): a side changed it when its value
//! differs from the shadow and no queued write of it to that side is in
//! flight; an empty value seen for the first time is not a change (a new
//! MSP ticket has nobody yet). A person crosses by e-mail: the target
//! connector looks the address up ([`psa_connector::Connector::find_person`],
//! cached); nobody there → the target side's fallback (a person, a group,
//! or unassigned), audited `owner_unmatched`. The shadow takes what the
//! target will hold, so the echo of the bridge's write diffs to nothing. A
//! category no pair maps is audited `unmapped_category` once per link and
//! value and logged as a warning.

use std::collections::HashSet;

use psa_connector::people::email_key;
use psa_connector::{keys, Category, Ticket, TicketUpdate};
use serde_json::json;

use super::reconcile::{in_flight, Sides};
use super::{Engine, EngineError, Plan, PlannedOp};
use crate::config::categories::{self, Categories};
use crate::config::mapping::Direction;
use crate::config::owners::Owners;
use crate::config::LoadedPairing;
use crate::store::{Action, OutboxOp, Shadow, Side};

/// Shadow key: the person's e-mail (lower case), `""` for nobody.
pub const PERSON: &str = "@owner.person";
/// Shadow key: the group label.
pub const GROUP: &str = "@owner.group";
/// Shadow key: `category / subcategory / item`.
pub const CATEGORY: &str = "@category";
/// Shadow key: unmapped category values already reported (one per line).
const UNMAPPED: &str = "@category.unmapped";

/// What the diff of one synced value decided.
struct Change {
    winner: Side,
    value: String,
}

/// A person's value for the diff: the e-mail, `id:<id>` for a person
/// without one (never matched), `""` for nobody.
pub fn person_value(t: &Ticket) -> String {
    match &t.assignee.person {
        None => String::new(),
        Some(p) => match p.email.as_deref().filter(|e| !e.trim().is_empty()) {
            Some(e) => email_key(e),
            None => format!("id:{}", p.id),
        },
    }
}

fn category_value(t: &Ticket) -> String {
    if t.category.category.is_none() {
        String::new()
    } else {
        categories::key(&t.category)
    }
}

/// Diffs one value of both sides against the shadow; records the winner's
/// value in the shadow. `corresponds(a, b)`: both sides changed, to
/// matching values (nothing to write).
fn diff(
    plan: &mut Plan,
    shadow: &mut Shadow,
    key: &str,
    now: [Option<String>; 2],
    pending: &HashSet<(Side, String)>,
    owner: Side,
    corresponds: impl Fn(&str, &str) -> bool,
) -> Option<Change> {
    let value = |side: Side| now[if side == Side::A { 0 } else { 1 }].clone();
    let changed = |side: Side| {
        let old = shadow.side(side).values.get(key).cloned();
        let current = value(side);
        current.is_some()
            && current != old
            && !pending.contains(&(side, key.to_string()))
            && !(old.is_none() && current.as_deref() == Some(""))
    };
    let winner = match (changed(Side::A), changed(Side::B)) {
        (false, false) => return None,
        (true, false) => Side::A,
        (false, true) => Side::B,
        (true, true) => {
            let (a, b) = (
                value(Side::A).unwrap_or_default(),
                value(Side::B).unwrap_or_default(),
            );
            if corresponds(&a, &b) {
                shadow.a.values.insert(key.into(), a);
                shadow.b.values.insert(key.into(), b);
                return None;
            }
            let (kept, lost) = if owner == Side::A { (&a, &b) } else { (&b, &a) };
            plan.note(
                "conflict",
                format!("{key} changed on both sides: kept {kept:?} from side {owner} (owner), discarded {lost:?} from side {}", owner.other()),
                json!({ "field": key, "owner": owner, "kept": kept, "discarded": lost }),
            );
            owner
        }
    };
    let value = value(winner).unwrap_or_default();
    shadow
        .side_mut(winner)
        .values
        .insert(key.into(), value.clone());
    Some(Change { winner, value })
}

/// Adds `fields` (reserved keys → values) to the plan's update of `target`.
fn write(plan: &mut Plan, target: Side, fields: Vec<(&str, String)>, synced: &str) {
    if fields.is_empty() {
        return;
    }
    let existing = plan
        .ops
        .iter_mut()
        .find(|op| op.target == target && matches!(op.action, Action::UpdateTicket { .. }));
    let op = match existing {
        Some(op) => op,
        None => {
            plan.ops.push(PlannedOp {
                target,
                action: Action::UpdateTicket {
                    update: TicketUpdate::default(),
                },
                fields: Vec::new(),
            });
            let words = match synced {
                PERSON => "assign the owner",
                GROUP => "set the group",
                _ => "set the category",
            };
            plan.note(
                "planned",
                format!("side {target}: {words}"),
                json!({ "target": target, "fields": [synced] }),
            );
            let Some(op) = plan.ops.last_mut() else {
                return;
            };
            op
        }
    };
    if let Action::UpdateTicket { update } = &mut op.action {
        for (k, v) in fields {
            update.fields.insert(k.to_string(), v);
        }
    }
    if !op.fields.iter().any(|f| f == synced) {
        op.fields.push(synced.to_string());
    }
}

impl Engine {
    /// Plans owner and category writes for a link whose sides were read.
    pub(super) async fn plan_owners(
        &self,
        pairing: &LoadedPairing,
        sides: &Sides,
        outbox_before_fetch: &[OutboxOp],
        plan: &mut Plan,
    ) -> Result<(), EngineError> {
        let mapping = &pairing.mapping;
        if mapping.owners.is_none() && mapping.categories.is_none() {
            return Ok(());
        }
        super::custody::record(sides, plan);
        let pending = in_flight(outbox_before_fetch, plan.link.id);
        let mut shadow = std::mem::take(&mut plan.shadow);
        let result = self
            .plan_owner_values(pairing, sides, &pending, &mut shadow, plan)
            .await;
        plan.shadow = shadow;
        result
    }

    async fn plan_owner_values(
        &self,
        pairing: &LoadedPairing,
        sides: &Sides,
        pending: &HashSet<(Side, String)>,
        shadow: &mut Shadow,
        plan: &mut Plan,
    ) -> Result<(), EngineError> {
        let now =
            |f: &dyn Fn(&Ticket) -> String| [sides.a.as_ref().map(f), sides.b.as_ref().map(f)];
        if let Some(owners) = &pairing.mapping.owners {
            let owner = owners.owner.unwrap_or(pairing.mapping.trigger.side.other());
            if owners.sync.person() {
                let values = now(&person_value);
                if let Some(change) =
                    diff(plan, shadow, PERSON, values, pending, owner, |a, b| a == b)
                {
                    self.write_person(pairing, owners, sides, change, shadow, plan)
                        .await?;
                }
            }
            if owners.sync.group() {
                let values = now(&|t: &Ticket| t.assignee.group.clone().unwrap_or_default());
                let corresponds =
                    |a: &str, b: &str| owners.translate_group(Side::A, a).as_deref() == Some(b);
                if let Some(change) = diff(plan, shadow, GROUP, values, pending, owner, corresponds)
                {
                    write_group(owners, owners.direction, sides, change, shadow, plan);
                }
            }
        }
        if let Some(cats) = &pairing.mapping.categories {
            let values = now(&category_value);
            let corresponds = |a: &str, b: &str| {
                let (Some(ta), Some(tb)) = (sides.a.as_ref(), sides.b.as_ref()) else {
                    return a == b;
                };
                cats.translate(Side::A, &ta.category)
                    .is_some_and(|m| Categories::holds(&tb.category, &m))
            };
            if let Some(change) = diff(
                plan,
                shadow,
                CATEGORY,
                values,
                pending,
                cats.owner,
                corresponds,
            ) {
                write_category(pairing, cats, sides, change, shadow, plan);
            }
        }
        Ok(())
    }

    async fn write_person(
        &self,
        pairing: &LoadedPairing,
        owners: &Owners,
        sides: &Sides,
        change: Change,
        shadow: &mut Shadow,
        plan: &mut Plan,
    ) -> Result<(), EngineError> {
        if !owners.direction.allows(change.winner) {
            return Ok(());
        }
        let target = change.winner.other();
        let current = sides.get(target).map(person_value);
        let Some(conn) = self.side_connection(pairing, target) else {
            return Ok(());
        };
        let find = |email: String| {
            let connector = conn.connector.clone();
            async move {
                if email.starts_with("id:") || email.is_empty() {
                    return Ok(None);
                }
                connector.find_person(&email).await
            }
        };
        let vendor = Engine::vendor_error(&conn.name);
        let mut fields = Vec::new();
        let mut resolved = String::new();
        if !change.value.is_empty() {
            match find(change.value.clone()).await.map_err(&vendor)? {
                Some(p) => {
                    resolved = p
                        .email
                        .as_deref()
                        .map(email_key)
                        .unwrap_or(change.value.clone());
                    fields.push((keys::PERSON, p.id));
                }
                None => {
                    let fallback = owners.fallback(target);
                    let mut instead = "left unassigned".to_string();
                    if let Some(email) = fallback.and_then(|f| f.person.as_ref()) {
                        if let Some(p) = find(email.get_ref().clone()).await.map_err(&vendor)? {
                            resolved = p.email.as_deref().map(email_key).unwrap_or_default();
                            instead = format!("assigned to the fallback person {resolved}");
                            fields.push((keys::PERSON, p.id));
                        }
                    }
                    if fields.is_empty() {
                        fields.push((keys::PERSON, String::new()));
                        if let Some(group) = fallback.and_then(|f| f.group.as_ref()) {
                            instead =
                                format!("assigned to the fallback group {:?}", group.get_ref());
                            fields.push((keys::GROUP, group.get_ref().clone()));
                            shadow
                                .side_mut(target)
                                .values
                                .insert(GROUP.into(), group.get_ref().clone());
                        }
                    }
                    plan.note(
                        "owner_unmatched",
                        format!(
                            "side {}'s owner {} has no match on side {target} ({}); {instead}",
                            change.winner, change.value, conn.name
                        ),
                        json!({ "side": change.winner, "email": change.value, "target": target, "fallback": instead }),
                    );
                }
            }
        } else {
            fields.push((keys::PERSON, String::new()));
        }
        shadow
            .side_mut(target)
            .values
            .insert(PERSON.into(), resolved.clone());
        if plan.link.side(target).is_some() && current.as_deref() == Some(resolved.as_str()) {
            // The target already holds that person: write only a fallback group.
            fields.retain(|(k, _)| *k != keys::PERSON);
            let current_group = sides.get(target).and_then(|t| t.assignee.group.clone());
            fields
                .retain(|(k, v)| *k != keys::GROUP || current_group.as_deref() != Some(v.as_str()));
        }
        write(plan, target, fields, PERSON);
        Ok(())
    }
}

fn write_group(
    owners: &Owners,
    direction: Direction,
    sides: &Sides,
    change: Change,
    shadow: &mut Shadow,
    plan: &mut Plan,
) {
    if !direction.allows(change.winner) || change.value.is_empty() {
        return;
    }
    let target = change.winner.other();
    let Some(mapped) = owners.translate_group(change.winner, &change.value) else {
        plan.note(
            "unmapped",
            format!(
                "group {:?} on side {} has no counterpart in [owners] groups; not synced",
                change.value, change.winner
            ),
            json!({ "field": GROUP, "side": change.winner, "value": change.value }),
        );
        return;
    };
    shadow
        .side_mut(target)
        .values
        .insert(GROUP.into(), mapped.clone());
    let current = sides.get(target).and_then(|t| t.assignee.group.clone());
    if plan.link.side(target).is_some() && current.as_deref() == Some(mapped.as_str()) {
        return;
    }
    write(plan, target, vec![(keys::GROUP, mapped)], GROUP);
}

fn write_category(
    pairing: &LoadedPairing,
    cats: &Categories,
    sides: &Sides,
    change: Change,
    shadow: &mut Shadow,
    plan: &mut Plan,
) {
    if !cats.direction.allows(change.winner) || change.value.is_empty() {
        return;
    }
    let Some(ticket) = sides.get(change.winner) else {
        return;
    };
    let target = change.winner.other();
    let Some(mapped) = cats.translate(change.winner, &ticket.category) else {
        let reported = shadow
            .side(change.winner)
            .values
            .get(UNMAPPED)
            .cloned()
            .unwrap_or_default();
        if !reported.lines().any(|l| l == change.value) {
            tracing::warn!(pairing = %pairing.name, link = plan.link.id, side = %change.winner, category = %change.value, "category has no counterpart in [categories]; not synced");
            plan.note(
                "unmapped_category",
                format!("category {:?} on side {} has no counterpart in [categories]; not synced", change.value, change.winner),
                json!({ "side": change.winner, "value": change.value, "category": ticket.category }),
            );
            let mut all = reported;
            if !all.is_empty() {
                all.push('\n');
            }
            all.push_str(&change.value);
            shadow
                .side_mut(change.winner)
                .values
                .insert(UNMAPPED.into(), all);
        }
        return;
    };
    let current = sides
        .get(target)
        .map(|t| t.category.clone())
        .unwrap_or_default();
    let merged = Category {
        category: mapped.category.clone().or(current.category.clone()),
        subcategory: mapped.subcategory.clone().or(current.subcategory.clone()),
        item: mapped.item.clone().or(current.item.clone()),
    };
    shadow
        .side_mut(target)
        .values
        .insert(CATEGORY.into(), categories::key(&merged));
    if plan.link.side(target).is_some() && Categories::holds(&current, &mapped) {
        return;
    }
    let mut fields = Vec::new();
    for (k, v) in [
        (keys::CATEGORY, &mapped.category),
        (keys::SUBCATEGORY, &mapped.subcategory),
        (keys::ITEM, &mapped.item),
    ] {
        if let Some(v) = v {
            fields.push((k, v.clone()));
        }
    }
    write(plan, target, fields, CATEGORY);
}
