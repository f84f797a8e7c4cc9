//! The category written into Jira: the issue type. A new issue takes any
//! of the project's types. An existing issue changes type through
//! `PUT /rest/api/3/issue/{key}` only when its edit screen offers the type
//! (`GET …/editmeta` lists `issuetype` with its `allowedValues`: in Jira
//! Cloud, the types sharing the issue's workflow); any other type needs a
//! Move in Jira, so the write is refused permanently, naming the type and
//! the allowed ones.

use psa_connector::ConnectorError;
use serde_json::{json, Value};

use crate::client::{seg, JiraConnector};

/// `(id, name)` of the issue types an editmeta answer allows.
fn allowed_types(meta: &Value) -> Option<Vec<(String, String)>> {
    let allowed = meta
        .pointer("/fields/issuetype/allowedValues")?
        .as_array()?;
    Some(
        allowed
            .iter()
            .filter_map(|t| {
                let text = |k: &str| t.get(k).and_then(Value::as_str).map(str::to_string);
                Some((text("id")?, text("name")?))
            })
            .collect(),
    )
}

impl JiraConnector {
    /// The `issuetype` value that gives the issue (`None`: a new one) the
    /// type `label`; `Ok(None)` when the issue already has it.
    pub(crate) async fn issue_type_value(
        &self,
        issue: Option<&str>,
        label: &str,
    ) -> Result<Option<Value>, ConnectorError> {
        let Some(issue) = issue else {
            let project = self.project().await?;
            return match project
                .issue_types
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(label))
            {
                Some(t) => Ok(Some(json!({"id": t.id}))),
                None => Err(ConnectorError::UnknownValue {
                    kind: "issue type",
                    label: label.to_string(),
                    valid: project
                        .issue_types
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            };
        };
        let path = format!("rest/api/3/issue/{}/editmeta", seg(issue));
        let meta: Value = match self.get_json(&path, &[]).await {
            Err(ConnectorError::Http { status: 404, .. }) => {
                return Err(ConnectorError::NotFound(format!("issue {issue}")))
            }
            other => other?,
        };
        let allowed = allowed_types(&meta);
        if let Some((id, _)) = allowed
            .iter()
            .flatten()
            .find(|(_, name)| name.eq_ignore_ascii_case(label))
        {
            return Ok(Some(json!({"id": id})));
        }
        let bean = self.raw_issue(issue, "issuetype").await?;
        let current = bean
            .pointer("/fields/issuetype/name")
            .and_then(Value::as_str);
        if current.is_some_and(|c| c.eq_ignore_ascii_case(label)) {
            return Ok(None);
        }
        let offered = match &allowed {
            Some(list) if !list.is_empty() => {
                let names: Vec<&str> = list.iter().map(|(_, n)| n.as_str()).collect();
                format!("its edit screen allows {}", names.join(", "))
            }
            _ => "its edit screen does not offer the issue type".to_string(),
        };
        Err(ConnectorError::Rejected {
            status: 400,
            message: format!(
                "Jira issue {issue} (type {}) cannot change its type to {label:?}: {offered}; a type on another workflow needs a Move in Jira",
                current.unwrap_or("unknown")
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_allowed_types_from_editmeta() {
        let meta = json!({"fields": {"issuetype": {"allowedValues": [
            {"id": "1", "name": "Bug"}, {"id": "2", "name": "Task"}, {"name": "no id"}]}}});
        assert_eq!(
            allowed_types(&meta),
            Some(vec![
                ("1".into(), "Bug".into()),
                ("2".into(), "Task".into())
            ])
        );
        assert_eq!(allowed_types(&json!({"fields": {"summary": {}}})), None);
    }
}
