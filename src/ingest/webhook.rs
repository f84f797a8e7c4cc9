//! `POST /webhooks/{connection}`: verify the vendor's signature over the raw
//! bytes, store the notice durably, then answer. 401 for a missing or wrong
//! signature (nothing stored), 400 malformed, 413 too large, 404 unknown
//! connection, 503 when the notice could not be stored (the vendor retries).

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use psa_connector::WebhookRequest;
use serde_json::json;

use super::enqueue;
use crate::engine::Engine;
use crate::store::IntakeSource;

/// What the webhook routes need.
#[derive(Clone)]
pub struct WebhookState {
    pub engine: Arc<Engine>,
    /// Connections that accept webhooks.
    pub enabled: Arc<HashSet<String>>,
}

/// The webhook routes, with the body size limit applied.
pub fn router(state: WebhookState, max_body: usize) -> Router {
    Router::new()
        .route("/webhooks/{connection}", post(receive))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

fn answer(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn receive(
    State(state): State<WebhookState>,
    Path(connection): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = |o: &'static str| {
        metrics::counter!("psa_bridge_webhooks_total", "connection" => connection.clone(), "outcome" => o).increment(1);
    };
    let Some(conn) = state
        .engine
        .connection(&connection)
        .filter(|_| state.enabled.contains(&connection))
    else {
        outcome("unknown_connection");
        return answer(StatusCode::NOT_FOUND, "no such connection accepts webhooks");
    };
    let request = WebhookRequest {
        headers,
        query,
        body,
    };
    let hints = match conn.connector.verify_webhook(&request).await {
        Ok(hints) => hints,
        Err(e) => {
            tracing::warn!(connection = %connection, error = %e, "webhook refused");
            outcome("refused");
            let status = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::BAD_REQUEST);
            return answer(status, &e.to_string());
        }
    };
    match enqueue(
        &state.engine,
        &connection,
        IntakeSource::Webhook,
        &hints,
        None,
    )
    .await
    {
        Ok(counts) => {
            outcome("accepted");
            tracing::info!(connection = %connection, accepted = counts.accepted, duplicates = counts.duplicates, "webhook stored");
            (StatusCode::OK, Json(counts)).into_response()
        }
        Err(e) => {
            tracing::error!(connection = %connection, error = %e, "cannot store webhook");
            outcome("store_failed");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot store the notice right now; retry",
            )
        }
    }
}
