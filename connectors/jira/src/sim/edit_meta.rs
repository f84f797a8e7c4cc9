//! `GET /rest/api/3/issue/{key}/editmeta` and the issue type edit it
//! governs. The edit screen offers `issuetype` with the project's types
//! that share the issue's workflow (the current one included); a type on
//! another workflow needs a Move in Jira, so `PUT` refuses it with Jira's
//! 400 `errors.issuetype`. Other fields are listed with their schema.

use serde_json::{json, Map, Value};

use super::api_error::ApiError;
use super::shapes::issue_type_json;
use super::state::{IssueRec, IssueType, State};

/// Fields the simulated edit screen shows besides `issuetype`.
const SCREEN: [&str; 8] = [
    "summary",
    "description",
    "priority",
    "labels",
    "customfield_10050",
    "customfield_10051",
    "customfield_10052",
    "reporter",
];

impl State {
    /// The types the edit screen offers for this issue.
    pub(crate) fn editable_types(&self, issue: &IssueRec) -> Vec<IssueType> {
        let (Some(project), Some(current)) =
            (self.project(issue.project), self.issue_type_of(issue))
        else {
            return vec![];
        };
        project
            .issue_types
            .iter()
            .filter(|t| t.workflow == current.workflow)
            .copied()
            .collect()
    }

    /// The type id an `issuetype` edit value names, if the screen allows it.
    pub(crate) fn edited_type(
        &self,
        issue: &IssueRec,
        value: &Value,
    ) -> Result<&'static str, ApiError> {
        let by_id = value.get("id").and_then(Value::as_str);
        let by_name = value.get("name").and_then(Value::as_str);
        self.editable_types(issue)
            .into_iter()
            .find(|t| Some(t.id) == by_id || Some(t.name) == by_name)
            .map(|t| t.id)
            .ok_or_else(|| ApiError::field("issuetype", "The issue type selected is invalid."))
    }

    /// The edit metadata of an issue (`IssueUpdateMetadata`).
    pub(crate) fn edit_meta(&self, base: &str, issue: &IssueRec) -> Value {
        let mut fields = Map::new();
        let types: Vec<Value> = self
            .editable_types(issue)
            .iter()
            .map(|t| issue_type_json(base, t))
            .collect();
        fields.insert(
            "issuetype".into(),
            json!({"required": true, "schema": {"type": "issuetype", "system": "issuetype"},
                   "name": "Issue Type", "key": "issuetype", "operations": ["set"],
                   "allowedValues": types}),
        );
        for f in self.fields.iter().filter(|f| SCREEN.contains(&f.id)) {
            fields.insert(
                f.id.into(),
                json!({"required": f.id == "summary", "schema": f.schema, "name": f.name,
                       "key": f.id, "operations": ["set"]}),
            );
        }
        fields.insert(
            "assignee".into(),
            json!({"required": false, "schema": {"type": "user", "system": "assignee"},
                   "name": "Assignee", "key": "assignee", "operations": ["set"]}),
        );
        fields.insert(
            "components".into(),
            json!({"required": false, "schema": {"type": "array", "items": "component", "system": "components"},
                   "name": "Components", "key": "components", "operations": ["add", "set", "remove"]}),
        );
        json!({"fields": fields})
    }
}
