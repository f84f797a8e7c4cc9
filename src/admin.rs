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
pub mod dashboard;
mod process;
pub mod token;

use std::sync::{Arc, OnceLock};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
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

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `Authorization: Bearer <admin token>` required (401 otherwise).
    Token,
    /// Deliberately open; the text says why.
    Open(&'static str),
}

/// What a route does (each has exactly one handler in [`router`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Outbox,
    Retry,
    DeadNotices,
    Audit,
    AuditVerify,
    Metrics,
    Healthz,
    /// The web dashboard's page and assets ([`dashboard`]).
    Dashboard,
}

/// One route of the admin listener.
#[derive(Clone, Copy, Debug)]
pub struct AdminRoute {
    /// Path as axum spells it (`{id}` for a parameter).
    pub path: &'static str,
    /// The one method it answers.
    pub method: &'static str,
    pub endpoint: Endpoint,
    pub access: Access,
}

const fn token(path: &'static str, method: &'static str, endpoint: Endpoint) -> AdminRoute {
    AdminRoute {
        path,
        method,
        endpoint,
        access: Access::Token,
    }
}

/// Every route of the admin listener: [`router`] is built from this table
/// and nothing else, and the gate ([`auth::gate`]) lets a request through
/// without the token only when this table marks its path open. So a route
/// added later (a dashboard, say) needs the token unless it is listed here
/// as open with a reason; `tests/e2e/admin.rs` walks the table.
pub const ROUTES: &[AdminRoute] = &[
    token("/admin/outbox", "GET", Endpoint::Outbox),
    token("/admin/outbox/{id}/retry", "POST", Endpoint::Retry),
    token("/admin/notices/dead", "GET", Endpoint::DeadNotices),
    token("/admin/audit", "GET", Endpoint::Audit),
    token("/admin/audit/verify", "GET", Endpoint::AuditVerify),
    AdminRoute {
        path: "/metrics",
        method: "GET",
        endpoint: Endpoint::Metrics,
        access: Access::Open(
            "scraped by Prometheus, which carries no token; only counts and \
             configured connection names, no ticket contents or secrets",
        ),
    },
    AdminRoute {
        path: "/healthz",
        method: "GET",
        endpoint: Endpoint::Healthz,
        access: Access::Open(
            "probed by orchestrators without a token; states and counts only, \
             error texts only with the token",
        ),
    },
    // The web dashboard: no data, only the page and its files.
    dashboard::route("/"),
    dashboard::route("/assets/style.css"),
    dashboard::route("/assets/app.js"),
    dashboard::route("/assets/api.js"),
    dashboard::route("/assets/dom.js"),
    dashboard::route("/assets/views.js"),
    dashboard::route("/assets/favicon.svg"),
];

/// Whether `path` may be served without the token (an [`Access::Open`] route).
pub fn is_open(path: &str) -> bool {
    ROUTES
        .iter()
        .any(|r| r.path == path && matches!(r.access, Access::Open(_)))
}

/// The admin listener's routes ([`ROUTES`]) behind `guard`; `with_metrics`
/// keeps `/metrics` here (when no `daemon.metrics_listen` is set).
pub fn router(
    engine: Arc<Engine>,
    health: Health,
    guard: AdminGuard,
    with_metrics: bool,
) -> Router {
    let mut routes = Router::new();
    for route in ROUTES {
        // Error texts (vendor messages, panic text) only for token holders;
        // without the token `/healthz` shows states and counts, as in public.
        let (health, detail_guard) = (health.clone(), guard.clone());
        let handler: MethodRouter<Arc<Engine>> = match route.endpoint {
            Endpoint::Outbox => get(outbox),
            Endpoint::Retry => post(retry),
            Endpoint::DeadNotices => get(dead_notices),
            Endpoint::Audit => get(audit),
            Endpoint::AuditVerify => get(verify),
            Endpoint::Metrics if !with_metrics => continue,
            Endpoint::Metrics => get(metrics),
            Endpoint::Dashboard => get(dashboard::serve),
            Endpoint::Healthz => get(move |headers: axum::http::HeaderMap| async move {
                health.respond(detail_guard.token_matches(&headers))
            }),
        };
        routes = routes.route(route.path, handler);
    }
    routes
        .with_state(engine)
        .layer(axum::middleware::from_fn_with_state(guard, auth::gate))
}

/// `daemon.metrics_listen`: `/metrics` and `/healthz` (states only), no
/// token: the two [`Access::Open`] routes of [`ROUTES`], nothing else.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::store::Store;

    const TOKEN: &str = "0123456789abcdef0123456789";

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    fn guard() -> AdminGuard {
        AdminGuard::new(TOKEN, "127.0.0.1:9".parse().unwrap(), &[])
    }

    fn concrete(path: &str) -> String {
        path.replace("{id}", "1") + "?ticket=autotask:1"
    }

    /// The table and the router agree: every route is served (with the
    /// token, never 404/405), and only the open ones answer without it.
    #[tokio::test]
    async fn the_router_serves_exactly_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Arc::new(Engine::new(
            Store::open(&dir.path().join("s")).unwrap(),
            Default::default(),
            Vec::new(),
            Arc::new(SystemClock),
            Default::default(),
        ));
        let base = serve(router(engine, Health::default(), guard(), true)).await;
        let client = reqwest::Client::new();
        let mut paths = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(paths.insert(route.path), "{} listed twice", route.path);
            let method = route.method.parse::<reqwest::Method>().unwrap();
            let url = format!("{base}{}", concrete(route.path));
            let with = client
                .request(method.clone(), &url)
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            let status = with.status();
            // A handler's own 404 says what is missing; the router's is empty.
            let body = with.text().await.unwrap();
            assert!(
                status != StatusCode::METHOD_NOT_ALLOWED
                    && !(status == StatusCode::NOT_FOUND && body.is_empty()),
                "{route:?} is not served: {status}"
            );
            let without = client.request(method, &url).send().await.unwrap();
            match route.access {
                Access::Token => {
                    assert_eq!(without.status(), StatusCode::UNAUTHORIZED, "{route:?}")
                }
                Access::Open(why) => {
                    assert!(why.len() > 20, "{route:?} says why it is open");
                    assert_ne!(without.status(), StatusCode::UNAUTHORIZED, "{route:?}");
                }
            }
        }
    }

    /// A route someone adds without listing it (a dashboard) is not open:
    /// the gate asks for the token on every path the table does not open.
    /// (It used to guard `/admin/...` only, so `/dashboard` answered 200.)
    #[tokio::test]
    async fn a_route_missing_from_the_table_needs_the_token() {
        let app = Router::new()
            .route("/dashboard", get(|| async { "ticket contents" }))
            .route("/dashboard/retry", post(|| async { "done" }))
            .layer(axum::middleware::from_fn_with_state(guard(), auth::gate));
        let base = serve(app).await;
        let client = reqwest::Client::new();
        for (method, path) in [("GET", "/dashboard"), ("POST", "/dashboard/retry")] {
            let url = format!("{base}{path}");
            let method = method.parse::<reqwest::Method>().unwrap();
            let refused = client.request(method.clone(), &url).send().await.unwrap();
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{path}");
            assert!(refused.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"));
            let allowed = client
                .request(method, &url)
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(allowed.status(), StatusCode::OK, "{path}");
        }
    }
}
