//! Simulated ticket writes: validation with Autotask-like messages (required
//! fields, picklists, queue-or-resource), ticket numbers, change tracking and
//! the webhook events each change raises.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::events::Outgoing;
use super::filter::date;
use super::state::{get_ci, now_ms, value_of, Data, PickValue, TicketRec, TICKET_FIELDS};
use super::ApiError;

const MAX_TITLE: usize = 255;
const MAX_DESCRIPTION: usize = 8000;

fn int(body: &Map<String, Value>, key: &str) -> Result<Option<Option<i64>>, ApiError> {
    match get_ci(body, key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Number(n)) => n.as_i64().map(|n| Some(Some(n))).ok_or_else(|| {
            ApiError::invalid(format!(
                "Error converting value {n} to type 'System.Int32'. Path '{key}'."
            ))
        }),
        Some(Value::String(s)) => s.trim().parse().map(|n| Some(Some(n))).map_err(|_| {
            ApiError::invalid(format!(
                "Could not convert string to integer: {s}. Path '{key}'."
            ))
        }),
        Some(other) => Err(ApiError::invalid(format!(
            "Unexpected value {other} for '{key}'."
        ))),
    }
}

fn text(
    body: &Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<Option<String>>, ApiError> {
    match get_ci(body, key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.chars().count() > max => Err(ApiError::invalid(format!(
            "The value for field {key} exceeds the maximum length of {max} characters."
        ))),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(other) => Ok(Some(Some(other.to_string()))),
    }
}

fn time(body: &Map<String, Value>, key: &str) -> Result<Option<Option<DateTime<Utc>>>, ApiError> {
    match get_ci(body, key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => date(v).map(|t| Some(Some(t))).ok_or_else(|| {
            ApiError::invalid(format!("Could not convert {v} to a date. Path '{key}'."))
        }),
    }
}

/// 500 unless `value` is an active value of the picklist of `field`.
pub(crate) fn check_pick(list: &[PickValue], field: &str, value: i64) -> Result<(), ApiError> {
    if list.iter().any(|p| p.value == value && p.active) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Value {value} is not a valid picklist value for field {field}."
        )))
    }
}

/// 500 unless `id` names one of `entities` (a company, a resource).
fn check_exists<V>(
    entities: &BTreeMap<i64, V>,
    field: &str,
    entity: &str,
    id: i64,
) -> Result<(), ApiError> {
    if entities.contains_key(&id) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Invalid {field}: no {entity} with id {id} exists."
        )))
    }
}

/// The fields a ticket must have: on `POST` and on a whole-record `PUT`.
const REQUIRED: [&str; 4] = ["companyID", "title", "status", "priority"];

fn check_required(body: &Map<String, Value>) -> Result<(), ApiError> {
    let missing: Vec<&str> = REQUIRED
        .into_iter()
        .filter(|k| get_ci(body, k).is_none_or(Value::is_null))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Missing required field(s): {}.",
            missing.join(", ")
        )))
    }
}

/// The value of a field that may be left out but not set to null.
fn not_null<T>(field: &str, value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::invalid(format!("The field {field} cannot be null.")))
}

impl Data {
    fn check_pick(&self, field: &str, value: Option<i64>) -> Result<(), ApiError> {
        match (value, self.tenant.ticket_list(field)) {
            (Some(value), Some(list)) => check_pick(list, field, value),
            _ => Ok(()),
        }
    }

    /// Applies the writable fields present in `body`; returns the names that changed.
    fn apply(
        &self,
        t: &mut TicketRec,
        body: &Map<String, Value>,
    ) -> Result<Vec<&'static str>, ApiError> {
        let before = t.clone();
        if let Some(title) = text(body, "title", MAX_TITLE)? {
            t.title = title.unwrap_or_default();
        }
        if let Some(d) = text(body, "description", MAX_DESCRIPTION)? {
            t.description = d;
        }
        for (field, slot) in [("status", &mut t.status), ("priority", &mut t.priority)] {
            if let Some(v) = int(body, field)? {
                let v = not_null(field, v)?;
                self.check_pick(field, Some(v))?;
                *slot = v;
            }
        }
        for (field, slot) in [
            ("queueID", &mut t.queue_id),
            ("ticketType", &mut t.ticket_type),
            ("source", &mut t.source),
            ("issueType", &mut t.issue_type),
            ("subIssueType", &mut t.sub_issue_type),
        ] {
            if let Some(v) = int(body, field)? {
                self.check_pick(field, v)?;
                *slot = v;
            }
        }
        if let Some(v) = int(body, "companyID")? {
            let v = not_null("companyID", v)?;
            check_exists(&self.tenant.companies, "companyID", "Company", v)?;
            t.company_id = v;
        }
        if let Some(v) = int(body, "contactID")? {
            t.contact_id = v;
        }
        if let Some(v) = int(body, "assignedResourceID")? {
            if let Some(r) = v {
                check_exists(&self.tenant.resources, "assignedResourceID", "Resource", r)?;
            }
            t.assigned_resource_id = v;
        }
        if let Some(v) = int(body, "assignedResourceRoleID")? {
            t.assigned_resource_role_id = v;
        }
        if let Some(v) = time(body, "dueDateTime")? {
            t.due = v;
        }
        match get_ci(body, "userDefinedFields") {
            None | Some(Value::Null) => {}
            Some(Value::Array(udfs)) => {
                for udf in udfs {
                    let Some(udf) = udf.as_object() else {
                        return Err(ApiError::invalid(
                            "userDefinedFields entries must be objects.",
                        ));
                    };
                    let name = get_ci(udf, "name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let Some(known) = self
                        .tenant
                        .udfs
                        .iter()
                        .find(|u| u.eq_ignore_ascii_case(name))
                    else {
                        return Err(ApiError::invalid(format!(
                            "Unable to find the user-defined field '{name}'."
                        )));
                    };
                    match get_ci(udf, "value") {
                        None | Some(Value::Null) => {
                            t.udfs.remove(known);
                        }
                        Some(Value::String(s)) if s.is_empty() => {
                            t.udfs.remove(known);
                        }
                        Some(Value::String(s)) => {
                            t.udfs.insert(known.clone(), s.clone());
                        }
                        Some(other) => {
                            t.udfs.insert(known.clone(), other.to_string());
                        }
                    }
                }
            }
            Some(_) => return Err(ApiError::invalid("userDefinedFields must be an array.")),
        }
        if t.assigned_resource_id.is_some() != t.assigned_resource_role_id.is_some() {
            return Err(ApiError::invalid(
                "When assigning a Resource, you must assign both a assignedResourceID and assignedResourceRoleID.",
            ));
        }
        if t.queue_id.is_none() && t.assigned_resource_id.is_none() {
            return Err(ApiError::invalid(
                "A ticket must have either a queueID or an assignedResourceID and assignedResourceRoleID.",
            ));
        }
        if t.title.trim().is_empty() {
            return Err(ApiError::invalid("The field title is required."));
        }
        let mut changed: Vec<&'static str> = Vec::new();
        let b = &before;
        let checks: [(&'static str, bool); 14] = [
            ("issueType", b.issue_type != t.issue_type),
            ("subIssueType", b.sub_issue_type != t.sub_issue_type),
            ("title", b.title != t.title),
            ("description", b.description != t.description),
            ("status", b.status != t.status),
            ("priority", b.priority != t.priority),
            ("queueID", b.queue_id != t.queue_id),
            ("companyID", b.company_id != t.company_id),
            ("contactID", b.contact_id != t.contact_id),
            (
                "assignedResourceID",
                b.assigned_resource_id != t.assigned_resource_id,
            ),
            (
                "assignedResourceRoleID",
                b.assigned_resource_role_id != t.assigned_resource_role_id,
            ),
            ("ticketType", b.ticket_type != t.ticket_type),
            ("source", b.source != t.source),
            ("dueDateTime", b.due != t.due),
        ];
        changed.extend(checks.iter().filter(|c| c.1).map(|c| c.0));
        if b.udfs != t.udfs {
            changed.push("userDefinedFields");
        }
        Ok(changed)
    }

    fn next_number(&mut self, now: DateTime<Utc>) -> String {
        let day = now.format("%Y%m%d").to_string();
        let n = self.numbers_per_day.entry(day.clone()).or_insert(0);
        *n += 1;
        format!("T{day}.{:04}", *n)
    }

    /// `POST /Tickets`.
    pub(crate) fn create_ticket(
        &mut self,
        body: &Map<String, Value>,
        author: i64,
    ) -> Result<(i64, Vec<Outgoing>), ApiError> {
        check_required(body)?;
        let now = now_ms();
        let mut t = TicketRec {
            id: 0,
            number: String::new(),
            title: String::new(),
            description: None,
            status: 0,
            priority: 0,
            queue_id: None,
            company_id: 0,
            contact_id: None,
            assigned_resource_id: None,
            assigned_resource_role_id: None,
            ticket_type: self
                .tenant
                .ticket_types
                .iter()
                .find(|p| p.default)
                .map(|p| p.value),
            source: None,
            issue_type: None,
            sub_issue_type: None,
            due: Some(now + chrono::Duration::days(1)),
            created: now,
            creator_resource_id: author,
            last_activity: now,
            last_tracked: now,
            completed: None,
            udfs: Default::default(),
        };
        self.apply(&mut t, body)?;
        self.next_ticket += 1;
        t.id = self.next_ticket;
        t.number = self.next_number(now);
        if self.is_complete(t.status) {
            t.completed = Some(now);
        }
        let id = t.id;
        self.tickets.insert(id, t);
        let events = self.ticket_events(id, "Create", &[], author);
        Ok((id, events))
    }

    fn is_complete(&self, status: i64) -> bool {
        value_of(&self.tenant.statuses, "Complete") == Some(status) || status == 5
    }

    /// `PATCH /Tickets` (partial) and `PUT /Tickets` (`full`: absent optional fields are cleared).
    pub(crate) fn update_ticket(
        &mut self,
        body: &Map<String, Value>,
        author: i64,
        full: bool,
    ) -> Result<(i64, Vec<Outgoing>), ApiError> {
        let id = int(body, "id")?
            .flatten()
            .ok_or_else(|| ApiError::invalid("The id of the entity to update is required."))?;
        let Some(current) = self.tickets.get(&id) else {
            return Err(ApiError::no_record("update"));
        };
        let mut t = current.clone();
        if full {
            check_required(body)?;
            let writable = TICKET_FIELDS.iter().filter(|f| !f.3).map(|f| f.0);
            let mut cleared = body.clone();
            for name in writable {
                if get_ci(body, name).is_none() && !REQUIRED.contains(&name) {
                    cleared.insert(name.to_string(), Value::Null);
                }
            }
            return self.finish_update(id, t, &cleared, author);
        }
        let changed = self.apply(&mut t, body)?;
        self.store_update(id, t, changed, author)
    }

    fn finish_update(
        &mut self,
        id: i64,
        mut t: TicketRec,
        body: &Map<String, Value>,
        author: i64,
    ) -> Result<(i64, Vec<Outgoing>), ApiError> {
        let changed = self.apply(&mut t, body)?;
        self.store_update(id, t, changed, author)
    }

    fn store_update(
        &mut self,
        id: i64,
        mut t: TicketRec,
        changed: Vec<&'static str>,
        author: i64,
    ) -> Result<(i64, Vec<Outgoing>), ApiError> {
        if changed.is_empty() {
            return Ok((id, Vec::new()));
        }
        let now = now_ms();
        t.last_activity = now;
        t.last_tracked = now;
        if changed.contains(&"status") {
            t.completed = self.is_complete(t.status).then_some(now);
        }
        self.tickets.insert(id, t);
        let events = self.ticket_events(id, "Update", &changed, author);
        Ok((id, events))
    }

    /// Marks a ticket touched by a note (see `create_note`).
    pub(crate) fn touch_ticket(&mut self, id: i64, author: i64) -> Vec<Outgoing> {
        let now = now_ms();
        let tracked = self.notes_touch_tracked;
        if let Some(t) = self.tickets.get_mut(&id) {
            t.last_activity = now;
            if tracked {
                t.last_tracked = now;
            }
        }
        self.ticket_events(
            id,
            "Update",
            &["lastActivityDate", "lastTrackedModificationDateTime"],
            author,
        )
    }
}
