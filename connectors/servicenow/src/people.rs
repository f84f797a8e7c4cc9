//! Owners and categories on ServiceNow records: `assigned_to` (a `sys_user`
//! reference, read as a [`Person`] with its `email` through
//! `sys_user/{sys_id}`, matched by `email`, both cached), `assignment_group`
//! as the group, and the `category` / `subcategory` choice fields.

use std::collections::BTreeMap;

use http::Method;
use psa_connector::{keys, ConnectorError, Person, Ticket};
use serde_json::{Map, Value};

use crate::client::ServiceNowConnector;
use crate::wire::{is_sys_id, query_value, Record};

fn person_of(row: &Value) -> Option<Person> {
    let r = Record(row);
    let id = r.value("sys_id");
    if id.is_empty() {
        return None;
    }
    let clean = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    Some(Person {
        id,
        name: clean(r.value("name")),
        email: clean(r.value("email")),
    })
}

impl ServiceNowConnector {
    /// Fills the assigned user's e-mail (cached per sys_id).
    pub(crate) async fn fill_person(&self, ticket: &mut Ticket) -> Result<(), ConnectorError> {
        let Some(id) = ticket.assignee.person.as_ref().map(|p| p.id.clone()) else {
            return Ok(());
        };
        if !is_sys_id(&id) {
            return Ok(());
        }
        let found = self
            .people
            .by_id(&id, || async {
                let params = [("sysparm_fields", "sys_id,name,email")];
                let url = self.table_url("sys_user", Some(&id), &params)?;
                let response = self.call(Method::GET, url, None).await?;
                Ok(person_of(&Self::result(&response)?))
            })
            .await?;
        if let Some(person) = found {
            ticket.assignee.person = Some(person);
        }
        Ok(())
    }

    /// The active user whose `email` is `email`.
    pub(crate) async fn person_by_email(
        &self,
        email: &str,
    ) -> Result<Option<Person>, ConnectorError> {
        let wanted = psa_connector::people::email_key(email);
        self.people
            .by_email(email, || async {
                // The platform compares strings case-insensitively; the
                // address is sent in lower case for instances that do not.
                let query = format!("email={}^active=true", query_value(&wanted));
                let rows = self
                    .list_all("sys_user", &query, "sys_id,name,email", false)
                    .await?;
                Ok(rows.iter().filter_map(person_of).find(|p| {
                    p.email.as_deref().map(psa_connector::people::email_key) == Some(wanted.clone())
                }))
            })
            .await
    }

    /// Moves the reserved owner and category keys of `fields` into `body`;
    /// returns the other fields.
    pub(crate) async fn owner_and_category(
        &self,
        fields: &BTreeMap<String, String>,
        body: &mut Map<String, Value>,
    ) -> Result<BTreeMap<String, String>, ConnectorError> {
        let mut rest = BTreeMap::new();
        for (key, value) in fields {
            let v = value.trim();
            let written =
                match key.as_str() {
                    k if k == keys::PERSON => {
                        if !v.is_empty() && !is_sys_id(v) {
                            return Err(ConnectorError::Config(format!(
                                "{v:?} is not a sys_user sys_id"
                            )));
                        }
                        ("assigned_to", v.to_string())
                    }
                    k if k == keys::GROUP => (
                        "assignment_group",
                        self.resolve_reference("assignment_group", v).await?,
                    ),
                    k if k == keys::CATEGORY || k == keys::SUBCATEGORY => {
                        let field = if k == keys::CATEGORY {
                            "category"
                        } else {
                            "subcategory"
                        };
                        let value = if v.is_empty() {
                            String::new()
                        } else {
                            self.choices(false).await?.require(field, v)?
                        };
                        (field, value)
                    }
                    k if k == keys::ITEM => return Err(ConnectorError::Config(
                        "ServiceNow records have no category item (only category and subcategory)"
                            .into(),
                    )),
                    _ => {
                        rest.insert(key.clone(), value.clone());
                        continue;
                    }
                };
            body.insert(written.0.into(), Value::String(written.1));
        }
        Ok(rest)
    }
}
