//! Owners and categories on Jira issues: `assignee` (an account; matched by
//! e-mail through `user/search?query=`, cached), the issue type as the
//! category and the first component as the subcategory. A category written
//! into Jira sets the issue type (`issue_type.rs`: on an existing issue only
//! a type its edit screen offers). Jira has no group or item on an issue:
//! both are refused as configuration errors.

use std::collections::BTreeMap;

use psa_connector::{keys, ConnectorError, Person};
use serde_json::{json, Map, Value};

use crate::client::{seg, JiraConnector};

/// The person of a user bean (`null` or no account: nobody).
pub(crate) fn person_of(user: Option<&Value>) -> Option<Person> {
    let user = user.filter(|u| !u.is_null())?;
    let text = |k: &str| {
        user.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Some(Person {
        id: text("accountId")?,
        name: text("displayName"),
        email: text("emailAddress"),
    })
}

impl JiraConnector {
    /// The active account whose e-mail is `email`. Sites that hide e-mail
    /// addresses answer the search without them: a single active match of
    /// the address is then taken as that person.
    pub(crate) async fn person_by_email(
        &self,
        email: &str,
    ) -> Result<Option<Person>, ConnectorError> {
        let wanted = psa_connector::people::email_key(email);
        self.people
            .by_email(email, || async {
                let users: Vec<Value> = self
                    .get_json("rest/api/3/user/search", &[("query", wanted.clone())])
                    .await?;
                let active: Vec<&Value> = users
                    .iter()
                    .filter(|u| u.get("active").and_then(Value::as_bool).unwrap_or(true))
                    .collect();
                let exact = active.iter().find_map(|u| {
                    person_of(Some(u)).filter(|p| {
                        p.email.as_deref().map(psa_connector::people::email_key)
                            == Some(wanted.clone())
                    })
                });
                Ok(exact.or_else(|| match active.as_slice() {
                    [only] if only.get("emailAddress").is_none() => person_of(Some(only)),
                    _ => None,
                }))
            })
            .await
    }

    /// Moves the reserved owner and category keys of `fields` into the
    /// issue's `fields` JSON (`issue`: the issue edited, `None` on create);
    /// returns the other fields.
    pub(crate) async fn owner_and_category(
        &self,
        issue: Option<&str>,
        fields: &BTreeMap<String, String>,
        out: &mut Map<String, Value>,
    ) -> Result<BTreeMap<String, String>, ConnectorError> {
        let mut rest = BTreeMap::new();
        for (key, value) in fields {
            let v = value.trim();
            match key.as_str() {
                k if k == keys::PERSON => {
                    let assignee = if v.is_empty() { Value::Null } else { json!({"accountId": v}) };
                    out.insert("assignee".into(), assignee);
                }
                k if k == keys::SUBCATEGORY => {
                    let components = if v.is_empty() { json!([]) } else { json!([{"name": v}]) };
                    out.insert("components".into(), components);
                }
                k if k == keys::CATEGORY => {
                    if let Some(t) = self.issue_type_value(issue, v).await? {
                        out.insert("issuetype".into(), t);
                    }
                }
                k if k == keys::GROUP || k == keys::ITEM => {
                    return Err(ConnectorError::Config(format!(
                        "Jira cannot take {key} {v:?}: issues have no group or item (map the issue type as category and components as subcategory)"
                    )))
                }
                _ => {
                    rest.insert(key.clone(), value.clone());
                }
            }
        }
        Ok(rest)
    }

    /// The project's issue types and component names, for `check`.
    pub(crate) async fn owner_catalog(
        &self,
    ) -> Result<BTreeMap<String, Vec<String>>, ConnectorError> {
        let project = self.project().await?;
        let path = format!("rest/api/3/project/{}/components", seg(&project.key));
        let components: Vec<Value> = self.get_json(&path, &[]).await?;
        Ok(BTreeMap::from([
            (
                keys::CATEGORIES.to_string(),
                project.issue_types.iter().map(|t| t.name.clone()).collect(),
            ),
            (
                keys::SUBCATEGORIES.to_string(),
                components
                    .iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
                    .collect(),
            ),
        ]))
    }
}
