//! The issue routes: read with `fields`/`properties`, create, edit,
//! edit metadata,
//! transitions (`expand=transitions.fields`) and issue properties.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::api_error::{json_body, ApiError};
use super::routes::{param, params, Actor};
use super::state::State;
use super::Shared;

type Sim = AxState<Arc<Shared>>;

fn issue_id(state: &State, key: &str) -> Result<u64, ApiError> {
    state.issue_id(key).ok_or_else(ApiError::issue_not_found)
}

fn list(raw: Option<&str>) -> Option<Vec<String>> {
    raw.map(|f| {
        f.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

pub(crate) async fn get_issue(
    AxState(sim): Sim,
    Path(key): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = params(q.as_deref());
    let state = sim.state();
    let id = issue_id(&state, &key)?;
    let issue = &state.issues[&id];
    let fields = list(param(&p, "fields"));
    let props = list(param(&p, "properties")).unwrap_or_default();
    Ok(Json(state.issue_json(&sim.base_url, issue, fields.as_deref(), &props)).into_response())
}

pub(crate) async fn create_issue(
    AxState(sim): Sim,
    actor: Actor,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let (id, events) = {
        let mut state = sim.state();
        state.create_issue(&body, &actor.0)?
    };
    let key = sim
        .state()
        .issues
        .get(&id)
        .map(|i| i.key.clone())
        .unwrap_or_default();
    sim.deliver(events);
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id.to_string(), "key": key, "self": format!("{}rest/api/3/issue/{id}", sim.base_url)})),
    )
        .into_response())
}

pub(crate) async fn edit_issue(
    AxState(sim): Sim,
    actor: Actor,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let events = {
        let mut state = sim.state();
        let id = issue_id(&state, &key)?;
        state.edit_issue(id, &body, &actor.0)?
    };
    sim.deliver(events);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET …/editmeta`: the edit screen's fields for this issue.
pub(crate) async fn edit_meta(
    AxState(sim): Sim,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let state = sim.state();
    let id = issue_id(&state, &key)?;
    Ok(Json(state.edit_meta(&sim.base_url, &state.issues[&id])).into_response())
}

pub(crate) async fn get_transitions(
    AxState(sim): Sim,
    Path(key): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = params(q.as_deref());
    let with_fields = param(&p, "expand").is_some_and(|e| e.contains("transitions.fields"));
    let state = sim.state();
    let id = issue_id(&state, &key)?;
    let issue = &state.issues[&id];
    let list: Vec<Value> = state
        .offered(issue)
        .into_iter()
        .filter_map(|t| {
            let to = state.status(t.to)?;
            Some(super::workflow::transition_json(
                &sim.base_url,
                t,
                to,
                with_fields,
            ))
        })
        .collect();
    Ok(Json(json!({"expand": "transitions", "transitions": list})).into_response())
}

pub(crate) async fn do_transition(
    AxState(sim): Sim,
    actor: Actor,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let events = {
        let mut state = sim.state();
        let id = issue_id(&state, &key)?;
        state.transition_issue(id, &body, &actor.0)?
    };
    sim.deliver(events);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn get_property(
    AxState(sim): Sim,
    Path((key, prop)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let state = sim.state();
    let id = issue_id(&state, &key)?;
    match state.issues[&id].properties.get(&prop) {
        Some(v) => Ok(Json(json!({"key": prop, "value": v})).into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("The property with key '{prop}' does not exist."),
        )),
    }
}

pub(crate) async fn list_properties(
    AxState(sim): Sim,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let state = sim.state();
    let id = issue_id(&state, &key)?;
    let keys: Vec<Value> = state.issues[&id]
        .properties
        .keys()
        .map(|k| json!({"key": k, "self": format!("{}rest/api/3/issue/{id}/properties/{k}", sim.base_url)}))
        .collect();
    Ok(Json(json!({"keys": keys})).into_response())
}

pub(crate) async fn put_property(
    AxState(sim): Sim,
    Path((key, prop)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value = json_body(&body)?;
    if prop.is_empty() || prop.len() > 255 {
        return Err(ApiError::bad_request(
            "The property key must be between 1 and 255 characters.",
        ));
    }
    let mut state = sim.state();
    let id = issue_id(&state, &key)?;
    let issue = state
        .issues
        .get_mut(&id)
        .ok_or_else(ApiError::issue_not_found)?;
    let existed = issue.properties.insert(prop, value).is_some();
    Ok(if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
    .into_response())
}
