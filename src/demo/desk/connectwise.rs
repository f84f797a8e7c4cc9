//! The ConnectWise desk: an MSP engineer on the board "Co-Managed", or, as
//! the internal team, a tech who opens tickets on the board "Help Desk" and
//! escalates by moving them to "Co-Managed". ConnectWise has no field the
//! bridge writes the far number to; a person reads it in the bridge's
//! write-back note.

use psa_connectwise::sim::{ConnectWiseSim, ConnectWiseSimOptions, SimNoteKind};

use super::{numeric, Desk, DeskNote, DeskTicket};

/// ConnectWise PSA, the board "Co-Managed".
pub struct ConnectWiseDesk<'a>(pub &'a ConnectWiseSim);

/// The board the internal team opens tickets on.
const HELP_DESK: &str = "Help Desk";
/// The board the co-managing MSP works from (the escalation trigger).
const CO_MANAGED: &str = "Co-Managed";

/// The far ticket's number from the bridge's write-back note
/// ("Escalated to the MSP: … ticket #NUMBER."), if the ticket has one.
fn written_back<'a>(notes: impl IntoIterator<Item = &'a str>) -> Option<String> {
    notes.into_iter().find_map(|text| {
        let first_line = text.lines().next()?;
        let rest = first_line.strip_prefix("Escalated to the MSP:")?;
        let (_, number) = rest.rsplit_once('#')?;
        let number = number
            .split_whitespace()
            .next()?
            .trim_end_matches(['.', ',', ')']);
        (!number.is_empty()).then(|| number.to_string())
    })
}

impl Desk for ConnectWiseDesk<'_> {
    fn system(&self) -> &'static str {
        "ConnectWise"
    }
    fn open(&self, title: &str, _description: &str, priority: &str) -> DeskTicket {
        let t = self
            .0
            .user_create_ticket(title, HELP_DESK, "ACME", priority);
        self.ticket(&t.id.to_string()).unwrap_or(DeskTicket {
            id: t.id.to_string(),
            number: t.id.to_string(),
            title: t.summary,
            status: t.status,
            priority: t.priority,
            far_number: None,
            placement: t.board,
        })
    }
    fn escalate(&self, id: &str) {
        self.0.user_set_board(numeric(id), CO_MANAGED);
    }
    fn escalation(&self, number: &str) -> String {
        format!("moves #{number} to the board \"{CO_MANAGED}\"")
    }
    fn ticket(&self, id: &str) -> Option<DeskTicket> {
        let t = self.0.ticket(numeric(id))?;
        Some(DeskTicket {
            id: t.id.to_string(),
            number: t.id.to_string(),
            title: t.summary,
            status: t.status,
            priority: t.priority,
            far_number: written_back(self.0.notes(t.id).iter().map(|n| n.text.as_str())),
            placement: format!("board \"{}\" for {}", t.board, t.company),
        })
    }
    fn id_of_number(&self, number: &str) -> Option<String> {
        self.0.ticket(numeric(number)).map(|t| t.id.to_string())
    }
    fn set_status(&self, id: &str, status: &str) {
        self.0.user_set_status(numeric(id), status);
    }
    fn set_priority(&self, id: &str, priority: &str) {
        self.0.user_set_priority(numeric(id), priority);
    }
    fn add_note(&self, id: &str, text: &str, public: bool, author: &str) {
        let kind = if public {
            SimNoteKind::Discussion
        } else {
            SimNoteKind::Internal
        };
        self.0.user_add_note(numeric(id), text, kind, author);
    }
    fn add_resolution(&self, id: &str, text: &str, author: &str) {
        self.0
            .user_add_note(numeric(id), text, SimNoteKind::Resolution, author);
    }
    fn notes(&self, id: &str) -> Vec<DeskNote> {
        self.0
            .notes(numeric(id))
            .into_iter()
            .map(|n| DeskNote {
                public: !n.internal && (n.discussion || n.resolution),
                text: n.text,
            })
            .collect()
    }
    fn bridge_writes(&self) -> usize {
        let user = ConnectWiseSimOptions::default().public_key;
        self.0
            .control()
            .writes_by(&user)
            .iter()
            .filter(|r| r.path.to_ascii_lowercase().contains("/tickets"))
            .count()
    }
    fn ticket_count(&self) -> usize {
        self.0.tickets().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_far_number_is_read_from_the_write_back_note() {
        let notes = [
            "Looking at it.",
            "Escalated to the MSP: Jira ticket #HELP-12.\n\npsa-bridge:acme:1",
        ];
        assert_eq!(written_back(notes).as_deref(), Some("HELP-12"));
        assert_eq!(written_back(["Ticket #5 is a duplicate."]), None);
    }
}
