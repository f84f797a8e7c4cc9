//! Escalation: a ticket that meets the pairing's trigger gets a link and a
//! create operation for the far side, carrying the bridge's marker.
//!
//! The marker depends on the source ticket only (`Link::new`,
//! [`crate::store::ticket_marker_for`]), not on the link's store id: a store
//! that lost the link (a restored backup) escalates the ticket again, and the
//! create finds the far ticket made the first time by that marker and adopts
//! it (`delivery::apply`) instead of making a second one.

use psa_connector::{NewTicket, Ticket, TicketUpdate};
use serde_json::json;

use super::{observe, ticket_keys, Engine, Plan, PlannedOp};
use crate::config::mapping::truncate;
use crate::config::LoadedPairing;
use crate::store::{Action, Link, Shadow, Side, TicketRef, WriteBack};

/// Whether `ticket` on `side` meets the pairing's trigger. A ticket the
/// bridge created (it carries a bridge marker) never does: in another
/// pairing's trigger queue it would escalate back and forth between pairings.
/// Nor does a ticket outside the pairing's scope (another client's). The
/// far side meets it only through `[reverse_trigger]` (`config::reverse`).
pub fn triggers(pairing: &LoadedPairing, side: Side, ticket: &Ticket) -> bool {
    let mapping = &pairing.mapping;
    let trigger = &mapping.trigger;
    let met = if trigger.side == side {
        trigger.met_by(ticket.queue.as_deref(), &ticket.status)
    } else {
        // The far side starts links only through `[reverse_trigger]`.
        mapping
            .reverse_trigger
            .as_ref()
            .is_some_and(|r| r.met_by(ticket.queue.as_deref(), &ticket.status))
    };
    met && !ticket.closed
        && ticket.marker.is_none()
        && pairing.mapping.scope.resolved.admits(side, ticket)
}

impl Engine {
    /// Plans a new link for `ticket` (which met the trigger on `side`).
    pub(super) fn plan_escalation(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        source_connection: &str,
        ticket: &Ticket,
        link_id: u64,
    ) -> Plan {
        let mapping = &pairing.mapping;
        let from = mapping.create_from(side);
        let target = side.other();
        let now = self.clock.now();
        let link = Link::new(
            link_id,
            &pairing.name,
            side,
            TicketRef {
                id: ticket.id.clone(),
                number: ticket.number.clone(),
            },
            now,
        );

        let source_state = observe(mapping, side, ticket);
        let mut target_state = source_state.clone();
        target_state.values.clear();
        target_state.description = None;
        let mut create = NewTicket {
            title: from
                .title_template
                .replace("{title}", &ticket.title)
                .replace("{number}", &ticket.number),
            description: if mapping.description.on_create {
                ticket.description.clone().unwrap_or_default()
            } else {
                String::new()
            },
            status: None,
            priority: None,
            marker: link.marker(),
            placement: from.placement.clone(),
            fields: Default::default(),
        };
        let mut fields = Vec::new();
        for rule in &mapping.fields {
            let Some(value) = source_state.values.get(rule.name()) else {
                continue;
            };
            let Some(mapped) = rule.translate(side, value) else {
                continue;
            };
            if !rule.direction.allows(side) {
                continue;
            }
            match rule.name() {
                "title" => {
                    let limit = if target == Side::B {
                        rule.max_length_b
                    } else {
                        rule.max_length_a
                    };
                    create.title = truncate(&create.title, limit);
                    target_state
                        .values
                        .insert("title".into(), create.title.clone());
                    fields.push("title".to_string());
                    continue;
                }
                "status" => create.status = Some(mapped.clone()),
                "priority" => create.priority = Some(mapped.clone()),
                _ => {
                    let field = if target == Side::B {
                        &rule.b_field
                    } else {
                        &rule.a_field
                    };
                    if let Some(f) = field {
                        create.fields.insert(f.clone(), mapped.clone());
                    }
                }
            }
            target_state.values.insert(rule.name().to_string(), mapped);
            fields.push(rule.name().to_string());
        }
        let write_back = (from.write_back
            && (mapping.write_back.note.is_some() || mapping.write_back.field.is_some()))
        .then(|| WriteBack {
            note: mapping.write_back.note.clone(),
            note_visibility: mapping.write_back.note_visibility,
            field: mapping.write_back.field.clone(),
        });
        let mut shadow = Shadow::default();
        *shadow.side_mut(side) = source_state;
        *shadow.side_mut(target) = target_state;
        let keys = ticket_keys(source_connection, &ticket.id, &ticket.number);
        let mut plan = Plan {
            link,
            new_link: true,
            base_shadow: Shadow::default(),
            shadow,
            ops: vec![PlannedOp {
                target,
                action: Action::CreateTicket {
                    ticket: create.clone(),
                    write_back,
                },
                fields,
            }],
            comments: Vec::new(),
            audit: Vec::new(),
        };
        plan.note(
            "escalated",
            format!(
                "{source_connection} ticket {} entered {}: planned a new ticket on the other side ({:?})",
                ticket.number,
                from.trigger,
                create.title
            ),
            json!({ "tickets": keys, "create": create, "side": side }),
        );
        plan
    }
}

/// The marker of the write-back note of the link whose ticket marker is
/// `ticket_marker` (one per link, so it also identifies that note).
pub fn write_back_marker(ticket_marker: &str) -> String {
    format!("{ticket_marker}:writeback")
}

/// The follow-up operations once the created ticket's number is known.
pub fn write_back_ops(
    write_back: &WriteBack,
    source: Side,
    marker: &str,
    number: &str,
) -> Vec<PlannedOp> {
    let mut ops = Vec::new();
    if let Some(note) = &write_back.note {
        ops.push(PlannedOp {
            target: source,
            action: Action::AddComment {
                comment: psa_connector::NewComment {
                    body: note.replace("{number}", number),
                    visibility: write_back.note_visibility,
                    marker: write_back_marker(marker),
                    resolution: false,
                },
                source: None,
            },
            fields: Vec::new(),
        });
    }
    if let Some(field) = &write_back.field {
        let mut update = TicketUpdate::default();
        update.fields.insert(field.clone(), number.to_string());
        ops.push(PlannedOp {
            target: source,
            action: Action::UpdateTicket { update },
            fields: Vec::new(),
        });
    }
    ops
}
