//! The admin listener (`daemon.admin_listen`, loopback by default): health,
//! Prometheus metrics and the operator API, versioned under `/api/v1` and
//! described by the OpenAPI 3.1 document it serves at
//! `/api/v1/openapi.json` ([`openapi`]). The CLI uses it while the daemon
//! holds the store; the dashboard reads it.
//!
//! It is a separate socket from the public webhook receiver because it shows
//! ticket contents; nothing here returns secrets. [`auth`] gates it (bearer
//! token on everything [`ROUTES`] does not mark open, Host check, no
//! cross-site posts); [`token`] keeps the token. `/metrics` can move to its
//! own listener ([`metrics_router`]). `/healthz` shows error texts only to
//! requests carrying the token.
//!
//! Modules: [`routes`] (the table), [`api`] (errors, parameters, bodies),
//! [`status`] (connections, pairings), [`links`], [`outbox`] (operations and
//! notices), [`pairings`] (pause and resume), [`audit`], [`actions`] (what an operator changes), [`live`]
//! (last poll and webhook per connection), [`openapi`].

pub mod actions;
pub mod api;
pub mod audit;
pub mod auth;
pub mod backfill;
pub mod dashboard;
pub mod escalations;
pub mod links;
pub mod live;
pub mod openapi;
pub mod outbox;
pub mod pairings;
mod process;
pub mod routes;
pub mod status;
pub mod token;

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::daemon::Health;
use crate::engine::Engine;
use crate::store::TreeName;

pub use auth::AdminGuard;
pub use routes::{is_open, Access, AdminRoute, Endpoint, ROUTES};

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder once.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            crate::telemetry::prometheus_builder()
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// The admin listener's routes ([`ROUTES`]) behind `guard`; `with_metrics`
/// keeps `/metrics` here (when no `daemon.metrics_listen` is set).
pub fn router(
    engine: Arc<Engine>,
    health: Health,
    guard: AdminGuard,
    with_metrics: bool,
) -> Router {
    let state = api::Api {
        engine,
        health: health.clone(),
    };
    let mut routes = Router::new();
    for route in ROUTES {
        // Error texts (vendor messages, panic text) only for token holders;
        // without the token `/healthz` shows states and counts, as in public.
        let (health, detail_guard) = (health.clone(), guard.clone());
        let handler: MethodRouter<api::Api> = match route.endpoint {
            Endpoint::OpenApi => get(openapi::serve),
            Endpoint::Status => get(status::get_status),
            Endpoint::Connections => get(status::get_connections),
            Endpoint::Pairings => get(status::get_pairings),
            Endpoint::PairingPause => post(pairings::pause),
            Endpoint::PairingResume => post(pairings::resume),
            Endpoint::PairingEscalations => get(escalations::list),
            Endpoint::Links => get(links::list),
            Endpoint::Relink => post(links::relink),
            Endpoint::Unlink => post(links::unlink),
            Endpoint::Outbox => get(outbox::list),
            Endpoint::OutboxRetry => post(outbox::retry),
            Endpoint::OutboxDiscard => post(outbox::discard),
            Endpoint::DeadNotices => get(outbox::dead_notices),
            Endpoint::NoticeRetry => post(outbox::retry_notice),
            Endpoint::NoticeDiscard => post(outbox::discard_notice),
            Endpoint::Activity => get(audit::activity),
            Endpoint::TicketAudit => get(audit::ticket),
            Endpoint::AuditVerify => get(audit::verify),
            Endpoint::Metrics if !with_metrics => continue,
            Endpoint::Metrics => get(metrics),
            Endpoint::Backfill => post(backfill::backfill),
            Endpoint::Readyz => get(move |headers: axum::http::HeaderMap| async move {
                health.respond_ready(detail_guard.token_matches(&headers))
            }),
            Endpoint::Dashboard => get(dashboard::serve),
            Endpoint::Healthz => get(move |headers: axum::http::HeaderMap| async move {
                health.respond(detail_guard.token_matches(&headers))
            }),
        };
        routes = routes.route(route.path, handler);
    }
    routes
        .fallback(|| async { api::ApiError::not_found("no such route (see /api/v1/openapi.json)") })
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(guard, auth::gate))
}

/// `daemon.metrics_listen`: `/metrics`, `/healthz` and `/readyz` (states
/// only), no token: the probes and metrics of [`ROUTES`], nothing else.
pub fn metrics_router(engine: Arc<Engine>, health: Health) -> Router {
    let state = api::Api {
        engine,
        health: health.clone(),
    };
    let ready = health.clone();
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
        .route(
            "/healthz",
            get(move || async move { health.respond(false) }),
        )
        .route(
            "/readyz",
            get(move || async move { ready.respond_ready(false) }),
        )
}

async fn metrics(State(api): State<api::Api>) -> Response {
    let engine = &api.engine;
    crate::telemetry::export(engine, api.health.readiness().as_deref());
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
        path.replace("{id}", "1")
            .replace("{connection}", "autotask")
            .replace("{ticket}", "1")
            .replace("{name}", "acme")
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
            assert!(
                paths.insert((route.path, route.method)),
                "{} {} listed twice",
                route.method,
                route.path
            );
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
