//! What a person does in the Jira UI (raise a request, transition, change
//! priority, comment publicly or internally) and what tests read back.
//! Human actions bypass the API and its fault knobs but fire webhooks.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{json, Value};

use super::state::{IssueRec, State};
use super::webhooks::Event;
use super::{JiraSim, SimComment, SimIssue};
use crate::adf;
use crate::webhook::{sign, IDENTIFIER_HEADER, SIGNATURE_HEADER};

/// Jira keeps milliseconds.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// The person acting in the UI unless told otherwise.
pub const DEFAULT_HUMAN: &str = "Jane Doe";

fn sim_issue(i: &IssueRec, state: &State) -> SimIssue {
    SimIssue {
        id: i.id.to_string(),
        key: i.key.clone(),
        project: i.project.to_string(),
        summary: i.summary.clone(),
        description: i.description.clone(),
        status: state
            .status(i.status)
            .map(|s| s.name.to_string())
            .unwrap_or_default(),
        priority: state
            .priorities
            .iter()
            .find(|(id, _)| *id == i.priority)
            .map(|(_, n)| n.to_string())
            .unwrap_or_default(),
        resolution: i.resolution.clone(),
        custom: i.custom.clone(),
        marker: i
            .properties
            .get(crate::MARKER_PROPERTY)
            .and_then(|v| v.get("marker"))
            .and_then(Value::as_str)
            .map(str::to_string),
        updated: i.updated,
    }
}

impl JiraSim {
    fn act<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<(T, Vec<Event>), super::api_error::ApiError>,
    ) -> Option<T> {
        let result = {
            let mut state = self.shared.state();
            f(&mut state)
        };
        match result {
            Ok((value, events)) => {
                self.shared.deliver(events);
                Some(value)
            }
            Err(e) => {
                tracing::warn!(messages = ?e.messages, errors = ?e.errors, "simulated user action refused");
                None
            }
        }
    }

    /// A person raises an issue in `project` (`HELP` or `DEV`) with an ADF
    /// description; returns it (None when refused, e.g. unknown priority).
    pub fn user_create_issue_adf(
        &self,
        project: &str,
        summary: &str,
        description: Value,
        priority: &str,
    ) -> Option<SimIssue> {
        let id = self.act(|state| {
            let p = state
                .project(project)
                .cloned()
                .ok_or_else(|| super::api_error::ApiError::bad_request("no such project"))?;
            let body = json!({"fields": {
                "project": {"key": p.key}, "issuetype": {"id": p.issue_types.first().map(|t| t.id)},
                "summary": summary, "description": description, "priority": {"name": priority},
            }});
            state.create_issue(&body, DEFAULT_HUMAN)
        })?;
        self.issue(&id.to_string())
    }

    /// A person raises an issue with a plain-text description.
    pub fn user_create_issue(
        &self,
        project: &str,
        summary: &str,
        description: &str,
        priority: &str,
    ) -> Option<SimIssue> {
        self.user_create_issue_adf(project, summary, adf::from_text(description), priority)
    }

    /// A person moves an issue to `status` through the transition offered
    /// for it, filling `resolution` when the screen asks. False when refused.
    pub fn user_transition(&self, key: &str, status: &str, resolution: Option<&str>) -> bool {
        self.act(|state| {
            let id = state
                .issue_id(key)
                .ok_or_else(super::api_error::ApiError::issue_not_found)?;
            let issue = &state.issues[&id];
            let t = state
                .offered(issue)
                .into_iter()
                .find(|t| {
                    state
                        .status(t.to)
                        .is_some_and(|s| s.name.eq_ignore_ascii_case(status))
                })
                .map(|t| t.id)
                .ok_or_else(|| {
                    super::api_error::ApiError::bad_request(format!("no transition to {status}"))
                })?;
            let mut body = json!({"transition": {"id": t}});
            if let Some(r) = resolution {
                body["fields"] = json!({"resolution": {"name": r}});
            }
            state
                .transition_issue(id, &body, DEFAULT_HUMAN)
                .map(|e| ((), e))
        })
        .is_some()
    }

    pub fn user_set_priority(&self, key: &str, priority: &str) -> bool {
        self.user_edit(key, json!({"fields": {"priority": {"name": priority}}}))
    }

    /// A person assigns the issue to the user with `email` (`None`: nobody).
    pub fn user_assign(&self, key: &str, email: Option<&str>) -> bool {
        let account = email.map(|e| self.shared.state().user_by_name(e).account_id);
        self.user_edit(key, serde_json::json!({"fields": {"assignee": account.map(|a| serde_json::json!({"accountId": a}))}}))
    }

    pub fn user_set_summary(&self, key: &str, summary: &str) -> bool {
        self.user_edit(key, json!({"fields": {"summary": summary}}))
    }

    /// A person adds a label (e.g. the one a mapping's trigger watches).
    pub fn user_add_label(&self, key: &str, label: &str) -> bool {
        self.user_edit(key, json!({"update": {"labels": [{"add": label}]}}))
    }

    /// Someone deletes an issue; no webhook (the bridge is not subscribed
    /// to deletions). Later reads answer 404.
    pub fn user_delete_issue(&self, key: &str) {
        let mut state = self.shared.state();
        if let Some(id) = state.issue_id(key) {
            state.issues.remove(&id);
        }
    }

    /// A person edits fields as the API's `PUT issue` body would.
    pub fn user_edit(&self, key: &str, body: Value) -> bool {
        self.act(|state| {
            let id = state
                .issue_id(key)
                .ok_or_else(super::api_error::ApiError::issue_not_found)?;
            state.edit_issue(id, &body, DEFAULT_HUMAN).map(|e| ((), e))
        })
        .is_some()
    }

    /// A person comments (public: shared with the customer on a service
    /// desk; internal otherwise); returns the comment id.
    pub fn user_add_comment(
        &self,
        key: &str,
        text: &str,
        public: bool,
        author: &str,
    ) -> Option<String> {
        self.user_add_comment_adf(key, adf::from_text(text), public, author)
    }

    pub fn user_add_comment_adf(
        &self,
        key: &str,
        body: Value,
        public: bool,
        author: &str,
    ) -> Option<String> {
        self.act(|state| {
            let id = state
                .issue_id(key)
                .ok_or_else(super::api_error::ApiError::issue_not_found)?;
            state.add_comment(id, body, public, author)
        })
        .map(|id| id.to_string())
    }

    pub fn issues(&self) -> Vec<SimIssue> {
        let state = self.shared.state();
        state
            .issues
            .values()
            .map(|i| sim_issue(i, &state))
            .collect()
    }

    /// The issue with this id or key.
    pub fn issue(&self, id_or_key: &str) -> Option<SimIssue> {
        let state = self.shared.state();
        let id = state.issue_id(id_or_key)?;
        Some(sim_issue(&state.issues[&id], &state))
    }

    pub fn comments(&self, id_or_key: &str) -> Vec<SimComment> {
        let state = self.shared.state();
        let Some(id) = state.issue_id(id_or_key) else {
            return vec![];
        };
        state.issues[&id]
            .comments
            .iter()
            .map(|c| SimComment {
                id: c.id.to_string(),
                text: adf::to_text_or_flat(&c.body),
                body: c.body.clone(),
                public: c.public,
                author: c.author.clone(),
            })
            .collect()
    }

    /// A genuine `jira:issue_updated` delivery for an issue as it is now,
    /// signed with `secret`: `(body, headers)`.
    pub fn signed_webhook(
        &self,
        id_or_key: &str,
        secret: &str,
    ) -> (Vec<u8>, Vec<(String, String)>) {
        let state = self.shared.state();
        let payload = state
            .issue_id(id_or_key)
            .and_then(|id| {
                state.payload(
                    &self.shared.base_url,
                    &Event::issue("jira:issue_updated", id, DEFAULT_HUMAN),
                )
            })
            .unwrap_or(Value::Null);
        let body = serde_json::to_vec(&payload).unwrap_or_default();
        let headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            (
                IDENTIFIER_HEADER.to_string(),
                uuid::Uuid::new_v4().to_string(),
            ),
            (SIGNATURE_HEADER.to_string(), sign(secret, &body)),
        ];
        (body, headers)
    }
}
