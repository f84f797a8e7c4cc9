//! The Autotask desk: a tier-1 tech (or, as the MSP, an engineer) in the Autotask UI.

use psa_autotask::sim::AutotaskSim;

use super::{numeric, Desk, DeskNote, DeskTicket};
use crate::demo::AT_USER;

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
