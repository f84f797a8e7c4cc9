//! Records of the configured table as tickets: get, find by marker
//! (`correlation_id`), create (POST) and update (PATCH).
//!
//! Writes translate labels: the state by label, with the fields its data
//! policy needs checked first (a missing one is a permanent error naming
//! it, never a silent skip); the priority as the impact/urgency pair of the
//! connection's matrix (the instance computes the priority back); reference
//! fields by display name.

use std::collections::BTreeMap;

use http::Method;
use psa_connector::{marker, ConnectorError, NewTicket, Ticket, TicketUpdate};
use serde_json::{Map, Value};

use crate::client::ServiceNowConnector;
use crate::refs::reference_table;
use crate::wire::{is_sys_id, parse_time, query_value, Record};

/// Columns every ticket read asks for (`sysparm_fields`).
pub(crate) const READ_FIELDS: &str = "sys_id,number,short_description,description,state,priority,impact,urgency,assignment_group,assigned_to,category,subcategory,caller_id,company,correlation_id,correlation_display,close_code,close_notes,hold_reason,sys_updated_on,sys_mod_count";

/// Named fields a ticket carries in [`Ticket::fields`], shown by label/name.
const SHOWN_FIELDS: &[&str] = &[
    "assignment_group",
    "impact",
    "urgency",
    "caller_id",
    "company",
    "close_code",
    "close_notes",
    "hold_reason",
    "correlation_display",
];

/// Fields whose written text is a choice label.
const CHOICE_WRITES: &[&str] = &["impact", "urgency", "close_code", "hold_reason"];

fn read_params() -> [(&'static str, &'static str); 3] {
    [
        ("sysparm_fields", READ_FIELDS),
        ("sysparm_display_value", "all"),
        ("sysparm_exclude_reference_link", "true"),
    ]
}

impl ServiceNowConnector {
    pub(crate) fn ticket_from(&self, value: &Value) -> Result<Ticket, ConnectorError> {
        let r = Record::new(value, "record")?;
        let id = r.required("sys_id", "record")?;
        let stamp = r.value("sys_updated_on");
        let updated_at = parse_time(&stamp).ok_or_else(|| {
            ConnectorError::InvalidResponse(format!(
                "record {id} has an unreadable sys_updated_on {stamp:?}"
            ))
        })?;
        let status = r.display("state");
        // correlation_id also holds other integrations' references (and, on
        // an internal incident, the MSP's ticket number the bridge wrote back).
        let marker = marker::ticket_marker(Some(&r.value("correlation_id")));
        let queue = Some(r.display("assignment_group")).filter(|q| !q.is_empty());
        let mut fields = BTreeMap::new();
        for f in SHOWN_FIELDS {
            fields.insert(f.to_string(), r.display(f));
        }
        let shown = |f: &str| Some(r.display(f)).filter(|v| !v.is_empty());
        let assignee = psa_connector::Assignee {
            person: Some(r.value("assigned_to"))
                .filter(|v| !v.is_empty())
                .map(|id| psa_connector::Person {
                    id,
                    name: shown("assigned_to"),
                    email: None,
                }),
            group: queue.clone(),
        };
        let category = psa_connector::Category {
            category: shown("category"),
            subcategory: shown("subcategory"),
            item: None,
        };
        Ok(Ticket {
            assignee,
            category,
            number: r.value("number"),
            title: r.value("short_description"),
            description: Some(r.value("description")),
            closed: self.settings.closed_states.contains(&status),
            status,
            priority: r.display("priority"),
            queue,
            marker,
            fields,
            updated_at,
            id,
        })
    }

    pub(crate) async fn read(&self, id: &str) -> Result<Ticket, ConnectorError> {
        if !is_sys_id(id) {
            return Err(ConnectorError::NotFound(format!(
                "{} {id:?}",
                self.settings.table
            )));
        }
        let url = self.table_url(&self.settings.table, Some(id), &read_params())?;
        let response = self.call(Method::GET, url, None).await?;
        let mut ticket = self.ticket_from(&Self::result(&response)?)?;
        self.fill_person(&mut ticket).await?;
        Ok(ticket)
    }

    pub(crate) async fn find_marker(&self, marker: &str) -> Result<Option<Ticket>, ConnectorError> {
        let query = format!(
            "correlation_id={}^ORDERBYsys_created_on",
            query_value(marker)
        );
        let mut params = read_params().to_vec();
        params.push(("sysparm_query", &query));
        params.push(("sysparm_limit", "1"));
        let url = self.table_url(&self.settings.table, None, &params)?;
        let response = self.call(Method::GET, url, None).await?;
        match Self::result(&response)? {
            Value::Array(items) => match items.first() {
                Some(v) => {
                    let mut ticket = self.ticket_from(v)?;
                    self.fill_person(&mut ticket).await?;
                    Ok(Some(ticket))
                }
                None => Ok(None),
            },
            _ => Err(ConnectorError::InvalidResponse(
                "a list answer whose result is not an array".into(),
            )),
        }
    }

    pub(crate) async fn create(&self, new: &NewTicket) -> Result<Ticket, ConnectorError> {
        let mut fields = new.placement.clone();
        fields.extend(new.fields.clone());
        let mut owned = Map::new();
        let fields = self.owner_and_category(&fields, &mut owned).await?;
        let mut body = self
            .write_body(
                Some(&new.title),
                new.status.as_deref(),
                new.priority.as_deref(),
                &fields,
            )
            .await?;
        body.extend(owned);
        body.insert("description".into(), Value::String(new.description.clone()));
        body.insert("correlation_id".into(), Value::String(new.marker.clone()));
        body.entry("correlation_display")
            .or_insert_with(|| Value::String(self.settings.correlation_display.clone()));
        let url = self.table_url(&self.settings.table, None, &read_params())?;
        let response = self
            .call(Method::POST, url, Some(&Value::Object(body)))
            .await?;
        self.ticket_from(&Self::result(&response)?)
    }

    pub(crate) async fn update(
        &self,
        id: &str,
        update: &TicketUpdate,
    ) -> Result<Ticket, ConnectorError> {
        if !is_sys_id(id) {
            return Err(ConnectorError::NotFound(format!(
                "{} {id:?}",
                self.settings.table
            )));
        }
        let mut owned = Map::new();
        let fields = self.owner_and_category(&update.fields, &mut owned).await?;
        let mut body = self
            .write_body(
                update.title.as_deref(),
                update.status.as_deref(),
                update.priority.as_deref(),
                &fields,
            )
            .await?;
        body.extend(owned);
        if body.is_empty() {
            return self.read(id).await;
        }
        let url = self.table_url(&self.settings.table, Some(id), &read_params())?;
        let response = self
            .call(Method::PATCH, url, Some(&Value::Object(body)))
            .await?;
        let mut ticket = self.ticket_from(&Self::result(&response)?)?;
        self.fill_person(&mut ticket).await?;
        Ok(ticket)
    }

    /// The JSON body of a write, with labels translated and the state's
    /// required fields checked.
    async fn write_body(
        &self,
        title: Option<&str>,
        status: Option<&str>,
        priority: Option<&str>,
        fields: &BTreeMap<String, String>,
    ) -> Result<Map<String, Value>, ConnectorError> {
        let choices = self.choices(false).await?;
        let mut body = Map::new();
        if let Some(title) = title {
            body.insert("short_description".into(), Value::String(title.into()));
        }
        if let Some(status) = status {
            let value = choices.require("state", status)?;
            let label = choices
                .labels("state")
                .into_iter()
                .find(|l| choices.value_of("state", l).as_deref() == Some(value.as_str()))
                .unwrap_or_else(|| status.to_string());
            self.check_requirements(&label, fields)?;
            body.insert("state".into(), Value::String(value));
        }
        if let Some(priority) = priority {
            let value = choices.require("priority", priority)?;
            let pair = self
                .settings
                .priority_matrix
                .get(&value)
                .or_else(|| self.settings.priority_matrix.get(priority))
                .ok_or_else(|| {
                    ConnectorError::Config(format!(
                        "priority {priority:?} (value {value}) has no impact/urgency pair in priority_matrix"
                    ))
                })?;
            body.insert("impact".into(), Value::String(pair.impact.to_string()));
            body.insert("urgency".into(), Value::String(pair.urgency.to_string()));
        }
        for (name, text) in fields {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(ConnectorError::Config(format!(
                    "{name:?} is not a ServiceNow field name"
                )));
            }
            let value = match CHOICE_WRITES.iter().find(|f| **f == name.as_str()) {
                Some(field) if !text.is_empty() => choices.require(field, text)?,
                _ => match reference_table(name) {
                    Some(_) if !text.is_empty() => {
                        let field = match name.as_str() {
                            "assignment_group" => "assignment_group",
                            "caller_id" => "caller_id",
                            "assigned_to" => "assigned_to",
                            _ => "company",
                        };
                        self.resolve_reference(field, text).await?
                    }
                    _ => text.clone(),
                },
            };
            body.insert(name.clone(), Value::String(value));
        }
        Ok(body)
    }

    /// The fields the instance's data policy needs for `state` must come
    /// with the write; a missing one is a permanent error naming it.
    fn check_requirements(
        &self,
        state: &str,
        fields: &BTreeMap<String, String>,
    ) -> Result<(), ConnectorError> {
        let Some(required) = self.settings.state_requirements.get(state) else {
            return Ok(());
        };
        let missing: Vec<&str> = required
            .iter()
            .filter(|f| fields.get(*f).is_none_or(|v| v.trim().is_empty()))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(ConnectorError::Config(format!(
            "setting state {state:?} needs {} (the instance's data policy); the mapping supplied no {}: add a fixed value or a rule taking it from the other side",
            missing.join(" and "),
            missing.join(" / ")
        )))
    }
}
