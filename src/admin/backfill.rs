//! `POST /api/v1/backfill` (token required): runs a backfill
//! ([`crate::backfill`]) in the daemon, which holds the store and whose
//! connections' rate limiters the vendor reads go through. Body:
//! `{"pairing": P, "since": "2026-11-01" | RFC 3339, "dry_run": bool}`.
//! A bad `since` is 400 naming the accepted forms, an unknown pairing 404
//! listing the configured ones. Otherwise the answer is 200 with an NDJSON
//! stream of [`Event`]s: `listed`, one `ticket` per ticket, then `summary`
//! (or `error`). A client that goes away stops the run between tickets;
//! what was done stays done, and running it again completes it.
//! `src/admin/openapi.json` describes the route.

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::backfill::{parse_since, BackfillRequest, Event};

/// The request body as sent (`since` still text).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillBody {
    pairing: String,
    since: String,
    #[serde(default)]
    dry_run: bool,
}

fn refuse(status: StatusCode, error: String) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

/// The handler.
pub async fn backfill(
    State(super::api::Api { engine, .. }): State<super::api::Api>,
    body: Result<Json<BackfillBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(e) => {
            return refuse(
                e.status(),
                format!(
                    "body: {} (expected {{\"pairing\", \"since\", \"dry_run\"}})",
                    e.body_text()
                ),
            )
        }
    };
    let since = match parse_since(&body.since) {
        Ok(since) => since,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if engine.pairing(&body.pairing).is_none() {
        return refuse(
            StatusCode::NOT_FOUND,
            format!(
                "no pairing {:?}; configured pairings: {}",
                body.pairing,
                engine.pairing_names()
            ),
        );
    }
    let request = BackfillRequest {
        pairing: body.pairing,
        since,
        dry_run: body.dry_run,
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    tokio::spawn(async move {
        let events = tx.clone();
        let mut on_event = move |event: Event| events.send(event).is_ok();
        let last = match engine.backfill(&request, &mut on_event).await {
            Ok(summary) => Event::Summary { summary },
            Err(e) => {
                tracing::warn!(error = %e, pairing = %request.pairing, "backfill failed");
                Event::Error {
                    error: e.to_string(),
                }
            }
        };
        let _ = tx.send(last);
    });
    let lines = futures::stream::unfold(rx, |mut rx| async move {
        let event = rx.recv().await?;
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, std::convert::Infallible>(line), rx))
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(lines),
    )
        .into_response()
}
