//! Issue reads and writes: explicit `fields` on every read, the ticket
//! model from an issue bean (ADF description as text, status category
//! `done` = closed, marker from the `psa-bridge` issue property), field
//! values by name through the field catalogue, create (marker set
//! atomically as an issue property), edit, and find by marker via JQL.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use http::Method;
use psa_connector::{ConnectorError, NewTicket, Ticket, TicketUpdate};
use serde_json::{json, Map, Value};

use crate::client::{seg, FieldInfo, JiraConnector};
use crate::{adf, MARKER_PROPERTY};

/// Fields every read asks for.
pub(crate) const BASE_FIELDS: &str =
    "summary,description,status,priority,updated,created,project,issuetype,resolution,labels,assignee,components";

/// Jira's limit on a summary.
pub const SUMMARY_MAX_CHARS: usize = 255;

/// Parses Jira's `2026-01-18T23:45:00.000+0100`.
pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A field value as text: names, values, ADF rendered, arrays joined.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(","),
        v if adf::is_doc(v) => adf::to_text_or_flat(v),
        Value::Object(o) => ["name", "value", "displayName", "key", "id"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
        other => other.to_string(),
    }
}

/// A text value as the field's schema wants it written.
pub(crate) fn value_for(field: &FieldInfo, text: &str) -> Result<Value, ConnectorError> {
    let schema = field.schema.clone().unwrap_or(Value::Null);
    let kind = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string");
    let custom = schema.get("custom").and_then(Value::as_str).unwrap_or("");
    let items = schema.get("items").and_then(Value::as_str).unwrap_or("");
    let list = || text.split(',').map(str::trim).filter(|s| !s.is_empty());
    Ok(match kind {
        _ if text.trim().is_empty() && kind != "string" => Value::Null,
        "string"
            if custom.ends_with(":textarea")
                || field.id == "description"
                || field.id == "environment" =>
        {
            adf::from_text(text)
        }
        "string" | "date" | "datetime" => json!(text),
        "number" => text.trim().parse::<f64>().map(|n| json!(n)).map_err(|_| {
            ConnectorError::UnknownValue {
                kind: "number",
                label: text.to_string(),
                valid: format!("a number for field {}", field.name),
            }
        })?,
        "option" => json!({"value": text}),
        "user" => json!({"accountId": text}),
        "array" if items == "string" => json!(list().collect::<Vec<_>>()),
        "array" if items == "option" => {
            json!(list().map(|v| json!({"value": v})).collect::<Vec<_>>())
        }
        "array" => json!(list().map(|v| json!({"name": v})).collect::<Vec<_>>()),
        _ => json!({"name": text}),
    })
}

impl JiraConnector {
    /// Field ids to read besides [`BASE_FIELDS`].
    async fn extra_fields(&self) -> Result<Vec<FieldInfo>, ConnectorError> {
        let mut out = Vec::new();
        for name in &self.settings.read_fields {
            out.push(self.field(name).await?);
        }
        Ok(out)
    }

    pub(crate) async fn field_list(&self) -> Result<(String, Vec<FieldInfo>), ConnectorError> {
        let extra = self.extra_fields().await?;
        let mut list = BASE_FIELDS.to_string();
        for f in &extra {
            list.push(',');
            list.push_str(&f.id);
        }
        Ok((list, extra))
    }

    /// The ticket model of an issue bean.
    pub(crate) async fn to_ticket(
        &self,
        bean: &Value,
        extra: &[FieldInfo],
    ) -> Result<Ticket, ConnectorError> {
        let bad = |what: &str| {
            ConnectorError::InvalidResponse(format!(
                "issue without {what}: {}",
                psa_connector::http::snippet(bean.to_string().as_bytes())
            ))
        };
        let id = bean
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("id"))?;
        let key = bean.get("key").and_then(Value::as_str).unwrap_or(id);
        let f = bean.get("fields").ok_or_else(|| bad("fields"))?;
        let status = f.get("status").ok_or_else(|| bad("status"))?;
        let updated = f
            .get("updated")
            .and_then(Value::as_str)
            .and_then(parse_time)
            .ok_or_else(|| bad("a readable updated time"))?;
        let description = match f.get("description") {
            None | Some(Value::Null) => String::new(),
            Some(v) => value_text(v),
        };
        let mut fields = BTreeMap::new();
        fields.insert("key".to_string(), key.to_string());
        for (name, id) in [
            ("resolution", "resolution"),
            ("labels", "labels"),
            ("issuetype", "issuetype"),
        ] {
            fields.insert(
                name.to_string(),
                f.get(id).map(value_text).unwrap_or_default(),
            );
        }
        for x in extra {
            fields.insert(
                x.name.clone(),
                f.get(&x.id).map(value_text).unwrap_or_default(),
            );
        }
        let assignee = psa_connector::Assignee {
            person: crate::people::person_of(f.get("assignee")),
            group: None,
        };
        let first_component = f
            .get("components")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let category = psa_connector::Category {
            category: f
                .pointer("/issuetype/name")
                .and_then(Value::as_str)
                .map(str::to_string),
            subcategory: first_component,
            item: None,
        };
        Ok(Ticket {
            assignee,
            category,
            id: id.to_string(),
            number: key.to_string(),
            title: f
                .get("summary")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            description: Some(description),
            status: status
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            priority: f.get("priority").map(value_text).unwrap_or_default(),
            queue: f
                .pointer("/project/key")
                .and_then(Value::as_str)
                .map(str::to_string),
            closed: status
                .pointer("/statusCategory/key")
                .and_then(Value::as_str)
                == Some("done"),
            marker: bean
                .pointer(&format!("/properties/{MARKER_PROPERTY}/marker"))
                .and_then(Value::as_str)
                .map(str::to_string),
            fields,
            updated_at: updated,
        })
    }

    /// The raw issue bean (explicit fields, the marker property).
    pub(crate) async fn raw_issue(&self, id: &str, fields: &str) -> Result<Value, ConnectorError> {
        if id.trim().is_empty() || id.contains('/') {
            return Err(ConnectorError::NotFound(format!("issue {id:?}")));
        }
        let query = [
            ("fields", fields.to_string()),
            ("properties", MARKER_PROPERTY.to_string()),
        ];
        match self
            .get_json(&format!("rest/api/3/issue/{}", seg(id)), &query)
            .await
        {
            Err(ConnectorError::Http { status: 404, .. }) => {
                Err(ConnectorError::NotFound(format!("issue {id}")))
            }
            other => other,
        }
    }

    pub(crate) async fn do_get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        let (fields, extra) = self.field_list().await?;
        let bean = self.raw_issue(id, &fields).await?;
        self.to_ticket(&bean, &extra).await
    }

    pub(crate) async fn do_find_by_marker(
        &self,
        marker: &str,
    ) -> Result<Option<Ticket>, ConnectorError> {
        let jql = format!(
            "project = {} AND issue.property[{MARKER_PROPERTY}].marker = {} ORDER BY created ASC",
            self.settings.project,
            crate::search::quote(marker)
        );
        let (fields, extra) = self.field_list().await?;
        let beans = self.search(&jql, &fields, 10).await?;
        let mut found = Vec::new();
        for bean in &beans {
            let t = self.to_ticket(bean, &extra).await?;
            if t.marker.as_deref() == Some(marker) {
                found.push(t);
            }
        }
        if found.len() > 1 {
            tracing::warn!(
                marker,
                count = found.len(),
                "several issues carry one marker; adopting the oldest"
            );
        }
        Ok(found.into_iter().next())
    }

    /// `fields` entries for named fields, by the catalogue's schema.
    pub(crate) async fn named_fields(
        &self,
        named: &BTreeMap<String, String>,
        out: &mut Map<String, Value>,
    ) -> Result<(), ConnectorError> {
        for (name, text) in named {
            let field = self.field(name).await?;
            out.insert(field.id.clone(), value_for(&field, text)?);
        }
        Ok(())
    }

    pub(crate) async fn do_create_ticket(&self, new: &NewTicket) -> Result<Ticket, ConnectorError> {
        let project = self.project().await?;
        let wanted_type = new
            .placement
            .get("issuetype")
            .or(self.settings.issue_type.as_ref());
        let issue_type = match wanted_type {
            Some(name) => project
                .issue_types
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| ConnectorError::UnknownValue {
                    kind: "issue type",
                    label: name.clone(),
                    valid: project
                        .issue_types
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?,
            None => project.issue_types.first().ok_or_else(|| {
                ConnectorError::Config(format!("project {} has no issue types", project.key))
            })?,
        };
        let mut fields = Map::new();
        fields.insert("project".into(), json!({"key": project.key}));
        fields.insert("issuetype".into(), json!({"id": issue_type.id}));
        fields.insert(
            "summary".into(),
            json!(new
                .title
                .chars()
                .take(SUMMARY_MAX_CHARS)
                .collect::<String>()),
        );
        fields.insert("description".into(), adf::from_text(&new.description));
        if let Some(p) = &new.priority {
            fields.insert("priority".into(), json!({"id": self.priority_id(p).await?}));
        }
        let named = self
            .owner_and_category(None, &new.fields, &mut fields)
            .await?;
        self.named_fields(&named, &mut fields).await?;
        if let Some(status) = &new.status {
            // Checked before anything is written: an unknown label is no create.
            self.status_known(status).await?;
        }
        let body = json!({
            "fields": fields,
            "properties": [{"key": MARKER_PROPERTY, "value": {"marker": new.marker}}],
        });
        let created: Value = self
            .write(Method::POST, "rest/api/3/issue", &body, "project")
            .await?
            .json()?;
        let id = created
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ConnectorError::InvalidResponse(format!("create answered without an id: {created}"))
            })?
            .to_string();
        if let Some(status) = &new.status {
            self.move_to_status(&id, status, &BTreeMap::new()).await?;
        }
        self.do_get_ticket(&id).await
    }

    pub(crate) async fn do_update_ticket(
        &self,
        id: &str,
        update: &TicketUpdate,
    ) -> Result<(), ConnectorError> {
        if update.is_empty() {
            return Ok(());
        }
        let mut fields = Map::new();
        if let Some(title) = &update.title {
            fields.insert(
                "summary".into(),
                json!(title.chars().take(SUMMARY_MAX_CHARS).collect::<String>()),
            );
        }
        if let Some(p) = &update.priority {
            fields.insert("priority".into(), json!({"id": self.priority_id(p).await?}));
        }
        let owned = self
            .owner_and_category(Some(id), &update.fields, &mut fields)
            .await?;
        // Fields a transition screen takes go with the status.
        let mut for_edit = owned.clone();
        let mut for_transition = BTreeMap::new();
        if let Some(status) = &update.status {
            self.status_known(status).await?;
            for name in owned.keys() {
                if self.is_transition_field(name).await {
                    if let Some(v) = for_edit.remove(name) {
                        for_transition.insert(name.clone(), v);
                    }
                }
            }
        }
        self.named_fields(&for_edit, &mut fields).await?;
        if !fields.is_empty() {
            let path = format!("rest/api/3/issue/{}", seg(id));
            self.write(
                Method::PUT,
                &path,
                &json!({"fields": fields}),
                &format!("issue {id}"),
            )
            .await?;
        }
        if let Some(status) = &update.status {
            self.move_to_status(id, status, &for_transition).await?;
        }
        Ok(())
    }

    /// Fields only a transition screen sets (not editable on the issue).
    async fn is_transition_field(&self, name: &str) -> bool {
        matches!(name.to_ascii_lowercase().as_str(), "resolution")
            || self.field(name).await.is_ok_and(|f| f.id == "resolution")
    }

    /// An error unless `label` is one of the site's statuses.
    pub(crate) async fn status_known(&self, label: &str) -> Result<(), ConnectorError> {
        for refresh in [false, true] {
            let list = self.statuses(refresh).await?;
            if list.iter().any(|s| s.name == label) {
                return Ok(());
            }
            if refresh {
                return Err(ConnectorError::UnknownValue {
                    kind: "status",
                    label: label.to_string(),
                    valid: list
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Ok(())
    }
}
