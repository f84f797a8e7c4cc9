//! Ticket routes: list/count/search with conditions, read, create (201 with
//! validation like ConnectWise's), JSON-Patch updates, PUT (whole record) and
//! delete. Every change touches `_info.lastUpdated` and fires callbacks.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::listing::{self, ApiError, Params};
use super::routes::{identify, json_body, link_base, Sim};
use super::state::{self, NoteRec, State as Data};
use super::ticket_rules::{apply_op, from_body, resolve_status};
use super::Shared;

fn all_tickets(shared: &Shared) -> Vec<Value> {
    let state = shared.state();
    state
        .tickets
        .values()
        .map(|t| state.ticket_json(t))
        .collect()
}

fn ticket_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .map_err(|_| ApiError::not_found(format!("Ticket {id} not found")))
}

/// The member a request acts as (the API member for valid keys).
fn actor(shared: &Shared, headers: &HeaderMap) -> String {
    match identify(headers) {
        Some(p) if p == shared.options.public_key => shared.state().api_member.clone(),
        Some(p) => p,
        None => "unknown".into(),
    }
}

pub(crate) async fn list(
    State(shared): Sim,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    uri: OriginalUri,
) -> Result<Response, ApiError> {
    let items = all_tickets(&shared);
    listing::respond(
        &listing::TICKET,
        items,
        &Params::parse(q.as_deref()),
        None,
        &headers,
        &link_base(&shared, &uri),
    )
}

pub(crate) async fn count(State(shared): Sim, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    listing::count(
        &listing::TICKET,
        all_tickets(&shared),
        &Params::parse(q.as_deref()),
    )
}

/// `POST /service/tickets/search {"conditions": "…"}`: a read with a long filter.
pub(crate) async fn search(
    State(shared): Sim,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    uri: OriginalUri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let conditions = body
        .get("conditions")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut params = Params::parse(q.as_deref());
    if let Some(order) = body.get("orderBy").and_then(Value::as_str) {
        params.0.push(("orderBy".into(), order.into()));
    }
    listing::respond(
        &listing::TICKET,
        all_tickets(&shared),
        &params,
        conditions.as_deref(),
        &headers,
        &link_base(&shared, &uri),
    )
}

pub(crate) async fn get_one(
    State(shared): Sim,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let n = ticket_id(&id)?;
    let state = shared.state();
    let t = state
        .tickets
        .get(&n)
        .ok_or_else(|| ApiError::not_found(format!("Ticket {n} not found")))?;
    Ok(listing::single(
        state.ticket_json(t),
        &Params::parse(q.as_deref()),
    ))
}

pub(crate) async fn create(
    State(shared): Sim,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let member = actor(&shared, &headers);
    let mut state = shared.state();
    let mut t = from_body(&state, &body, None, &member)?;
    state.next_ticket += 1;
    let id = t.id;
    for (field, discussion, internal, resolution) in [
        ("initialDescription", true, false, false),
        ("initialInternalAnalysis", false, true, false),
        ("initialResolution", false, false, true),
    ] {
        let Some(text) = body
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
        else {
            continue;
        };
        if field == "initialDescription" {
            t.initial_description = state::flatten_text(text);
        }
        let member_id = state.member_by_identifier(&member).map(|m| m.id);
        state.tickets.insert(id, t.clone());
        state.add_note(NoteRec {
            id: 0,
            ticket_id: id,
            text: text.to_string(),
            discussion,
            internal,
            resolution,
            member_id,
            created_by: member.clone(),
            created: t.last_updated,
        });
    }
    let json = state.ticket_json(&t);
    state.tickets.insert(id, t);
    if !body
        .get("skipCallback")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        shared.fire(&state, id, "added", &member);
    }
    Ok((StatusCode::CREATED, axum::Json(json)).into_response())
}

pub(crate) async fn put(
    State(shared): Sim,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let n = ticket_id(&id)?;
    let body = json_body(&body)?;
    let member = actor(&shared, &headers);
    let mut state = shared.state();
    let base = state
        .tickets
        .get(&n)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Ticket {n} not found")))?;
    let t = from_body(&state, &body, Some(&base), &member)?;
    state.tickets.insert(n, t);
    commit(&shared, &state, n, &member, &body)
}

fn commit(
    shared: &Arc<Shared>,
    state: &Data,
    n: i64,
    member: &str,
    body: &Value,
) -> Result<Response, ApiError> {
    if !body
        .get("skipCallback")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        shared.fire(state, n, "updated", member);
    }
    let t = state
        .tickets
        .get(&n)
        .ok_or_else(|| ApiError::not_found(format!("Ticket {n} not found")))?;
    Ok(axum::Json(state.ticket_json(t)).into_response())
}

pub(crate) async fn patch(
    State(shared): Sim,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let n = ticket_id(&id)?;
    let body = json_body(&body)?;
    let ops = body
        .as_array()
        .ok_or_else(|| ApiError::bad_request("A PATCH body must be a JSON array of operations"))?;
    let member = actor(&shared, &headers);
    let mut state = shared.state();
    let mut t = state
        .tickets
        .get(&n)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Ticket {n} not found")))?;
    let old_board = t.board_id;
    let mut new_status = None;
    for op in ops {
        apply_op(&state, &mut t, op, &mut new_status)?;
    }
    let now = state::now();
    let status = match new_status {
        Some(r) => Some(resolve_status(&state, t.board_id, &r)?),
        None if t.board_id != old_board => state.default_status(t.board_id).cloned(),
        None => None,
    };
    if let Some(s) = status {
        Data::apply_status(&mut t, &s, now);
    }
    t.last_updated = now;
    t.updated_by = member.clone();
    state.tickets.insert(n, t);
    commit(&shared, &state, n, &member, &Value::Null)
}

pub(crate) async fn delete(
    State(shared): Sim,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let n = ticket_id(&id)?;
    let member = actor(&shared, &headers);
    let mut state = shared.state();
    state
        .tickets
        .remove(&n)
        .ok_or_else(|| ApiError::not_found(format!("Ticket {n} not found")))?;
    state.notes.retain(|_, note| note.ticket_id != n);
    shared.fire(&state, n, "deleted", &member);
    Ok(StatusCode::NO_CONTENT.into_response())
}
