//! Ticket reads and writes: label ↔ picklist translation, UDFs (the marker
//! lives in one), create / partial update / find by marker.

use std::collections::BTreeMap;

use http::Method;
use psa_connector::{marker, ConnectorError, NewTicket, Ticket, TicketUpdate};
use serde_json::{json, Map, Value};

use crate::client::{AutotaskConnector, MAX_RECORDS};
use crate::errors::missing_on_write;
use crate::picklists::{is_closed_status, EntityPicklists};
use crate::wire::{self, ItemIdResponse, WireTicket};

/// Autotask's limits on ticket text.
pub(crate) const MAX_TITLE_CHARS: usize = 255;
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 8000;

/// Placement keys `create_ticket` understands.
const PLACEMENT_KEYS: &str = "queue, company_id, contact_id, ticket_type, source, assigned_resource_id, assigned_resource_role_id";

fn truncate(text: &str, max: usize, what: &str) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    tracing::warn!(max, "{what} truncated to Autotask's limit");
    text.chars().take(max).collect()
}

fn parse_int(key: &str, value: &str) -> Result<i64, ConnectorError> {
    value.trim().parse::<i64>().map_err(|_| {
        ConnectorError::Config(format!("placement {key} must be an integer, got {value:?}"))
    })
}

/// Converts a picklist value (a string in entityInformation) to the integer tickets carry.
fn pick_int(value: &str, kind: &str) -> Result<Value, ConnectorError> {
    value.parse::<i64>().map(Value::from).map_err(|_| {
        ConnectorError::InvalidResponse(format!("{kind} value {value:?} is not an integer"))
    })
}

impl AutotaskConnector {
    pub(crate) fn to_ticket(
        &self,
        lists: &EntityPicklists,
        wire: WireTicket,
    ) -> Result<Ticket, ConnectorError> {
        let status_value = wire.status.map(|s| s.to_string()).unwrap_or_default();
        let statuses = lists.get("status");
        let status = statuses
            .label(&status_value)
            .map(str::to_string)
            .unwrap_or_else(|| status_value.clone());
        let priority_value = wire.priority.map(|p| p.to_string()).unwrap_or_default();
        let priority = lists
            .get("priority")
            .label(&priority_value)
            .map(str::to_string)
            .unwrap_or(priority_value);
        let queue = wire.queue_id.map(|q| {
            let q = q.to_string();
            lists
                .get("queueID")
                .label(&q)
                .map(str::to_string)
                .unwrap_or(q)
        });
        let label = |field: &str, value: Option<i64>| {
            value.map(|v| {
                let v = v.to_string();
                lists.get(field).label(&v).map(str::to_string).unwrap_or(v)
            })
        };
        let assignee = psa_connector::Assignee {
            person: wire.assigned_resource_id.map(|id| psa_connector::Person {
                id: id.to_string(),
                name: None,
                email: None,
            }),
            group: queue.clone(),
        };
        let category = psa_connector::Category {
            category: label("issueType", wire.issue_type),
            subcategory: label("subIssueType", wire.sub_issue_type),
            item: None,
        };
        let mut fields = BTreeMap::new();
        let mut marker = None;
        for udf in &wire.udfs {
            let value = wire::udf_text(&udf.value);
            if udf.name == self.settings.marker_udf {
                marker = marker::ticket_marker(value.as_deref());
            }
            fields.insert(format!("udf:{}", udf.name), value.unwrap_or_default());
        }
        if let Some(company) = wire.company_id {
            fields.insert("companyID".to_string(), company.to_string());
        }
        let updated_at = [&wire.last_tracked, &wire.last_activity, &wire.create_date]
            .into_iter()
            .flatten()
            .find_map(|t| wire::parse_time(t))
            .ok_or_else(|| {
                ConnectorError::InvalidResponse(format!(
                    "ticket {} has no readable lastTrackedModificationDateTime",
                    wire.id
                ))
            })?;
        Ok(Ticket {
            assignee,
            category,
            id: wire.id.to_string(),
            number: wire.ticket_number.unwrap_or_default(),
            title: wire.title.unwrap_or_default(),
            description: Some(wire.description.unwrap_or_default()),
            closed: is_closed_status(&status_value, &status),
            status,
            priority,
            queue,
            marker,
            fields,
            updated_at,
        })
    }

    pub(crate) async fn read_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        let numeric: i64 = id
            .trim()
            .parse()
            .map_err(|_| ConnectorError::NotFound(format!("ticket {id:?} (not an Autotask id)")))?;
        let item = self
            .get_item(&format!("Tickets/{numeric}"), &format!("ticket {numeric}"))
            .await?;
        let wire: WireTicket = wire::from_item("ticket", item)?;
        let lists = self.ticket_lists(false).await?;
        let mut ticket = self.to_ticket(&lists, wire)?;
        self.fill_person(&mut ticket).await?;
        Ok(ticket)
    }

    /// [`Self::pick`] for the owner and category picklists.
    pub(crate) async fn pick_label(
        &self,
        field: &str,
        kind: &'static str,
        label: &str,
    ) -> Result<Value, ConnectorError> {
        self.pick(field, kind, label).await
    }

    /// Looks a label up; an unknown label triggers one picklist refresh first.
    async fn pick(
        &self,
        field: &str,
        kind: &'static str,
        label: &str,
    ) -> Result<Value, ConnectorError> {
        let lists = self.ticket_lists(false).await?;
        if let Some(v) = lists.get(field).value(label) {
            return pick_int(v, kind);
        }
        let lists = self.ticket_lists(true).await?;
        let list = lists.get(field);
        pick_int(list.require(kind, label)?, kind)
    }

    fn udf_entries(
        &self,
        fields: &BTreeMap<String, String>,
        allow_queue: bool,
        out: &mut Vec<Value>,
    ) -> Result<Option<String>, ConnectorError> {
        let mut queue = None;
        for (key, value) in fields {
            if let Some(name) = key.strip_prefix("udf:") {
                out.push(json!({"name": name, "value": value}));
            } else if key == "queue" && allow_queue {
                queue = Some(value.clone());
            } else {
                return Err(ConnectorError::Config(format!(
                    "Autotask cannot write field {key:?}; use \"udf:<Name>\" for user-defined fields{}",
                    if allow_queue { " or \"queue\"" } else { "" }
                )));
            }
        }
        Ok(queue)
    }

    pub(crate) async fn create(&self, new: &NewTicket) -> Result<Ticket, ConnectorError> {
        let mut body = Map::new();
        body.insert(
            "title".into(),
            truncate(&new.title, MAX_TITLE_CHARS, "title").into(),
        );
        body.insert(
            "description".into(),
            truncate(&new.description, MAX_DESCRIPTION_CHARS, "description").into(),
        );
        let lists = self.ticket_lists(false).await?;
        let status = match &new.status {
            Some(label) => self.pick("status", "status", label).await?,
            None => {
                let statuses = lists.get("status");
                match statuses.default_value().or_else(|| statuses.value("New")) {
                    Some(v) => pick_int(v, "status")?,
                    None => {
                        return Err(ConnectorError::Config(
                            "no status given and the tenant has no default status".into(),
                        ))
                    }
                }
            }
        };
        body.insert("status".into(), status);
        let priority = match &new.priority {
            Some(label) => self.pick("priority", "priority", label).await?,
            None => match lists.get("priority").default_value() {
                Some(v) => pick_int(v, "priority")?,
                None => self.pick("priority", "priority", "Medium").await?,
            },
        };
        body.insert("priority".into(), priority);
        body.insert("companyID".into(), 0.into());
        for (key, value) in &new.placement {
            match key.as_str() {
                "queue" => {
                    let v = self.pick("queueID", "queue", value).await?;
                    body.insert("queueID".into(), v);
                }
                "ticket_type" => {
                    let v = self.pick("ticketType", "ticket_type", value).await?;
                    body.insert("ticketType".into(), v);
                }
                "source" => {
                    let v = self.pick("source", "source", value).await?;
                    body.insert("source".into(), v);
                }
                "company_id" => {
                    body.insert("companyID".into(), parse_int(key, value)?.into());
                }
                "contact_id" => {
                    body.insert("contactID".into(), parse_int(key, value)?.into());
                }
                "assigned_resource_id" => {
                    body.insert("assignedResourceID".into(), parse_int(key, value)?.into());
                }
                "assigned_resource_role_id" => {
                    body.insert(
                        "assignedResourceRoleID".into(),
                        parse_int(key, value)?.into(),
                    );
                }
                other => {
                    return Err(ConnectorError::Config(format!(
                        "unknown Autotask placement key {other:?}; valid keys: {PLACEMENT_KEYS}"
                    )))
                }
            }
        }
        let rest = self.owner_and_category(&new.fields, &mut body).await?;
        let mut udfs = Vec::new();
        self.udf_entries(&rest, false, &mut udfs)?;
        let marker_udf = &self.settings.marker_udf;
        udfs.retain(|u| u.get("name").and_then(Value::as_str) != Some(marker_udf.as_str()));
        udfs.push(json!({"name": self.settings.marker_udf, "value": new.marker}));
        body.insert("userDefinedFields".into(), Value::Array(udfs));
        let created: ItemIdResponse = self
            .call(Method::POST, "Tickets", Some(&Value::Object(body)))
            .await?
            .json()?;
        tracing::info!(ticket = created.item_id, "autotask ticket created");
        self.read_ticket(&created.item_id.to_string()).await
    }

    pub(crate) async fn update(
        &self,
        id: &str,
        update: &TicketUpdate,
    ) -> Result<(), ConnectorError> {
        let numeric: i64 = id
            .trim()
            .parse()
            .map_err(|_| ConnectorError::NotFound(format!("ticket {id:?} (not an Autotask id)")))?;
        let mut body = Map::new();
        body.insert("id".into(), numeric.into());
        if let Some(title) = &update.title {
            body.insert(
                "title".into(),
                truncate(title, MAX_TITLE_CHARS, "title").into(),
            );
        }
        if let Some(status) = &update.status {
            body.insert(
                "status".into(),
                self.pick("status", "status", status).await?,
            );
        }
        if let Some(priority) = &update.priority {
            body.insert(
                "priority".into(),
                self.pick("priority", "priority", priority).await?,
            );
        }
        let rest = self.owner_and_category(&update.fields, &mut body).await?;
        let mut udfs = Vec::new();
        if let Some(queue) = self.udf_entries(&rest, true, &mut udfs)? {
            body.insert(
                "queueID".into(),
                self.pick("queueID", "queue", &queue).await?,
            );
        }
        if !udfs.is_empty() {
            body.insert("userDefinedFields".into(), Value::Array(udfs));
        }
        if body.len() == 1 {
            return Ok(());
        }
        match self
            .call(Method::PATCH, "Tickets", Some(&Value::Object(body)))
            .await
        {
            // Autotask says "No matching records found" (HTTP 500) for a missing ticket.
            Err(e) if missing_on_write(&e) => {
                Err(ConnectorError::NotFound(format!("ticket {numeric}")))
            }
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        }
    }

    pub(crate) async fn find_marker(&self, marker: &str) -> Result<Option<Ticket>, ConnectorError> {
        let body = json!({
            "filter": [{"op": "eq", "field": self.settings.marker_udf, "value": marker, "udf": true}],
            "MaxRecords": MAX_RECORDS,
        });
        let items = self.query_all("Tickets/query", Some(&body)).await?;
        let lists = self.ticket_lists(false).await?;
        let mut found = Vec::new();
        for item in items {
            let wire: WireTicket = wire::from_item("ticket", item)?;
            let mut ticket = self.to_ticket(&lists, wire)?;
            self.fill_person(&mut ticket).await?;
            found.push(ticket);
        }
        // The query matches case-insensitively; the marker must match exactly.
        found.retain(|t| t.marker.as_deref() == Some(marker));
        found.sort_by_key(|t| t.id.parse::<i64>().unwrap_or(i64::MAX));
        if found.len() > 1 {
            tracing::warn!(
                marker,
                count = found.len(),
                "several Autotask tickets carry one marker; using the oldest"
            );
        }
        Ok(found.into_iter().next())
    }
}
