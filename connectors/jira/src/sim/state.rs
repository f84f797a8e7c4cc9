//! The simulated Jira site's data: projects (one Jira Service Management
//! desk, one software project), priorities, the field catalogue, issues
//! with their ADF descriptions, comments and properties, registered
//! webhooks, and the JSON shapes REST v3 gives them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::workflow::{self, Status, Transition};

/// The simulated site's time zone (not UTC, so the connector must convert).
pub const SITE_TIME_ZONE: &str = "Europe/Berlin";

#[derive(Clone, Debug)]
pub(crate) struct Project {
    pub id: &'static str,
    pub key: &'static str,
    pub name: &'static str,
    /// A Jira Service Management project (comments public or internal).
    pub service_desk: bool,
    pub issue_type: (&'static str, &'static str),
}

#[derive(Clone, Debug)]
pub(crate) struct Field {
    pub id: &'static str,
    pub name: &'static str,
    pub custom: bool,
    pub schema: Value,
}

#[derive(Clone, Debug)]
pub(crate) struct CommentRec {
    pub id: u64,
    pub body: Value,
    pub public: bool,
    pub author: String,
    pub created: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub(crate) struct IssueRec {
    pub id: u64,
    pub key: String,
    pub project: &'static str,
    pub summary: String,
    pub description: Option<Value>,
    pub status: &'static str,
    pub priority: String,
    pub resolution: Option<String>,
    pub labels: Vec<String>,
    /// Custom field values by id, as the API shows them.
    pub custom: BTreeMap<String, Value>,
    pub properties: BTreeMap<String, Value>,
    pub reporter: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub comments: Vec<CommentRec>,
}

#[derive(Clone, Debug)]
pub(crate) struct WebhookRec {
    pub id: u64,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub jql: String,
    pub secret: Option<String>,
    pub enabled: bool,
}

/// A person (or the API user) of the site.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub account_id: String,
    pub email: String,
    pub name: String,
}

pub(crate) struct State {
    pub projects: Vec<Project>,
    pub statuses: Vec<Status>,
    pub transitions: Vec<Transition>,
    pub priorities: Vec<(&'static str, &'static str)>,
    pub fields: Vec<Field>,
    pub users: Vec<User>,
    pub issues: BTreeMap<u64, IssueRec>,
    pub webhooks: BTreeMap<u64, WebhookRec>,
    pub next_issue: u64,
    pub next_comment: u64,
    pub next_webhook: u64,
    pub next_key: BTreeMap<&'static str, u64>,
    pub webhooks_enabled: bool,
}

/// Jira's timestamp shape: milliseconds and an offset without a colon.
pub(crate) fn jira_time(at: DateTime<Utc>) -> String {
    let tz: chrono_tz::Tz = SITE_TIME_ZONE.parse().unwrap_or(chrono_tz::UTC);
    at.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%.3f%z")
        .to_string()
}

impl State {
    pub fn seed(api_email: &str) -> Self {
        let field = |id, name, custom, schema| Field {
            id,
            name,
            custom,
            schema,
        };
        let mut state = State {
            projects: vec![
                Project {
                    id: "10000",
                    key: "HELP",
                    name: "IT Help Desk",
                    service_desk: true,
                    issue_type: ("10100", "Service Request"),
                },
                Project {
                    id: "10001",
                    key: "DEV",
                    name: "Platform Engineering",
                    service_desk: false,
                    issue_type: ("10101", "Task"),
                },
            ],
            statuses: workflow::statuses(),
            transitions: workflow::transitions(),
            priorities: vec![
                ("1", "Highest"),
                ("2", "High"),
                ("3", "Medium"),
                ("4", "Low"),
                ("5", "Lowest"),
            ],
            fields: vec![
                field(
                    "summary",
                    "Summary",
                    false,
                    json!({"type": "string", "system": "summary"}),
                ),
                field(
                    "description",
                    "Description",
                    false,
                    json!({"type": "string", "system": "description"}),
                ),
                field(
                    "status",
                    "Status",
                    false,
                    json!({"type": "status", "system": "status"}),
                ),
                field(
                    "priority",
                    "Priority",
                    false,
                    json!({"type": "priority", "system": "priority"}),
                ),
                field(
                    "resolution",
                    "Resolution",
                    false,
                    json!({"type": "resolution", "system": "resolution"}),
                ),
                field(
                    "labels",
                    "Labels",
                    false,
                    json!({"type": "array", "items": "string", "system": "labels"}),
                ),
                field(
                    "project",
                    "Project",
                    false,
                    json!({"type": "project", "system": "project"}),
                ),
                field(
                    "issuetype",
                    "Issue Type",
                    false,
                    json!({"type": "issuetype", "system": "issuetype"}),
                ),
                field(
                    "updated",
                    "Updated",
                    false,
                    json!({"type": "datetime", "system": "updated"}),
                ),
                field(
                    "created",
                    "Created",
                    false,
                    json!({"type": "datetime", "system": "created"}),
                ),
                field(
                    "reporter",
                    "Reporter",
                    false,
                    json!({"type": "user", "system": "reporter"}),
                ),
                field(
                    "comment",
                    "Comment",
                    false,
                    json!({"type": "comments-page", "system": "comment"}),
                ),
                field(
                    "customfield_10050",
                    "MSP Ticket",
                    true,
                    json!({"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textfield", "customId": 10050}),
                ),
                field(
                    "customfield_10051",
                    "Customer Tier",
                    true,
                    json!({"type": "option", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:select", "customId": 10051}),
                ),
                field(
                    "customfield_10052",
                    "Impact Notes",
                    true,
                    json!({"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea", "customId": 10052}),
                ),
            ],
            users: vec![
                User {
                    account_id: "557058:bridge-api-user".into(),
                    email: api_email.to_string(),
                    name: "PSA Bridge".into(),
                },
                User {
                    account_id: "5b10ac8d82e05b22cc7d4ef5".into(),
                    email: "jane.doe@example.com".into(),
                    name: "Jane Doe".into(),
                },
            ],
            issues: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            next_issue: 10_200,
            next_comment: 10_000,
            next_webhook: 1,
            next_key: BTreeMap::new(),
            webhooks_enabled: true,
        };
        state.next_key.insert("HELP", 1);
        state.next_key.insert("DEV", 1);
        state
    }

    pub fn project(&self, key_or_id: &str) -> Option<&Project> {
        self.projects
            .iter()
            .find(|p| p.key.eq_ignore_ascii_case(key_or_id) || p.id == key_or_id)
    }

    pub fn status(&self, id: &str) -> Option<&Status> {
        self.statuses.iter().find(|s| s.id == id)
    }

    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }

    pub fn user_by_name(&self, name: &str) -> User {
        self.users
            .iter()
            .find(|u| u.name == name || u.account_id == name || u.email == name)
            .cloned()
            .unwrap_or(User {
                account_id: format!("sim:{name}"),
                email: format!("{}@example.com", name.to_lowercase().replace(' ', ".")),
                name: name.to_string(),
            })
    }

    /// The issue with this id or key.
    pub fn issue_id(&self, id_or_key: &str) -> Option<u64> {
        if let Ok(n) = id_or_key.parse::<u64>() {
            return self.issues.contains_key(&n).then_some(n);
        }
        self.issues
            .values()
            .find(|i| i.key.eq_ignore_ascii_case(id_or_key))
            .map(|i| i.id)
    }

    pub fn new_key(&mut self, project: &'static str) -> String {
        let n = self.next_key.entry(project).or_insert(1);
        let key = format!("{project}-{n}");
        *n += 1;
        key
    }

    pub fn user_json(&self, base: &str, name: &str) -> Value {
        let u = self.user_by_name(name);
        json!({
            "self": format!("{base}rest/api/3/user?accountId={}", u.account_id),
            "accountId": u.account_id,
            "emailAddress": u.email,
            "displayName": u.name,
            "active": true,
            "timeZone": SITE_TIME_ZONE,
            "accountType": "atlassian",
            "avatarUrls": {"48x48": format!("{base}avatar.png")}
        })
    }

    pub fn priority_json(&self, base: &str, id: &str) -> Value {
        let name = self
            .priorities
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| *n)
            .unwrap_or("Medium");
        json!({"self": format!("{base}rest/api/3/priority/{id}"), "iconUrl": format!("{base}images/icons/priorities/{}.svg", name.to_lowercase()), "name": name, "id": id})
    }

    pub fn comment_json(&self, base: &str, issue: &IssueRec, c: &CommentRec) -> Value {
        let mut v = json!({
            "self": format!("{base}rest/api/3/issue/{}/comment/{}", issue.id, c.id),
            "id": c.id.to_string(),
            "author": self.user_json(base, &c.author),
            "body": c.body,
            "updateAuthor": self.user_json(base, &c.author),
            "created": jira_time(c.created),
            "updated": jira_time(c.created),
        });
        if self.project(issue.project).is_some_and(|p| p.service_desk) {
            v["jsdPublic"] = json!(c.public);
        }
        v
    }

    /// Every field of an issue, by id.
    pub fn issue_fields(&self, base: &str, i: &IssueRec) -> serde_json::Map<String, Value> {
        let project = self.project(i.project);
        let status = self
            .status(i.status)
            .map(|s| workflow::status_json(base, s));
        let mut f = serde_json::Map::new();
        f.insert("summary".into(), json!(i.summary));
        f.insert(
            "description".into(),
            i.description.clone().unwrap_or(Value::Null),
        );
        f.insert("status".into(), status.unwrap_or(Value::Null));
        f.insert("priority".into(), self.priority_json(base, &i.priority));
        f.insert(
            "resolution".into(),
            i.resolution
                .as_ref()
                .map(|r| {
                    let id = workflow::RESOLUTIONS
                        .iter()
                        .find(|(_, n)| n == r)
                        .map(|(id, _)| *id)
                        .unwrap_or("10000");
                    json!({"self": format!("{base}rest/api/3/resolution/{id}"), "id": id, "name": r, "description": ""})
                })
                .unwrap_or(Value::Null),
        );
        f.insert("labels".into(), json!(i.labels));
        if let Some(p) = project {
            f.insert(
                "project".into(),
                json!({"self": format!("{base}rest/api/3/project/{}", p.id), "id": p.id, "key": p.key, "name": p.name, "projectTypeKey": if p.service_desk { "service_desk" } else { "software" }, "simplified": false}),
            );
            f.insert(
                "issuetype".into(),
                json!({"self": format!("{base}rest/api/3/issuetype/{}", p.issue_type.0), "id": p.issue_type.0, "name": p.issue_type.1, "subtask": false, "description": "", "iconUrl": format!("{base}icon.png")}),
            );
        }
        f.insert("created".into(), json!(jira_time(i.created)));
        f.insert("updated".into(), json!(jira_time(i.updated)));
        f.insert("reporter".into(), self.user_json(base, &i.reporter));
        let comments: Vec<Value> = i
            .comments
            .iter()
            .map(|c| self.comment_json(base, i, c))
            .collect();
        f.insert(
            "comment".into(),
            json!({"comments": comments, "self": format!("{base}rest/api/3/issue/{}/comment", i.id), "maxResults": comments.len(), "total": comments.len(), "startAt": 0}),
        );
        for field in self.fields.iter().filter(|f| f.custom) {
            f.insert(
                field.id.into(),
                i.custom.get(field.id).cloned().unwrap_or(Value::Null),
            );
        }
        f
    }

    /// An issue bean with the fields asked for (`*all` / `*navigable` or
    /// none given: all; ids otherwise; `-name` removes one) and properties.
    pub fn issue_json(
        &self,
        base: &str,
        i: &IssueRec,
        fields: Option<&[String]>,
        properties: &[String],
    ) -> Value {
        let all = self.issue_fields(base, i);
        let wanted: serde_json::Map<String, Value> = match fields {
            None => all,
            Some(list) if list.iter().any(|f| f == "*all" || f == "*navigable") => {
                let mut all = all;
                for f in list.iter().filter_map(|f| f.strip_prefix('-')) {
                    all.remove(f);
                }
                all
            }
            Some(list) => list
                .iter()
                .filter_map(|f| all.get(f).map(|v| (f.clone(), v.clone())))
                .collect(),
        };
        let mut v = json!({
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": i.id.to_string(),
            "self": format!("{base}rest/api/3/issue/{}", i.id),
            "key": i.key,
            "fields": wanted,
        });
        if !properties.is_empty() {
            let props: serde_json::Map<String, Value> = i
                .properties
                .iter()
                .filter(|(k, _)| properties.iter().any(|p| p == *k || p == "*all"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            v["properties"] = Value::Object(props);
        }
        v
    }
}
