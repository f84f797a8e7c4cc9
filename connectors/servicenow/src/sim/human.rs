//! A person working in the instance's UI (not through the API), and readers
//! tests use to look at the instance. Human changes go through the same
//! rules as API writes (priority matrix, data policies, journal) and fire
//! notifications.

use chrono::Utc;

use super::render::choice_label;
use super::state::{Data, Rec};
use super::ServiceNowSim;

/// The UI user human actions are made as.
const HUMAN: &str = "ivy.internal";

/// An incident as a person sees it (labels and names, not ids).
#[derive(Clone, Debug, PartialEq)]
pub struct SimIncident {
    pub sys_id: String,
    pub number: String,
    pub short_description: String,
    pub description: String,
    pub state: String,
    pub priority: String,
    pub impact: String,
    pub urgency: String,
    pub assignment_group: String,
    pub correlation_id: String,
    pub correlation_display: String,
    pub close_code: String,
    pub close_notes: String,
    pub hold_reason: String,
    pub sys_mod_count: u64,
    pub sys_updated_on: String,
}

/// One journal entry (`sys_journal_field` row).
#[derive(Clone, Debug, PartialEq)]
pub struct SimJournalEntry {
    pub sys_id: String,
    /// `comments` (customer visible) or `work_notes` (internal).
    pub element: String,
    pub value: String,
    pub created_by: String,
    pub created_on: String,
}

fn incident_of(data: &Data, table: &str, rec: &Rec) -> SimIncident {
    let f = |k: &str| rec.get(k).cloned().unwrap_or_default();
    let label = |k: &str| choice_label(data, table, k, &f(k)).unwrap_or_else(|| f(k));
    SimIncident {
        sys_id: f("sys_id"),
        number: f("number"),
        short_description: f("short_description"),
        description: f("description"),
        state: label("state"),
        priority: label("priority"),
        impact: label("impact"),
        urgency: label("urgency"),
        assignment_group: data
            .get("sys_user_group", &f("assignment_group"))
            .and_then(|g| g.get("name").cloned())
            .unwrap_or_default(),
        correlation_id: f("correlation_id"),
        correlation_display: f("correlation_display"),
        close_code: f("close_code"),
        close_notes: f("close_notes"),
        hold_reason: label("hold_reason"),
        sys_mod_count: f("sys_mod_count").parse().unwrap_or(0),
        sys_updated_on: f("sys_updated_on"),
    }
}

/// The value of a choice label of `incident` (labels or values accepted).
fn choice_value(data: &Data, field: &str, label: &str) -> String {
    data.rows("sys_choice")
        .find(|r| {
            r.fields.get("element").map(String::as_str) == Some(field)
                && r.fields.get("label").map(String::as_str) == Some(label)
        })
        .and_then(|r| r.fields.get("value").cloned())
        .unwrap_or_else(|| label.to_string())
}

impl ServiceNowSim {
    fn human_write(
        &self,
        table: &str,
        sys_id: Option<&str>,
        values: Rec,
    ) -> Result<String, String> {
        let result = {
            let mut data = self.shared.lock();
            match sys_id {
                None => data.insert(table, values, HUMAN, Utc::now()),
                Some(id) => data
                    .update(table, id, values, HUMAN, Utc::now())
                    .map(|done| done.map(|()| id.to_string()).unwrap_or_default()),
            }
        };
        match result {
            Ok(id) if id.is_empty() => Err("no such record".into()),
            Ok(id) => {
                let operation = if sys_id.is_none() { "insert" } else { "update" };
                self.shared.announce(table, &id, operation);
                Ok(id)
            }
            Err(refusal) => Err(format!("{}: {}", refusal.message, refusal.detail)),
        }
    }

    /// Creates an incident in the UI; returns it as stored.
    pub fn user_create_incident(&self, short_description: &str, description: &str) -> SimIncident {
        let caller = self.sys_id_of("sys_user", "abel.tuter").unwrap_or_default();
        let values: Rec = [
            ("short_description", short_description),
            ("description", description),
            ("caller_id", caller.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let id = self
            .human_write("incident", None, values)
            .unwrap_or_default();
        self.incident(&id).unwrap_or_else(|| SimIncident {
            sys_id: id,
            ..SimIncident::empty()
        })
    }

    /// Sets fields in the UI by value (labels of choice fields are accepted);
    /// a data policy refusal comes back as its message.
    pub fn user_update(&self, sys_id: &str, fields: &[(&str, &str)]) -> Result<(), String> {
        let values: Rec = {
            let data = self.shared.lock();
            fields
                .iter()
                .map(|(k, v)| {
                    let value = match *k {
                        "state" | "impact" | "urgency" | "hold_reason" => choice_value(&data, k, v),
                        _ => v.to_string(),
                    };
                    (k.to_string(), value)
                })
                .collect()
        };
        self.human_write("incident", Some(sys_id), values)
            .map(|_| ())
    }

    /// Moves an incident to a state by label, with the fields its data policy needs.
    pub fn user_set_state(
        &self,
        sys_id: &str,
        state: &str,
        extra: &[(&str, &str)],
    ) -> Result<(), String> {
        let mut fields = vec![("state", state)];
        fields.extend_from_slice(extra);
        self.user_update(sys_id, &fields)
    }

    /// Assigns an incident to a group by name.
    pub fn user_set_assignment_group(&self, sys_id: &str, group: &str) -> Result<(), String> {
        self.user_update(sys_id, &[("assignment_group", group)])
    }

    /// Adds a comment (customer visible) or a work note (internal); returns the journal entry's sys_id.
    pub fn user_add_comment(&self, sys_id: &str, text: &str, work_note: bool) -> String {
        let element = if work_note { "work_notes" } else { "comments" };
        let _ = self.user_update(sys_id, &[(element, text)]);
        self.journal(sys_id)
            .into_iter()
            .rev()
            .find(|e| e.element == element && e.value == text)
            .map(|e| e.sys_id)
            .unwrap_or_default()
    }

    /// One incident.
    pub fn incident(&self, sys_id: &str) -> Option<SimIncident> {
        let data = self.shared.lock();
        data.get("incident", sys_id)
            .map(|rec| incident_of(&data, "incident", rec))
    }

    /// Every incident, oldest first.
    pub fn incidents(&self) -> Vec<SimIncident> {
        let data = self.shared.lock();
        let mut rows: Vec<_> = data.rows("incident").collect();
        rows.sort_by_key(|r| r.seq);
        rows.iter()
            .map(|r| incident_of(&data, "incident", &r.fields))
            .collect()
    }

    /// The journal of a record, oldest first.
    pub fn journal(&self, sys_id: &str) -> Vec<SimJournalEntry> {
        let data = self.shared.lock();
        let mut rows: Vec<_> = data
            .rows("sys_journal_field")
            .filter(|r| r.fields.get("element_id").map(String::as_str) == Some(sys_id))
            .collect();
        rows.sort_by_key(|r| r.seq);
        rows.iter()
            .map(|r| {
                let f = |k: &str| r.fields.get(k).cloned().unwrap_or_default();
                SimJournalEntry {
                    sys_id: f("sys_id"),
                    element: f("element"),
                    value: f("value"),
                    created_by: f("sys_created_by"),
                    created_on: f("sys_created_on"),
                }
            })
            .collect()
    }
}

impl SimIncident {
    fn empty() -> Self {
        SimIncident {
            sys_id: String::new(),
            number: String::new(),
            short_description: String::new(),
            description: String::new(),
            state: String::new(),
            priority: String::new(),
            impact: String::new(),
            urgency: String::new(),
            assignment_group: String::new(),
            correlation_id: String::new(),
            correlation_display: String::new(),
            close_code: String::new(),
            close_notes: String::new(),
            hold_reason: String::new(),
            sys_mod_count: 0,
            sys_updated_on: String::new(),
        }
    }
}
