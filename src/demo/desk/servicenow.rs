//! The ServiceNow desk: a service-desk agent in the instance's UI. Tickets
//! escalate by assignment group "MSP Escalation"; priority is set the way
//! the UI does it, as impact and urgency, which the instance turns into a
//! priority; the far side's number is written back to `correlation_id`.

use psa_servicenow::sim::ServiceNowSim;
use psa_servicenow::ServiceNowSettings;

use super::{Desk, DeskNote, DeskTicket};
use crate::demo::SN_USER;

/// The assignment group the demo mapping's trigger watches.
pub const ESCALATION_GROUP: &str = "MSP Escalation";

pub struct ServiceNowDesk<'a>(pub &'a ServiceNowSim);

impl ServiceNowDesk<'_> {
    /// Impact and urgency labels for a priority label (`"2 - High"`), from
    /// the platform's default matrix.
    fn impact_urgency(priority: &str) -> Option<(String, String)> {
        let number = priority.split(" - ").next()?.trim();
        let matrix = ServiceNowSettings::basic("http://x", "u", "p").priority_matrix;
        let pair = matrix.get(number)?;
        let label = |n: u8| match n {
            1 => "1 - High",
            2 => "2 - Medium",
            _ => "3 - Low",
        };
        Some((label(pair.impact).into(), label(pair.urgency).into()))
    }
}

impl Desk for ServiceNowDesk<'_> {
    fn system(&self) -> &'static str {
        "ServiceNow"
    }
    fn open(&self, title: &str, description: &str, priority: &str) -> DeskTicket {
        let created = self.0.user_create_incident(title, description);
        self.set_priority(&created.sys_id, priority);
        self.ticket(&created.sys_id).unwrap_or(DeskTicket {
            id: created.sys_id,
            number: created.number,
            title: created.short_description,
            status: created.state,
            priority: created.priority,
            far_number: None,
            placement: created.assignment_group,
        })
    }
    fn escalate(&self, id: &str) {
        if let Err(e) = self.0.user_set_assignment_group(id, ESCALATION_GROUP) {
            tracing::warn!(error = %e, "demo: assignment refused");
        }
    }
    fn escalation(&self, number: &str) -> String {
        format!("assigns {number} to the group \"{ESCALATION_GROUP}\"")
    }
    fn ticket(&self, id: &str) -> Option<DeskTicket> {
        let i = self.0.incident(id)?;
        Some(DeskTicket {
            id: i.sys_id,
            far_number: Some(i.correlation_id).filter(|c| !c.is_empty()),
            number: i.number,
            title: i.short_description,
            status: i.state,
            priority: i.priority,
            placement: format!("group \"{}\"", i.assignment_group),
        })
    }
    fn id_of_number(&self, number: &str) -> Option<String> {
        self.0
            .incidents()
            .into_iter()
            .find(|i| i.number == number)
            .map(|i| i.sys_id)
    }
    fn set_status(&self, id: &str, status: &str) {
        // As in the form: the fields the state's data policy asks for.
        let with: &[(&str, &str)] = match status {
            "Resolved" | "Closed" => &[
                ("close_code", "Solved Remotely (Permanently)"),
                ("close_notes", "Resolved; see the comments."),
            ],
            "On Hold" => &[("hold_reason", "Awaiting Caller")],
            _ => &[],
        };
        if let Err(e) = self.0.user_set_state(id, status, with) {
            tracing::warn!(error = %e, "demo: state change refused");
        }
    }
    fn set_priority(&self, id: &str, priority: &str) {
        let Some((impact, urgency)) = Self::impact_urgency(priority) else {
            tracing::warn!(priority, "demo: no impact/urgency for this priority");
            return;
        };
        if let Err(e) = self
            .0
            .user_update(id, &[("impact", &impact), ("urgency", &urgency)])
        {
            tracing::warn!(error = %e, "demo: priority change refused");
        }
    }
    fn add_note(&self, id: &str, text: &str, public: bool, _author: &str) {
        self.0.user_add_comment(id, text, !public);
    }
    fn add_resolution(&self, id: &str, text: &str, _author: &str) {
        // ServiceNow keeps the resolution in close_notes when resolving;
        // as a note it is a customer-visible comment.
        self.0.user_add_comment(id, text, false);
    }
    fn notes(&self, id: &str) -> Vec<DeskNote> {
        self.0
            .journal(id)
            .into_iter()
            .map(|e| DeskNote {
                public: e.element == "comments",
                text: e.value,
            })
            .collect()
    }
    fn bridge_writes(&self) -> usize {
        self.0
            .control()
            .writes_by(SN_USER)
            .iter()
            .filter(|r| r.path.contains("/api/now/table/"))
            .count()
    }
    fn ticket_count(&self) -> usize {
        self.0.incidents().len()
    }
}

#[cfg(test)]
mod tests {
    use super::ServiceNowDesk;

    #[test]
    fn priorities_become_the_default_matrix_pairs() {
        let pair = |p: &str| ServiceNowDesk::impact_urgency(p);
        assert_eq!(
            pair("1 - Critical"),
            Some(("1 - High".into(), "1 - High".into()))
        );
        assert_eq!(
            pair("2 - High"),
            Some(("1 - High".into(), "2 - Medium".into()))
        );
        assert_eq!(
            pair("5 - Planning"),
            Some(("3 - Low".into(), "3 - Low".into()))
        );
        assert_eq!(pair("nonsense"), None);
    }
}
