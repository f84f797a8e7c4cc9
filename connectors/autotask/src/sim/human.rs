//! Human actions on the simulated tenant: what a person does in the Autotask
//! UI. They bypass the API (no auth, not counted as API writes) but change
//! state exactly like API writes and fire webhooks.

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::{json, Map};

use super::events::Outgoing;
use super::resources::ResourceRec;
use super::state::{value_of, Data};
use super::{seed, ApiError, AutotaskSim, SimTicket};

impl AutotaskSim {
    fn human(&self, data: &mut Data, name: &str) -> i64 {
        if let Some((id, _)) = data
            .tenant
            .resources
            .iter()
            .find(|(_, r)| r.display_name().eq_ignore_ascii_case(name))
        {
            return *id;
        }
        let id = data
            .tenant
            .resources
            .keys()
            .max()
            .copied()
            .unwrap_or(29_682_000)
            + 1;
        data.tenant.resources.insert(id, ResourceRec::person(name));
        id
    }

    fn act(&self, f: impl FnOnce(&mut Data, i64) -> Result<Vec<Outgoing>, ApiError>) {
        let events = {
            let mut data = self.shared.lock();
            let author = self.human(&mut data, seed::DEFAULT_HUMAN.1);
            match f(&mut data, author) {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(status = e.status, message = %e.message, "simulated user action refused");
                    Vec::new()
                }
            }
        };
        self.shared.deliver(events);
    }

    /// A technician creates a ticket in the UI (company 0, status New).
    pub fn user_create_ticket(
        &self,
        title: &str,
        description: &str,
        queue: &str,
        priority: &str,
    ) -> SimTicket {
        let mut created = None;
        self.act(|data, author| {
            let t = &data.tenant;
            let body = json!({
                "title": title, "description": description, "companyID": 0,
                "status": value_of(&t.statuses, "New").unwrap_or(1),
                "priority": value_of(&t.priorities, priority),
                "queueID": value_of(&t.queues, queue),
            });
            let (id, events) =
                data.create_ticket(body.as_object().unwrap_or(&Map::new()), author)?;
            created = Some(id);
            Ok(events)
        });
        created
            .and_then(|id| self.ticket(id))
            .unwrap_or_else(|| SimTicket {
                id: 0,
                number: String::new(),
                title: title.to_string(),
                description: description.to_string(),
                status: String::new(),
                priority: priority.to_string(),
                queue: queue.to_string(),
                assignee: None,
                issue_type: String::new(),
                sub_issue_type: String::new(),
                udfs: BTreeMap::new(),
                last_modified: Utc::now(),
            })
    }

    fn user_set(&self, ticket_id: i64, field: &'static str, label: &str) {
        self.act(|data, author| {
            let list = data.tenant.ticket_list(field).unwrap_or(&[]);
            let Some(value) = value_of(list, label) else {
                return Err(ApiError::invalid(format!(
                    "unknown {field} label {label:?}"
                )));
            };
            let body = json!({ "id": ticket_id, field: value });
            let (_, events) =
                data.update_ticket(body.as_object().unwrap_or(&Map::new()), author, false)?;
            Ok(events)
        });
    }

    pub fn user_set_status(&self, ticket_id: i64, status: &str) {
        self.user_set(ticket_id, "status", status);
    }
    pub fn user_set_priority(&self, ticket_id: i64, priority: &str) {
        self.user_set(ticket_id, "priority", priority);
    }
    pub fn user_set_queue(&self, ticket_id: i64, queue: &str) {
        self.user_set(ticket_id, "queueID", queue);
    }
    /// A dispatcher assigns the ticket to the technician named `person`
    /// ("Tina Tech", a resource made up on first use), or unassigns it (`None`).
    pub fn user_assign(&self, ticket_id: i64, person: Option<&str>) {
        self.act(|data, author| {
            let resource = person.map(|name| self.human(data, name));
            let role = resource.map(|_| super::resources::DEFAULT_ROLE);
            let body = json!({ "id": ticket_id, "assignedResourceID": resource, "assignedResourceRoleID": role });
            let (_, events) =
                data.update_ticket(body.as_object().unwrap_or(&Map::new()), author, false)?;
            Ok(events)
        });
    }
    /// A person sets the issue type and sub-issue type (labels).
    pub fn user_set_category(&self, ticket_id: i64, issue_type: &str, sub_issue_type: &str) {
        self.user_set(ticket_id, "issueType", issue_type);
        self.user_set(ticket_id, "subIssueType", sub_issue_type);
    }
    /// A person rewrites the ticket's title and description.
    pub fn user_set_text(&self, ticket_id: i64, title: &str, description: &str) {
        self.act(|data, author| {
            let body = json!({ "id": ticket_id, "title": title, "description": description });
            let (_, events) =
                data.update_ticket(body.as_object().unwrap_or(&Map::new()), author, false)?;
            Ok(events)
        });
    }

    /// A person adds a note; returns its id (0 when the ticket does not exist).
    pub fn user_add_note(&self, ticket_id: i64, text: &str, internal: bool, author: &str) -> i64 {
        let mut note_id = 0;
        let events = {
            let mut data = self.shared.lock();
            let resource = self.human(&mut data, author);
            let t = &data.tenant;
            let body = json!({
                "title": text.lines().next().unwrap_or("Note").chars().take(50).collect::<String>(),
                "description": text,
                "noteType": value_of(&t.note_types, "Task Notes").unwrap_or(3),
                "publish": t.publish_for(internal),
            });
            match data.create_note(ticket_id, body.as_object().unwrap_or(&Map::new()), resource) {
                Ok((id, events)) => {
                    note_id = id;
                    events
                }
                Err(e) => {
                    tracing::warn!(message = %e.message, "simulated note refused");
                    Vec::new()
                }
            }
        };
        self.shared.deliver(events);
        note_id
    }

    /// A person changes who can see a note (internal: the "Internal Project
    /// Team" publish value, else "All Autotask Users"). Ignored, with a
    /// warning, when the note does not belong to the ticket.
    pub fn user_set_note_internal(&self, ticket_id: i64, note_id: i64, internal: bool) {
        self.act(|data, author| {
            let body = json!({ "id": note_id, "publish": data.tenant.publish_for(internal) });
            let (_, events) =
                data.update_note(ticket_id, body.as_object().unwrap_or(&Map::new()), author)?;
            Ok(events)
        });
    }
}
