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
    /// Its issue types; the first is the default.
    pub issue_types: &'static [IssueType],
}

/// An issue type of a project and the workflow its issues follow. Jira
/// offers a type change on the edit screen only among types sharing the
/// issue's workflow (otherwise it takes a Move); the simulator's statuses
/// and transitions are the same for every type, only the name differs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IssueType {
    pub id: &'static str,
    pub name: &'static str,
    pub workflow: &'static str,
}

const SERVICE: &str = "Service workflow";

const HELP_TYPES: &[IssueType] = &[
    IssueType {
        id: "10100",
        name: "Service Request",
        workflow: SERVICE,
    },
    IssueType {
        id: "10102",
        name: "Incident",
        workflow: SERVICE,
    },
    IssueType {
        id: "10104",
        name: "Change",
        workflow: "Change approval workflow",
    },
];

const DEV_TYPES: &[IssueType] = &[
    IssueType {
        id: "10101",
        name: "Task",
        workflow: SERVICE,
    },
    IssueType {
        id: "10103",
        name: "Bug",
        workflow: SERVICE,
    },
];

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
    /// The issue type's id (one of the project's).
    pub issue_type: &'static str,
    pub summary: String,
    pub description: Option<Value>,
    pub status: &'static str,
    pub priority: String,
    pub resolution: Option<String>,
    pub labels: Vec<String>,
    /// The assignee's account id.
    pub assignee: Option<String>,
    /// Component names.
    pub components: Vec<String>,
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

/// Components every simulated project has.
pub(crate) const COMPONENTS: &[(&str, &str)] = &[
    ("10200", "Hardware"),
    ("10201", "Network"),
    ("10202", "Email"),
];

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
                    issue_types: HELP_TYPES,
                },
                Project {
                    id: "10001",
                    key: "DEV",
                    name: "Platform Engineering",
                    service_desk: false,
                    issue_types: DEV_TYPES,
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
                User {
                    account_id: "5b10ac8d82e05b22cc7d4ef6".into(),
                    email: "sam.supervisor@northwind-msp.example".into(),
                    name: "Sam Supervisor".into(),
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

    /// The issue type of an issue (its project's first if unknown).
    pub fn issue_type_of(&self, issue: &IssueRec) -> Option<IssueType> {
        let types = self.project(issue.project)?.issue_types;
        types
            .iter()
            .find(|t| t.id == issue.issue_type)
            .or(types.first())
            .copied()
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
}
