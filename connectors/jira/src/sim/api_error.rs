//! Jira's error envelope `{"errorMessages":[…],"errors":{field: message}}`
//! as an axum answer, and the body the shared middleware uses for faults.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub messages: Vec<String>,
    pub errors: Map<String, Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            messages: vec![message.into()],
            errors: Map::new(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// 400 with one field error and no general message.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Map::new();
        errors.insert(field.to_string(), Value::String(message.into()));
        Self {
            status: StatusCode::BAD_REQUEST,
            messages: vec![],
            errors,
        }
    }
    pub fn issue_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Issue does not exist or you do not have permission to see it.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"errorMessages": self.messages, "errors": self.errors})),
        )
            .into_response()
    }
}

/// The envelope for faults the shared middleware injects.
pub(crate) fn error_body(_status: u16, message: &str) -> Value {
    json!({"errorMessages": [message], "errors": {}})
}

/// Reads a JSON request body, answering Jira's 400 when it is not JSON.
pub(crate) fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("Unexpected character in the request body: {e}"))
    })
}
