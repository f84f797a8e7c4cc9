//! The ConnectWise desk: an MSP engineer on the board "Co-Managed".

use psa_connectwise::sim::{ConnectWiseSim, ConnectWiseSimOptions, SimNoteKind};

use super::{numeric, Desk, DeskNote, DeskTicket};

/// ConnectWise PSA, the MSP's board "Co-Managed".
pub struct ConnectWiseDesk<'a>(pub &'a ConnectWiseSim);

impl Desk for ConnectWiseDesk<'_> {
    fn system(&self) -> &'static str {
        "ConnectWise"
    }
    fn open(&self, title: &str, _description: &str, priority: &str) -> DeskTicket {
        let t = self
            .0
            .user_create_ticket(title, "Co-Managed", "ACME", priority);
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
    fn escalate(&self, _id: &str) {
        // The demo mappings never escalate from ConnectWise: its tickets
        // are the MSP's.
    }
    fn escalation(&self, number: &str) -> String {
        format!("leaves #{number} on the board")
    }
    fn ticket(&self, id: &str) -> Option<DeskTicket> {
        let t = self.0.ticket(numeric(id))?;
        Some(DeskTicket {
            id: t.id.to_string(),
            number: t.id.to_string(),
            title: t.summary,
            status: t.status,
            priority: t.priority,
            far_number: None,
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
