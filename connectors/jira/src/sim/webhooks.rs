//! Admin webhooks (`/rest/webhooks/1.0/webhook`: name, url, events, a JQL
//! filter and a secret) and their delivery: Jira's payload, signed
//! `X-Hub-Signature: sha256=<hex>` when a secret is set, with
//! `X-Atlassian-Webhook-Identifier` (the same on every retry) and
//! `X-Atlassian-Webhook-Retry` on retries; a failed delivery (no answer,
//! 408/409/425/429/5xx) is retried a few times.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::api_error::{json_body, ApiError};
use super::jql;
use super::state::{State, WebhookRec};
use super::Shared;
use crate::webhook::{sign, IDENTIFIER_HEADER, RETRY_HEADER, SIGNATURE_HEADER};

type Sim = AxState<Arc<Shared>>;

/// Deliveries after the first for one failing webhook call.
pub const RETRIES: u32 = 3;

/// A change webhooks may announce.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub kind: &'static str,
    pub issue: u64,
    pub comment: Option<u64>,
    pub actor: String,
}

impl Event {
    pub fn issue(kind: &'static str, issue: u64, actor: &str) -> Self {
        Self {
            kind,
            issue,
            comment: None,
            actor: actor.to_string(),
        }
    }
    pub fn comment(issue: u64, comment: u64, actor: &str) -> Self {
        Self {
            kind: "comment_created",
            issue,
            comment: Some(comment),
            actor: actor.to_string(),
        }
    }
}

impl State {
    /// The payload Jira posts for `event`, if its issue still exists.
    pub(crate) fn payload(&self, base: &str, event: &Event) -> Option<Value> {
        let issue = self.issues.get(&event.issue)?;
        let mut v = json!({
            "timestamp": chrono::Utc::now().timestamp_millis(),
            "webhookEvent": event.kind,
            "issue_event_type_name": if event.kind == "jira:issue_created" { "issue_created" } else if event.comment.is_some() { "issue_commented" } else { "issue_generic" },
            "user": self.user_json(base, &event.actor),
            "issue": self.issue_json(base, issue, None, &[]),
        });
        if let Some(cid) = event.comment {
            if let Some(c) = issue.comments.iter().find(|c| c.id == cid) {
                v["comment"] = self.comment_json(base, issue, c);
            }
        } else if event.kind == "jira:issue_updated" {
            v["changelog"] =
                json!({"id": uuid::Uuid::new_v4().as_u128() as u32 as u64, "items": []});
        }
        Some(v)
    }
}

fn should_retry(status: u16) -> bool {
    status == 0 || matches!(status, 408 | 409 | 425 | 429) || status >= 500
}

impl Shared {
    /// Posts each event to every enabled webhook that wants it (events list
    /// and JQL filter), each delivery in its own tracked task.
    pub(crate) fn deliver(self: &Arc<Self>, events: Vec<Event>) {
        let state = self.state();
        if !state.webhooks_enabled {
            return;
        }
        for event in &events {
            let Some(payload) = state.payload(&self.base_url, event) else {
                continue;
            };
            let Some(issue) = state.issues.get(&event.issue) else {
                continue;
            };
            for hook in state
                .webhooks
                .values()
                .filter(|h| h.enabled && h.events.iter().any(|e| e == event.kind))
            {
                if !hook.jql.trim().is_empty() {
                    let wanted = jql::parse(&hook.jql)
                        .ok()
                        .and_then(|q| q.filter)
                        .map(|f| f.matches(&state, issue).unwrap_or(false))
                        .unwrap_or(false);
                    if !wanted {
                        continue;
                    }
                }
                let body = serde_json::to_vec(&payload).unwrap_or_default();
                let mut headers = vec![
                    ("content-type".to_string(), "application/json".to_string()),
                    (
                        IDENTIFIER_HEADER.to_string(),
                        uuid::Uuid::new_v4().to_string(),
                    ),
                    (
                        "x-atlassian-webhook-flow".to_string(),
                        "Primary".to_string(),
                    ),
                ];
                if let Some(secret) = &hook.secret {
                    headers.push((SIGNATURE_HEADER.to_string(), sign(secret, &body)));
                }
                let control = self.control.clone();
                let url = hook.url.clone();
                let task = self.runtime.spawn(async move {
                    for attempt in 0..=RETRIES {
                        let mut h = headers.clone();
                        if attempt > 0 {
                            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                            h.push((RETRY_HEADER.to_string(), attempt.to_string()));
                        }
                        let status = psa_connector::sim::send_webhook_status(
                            control.clone(),
                            url.clone(),
                            h,
                            body.clone(),
                        )
                        .await;
                        if !should_retry(status) {
                            break;
                        }
                    }
                });
                self.deliveries
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(task);
            }
        }
    }

    pub(crate) async fn wait_idle(&self) {
        loop {
            let pending: Vec<_> =
                std::mem::take(&mut *self.deliveries.lock().unwrap_or_else(|e| e.into_inner()));
            if pending.is_empty() {
                return;
            }
            for task in pending {
                let _ = task.await;
            }
        }
    }
}

fn hook_json(base: &str, h: &WebhookRec) -> Value {
    json!({
        "self": format!("{base}rest/webhooks/1.0/webhook/{}", h.id),
        "name": h.name, "url": h.url, "events": h.events,
        "filters": {"issue-related-events-section": h.jql},
        "excludeBody": false, "enabled": h.enabled,
        "lastUpdatedUser": "557058:bridge-api-user", "lastUpdatedDisplayName": "PSA Bridge",
    })
}

const EVENTS: [&str; 6] = [
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
];

/// A webhook as a request body describes it (id 0: not assigned yet).
fn parse_hook(body: &Bytes) -> Result<WebhookRec, ApiError> {
    let b = json_body(body)?;
    let url = b
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if url::Url::parse(&url).is_err() {
        return Err(ApiError::field(
            "url",
            "The URL must be a valid absolute URL.",
        ));
    }
    let events: Vec<String> = b
        .get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect();
    if let Some(bad) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(ApiError::field("events", format!("Unknown event '{bad}'.")));
    }
    let jql_text = b
        .pointer("/filters/issue-related-events-section")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !jql_text.trim().is_empty() {
        jql::parse(&jql_text)
            .map_err(|e| ApiError::field("filters", format!("Invalid JQL: {e}")))?;
    }
    Ok(WebhookRec {
        id: 0,
        name: b
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("webhook")
            .to_string(),
        url,
        events,
        jql: jql_text,
        secret: b
            .get("secret")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        enabled: b.get("enabled").and_then(Value::as_bool).unwrap_or(true),
    })
}

pub(crate) async fn register(AxState(sim): Sim, body: Bytes) -> Result<Response, ApiError> {
    let mut rec = parse_hook(&body)?;
    let mut state = sim.state();
    rec.id = state.next_webhook;
    state.next_webhook += 1;
    let json = hook_json(&sim.base_url, &rec);
    state.webhooks.insert(rec.id, rec);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// `PUT …/webhook/{id}`: replaces the webhook (the secret is kept when the
/// body has none, as Jira never returns it).
pub(crate) async fn update(
    AxState(sim): Sim,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut rec = parse_hook(&body)?;
    let mut state = sim.state();
    let Some(old) = id.parse::<u64>().ok().and_then(|n| state.webhooks.get(&n)) else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Webhook not found."));
    };
    rec.id = old.id;
    if rec.secret.is_none() {
        rec.secret = old.secret.clone();
    }
    let json = hook_json(&sim.base_url, &rec);
    state.webhooks.insert(rec.id, rec);
    Ok(Json(json).into_response())
}

pub(crate) async fn list(AxState(sim): Sim) -> Json<Value> {
    let state = sim.state();
    Json(Value::Array(
        state
            .webhooks
            .values()
            .map(|h| hook_json(&sim.base_url, h))
            .collect(),
    ))
}

pub(crate) async fn remove(
    AxState(sim): Sim,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let removed = id
        .parse::<u64>()
        .ok()
        .and_then(|n| sim.state().webhooks.remove(&n));
    match removed {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "Webhook not found.")),
    }
}
