//! Callback registration routes (`/system/callbacks`) and the signing-key
//! endpoint (`/system/callbackkey/index.rails`, no auth) that `key_url` names.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::api_error::find;
use super::extract::{JsonBody, Listing};
use super::listing::{self, ApiError, Params};
use super::routes::Sim;
use super::state::CallbackRec;

pub(crate) async fn signing_key(State(shared): Sim, params: Params) -> Response {
    let known = params.get("id") == Some(shared.key_id.as_str())
        && params
            .get("companyName")
            .is_some_and(|c| c.eq_ignore_ascii_case(&shared.options.company_id));
    if !known {
        return ApiError::not_found("Callback key not found").into_response();
    }
    axum::Json(json!({"signing_key": shared.signing_key()})).into_response()
}

pub(crate) async fn list(State(shared): Sim, list: Listing) -> Result<Response, ApiError> {
    let state = shared.state();
    let items = state
        .callbacks
        .values()
        .map(|c| state.callback_json(c))
        .collect();
    list.respond(&listing::CALLBACK, items)
}

pub(crate) async fn get_one(
    State(shared): Sim,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let state = shared.state();
    let cb = find("Callback", &id, |n| state.callbacks.get(&n))?;
    Ok(axum::Json(state.callback_json(cb)).into_response())
}

pub(crate) async fn delete(
    State(shared): Sim,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    find("Callback", &id, |n| shared.state().callbacks.remove(&n))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// JSON-Patch `replace` of `inactiveFlag` or `description` (what a client
/// changes on an existing callback); other paths are refused.
pub(crate) async fn patch(
    State(shared): Sim,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let ops = body
        .as_array()
        .ok_or_else(|| ApiError::bad_request("A PATCH body must be a JSON array of operations"))?;
    let mut state = shared.state();
    let mut cb = find("Callback", &id, |n| state.callbacks.get(&n).cloned())?;
    for op in ops {
        let path = op.get("path").and_then(Value::as_str).unwrap_or_default();
        let value = op.get("value");
        match (path, value) {
            ("inactiveFlag", Some(Value::Bool(v))) => {
                cb.inactive = *v;
                cb.failing_since = None;
                cb.failures = 0;
            }
            ("description", Some(Value::String(v))) => cb.description = v.clone(),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Cannot patch callback path {path:?}"
                )))
            }
        }
    }
    let json = state.callback_json(&cb);
    state.callbacks.insert(cb.id, cb);
    Ok(axum::Json(json).into_response())
}

pub(crate) async fn create(
    State(shared): Sim,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let missing = |field: &str| {
        ApiError::invalid(
            "callback",
            "MissingRequiredField",
            field,
            format!("The {field} field is required."),
        )
    };
    let url = text("url").ok_or_else(|| missing("url"))?;
    if !matches!(
        url::Url::parse(&url)
            .map(|u| u.scheme().to_string())
            .as_deref(),
        Ok("http" | "https")
    ) {
        return Err(ApiError::invalid(
            "callback",
            "InvalidField",
            "url",
            "The url must be an absolute http(s) URL.",
        ));
    }
    let kind = text("type").ok_or_else(|| missing("type"))?;
    let level = text("level").ok_or_else(|| missing("level"))?;
    let object_id = body
        .get("objectId")
        .and_then(Value::as_i64)
        .ok_or_else(|| missing("objectId"))?;
    let mut state = shared.state();
    if state.callbacks.values().any(|c| {
        c.url == url && c.kind.eq_ignore_ascii_case(&kind) && c.level.eq_ignore_ascii_case(&level)
    }) {
        return Err(ApiError::invalid(
            "callback",
            "ObjectExists",
            "url",
            "A callback with this url, type and level already exists.",
        ));
    }
    let member_id = state
        .member_by_identifier(&state.api_member.clone())
        .map(|m| m.id)
        .unwrap_or(0);
    let rec = CallbackRec {
        id: state.next_callback,
        description: text("description").unwrap_or_default(),
        url,
        object_id,
        kind,
        level,
        member_id,
        payload_version: text("payloadVersion").unwrap_or_else(|| "3.0.0".into()),
        inactive: body
            .get("inactiveFlag")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        self_suppressed: body
            .get("isSelfSuppressedFlag")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        failing_since: None,
        failures: 0,
    };
    state.next_callback += 1;
    let json = state.callback_json(&rec);
    state.callbacks.insert(rec.id, rec);
    Ok((StatusCode::CREATED, axum::Json(json)).into_response())
}
