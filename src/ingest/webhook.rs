//! `POST /webhooks/{connection}`: verify the vendor's signature over the raw
//! bytes, store the notice durably, then answer. 401 for a missing or wrong
//! signature (nothing stored), 400 malformed, 413 too large, 404 unknown
//! connection, 503 when the notice could not be stored (the vendor retries).
//!
//! The listener is public, so it also defends itself against clients that are
//! not vendors: a body must arrive in full within `webhook_read_timeout_secs`
//! (408 and the connection is closed), at most `max_concurrent_webhooks`
//! requests are handled at once (more wait up to 3 s for a slot, then
//! 429 + `Retry-After`: `ingest::slots`), and metrics never carry a
//! label taken from the caller's path.
//!
//! Replays: a verified delivery's raw body (what the vendor signed) is
//! digested into a replay key kept in the store's dedup tree, written in
//! the same transaction as its notices and forgotten with the other
//! delivery keys after [`super::DEDUP_RETENTION`] (longer than any
//! freshness window a connector checks). The same signed body again gets
//! 200 (the sender stops retrying), `"replayed": true`, and nothing is
//! stored, audited or looked up: a captured request cannot make the bridge
//! re-read a ticket over and over (vendor API budget, inbox and audit
//! growth), even when the vendor's delivery id travels outside the
//! signature (Jira's `X-Atlassian-Webhook-Identifier`). See `docs/security.md`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt;
use psa_connector::WebhookRequest;
use serde_json::json;

use super::enqueue::enqueue_delivery;
use crate::config::DaemonConfig;
use crate::engine::Engine;

/// The metric label used for every path that names no accepting connection,
/// so callers cannot create metric series at will.
pub(super) const UNKNOWN_CONNECTION: &str = "unknown";

/// What the webhook routes need.
#[derive(Clone)]
pub struct WebhookState {
    pub engine: Arc<Engine>,
    /// Connections that accept webhooks.
    pub enabled: Arc<HashSet<String>>,
}

/// What the public listener allows one request.
#[derive(Clone, Copy, Debug)]
pub struct WebhookLimits {
    /// Largest body accepted; larger bodies get 413.
    pub max_body: usize,
    /// Time to receive the whole body; slower clients get 408 and are disconnected.
    pub read_timeout: Duration,
    /// Requests handled at once; more wait for a slot (`ingest::slots`).
    pub max_concurrent: usize,
}

impl WebhookLimits {
    pub fn from_config(config: &DaemonConfig) -> Self {
        Self {
            max_body: config.max_webhook_bytes,
            read_timeout: Duration::from_secs(config.webhook_read_timeout_secs.max(1)),
            max_concurrent: config.max_concurrent_webhooks.max(1),
        }
    }
}

#[derive(Clone)]
struct Receiver {
    state: WebhookState,
    limits: WebhookLimits,
}

/// The webhook routes, with the body size and time limits and the
/// concurrency cap of `config` applied.
pub fn router(state: WebhookState, config: &DaemonConfig) -> Router {
    let limits = WebhookLimits::from_config(config);
    let slots = super::slots::Slots::new(limits.max_concurrent);
    Router::new()
        .route("/webhooks/{connection}", post(receive))
        .with_state(Receiver { state, limits })
        .layer(from_fn_with_state(slots, super::slots::concurrency_cap))
}

/// Reads the whole body within the time and size limits.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limits: &WebhookLimits,
) -> Result<Bytes, Response> {
    let too_large = || {
        answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("body larger than {} bytes", limits.max_body),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body as u64) {
        return Err(too_large());
    }
    let read = async {
        let mut stream = body.into_data_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| answer(StatusCode::BAD_REQUEST, &format!("body: {e}")))?;
            if buf.len() + chunk.len() > limits.max_body {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    };
    match tokio::time::timeout(limits.read_timeout, read).await {
        Ok(result) => result,
        Err(_) => {
            let mut response = answer(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            );
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(response)
        }
    }
}

/// The dedup-tree key that recognises `body` arriving again on `connection`.
fn replay_key(connection: &str, body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("replay:{connection}:{:x}", Sha256::digest(body))
}

fn answer(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn receive(
    State(Receiver { state, limits }): State<Receiver>,
    Path(connection): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let accepting = state
        .engine
        .connection(&connection)
        .filter(|_| state.enabled.contains(&connection));
    // Only configured names become label values.
    let label = match accepting {
        Some(_) => connection.clone(),
        None => UNKNOWN_CONNECTION.to_string(),
    };
    let outcome = |o: &'static str| {
        metrics::counter!("psa_bridge_webhooks_total", "connection" => label.clone(), "outcome" => o).increment(1);
    };
    // Unknown names are answered before any of the body is read: a
    // stranger's upload costs nothing (the connection is then closed, as
    // the unread body cannot be skipped).
    let Some(conn) = accepting else {
        outcome("unknown_connection");
        let mut response = answer(StatusCode::NOT_FOUND, "no such connection accepts webhooks");
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    };
    let body = match read_body(&headers, body, &limits).await {
        Ok(body) => body,
        Err(response) => {
            outcome(if response.status() == StatusCode::REQUEST_TIMEOUT {
                "read_timeout"
            } else {
                "bad_body"
            });
            return response;
        }
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
    state
        .engine
        .live
        .webhook_seen(&connection, state.engine.clock.now());
    if hints.is_empty() {
        outcome("accepted");
        return (StatusCode::OK, Json(super::Enqueued::default())).into_response();
    }
    match enqueue_delivery(
        &state.engine,
        &connection,
        &hints,
        &replay_key(&connection, &request.body),
    )
    .await
    {
        Ok(counts) if counts.replayed => {
            outcome("replayed");
            tracing::info!(connection = %connection, "webhook body seen before: answered, not stored again");
            (StatusCode::OK, Json(counts)).into_response()
        }
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
