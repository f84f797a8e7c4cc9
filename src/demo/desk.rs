//! What a person does at a ticketing system in the demo story, behind one
//! trait ([`Desk`]) with an implementation per simulator, so the same story
//! plays with any internal system and any MSP system. Ids and numbers are
//! strings here; each desk converts to its simulator's own types.

use psa_autotask::sim::AutotaskSim;
use psa_connectwise::sim::{ConnectWiseSim, ConnectWiseSimOptions, SimNoteKind};

use super::AT_USER;

/// One ticket as a person at the desk sees it.
#[derive(Clone, Debug)]
pub struct DeskTicket {
    pub id: String,
    pub number: String,
    pub title: String,
    pub status: String,
    pub priority: String,
    /// Where the bridge says the ticket went (the far side's number), once it says so.
    pub far_number: Option<String>,
    /// Placement for narration (board, queue or assignment group).
    pub placement: String,
}

/// One note or comment as shown in the UI.
#[derive(Clone, Debug)]
pub struct DeskNote {
    pub text: String,
    /// Customer-visible.
    pub public: bool,
}

/// A person's actions at one ticketing system, and what they can read there.
pub trait Desk: Send + Sync {
    /// Product name, for narration.
    fn system(&self) -> &'static str;
    /// Opens a ticket in the UI.
    fn open(&self, title: &str, description: &str, priority: &str) -> DeskTicket;
    /// Hands a ticket to the MSP the way the demo mapping's trigger expects.
    fn escalate(&self, id: &str);
    /// How [`Desk::escalate`] of ticket `number` reads in narration.
    fn escalation(&self, number: &str) -> String;
    fn ticket(&self, id: &str) -> Option<DeskTicket>;
    /// The id of the ticket with this number (as written back to the other side).
    fn id_of_number(&self, number: &str) -> Option<String>;
    fn set_status(&self, id: &str, status: &str);
    fn set_priority(&self, id: &str, priority: &str);
    fn add_note(&self, id: &str, text: &str, public: bool, author: &str);
    /// A customer-visible note that records the resolution.
    fn add_resolution(&self, id: &str, text: &str, author: &str);
    fn notes(&self, id: &str) -> Vec<DeskNote>;
    /// Successful ticket and note writes by the bridge's API user (webhook
    /// registration not counted).
    fn bridge_writes(&self) -> usize;
    /// Number of tickets the system holds.
    fn ticket_count(&self) -> usize;
}

fn numeric(id: &str) -> i64 {
    id.parse().unwrap_or(-1)
}

/// Autotask, escalating by the queue "Escalate to MSP".
pub struct AutotaskDesk<'a>(pub &'a AutotaskSim);

impl Desk for AutotaskDesk<'_> {
    fn system(&self) -> &'static str {
        "Autotask"
    }
    fn open(&self, title: &str, description: &str, priority: &str) -> DeskTicket {
        let t = self
            .0
            .user_create_ticket(title, description, "Level I Support", priority);
        self.ticket(&t.id.to_string()).unwrap_or(DeskTicket {
            id: t.id.to_string(),
            number: t.number,
            title: t.title,
            status: t.status,
            priority: t.priority,
            far_number: None,
            placement: t.queue,
        })
    }
    fn escalate(&self, id: &str) {
        self.0.user_set_queue(numeric(id), "Escalate to MSP");
    }
    fn escalation(&self, number: &str) -> String {
        format!("moves {number} to the queue \"Escalate to MSP\"")
    }
    fn ticket(&self, id: &str) -> Option<DeskTicket> {
        let t = self.0.ticket(numeric(id))?;
        Some(DeskTicket {
            id: t.id.to_string(),
            far_number: t.udfs.get("MSP Ticket").filter(|v| !v.is_empty()).cloned(),
            number: t.number,
            title: t.title,
            status: t.status,
            priority: t.priority,
            placement: t.queue,
        })
    }
    fn id_of_number(&self, number: &str) -> Option<String> {
        self.0
            .tickets()
            .into_iter()
            .find(|t| t.number == number)
            .map(|t| t.id.to_string())
    }
    fn set_status(&self, id: &str, status: &str) {
        self.0.user_set_status(numeric(id), status);
    }
    fn set_priority(&self, id: &str, priority: &str) {
        self.0.user_set_priority(numeric(id), priority);
    }
    fn add_note(&self, id: &str, text: &str, public: bool, author: &str) {
        self.0.user_add_note(numeric(id), text, !public, author);
    }
    fn add_resolution(&self, id: &str, text: &str, author: &str) {
        self.0.user_add_note(numeric(id), text, false, author);
    }
    fn notes(&self, id: &str) -> Vec<DeskNote> {
        self.0
            .notes(numeric(id))
            .into_iter()
            .map(|n| DeskNote {
                text: n.text,
                public: !n.internal,
            })
            .collect()
    }
    fn bridge_writes(&self) -> usize {
        self.0
            .control()
            .writes_by(AT_USER)
            .iter()
            .filter(|r| r.path.to_ascii_lowercase().contains("/tickets"))
            .count()
    }
    fn ticket_count(&self) -> usize {
        self.0.tickets().len()
    }
}

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
