//! Comments: the platform API (`/rest/api/3/issue/{key}/comment`, ADF
//! bodies, `jsdPublic` read-only on service desk issues, `sd.public.comment`
//! property for internal ones) and the Jira Service Management API
//! (`/rest/servicedeskapi/request/{key}/comment`, plain-text bodies with a
//! `public` flag).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::api_error::{json_body, ApiError};
use super::routes::{param, params, Actor};
use super::state::{jira_time, CommentRec, State};
use super::webhooks::Event;
use super::Shared;
use crate::adf;

type Sim = AxState<Arc<Shared>>;

/// Jira's per-issue comment limit.
pub const MAX_COMMENTS_PER_ISSUE: usize = 5000;

impl State {
    pub(crate) fn add_comment(
        &mut self,
        id: u64,
        body: Value,
        public: bool,
        actor: &str,
    ) -> Result<(u64, Vec<Event>), ApiError> {
        let cid = self.next_comment;
        let author = self.user_by_name(actor).name;
        let issue = self
            .issues
            .get_mut(&id)
            .ok_or_else(ApiError::issue_not_found)?;
        if issue.comments.len() >= MAX_COMMENTS_PER_ISSUE {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The issue has reached the maximum number of comments.",
            ));
        }
        let now = super::human::now();
        issue.comments.push(CommentRec {
            id: cid,
            body,
            public,
            author,
            created: now,
        });
        issue.updated = now;
        self.next_comment += 1;
        Ok((cid, vec![Event::comment(id, cid, actor)]))
    }
}

fn issue_id(state: &State, key: &str) -> Result<u64, ApiError> {
    state.issue_id(key).ok_or_else(ApiError::issue_not_found)
}

pub(crate) async fn list_platform(
    AxState(sim): Sim,
    Path(key): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = params(q.as_deref());
    let start: usize = param(&p, "startAt")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let max: usize = param(&p, "maxResults")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
        .clamp(1, 100);
    let state = sim.state();
    let id = issue_id(&state, &key)?;
    let issue = &state.issues[&id];
    let page: Vec<Value> = issue
        .comments
        .iter()
        .skip(start)
        .take(max)
        .map(|c| state.comment_json(&sim.base_url, issue, c))
        .collect();
    Ok(Json(json!({"startAt": start, "maxResults": max, "total": issue.comments.len(), "comments": page})).into_response())
}

pub(crate) async fn add_platform(
    AxState(sim): Sim,
    actor: Actor,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b = json_body(&body)?;
    let doc = b.get("body").cloned().unwrap_or(Value::Null);
    if !adf::is_doc(&doc) {
        return Err(ApiError::field("comment", "Comment body is not valid!"));
    }
    let internal = b
        .get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|p| {
            p.get("key").and_then(Value::as_str) == Some("sd.public.comment")
                && p["value"]["internal"] == json!(true)
        });
    let (cid, events, json) = {
        let mut state = sim.state();
        let id = issue_id(&state, &key)?;
        let (cid, events) = state.add_comment(id, doc, !internal, &actor.0)?;
        let issue = &state.issues[&id];
        let c = issue.comments.iter().find(|c| c.id == cid).cloned();
        let json = c
            .map(|c| state.comment_json(&sim.base_url, issue, &c))
            .unwrap_or(Value::Null);
        (cid, events, json)
    };
    let _ = cid;
    sim.deliver(events);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

fn jsm_comment(state: &State, base: &str, c: &CommentRec) -> Value {
    let u = state.user_by_name(&c.author);
    json!({
        "id": c.id.to_string(),
        "body": adf::to_text_or_flat(&c.body),
        "public": c.public,
        "author": {"accountId": u.account_id, "emailAddress": u.email, "displayName": u.name, "active": true, "timeZone": super::SITE_TIME_ZONE},
        "created": {"iso8601": jira_time(c.created), "jira": jira_time(c.created), "friendly": "Today", "epochMillis": c.created.timestamp_millis()},
        "_links": {"self": format!("{base}rest/servicedeskapi/request/{}/comment/{}", 0, c.id)}
    })
}

fn require_desk(state: &State, id: u64) -> Result<(), ApiError> {
    let desk = state
        .issues
        .get(&id)
        .and_then(|i| state.project(i.project))
        .is_some_and(|p| p.service_desk);
    if desk {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "This issue is not a customer request.",
        ))
    }
}

pub(crate) async fn list_jsm(
    AxState(sim): Sim,
    Path(key): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = params(q.as_deref());
    let start: usize = param(&p, "start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let limit: usize = param(&p, "limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let want_public = param(&p, "public") != Some("false");
    let want_internal = param(&p, "internal") != Some("false");
    let state = sim.state();
    let id = issue_id(&state, &key)?;
    require_desk(&state, id)?;
    let all: Vec<&CommentRec> = state.issues[&id]
        .comments
        .iter()
        .filter(|c| if c.public { want_public } else { want_internal })
        .collect();
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|c| jsm_comment(&state, &sim.base_url, c))
        .collect();
    Ok(Json(json!({"size": page.len(), "start": start, "limit": limit, "isLastPage": start + page.len() >= all.len(), "values": page})).into_response())
}

pub(crate) async fn add_jsm(
    AxState(sim): Sim,
    actor: Actor,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b = json_body(&body)?;
    let Some(text) = b
        .get("body")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
    else {
        return Err(ApiError::bad_request("The comment body must not be empty."));
    };
    let public = b.get("public").and_then(Value::as_bool).unwrap_or(true);
    let (events, json) = {
        let mut state = sim.state();
        let id = issue_id(&state, &key)?;
        require_desk(&state, id)?;
        let (cid, events) = state.add_comment(id, adf::from_text(text), public, &actor.0)?;
        let c = state.issues[&id]
            .comments
            .iter()
            .find(|c| c.id == cid)
            .cloned();
        (
            events,
            c.map(|c| jsm_comment(&state, &sim.base_url, &c))
                .unwrap_or(Value::Null),
        )
    };
    sim.deliver(events);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}
