//! Ticket routes: list/count/search with conditions, read, create (201 with
//! validation like ConnectWise's), JSON-Patch updates, PUT (whole record) and
//! delete. Every change touches `_info.lastUpdated` and fires callbacks.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::extract::{Actor, JsonBody, Listing, TicketId};
use super::listing::{self, ApiError, Params};
use super::routes::Sim;
use super::state::{self, NoteFlags, State as Data};
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

/// Whether a write asks not to fire callbacks (`skipCallback`).
fn skips_callback(body: &Value) -> bool {
    body.get("skipCallback")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

pub(crate) async fn list(State(shared): Sim, list: Listing) -> Result<Response, ApiError> {
    list.respond(&listing::TICKET, all_tickets(&shared))
}

pub(crate) async fn count(State(shared): Sim, params: Params) -> Result<Response, ApiError> {
    listing::count(&listing::TICKET, all_tickets(&shared), &params)
}

/// `POST /service/tickets/search {"conditions": "…"}`: a read with a long filter.
pub(crate) async fn search(
    State(shared): Sim,
    mut list: Listing,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let conditions = body.get("conditions").and_then(Value::as_str);
    if let Some(order) = body.get("orderBy").and_then(Value::as_str) {
        list.params.0.push(("orderBy".into(), order.into()));
    }
    list.respond_where(&listing::TICKET, all_tickets(&shared), conditions)
}

pub(crate) async fn get_one(
    State(shared): Sim,
    TicketId(n): TicketId,
    params: Params,
) -> Result<Response, ApiError> {
    let state = shared.state();
    Ok(listing::single(
        state.ticket_json(state.ticket(n)?),
        &params,
    ))
}

pub(crate) async fn create(
    State(shared): Sim,
    Actor(member): Actor,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut state = shared.state();
    let mut t = from_body(&state, &body, None, &member)?;
    state.next_ticket += 1;
    let id = t.id;
    for (field, flags) in [
        ("initialDescription", NoteFlags::of(true, false, false)),
        ("initialInternalAnalysis", NoteFlags::of(false, true, false)),
        ("initialResolution", NoteFlags::of(false, false, true)),
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
        state.tickets.insert(id, t.clone());
        state.add_note(id, text, flags, &member, t.last_updated);
    }
    let json = state.ticket_json(&t);
    state.tickets.insert(id, t);
    if !skips_callback(&body) {
        shared.fire(&state, id, "added", &member);
    }
    Ok((StatusCode::CREATED, axum::Json(json)).into_response())
}

pub(crate) async fn put(
    State(shared): Sim,
    TicketId(n): TicketId,
    Actor(member): Actor,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut state = shared.state();
    let base = state.ticket(n)?.clone();
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
    if !skips_callback(body) {
        shared.fire(state, n, "updated", member);
    }
    Ok(axum::Json(state.ticket_json(state.ticket(n)?)).into_response())
}

pub(crate) async fn patch(
    State(shared): Sim,
    TicketId(n): TicketId,
    Actor(member): Actor,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let ops = body
        .as_array()
        .ok_or_else(|| ApiError::bad_request("A PATCH body must be a JSON array of operations"))?;
    let mut state = shared.state();
    let mut t = state.ticket(n)?.clone();
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
    TicketId(n): TicketId,
    Actor(member): Actor,
) -> Result<Response, ApiError> {
    let mut state = shared.state();
    state.ticket(n)?;
    state.tickets.remove(&n);
    state.notes.retain(|_, note| note.ticket_id != n);
    shared.fire(&state, n, "deleted", &member);
    Ok(StatusCode::NO_CONTENT.into_response())
}
