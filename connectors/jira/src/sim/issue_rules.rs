//! Issue writes as Jira applies them to the simulated state: create
//! (fields, `update` operations, issue properties), edit, and workflow
//! transitions (offered by status and condition, required screen fields).
//! The API handlers and the human actions share these.

use serde_json::{json, Map, Value};

use super::api_error::ApiError;
use super::state::{IssueRec, State};
use super::webhooks::Event;
use super::workflow::{Condition, RESOLUTIONS};
use crate::adf;

const TIERS: [&str; 3] = ["Gold", "Silver", "Bronze"];

pub(crate) fn cannot_set(field: &str) -> ApiError {
    ApiError::field(
        field,
        format!("Field '{field}' cannot be set. It is not on the appropriate screen, or unknown."),
    )
}

fn adf_value(field: &str, v: &Value) -> Result<Option<Value>, ApiError> {
    match v {
        Value::Null => Ok(None),
        v if adf::is_doc(v) => Ok(Some(v.clone())),
        _ => Err(ApiError::field(
            field,
            "Operation value must be an Atlassian Document (see the Atlassian Document Format)",
        )),
    }
}

impl State {
    fn priority_of(&self, v: &Value) -> Result<String, ApiError> {
        let by_id = v.get("id").and_then(Value::as_str);
        let by_name = v.get("name").and_then(Value::as_str);
        self.priorities
            .iter()
            .find(|(id, name)| Some(*id) == by_id || Some(*name) == by_name)
            .map(|(id, _)| id.to_string())
            .ok_or_else(|| {
                ApiError::field("priority", "Specify a valid 'id' or 'name' for Priority")
            })
    }

    /// Applies `fields` (and `update` operations) to an issue being
    /// created or edited; `creating` allows project and issue type.
    fn apply_fields(
        &self,
        issue: &mut IssueRec,
        fields: &Map<String, Value>,
        update: &Map<String, Value>,
        creating: bool,
    ) -> Result<(), ApiError> {
        for (name, value) in fields {
            match name.as_str() {
                "summary" => {
                    let s = value.as_str().unwrap_or("").to_string();
                    if s.trim().is_empty() {
                        return Err(ApiError::field(
                            "summary",
                            "You must specify a summary of the issue.",
                        ));
                    }
                    if s.chars().count() > 255 {
                        return Err(ApiError::field(
                            "summary",
                            "Summary must be less than 255 characters.",
                        ));
                    }
                    issue.summary = s;
                }
                "description" => issue.description = adf_value(name, value)?,
                "priority" => issue.priority = self.priority_of(value)?,
                "labels" => {
                    issue.labels = value
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|l| l.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default()
                }
                "project" | "issuetype" if creating => {}
                "issuetype" => issue.issue_type = self.edited_type(issue, value)?,
                "assignee" => {
                    issue.assignee = match value.get("accountId").and_then(Value::as_str) {
                        None if value.is_null() => None,
                        Some(id) if self.users.iter().any(|u| u.account_id == id) => {
                            Some(id.to_string())
                        }
                        _ => {
                            return Err(ApiError::field(
                                "assignee",
                                format!("User '{}' cannot be assigned issues.", value),
                            ))
                        }
                    }
                }
                "components" => {
                    let mut names = Vec::new();
                    for c in value.as_array().into_iter().flatten() {
                        let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                        let Some((_, known)) = super::state::COMPONENTS.iter().find(|(id, n)| {
                            *n == name || c.get("id").and_then(Value::as_str) == Some(id)
                        }) else {
                            return Err(ApiError::field(
                                "components",
                                format!("Component name '{name}' is not valid"),
                            ));
                        };
                        names.push(known.to_string());
                    }
                    issue.components = names;
                }
                "customfield_10050" => {
                    if !(value.is_string() || value.is_null()) {
                        return Err(ApiError::field(name, "Operation value must be a string"));
                    }
                    issue.custom.insert(name.clone(), value.clone());
                }
                "customfield_10051" => {
                    let v = value.get("value").and_then(Value::as_str);
                    match v {
                        Some(t) if TIERS.contains(&t) => {
                            issue.custom.insert(name.clone(), json!({"self": "", "value": t, "id": format!("1{}", TIERS.iter().position(|x| *x == t).unwrap_or(0))}));
                        }
                        _ if value.is_null() => {
                            issue.custom.remove(name);
                        }
                        _ => {
                            return Err(ApiError::field(
                                name,
                                format!("Option value '{}' is not valid", v.unwrap_or("")),
                            ))
                        }
                    }
                }
                "customfield_10052" => {
                    match adf_value(name, value)? {
                        Some(doc) => issue.custom.insert(name.clone(), doc),
                        None => issue.custom.remove(name),
                    };
                }
                other => return Err(cannot_set(other)),
            }
        }
        for (name, ops) in update {
            for op in ops.as_array().into_iter().flatten() {
                match (name.as_str(), op.as_object().and_then(|o| o.iter().next())) {
                    ("labels", Some((verb, Value::String(l)))) => match verb.as_str() {
                        "add" if !issue.labels.contains(l) => issue.labels.push(l.clone()),
                        "remove" => issue.labels.retain(|x| x != l),
                        _ => {}
                    },
                    ("summary", Some((verb, v))) if verb == "set" => {
                        let mut m = Map::new();
                        m.insert("summary".into(), v.clone());
                        self.apply_fields(issue, &m, &Map::new(), false)?;
                    }
                    (other, _) => return Err(cannot_set(other)),
                }
            }
        }
        Ok(())
    }

    /// Creates an issue from an API body; returns its id and events.
    pub(crate) fn create_issue(
        &mut self,
        body: &Value,
        actor: &str,
    ) -> Result<(u64, Vec<Event>), ApiError> {
        let empty = Map::new();
        let fields = body
            .get("fields")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let update = body
            .get("update")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let project_ref = fields.get("project");
        let wanted = project_ref
            .and_then(|p| p.get("key").or_else(|| p.get("id")))
            .and_then(Value::as_str)
            .unwrap_or("");
        let project = self
            .project(wanted)
            .cloned()
            .ok_or_else(|| ApiError::field("project", "Specify a valid project ID or key"))?;
        let it = fields.get("issuetype");
        let Some(issue_type) = project.issue_types.iter().find(|t| {
            it.is_some_and(|it| {
                it.get("id").and_then(Value::as_str) == Some(t.id)
                    || it.get("name").and_then(Value::as_str) == Some(t.name)
            })
        }) else {
            return Err(ApiError::field("issuetype", "Specify an issue type"));
        };
        if !fields.contains_key("summary") {
            return Err(ApiError::field(
                "summary",
                "You must specify a summary of the issue.",
            ));
        }
        let now = super::human::now();
        let id = self.next_issue;
        let mut issue = IssueRec {
            id,
            key: String::new(),
            project: project.key,
            issue_type: issue_type.id,
            summary: String::new(),
            description: None,
            status: super::workflow::OPEN,
            priority: "3".into(),
            resolution: None,
            labels: vec![],
            assignee: None,
            components: vec![],
            custom: Default::default(),
            properties: Default::default(),
            reporter: self.user_by_name(actor).name,
            created: now,
            updated: now,
            comments: vec![],
        };
        self.apply_fields(&mut issue, fields, update, true)?;
        for p in body
            .get("properties")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(key) = p.get("key").and_then(Value::as_str) else {
                return Err(ApiError::bad_request("An issue property needs a key."));
            };
            issue.properties.insert(
                key.to_string(),
                p.get("value").cloned().unwrap_or(Value::Null),
            );
        }
        self.next_issue += 1;
        issue.key = self.new_key(project.key);
        self.issues.insert(id, issue);
        Ok((id, vec![Event::issue("jira:issue_created", id, actor)]))
    }

    pub(crate) fn edit_issue(
        &mut self,
        id: u64,
        body: &Value,
        actor: &str,
    ) -> Result<Vec<Event>, ApiError> {
        let empty = Map::new();
        let fields = body
            .get("fields")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let update = body
            .get("update")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut issue = self
            .issues
            .get(&id)
            .cloned()
            .ok_or_else(ApiError::issue_not_found)?;
        for f in ["status", "resolution", "project"] {
            if fields.contains_key(f) {
                return Err(cannot_set(f));
            }
        }
        self.apply_fields(&mut issue, fields, update, false)?;
        issue.updated = super::human::now();
        self.issues.insert(id, issue);
        Ok(vec![Event::issue("jira:issue_updated", id, actor)])
    }

    /// Transitions offered from the issue's status (conditions applied).
    pub(crate) fn offered(&self, issue: &IssueRec) -> Vec<&super::workflow::Transition> {
        let urgent = matches!(issue.priority.as_str(), "1" | "2");
        self.transitions
            .iter()
            .filter(|t| t.from.contains(&issue.status))
            .filter(|t| t.condition == Condition::Always || urgent)
            .collect()
    }

    pub(crate) fn transition_issue(
        &mut self,
        id: u64,
        body: &Value,
        actor: &str,
    ) -> Result<Vec<Event>, ApiError> {
        let issue = self
            .issues
            .get(&id)
            .cloned()
            .ok_or_else(ApiError::issue_not_found)?;
        let tid = body
            .get("transition")
            .and_then(|t| t.get("id"))
            .and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| v.as_i64().map(|n| n.to_string()))
            })
            .ok_or_else(|| ApiError::bad_request("Missing transition id."))?;
        let Some(t) = self
            .offered(&issue)
            .into_iter()
            .find(|t| t.id == tid)
            .cloned()
        else {
            return Err(ApiError::bad_request(format!(
                "Transition id '{tid}' is not valid for this issue."
            )));
        };
        let empty = Map::new();
        let fields = body
            .get("fields")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut issue = issue;
        for req in &t.required {
            let given = fields
                .get(req.id)
                .and_then(|v| v.get("name").or_else(|| v.get("id")))
                .and_then(Value::as_str);
            let Some(given) = given else {
                return Err(ApiError::field(req.id, "Resolution is required."));
            };
            let Some((_, name)) = RESOLUTIONS.iter().find(|(i, n)| *i == given || *n == given)
            else {
                return Err(ApiError::field(
                    req.id,
                    format!("Resolution '{given}' is not valid."),
                ));
            };
            issue.resolution = Some(name.to_string());
        }
        let mut other = fields.clone();
        other.remove("resolution");
        if fields.contains_key("resolution") && t.required.is_empty() {
            return Err(cannot_set("resolution"));
        }
        self.apply_fields(&mut issue, &other, &Map::new(), false)?;
        if t.id == "71" {
            issue.resolution = None;
        }
        issue.status = t.to;
        issue.updated = super::human::now();
        self.issues.insert(id, issue);
        Ok(vec![Event::issue("jira:issue_updated", id, actor)])
    }
}
