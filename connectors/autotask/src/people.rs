//! Owners and categories on Autotask tickets: the assigned resource (read
//! as a [`Person`] through `GET Resources/{id}`, matched by e-mail through
//! `Resources/query`, both cached), the queue as the group, and the issue
//! type / sub-issue type picklists as category / subcategory.
//!
//! Autotask assigns a resource only together with a role
//! (`assignedResourceRoleID`): the connector writes the resource's
//! `defaultServiceDeskRoleID`.

use std::collections::BTreeMap;

use psa_connector::{keys, ConnectorError, Person, Ticket};
use serde_json::{json, Map, Value};

use crate::client::{AutotaskConnector, MAX_RECORDS};
use crate::resources::display_name;
use crate::wire::{self, WireResource};

fn to_person(id: i64, r: &WireResource) -> Person {
    Person {
        id: id.to_string(),
        name: display_name(r),
        email: r
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_string),
    }
}

impl AutotaskConnector {
    async fn resource(&self, id: i64) -> Result<WireResource, ConnectorError> {
        let item = self
            .get_item(&format!("Resources/{id}"), &format!("resource {id}"))
            .await?;
        wire::from_item("resource", item)
    }

    /// Fills the assigned person's name and e-mail (cached per resource).
    pub(crate) async fn fill_person(&self, ticket: &mut Ticket) -> Result<(), ConnectorError> {
        let Some(id) = ticket.assignee.person.as_ref().map(|p| p.id.clone()) else {
            return Ok(());
        };
        let Ok(numeric) = id.parse::<i64>() else {
            return Ok(());
        };
        let found = self
            .people
            .by_id(&id, || async move {
                Ok(Some(to_person(numeric, &self.resource(numeric).await?)))
            })
            .await?;
        if let Some(person) = found {
            ticket.assignee.person = Some(person);
        }
        Ok(())
    }

    /// The active resource whose e-mail is `email` (`Resources/query`).
    pub(crate) async fn person_by_email(
        &self,
        email: &str,
    ) -> Result<Option<Person>, ConnectorError> {
        let wanted = psa_connector::people::email_key(email);
        self.people
            .by_email(email, || async {
                let body = json!({
                    "filter": [{"op": "eq", "field": "email", "value": email.trim()}],
                    "MaxRecords": MAX_RECORDS,
                });
                let items = self.query_all("Resources/query", Some(&body)).await?;
                let mut found = None;
                for item in items {
                    let r: WireResource = wire::from_item("resource", item)?;
                    let same = r.email.as_deref().map(psa_connector::people::email_key)
                        == Some(wanted.clone());
                    if same && r.active.unwrap_or(true) {
                        if let Some(id) = r.id {
                            found = Some(to_person(id, &r));
                            break;
                        }
                    }
                }
                Ok(found)
            })
            .await
    }

    /// Moves the reserved owner and category keys of `fields` into `body`
    /// (resource + role, queue, issue type, sub-issue type); returns the
    /// other fields.
    pub(crate) async fn owner_and_category(
        &self,
        fields: &BTreeMap<String, String>,
        body: &mut Map<String, Value>,
    ) -> Result<BTreeMap<String, String>, ConnectorError> {
        let mut rest = BTreeMap::new();
        for (key, value) in fields {
            let value_trim = value.trim();
            match key.as_str() {
                k if k == keys::PERSON => {
                    if value_trim.is_empty() {
                        body.insert("assignedResourceID".into(), Value::Null);
                        body.insert("assignedResourceRoleID".into(), Value::Null);
                        continue;
                    }
                    let id: i64 = value_trim.parse().map_err(|_| {
                        ConnectorError::Config(format!("{value:?} is not an Autotask resource id"))
                    })?;
                    let role = self.resource(id).await?.default_role.ok_or_else(|| {
                        ConnectorError::Config(format!(
                            "Autotask resource {id} has no default service desk role to assign the ticket with"
                        ))
                    })?;
                    body.insert("assignedResourceID".into(), id.into());
                    body.insert("assignedResourceRoleID".into(), role.into());
                }
                k if k == keys::GROUP => {
                    let v = self.pick_label("queueID", "queue", value_trim).await?;
                    body.insert("queueID".into(), v);
                }
                k if k == keys::CATEGORY => {
                    let v = self
                        .pick_label("issueType", "issue type", value_trim)
                        .await?;
                    body.insert("issueType".into(), v);
                }
                k if k == keys::SUBCATEGORY => {
                    let v = self
                        .pick_label("subIssueType", "sub-issue type", value_trim)
                        .await?;
                    body.insert("subIssueType".into(), v);
                }
                k if k == keys::ITEM => return Err(ConnectorError::Config(
                    "Autotask tickets have no category item (only issue type and sub-issue type)"
                        .into(),
                )),
                _ => {
                    rest.insert(key.clone(), value.clone());
                }
            }
        }
        Ok(rest)
    }
}
