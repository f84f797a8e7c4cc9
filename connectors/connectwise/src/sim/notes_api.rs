//! Note routes of a ticket: list/count/read (`/notes`, `/allNotes`) and
//! create, with ConnectWise's flags (discussion, internal analysis,
//! resolution) and newlines flattened to spaces as the guide warns.

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::listing::{self, ApiError, Params};
use super::routes::{identify, json_body, link_base, Sim};
use super::state::{self, NoteRec};
use super::Shared;

fn ticket_notes(shared: &Shared, id: &str) -> Result<Vec<Value>, ApiError> {
    let n = id
        .parse::<i64>()
        .map_err(|_| ApiError::not_found(format!("Ticket {id} not found")))?;
    let state = shared.state();
    if !state.tickets.contains_key(&n) {
        return Err(ApiError::not_found(format!("Ticket {n} not found")));
    }
    Ok(state
        .notes
        .values()
        .filter(|note| note.ticket_id == n)
        .map(|note| state.note_json(note))
        .collect())
}

pub(crate) async fn list(
    State(shared): Sim,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    uri: OriginalUri,
) -> Result<Response, ApiError> {
    let items = ticket_notes(&shared, &id)?;
    listing::respond(
        &listing::NOTE,
        items,
        &Params::parse(q.as_deref()),
        None,
        &headers,
        &link_base(&shared, &uri),
    )
}

/// `allNotes`: the ticket's notes with their note type.
pub(crate) async fn all_notes(
    State(shared): Sim,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    uri: OriginalUri,
) -> Result<Response, ApiError> {
    let items = ticket_notes(&shared, &id)?
        .into_iter()
        .map(|mut n| {
            n["noteType"] = Value::from("TicketNote");
            n
        })
        .collect();
    listing::respond(
        &listing::NOTE,
        items,
        &Params::parse(q.as_deref()),
        None,
        &headers,
        &link_base(&shared, &uri),
    )
}

pub(crate) async fn count(
    State(shared): Sim,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    listing::count(
        &listing::NOTE,
        ticket_notes(&shared, &id)?,
        &Params::parse(q.as_deref()),
    )
}

pub(crate) async fn get_one(
    State(shared): Sim,
    Path((id, note)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let items = ticket_notes(&shared, &id)?;
    let wanted = note.parse::<i64>().ok();
    let found = items
        .into_iter()
        .find(|n| n.get("id").and_then(Value::as_i64) == wanted && wanted.is_some())
        .ok_or_else(|| ApiError::not_found(format!("Note {note} not found")))?;
    Ok(listing::single(found, &Params::parse(q.as_deref())))
}

pub(crate) async fn create(
    State(shared): Sim,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let n = id
        .parse::<i64>()
        .map_err(|_| ApiError::not_found(format!("Ticket {id} not found")))?;
    let body = json_body(&body)?;
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
    let flag = |name: &str| body.get(name).and_then(Value::as_bool).unwrap_or(false);
    let (discussion, internal, resolution) = (
        flag("detailDescriptionFlag"),
        flag("internalAnalysisFlag"),
        flag("resolutionFlag"),
    );
    if !(discussion || internal || resolution) {
        return Err(ApiError::invalid(
            "note",
            "InvalidField",
            "detailDescriptionFlag",
            "At least one of detailDescriptionFlag, internalAnalysisFlag or resolutionFlag must be true.",
        ));
    }
    let mut state = shared.state();
    if !state.tickets.contains_key(&n) {
        return Err(ApiError::not_found(format!("Ticket {n} not found")));
    }
    let member = match identify(&headers) {
        Some(p) if p == shared.options.public_key => state.api_member.clone(),
        Some(p) => p,
        None => "unknown".into(),
    };
    let member_id = state.member_by_identifier(&member).map(|m| m.id);
    let note_id = state.add_note(NoteRec {
        id: 0,
        ticket_id: n,
        text: text.to_string(),
        discussion,
        internal,
        resolution,
        member_id,
        created_by: member.clone(),
        created: state::now(),
    });
    shared.fire(&state, n, "updated", &member);
    let json = state
        .notes
        .get(&note_id)
        .map(|note| state.note_json(note))
        .unwrap_or(Value::Null);
    Ok((StatusCode::CREATED, axum::Json(json)).into_response())
}
