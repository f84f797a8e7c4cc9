//! The simulator's error answer in ConnectWise's shape, and query parameters
//! looked up the case-insensitive way ConnectWise does.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// A ConnectWise error answer: `{"code","message","errors":[…]}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub errors: Vec<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            errors: Vec::new(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidObject", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }
    /// 400 `{resource} object is invalid` with one field error.
    pub fn invalid(resource: &str, code: &str, field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::bad_request(format!("{resource} object is invalid"));
        e.errors.push(
            json!({"code": code, "message": message.into(), "resource": resource, "field": field}),
        );
        e
    }
}

/// Looks `{what} {id}` up by the number in the path: 404 when the path holds
/// no number or nothing has that id.
pub(crate) fn find<T>(
    what: &str,
    id: &str,
    lookup: impl FnOnce(i64) -> Option<T>,
) -> Result<T, ApiError> {
    id.parse::<i64>()
        .ok()
        .and_then(lookup)
        .ok_or_else(|| ApiError::not_found(format!("{what} {id} not found")))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"code": self.code, "message": self.message});
        if !self.errors.is_empty() {
            body["errors"] = Value::Array(self.errors);
        }
        (self.status, axum::Json(body)).into_response()
    }
}

/// Query parameters, looked up case-insensitively.
#[derive(Clone, Debug, Default)]
pub(crate) struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }
    pub fn without(&self, names: &[&str]) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| !names.iter().any(|n| k.eq_ignore_ascii_case(n)))
            .cloned()
            .collect()
    }
}
