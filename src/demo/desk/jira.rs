//! The Jira desk: an agent in the service-desk project HELP. Issues escalate
//! through the workflow's Escalate transition (offered for High and Highest
//! issues); the far side's number is written back to the custom field
//! "MSP Ticket".

use psa_jira::sim::JiraSim;

use super::{Desk, DeskNote, DeskTicket};

/// The project the demo's issues live in.
pub const PROJECT: &str = "HELP";
/// The "MSP Ticket" custom field's id on the simulated site.
const MSP_TICKET_FIELD: &str = "customfield_10050";

pub struct JiraDesk<'a>(pub &'a JiraSim);

impl JiraDesk<'_> {
    fn key(&self, id: &str) -> Option<String> {
        self.0.issue(id).map(|i| i.key)
    }
}

impl Desk for JiraDesk<'_> {
    fn system(&self) -> &'static str {
        "Jira"
    }
    fn open(&self, title: &str, description: &str, priority: &str) -> DeskTicket {
        let created = self
            .0
            .user_create_issue(PROJECT, title, description, priority);
        let id = created.map(|i| i.id).unwrap_or_default();
        self.ticket(&id).unwrap_or(DeskTicket {
            id,
            number: String::new(),
            title: title.into(),
            status: String::new(),
            priority: priority.into(),
            far_number: None,
            placement: PROJECT.into(),
        })
    }
    fn escalate(&self, id: &str) {
        if let Some(key) = self.key(id) {
            self.0.user_transition(&key, "Escalated", None);
        }
    }
    fn escalation(&self, number: &str) -> String {
        format!("runs the Escalate transition on {number}")
    }
    fn ticket(&self, id: &str) -> Option<DeskTicket> {
        let i = self.0.issue(id)?;
        Some(DeskTicket {
            far_number: i
                .custom
                .get(MSP_TICKET_FIELD)
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            id: i.id,
            number: i.key,
            title: i.summary,
            status: i.status,
            priority: i.priority,
            placement: format!("project {}", i.project),
        })
    }
    fn id_of_number(&self, number: &str) -> Option<String> {
        self.0.issue(number).map(|i| i.id)
    }
    fn set_status(&self, id: &str, status: &str) {
        // The screen asks for a resolution only on Resolve and Close; a
        // field not on the screen is refused, as in Jira.
        if let Some(key) = self.key(id) {
            if !self.0.user_transition(&key, status, None) {
                self.0.user_transition(&key, status, Some("Fixed"));
            }
        }
    }
    fn set_priority(&self, id: &str, priority: &str) {
        if let Some(key) = self.key(id) {
            self.0.user_set_priority(&key, priority);
        }
    }
    fn add_note(&self, id: &str, text: &str, public: bool, author: &str) {
        if let Some(key) = self.key(id) {
            self.0.user_add_comment(&key, text, public, author);
        }
    }
    fn add_resolution(&self, id: &str, text: &str, author: &str) {
        self.add_note(id, text, true, author);
    }
    fn notes(&self, id: &str) -> Vec<DeskNote> {
        self.0
            .comments(id)
            .into_iter()
            .map(|c| DeskNote {
                text: c.text,
                public: c.public,
            })
            .collect()
    }
    fn bridge_writes(&self) -> usize {
        let email = self.0.options().email.clone();
        self.0
            .control()
            .writes_by(&email)
            .iter()
            .filter(|r| r.path.contains("/issue") || r.path.contains("/request/"))
            .count()
    }
    fn ticket_count(&self) -> usize {
        self.0.issues().len()
    }
}
