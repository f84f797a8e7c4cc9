//! What the engine compares: a ticket reduced to the pairing's mapped fields.

use psa_connector::Ticket;

use crate::config::Mapping;
use crate::store::{Side, SideState};

/// The shadow key of the status label.
pub const STATUS: &str = "status";

/// The mapped values of `ticket` as seen on `side`.
pub fn observe(mapping: &Mapping, side: Side, ticket: &Ticket) -> SideState {
    let mut state = SideState {
        description: ticket.description.as_ref().map(|d| d.trim().to_string()),
        closed: ticket.closed,
        ..Default::default()
    };
    // The status label is always kept, mapped or not: the close rules use it
    // to tell a side's own close from the echo of a status the bridge wrote.
    state
        .values
        .insert(STATUS.to_string(), ticket.status.clone());
    for rule in &mapping.fields {
        let value = match rule.name() {
            "title" => Some(ticket.title.trim().to_string()),
            "status" => Some(ticket.status.clone()),
            "priority" => Some(ticket.priority.clone()),
            _ => {
                let field = match side {
                    Side::A => rule.a_field.as_deref(),
                    Side::B => rule.b_field.as_deref(),
                };
                field.map(|f| ticket.fields.get(f).cloned().unwrap_or_default())
            }
        };
        if let Some(v) = value {
            state.values.insert(rule.name().to_string(), v);
        }
    }
    state
}
