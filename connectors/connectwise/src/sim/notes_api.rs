//! Note routes of a ticket: list/count/read (`/notes`, `/allNotes`) and
//! create, with ConnectWise's flags (discussion, internal analysis,
//! resolution) and newlines flattened to spaces as the guide warns.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::extract::{Actor, JsonBody, Listing, TicketId};
use super::listing::{self, ApiError, Params};
use super::routes::Sim;
use super::state::{self, NoteFlags};
use super::Shared;

fn ticket_notes(shared: &Shared, n: i64) -> Result<Vec<Value>, ApiError> {
    let state = shared.state();
    state.ticket(n)?;
    Ok(state
        .notes
        .values()
        .filter(|note| note.ticket_id == n)
        .map(|note| state.note_json(note))
        .collect())
}

pub(crate) async fn list(
    State(shared): Sim,
    TicketId(n): TicketId,
    list: Listing,
) -> Result<Response, ApiError> {
    list.respond(&listing::NOTE, ticket_notes(&shared, n)?)
}

/// `allNotes`: the ticket's notes with their note type.
pub(crate) async fn all_notes(
    State(shared): Sim,
    TicketId(n): TicketId,
    list: Listing,
) -> Result<Response, ApiError> {
    let items = ticket_notes(&shared, n)?
        .into_iter()
        .map(|mut n| {
            n["noteType"] = Value::from("TicketNote");
            n
        })
        .collect();
    list.respond(&listing::NOTE, items)
}

pub(crate) async fn count(
    State(shared): Sim,
    TicketId(n): TicketId,
    params: Params,
) -> Result<Response, ApiError> {
    listing::count(&listing::NOTE, ticket_notes(&shared, n)?, &params)
}

pub(crate) async fn get_one(
    State(shared): Sim,
    TicketId(n): TicketId,
    Path((_, note)): Path<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    let items = ticket_notes(&shared, n)?;
    let wanted = note.parse::<i64>().ok();
    let found = items
        .into_iter()
        .find(|n| n.get("id").and_then(Value::as_i64) == wanted && wanted.is_some())
        .ok_or_else(|| ApiError::not_found(format!("Note {note} not found")))?;
    Ok(listing::single(found, &params))
}

pub(crate) async fn create(
    State(shared): Sim,
    TicketId(n): TicketId,
    Actor(member): Actor,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let text = body
        .get("text")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                "note",
                "MissingRequiredField",
                "text",
                "The text field is required.",
            )
        })?;
    let flag = |name: &str| body.get(name).and_then(Value::as_bool);
    let mut flags = NoteFlags::of(
        flag("detailDescriptionFlag").unwrap_or(false),
        flag("internalAnalysisFlag").unwrap_or(false),
        flag("resolutionFlag").unwrap_or(false),
    );
    // `internalFlag`/`externalFlag` are stored as written when given.
    if let Some(v) = flag("internalFlag") {
        flags.internal_flag = v;
    }
    if let Some(v) = flag("externalFlag") {
        flags.external_flag = v;
    }
    if !(flags.discussion || flags.internal || flags.resolution) {
        return Err(ApiError::invalid(
            "note",
            "InvalidField",
            "detailDescriptionFlag",
            "At least one of detailDescriptionFlag, internalAnalysisFlag or resolutionFlag must be true.",
        ));
    }
    let mut state = shared.state();
    state.ticket(n)?;
    let note_id = state.add_note(n, text, flags, &member, state::now());
    shared.fire(&state, n, "updated", &member);
    let json = state
        .notes
        .get(&note_id)
        .map(|note| state.note_json(note))
        .unwrap_or(Value::Null);
    Ok((StatusCode::CREATED, axum::Json(json)).into_response())
}
