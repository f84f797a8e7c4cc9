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

/// `PATCH /service/tickets/{id}/notes/{note}`: JSON-Patch `replace` of the
/// note's flags (and text). Afterwards at least one of discussion, internal
/// analysis and resolution must still be set, as on create.
pub(crate) async fn patch(
    State(shared): Sim,
    TicketId(n): TicketId,
    Actor(member): Actor,
    Path((_, note)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let ops = body
        .as_array()
        .ok_or_else(|| ApiError::bad_request("A PATCH body must be a JSON array of operations"))?;
    let mut state = shared.state();
    state.ticket(n)?;
    let note_id = note
        .parse::<i64>()
        .ok()
        .filter(|id| state.notes.get(id).is_some_and(|rec| rec.ticket_id == n))
        .ok_or_else(|| ApiError::not_found(format!("Note {note} not found")))?;
    let mut rec = state.notes[&note_id].clone();
    for op in ops {
        apply_note_op(&mut rec, op)?;
    }
    if !(rec.discussion || rec.internal || rec.resolution) {
        return Err(ApiError::invalid(
            "note",
            "InvalidField",
            "detailDescriptionFlag",
            "At least one of detailDescriptionFlag, internalAnalysisFlag or resolutionFlag must be true.",
        ));
    }
    state.notes.insert(note_id, rec);
    state.touch_ticket(n, &member, state::now());
    shared.fire(&state, n, "updated", &member);
    let json = state
        .notes
        .get(&note_id)
        .map(|note| state.note_json(note))
        .unwrap_or(Value::Null);
    Ok(axum::Json(json).into_response())
}

fn apply_note_op(rec: &mut state::NoteRec, op: &Value) -> Result<(), ApiError> {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
    let path = op
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim_start_matches('/');
    if !kind.eq_ignore_ascii_case("replace") {
        return Err(ApiError::bad_request(format!(
            "Unsupported patch operation {kind:?} on {path:?}"
        )));
    }
    let value = op.get("value").unwrap_or(&Value::Null);
    if path.eq_ignore_ascii_case("text") {
        let text = value
            .as_str()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                ApiError::invalid(
                    "note",
                    "MissingRequiredField",
                    "text",
                    "The text field is required.",
                )
            })?;
        rec.text = state::flatten_text(text);
        return Ok(());
    }
    let flag = value.as_bool().ok_or_else(|| {
        ApiError::invalid(
            "note",
            "InvalidField",
            path,
            format!("{path} must be true or false"),
        )
    })?;
    let target = match path.to_ascii_lowercase().as_str() {
        "detaildescriptionflag" => &mut rec.discussion,
        "internalanalysisflag" => &mut rec.internal,
        "resolutionflag" => &mut rec.resolution,
        "internalflag" => &mut rec.internal_flag,
        "externalflag" => &mut rec.external_flag,
        _ => {
            return Err(ApiError::invalid(
                "note",
                "InvalidField",
                path,
                format!("{path} cannot be patched"),
            ))
        }
    };
    *target = flag;
    Ok(())
}
