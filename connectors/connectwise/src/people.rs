//! Owners and categories on ConnectWise tickets: the `owner` member (read
//! as a [`Person`] through `system/members/{id}`, matched by `officeEmail`
//! through `system/members?conditions=`, both cached), the board as the
//! group, and `type` / `subType` / `item` as category / subcategory / item.

use std::collections::BTreeMap;

use psa_connector::{keys, ConnectorError, Person, Ticket};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::quote;
use crate::client::ConnectWiseConnector;

/// A member as `system/members` answers.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct CwMember {
    pub id: i64,
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(rename = "firstName", default)]
    pub first_name: Option<String>,
    #[serde(rename = "lastName", default)]
    pub last_name: Option<String>,
    #[serde(rename = "officeEmail", default)]
    pub office_email: Option<String>,
    #[serde(rename = "inactiveFlag", default)]
    pub inactive: bool,
}

impl CwMember {
    fn person(&self) -> Person {
        let name: Vec<&str> = [&self.first_name, &self.last_name]
            .into_iter()
            .filter_map(|s| s.as_deref().map(str::trim).filter(|s| !s.is_empty()))
            .collect();
        Person {
            id: self.id.to_string(),
            name: if name.is_empty() {
                self.identifier.clone()
            } else {
                Some(name.join(" "))
            },
            email: self
                .office_email
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_string),
        }
    }
}

/// One JSON Patch `replace` operation.
fn replace(path: &str, value: Value) -> Value {
    json!({"op": "replace", "path": path, "value": value})
}

impl ConnectWiseConnector {
    /// Fills the owner's name and e-mail (cached per member).
    pub(crate) async fn fill_person(&self, ticket: &mut Ticket) -> Result<(), ConnectorError> {
        let Some(id) = ticket.assignee.person.as_ref().map(|p| p.id.clone()) else {
            return Ok(());
        };
        let Ok(n) = id.parse::<i64>() else {
            return Ok(());
        };
        let found = self
            .people
            .by_id(&id, || async move {
                match self
                    .get::<CwMember>(&format!("system/members/{n}"), &[])
                    .await
                {
                    Ok(m) => Ok(Some(m.person())),
                    Err(ConnectorError::Http { status: 404, .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await?;
        if let Some(person) = found {
            ticket.assignee.person = Some(person);
        }
        Ok(())
    }

    /// The active member whose `officeEmail` is `email`.
    pub(crate) async fn person_by_email(
        &self,
        email: &str,
    ) -> Result<Option<Person>, ConnectorError> {
        let wanted = psa_connector::people::email_key(email);
        self.people
            .by_email(email, || async {
                let conditions = format!("officeEmail={}", quote(email.trim()));
                let members: Vec<CwMember> = self
                    .get_all("system/members", &[("conditions", conditions)])
                    .await?;
                Ok(members
                    .iter()
                    .filter(|m| !m.inactive)
                    .find(|m| {
                        m.office_email
                            .as_deref()
                            .map(psa_connector::people::email_key)
                            == Some(wanted.clone())
                    })
                    .map(CwMember::person))
            })
            .await
    }

    /// JSON Patch operations for the reserved owner and category keys of
    /// `fields`; returns them and the other fields.
    pub(crate) async fn owner_and_category_ops(
        &self,
        fields: &BTreeMap<String, String>,
    ) -> Result<(Vec<Value>, BTreeMap<String, String>), ConnectorError> {
        let mut ops = Vec::new();
        let mut rest = BTreeMap::new();
        for (key, value) in fields {
            let v = value.trim();
            let named = |path: &str| {
                if v.is_empty() {
                    replace(path, Value::Null)
                } else {
                    replace(path, json!({"name": v}))
                }
            };
            match key.as_str() {
                k if k == keys::PERSON => {
                    if v.is_empty() {
                        ops.push(replace("owner", Value::Null));
                    } else {
                        let id: i64 = v.parse().map_err(|_| {
                            ConnectorError::Config(format!("{v:?} is not a ConnectWise member id"))
                        })?;
                        ops.push(replace("owner", json!({"id": id})));
                    }
                }
                k if k == keys::GROUP => {
                    let id = self.board_id(v).await?;
                    ops.push(replace("board", json!({"id": id})));
                }
                k if k == keys::CATEGORY => ops.push(named("type")),
                k if k == keys::SUBCATEGORY => ops.push(named("subType")),
                k if k == keys::ITEM => ops.push(named("item")),
                _ => {
                    rest.insert(key.clone(), value.clone());
                }
            }
        }
        Ok((ops, rest))
    }

    /// Group, category, subcategory and item labels across active boards.
    pub(crate) async fn owner_catalog(
        &self,
    ) -> Result<BTreeMap<String, Vec<String>>, ConnectorError> {
        #[derive(Deserialize)]
        struct Named {
            name: String,
            #[serde(rename = "inactiveFlag", default)]
            inactive: bool,
        }
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for board in self.boards(false).await?.iter().filter(|b| !b.inactive) {
            out.entry(keys::GROUPS.into())
                .or_default()
                .push(board.name.clone());
            for (key, path) in [
                (keys::CATEGORIES, "types"),
                (keys::SUBCATEGORIES, "subtypes"),
                (keys::ITEMS, "items"),
            ] {
                let list: Vec<Named> = self
                    .get_all(&format!("service/boards/{}/{path}", board.id), &[])
                    .await?;
                let labels = out.entry(key.into()).or_default();
                for n in list.into_iter().filter(|n| !n.inactive) {
                    if !labels.contains(&n.name) {
                        labels.push(n.name);
                    }
                }
            }
        }
        Ok(out)
    }
}
