//! What every `/api/v1` handler shares: the handlers' state, JSON errors
//! (`{"error": ...}` with 400/404/409/413/500), query parsing that names the
//! bad parameter and the valid choices, paging parameters, and reading a
//! small JSON body.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::daemon::Health;
use crate::engine::Engine;

/// Largest request body the API reads (bodies are a few fields).
pub const MAX_BODY: usize = 16 * 1024;
/// Default and largest `limit` of a listing.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// The handlers' state.
#[derive(Clone)]
pub struct Api {
    pub engine: Arc<Engine>,
    pub health: Health,
}

/// An error answer: status and message.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            message: message.into(),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        let status = match e {
            crate::store::StoreError::Conflict(_) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            status,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// A handler's result.
pub type ApiResult<T> = Result<Json<T>, ApiError>;

/// The query string's parameters; refuses names not in `allowed` and
/// repeated names, naming them.
pub fn query(raw: Option<&str>, allowed: &[&str]) -> Result<BTreeMap<String, String>, ApiError> {
    let mut params = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            return Err(ApiError::bad(format!(
                "unknown query parameter {name:?}; this route takes: {}",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            )));
        }
        if params.insert(name.to_string(), value.to_string()).is_some() {
            return Err(ApiError::bad(format!(
                "query parameter {name:?} given twice"
            )));
        }
    }
    Ok(params)
}

/// `limit` (1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]).
pub fn limit(params: &BTreeMap<String, String>) -> Result<usize, ApiError> {
    match params.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}, not {v:?}"
                ))
            }),
    }
}

/// A numeric paging parameter (`cursor`, `before`) as this API hands it out.
pub fn number_param(
    params: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<u64>, ApiError> {
    params
        .get(name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad(format!(
                    "{name} {v:?} is not one this API handed out (use the value of the previous page)"
                ))
            })
        })
        .transpose()
}

/// A numeric id from the path.
pub fn path_id(id: &str) -> Result<u64, ApiError> {
    id.parse::<u64>()
        .map_err(|_| ApiError::bad(format!("id {id:?} is not a number")))
}

/// Reads a JSON body of at most [`MAX_BODY`] bytes; an empty body is `None`.
pub async fn json_body<T: DeserializeOwned>(body: Body) -> Result<Option<T>, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: format!("the request body is larger than {MAX_BODY} bytes"),
        })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        ApiError::bad(format!(
            "the request body is not the JSON this route takes: {e}"
        ))
    })
}

/// Unix milliseconds of a time.
pub fn unix_ms(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_parameters_are_named() {
        let e = query(Some("limit=5&bogus=1"), &["limit"]).unwrap_err();
        assert!(
            e.message.contains("bogus") && e.message.contains("limit"),
            "{e:?}"
        );
        let e = query(Some("limit=5&limit=6"), &["limit"]).unwrap_err();
        assert!(e.message.contains("twice"), "{e:?}");
        for bad in ["0", "501", "-1", "x"] {
            let p = query(Some(&format!("limit={bad}")), &["limit"]).unwrap();
            let e = limit(&p).unwrap_err();
            assert!(e.message.starts_with("limit"), "{e:?}");
        }
        let p = query(Some("cursor=abc"), &["cursor"]).unwrap();
        assert!(number_param(&p, "cursor")
            .unwrap_err()
            .message
            .starts_with("cursor"));
        assert_eq!(limit(&query(None, &[]).unwrap()).unwrap(), DEFAULT_LIMIT);
    }
}
