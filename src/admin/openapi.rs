//! The OpenAPI 3.1 document of the admin listener, hand-written in
//! `openapi.json` beside this file and served as it is (OPEN) at
//! `/api/v1/openapi.json`. Tests keep it true to the code: every route of
//! [`super::ROUTES`] is in it with its method and access and nothing else
//! is (below), it validates as OpenAPI 3.1 and the daemon's answers
//! validate against its schemas (`tests/e2e/api_openapi.rs`).

use axum::http::header;
use axum::response::IntoResponse;

/// The document's text.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
