//! The admin listener (`daemon.admin_listen`, loopback by default): health,
//! Prometheus metrics and the operator API the CLI uses while the daemon holds
//! the store: outbox listing, dead letters (operations and notices) and
//! retrying them, audit reading and verification.
//! It is a separate socket from the public webhook receiver because it shows
//! ticket contents; nothing here returns secrets. [`auth`] gates it (bearer
//! token on `/admin/...`, Host check, no cross-site posts); [`token`] keeps
//! the token. `/metrics` can move to its own listener ([`metrics_router`]).
//! `/healthz` shows error texts only to requests carrying the token.

pub mod auth;
mod process;
pub mod token;

use std::sync::{Arc, OnceLock};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Deserialize;
use serde_json::json;

use crate::daemon::Health;
use crate::engine::Engine;
use crate::report;
use crate::store::TreeName;

pub use auth::AdminGuard;

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder once.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .as_ref()
}

/// The admin listener's routes behind `guard`; `with_metrics` keeps
/// `/metrics` here (when no `daemon.metrics_listen` is set).
pub fn router(
    engine: Arc<Engine>,
    health: Health,
    guard: AdminGuard,
    with_metrics: bool,
) -> Router {
    let mut routes = Router::new()
        .route("/admin/outbox", get(outbox))
        .route("/admin/outbox/{id}/retry", post(retry))
        .route("/admin/notices/dead", get(dead_notices))
        .route("/admin/audit", get(audit))
        .route("/admin/audit/verify", get(verify));
    if with_metrics {
        routes = routes.route("/metrics", get(metrics));
    }
    // Error texts (vendor messages, panic text) only for token holders;
    // without the token `/healthz` shows states and counts, as in public.
    let detail_guard = guard.clone();
    routes
        .with_state(engine)
        .route(
            "/healthz",
            get(move |headers: axum::http::HeaderMap| async move {
                health.respond(detail_guard.token_matches(&headers))
            }),
        )
        .layer(axum::middleware::from_fn_with_state(guard, auth::gate))
}

/// `daemon.metrics_listen`: `/metrics` and `/healthz` (states only), no token.
pub fn metrics_router(engine: Arc<Engine>, health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(engine)
        .route(
            "/healthz",
            get(move || async move { health.respond(false) }),
        )
}

async fn metrics(State(engine): State<Arc<Engine>>) -> Response {
    // From the store's counters: a scrape decodes no outbox record.
    if let Ok(counts) = engine.store.outbox_counts() {
        metrics::gauge!("psa_bridge_outbox_pending").set(counts.pending as f64);
        metrics::gauge!("psa_bridge_outbox_dead").set(counts.dead as f64);
    }
    // Counted by keys, nothing decoded.
    let store = &engine.store;
    metrics::gauge!("psa_bridge_inbox_dead").set(store.count(TreeName::DeadNotices) as f64);
    metrics::gauge!("psa_bridge_inbox_pending").set(store.count(TreeName::Inbox) as f64);
    process::record();
    match prometheus() {
        Some(handle) => handle.render().into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response(),
    }
}

fn store_error(e: impl std::fmt::Display) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "error": e.to_string() })),
    )
        .into_response()
}

async fn outbox(State(engine): State<Arc<Engine>>) -> Response {
    match report::outbox_rows(&engine) {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => store_error(e),
    }
}

async fn retry(State(engine): State<Arc<Engine>>, Path(id): Path<u64>) -> Response {
    match engine.retry_dead(id).await {
        Ok(Some(retried)) => Json(retried).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no outbox operation or dead notice {id}") })),
        )
            .into_response(),
        Err(e) => store_error(e),
    }
}

/// Notices kept as dead letters (planning failed permanently).
async fn dead_notices(State(engine): State<Arc<Engine>>) -> Response {
    match engine.store.dead_notices() {
        Ok(notices) => Json(notices).into_response(),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
struct AuditQuery {
    ticket: String,
}

async fn audit(State(engine): State<Arc<Engine>>, Query(q): Query<AuditQuery>) -> Response {
    match report::ticket_history(&engine.store, &q.ticket) {
        Ok(entries) => Json(entries).into_response(),
        Err(e) => store_error(e),
    }
}

async fn verify(State(engine): State<Arc<Engine>>) -> Response {
    match engine.store.verify_audit() {
        Ok(report) => Json(report::verify_json(&report)).into_response(),
        Err(e) => store_error(e),
    }
}
