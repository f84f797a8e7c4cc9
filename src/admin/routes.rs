//! The admin listener's route table, [`ROUTES`]: the router
//! ([`super::router`]), the gate ([`super::auth::gate`]) and the OpenAPI
//! document's test all read it, so a route cannot be served without being
//! gated and documented.

use super::dashboard;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `Authorization: Bearer <admin token>` required (401 otherwise).
    Token,
    /// Deliberately open; the text says why.
    Open(&'static str),
}

/// What a route does (each has exactly one handler in [`super::router`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    OpenApi,
    Status,
    Connections,
    Pairings,
    /// `POST /api/v1/pairings/{name}/pause` ([`super::pairings`]).
    PairingPause,
    /// `POST /api/v1/pairings/{name}/resume`.
    PairingResume,
    /// `GET /api/v1/pairings/{name}/escalations` ([`super::escalations`]).
    PairingEscalations,
    Links,
    Relink,
    Unlink,
    Outbox,
    OutboxRetry,
    OutboxDiscard,
    DeadNotices,
    NoticeRetry,
    NoticeDiscard,
    Activity,
    TicketAudit,
    AuditVerify,
    /// `POST /api/v1/backfill` ([`super::backfill`]).
    Backfill,
    Metrics,
    Healthz,
    /// Readiness: store writable, vendors reachable ([`crate::telemetry`]).
    Readyz,
    /// The web dashboard's page and assets ([`super::dashboard`]).
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

/// Every route of the admin listener: [`super::router`] is built from this
/// table and nothing else, and the gate lets a request through without the
/// token only when this table marks its path open. So a route added later
/// (a dashboard, say) needs the token unless it is listed here as open with
/// a reason; `tests/e2e/admin.rs` walks the table, and the OpenAPI test
/// (`super::openapi`) fails until a new route is documented.
pub const ROUTES: &[AdminRoute] = &[
    AdminRoute {
        path: "/api/v1/openapi.json",
        method: "GET",
        endpoint: Endpoint::OpenApi,
        access: Access::Open(
            "the API's own description: paths, parameters and schemas only, \
             no data; tools fetch it before they have a token",
        ),
    },
    token("/api/v1/status", "GET", Endpoint::Status),
    token("/api/v1/connections", "GET", Endpoint::Connections),
    token("/api/v1/pairings", "GET", Endpoint::Pairings),
    token(
        "/api/v1/pairings/{name}/pause",
        "POST",
        Endpoint::PairingPause,
    ),
    token(
        "/api/v1/pairings/{name}/resume",
        "POST",
        Endpoint::PairingResume,
    ),
    token(
        "/api/v1/pairings/{name}/escalations",
        "GET",
        Endpoint::PairingEscalations,
    ),
    token("/api/v1/links", "GET", Endpoint::Links),
    token("/api/v1/links", "POST", Endpoint::Relink),
    token("/api/v1/links/{id}/unlink", "POST", Endpoint::Unlink),
    token("/api/v1/outbox", "GET", Endpoint::Outbox),
    token("/api/v1/outbox/{id}/retry", "POST", Endpoint::OutboxRetry),
    token(
        "/api/v1/outbox/{id}/discard",
        "POST",
        Endpoint::OutboxDiscard,
    ),
    token("/api/v1/notices/dead", "GET", Endpoint::DeadNotices),
    token("/api/v1/notices/{id}/retry", "POST", Endpoint::NoticeRetry),
    token(
        "/api/v1/notices/{id}/discard",
        "POST",
        Endpoint::NoticeDiscard,
    ),
    token("/api/v1/activity", "GET", Endpoint::Activity),
    token(
        "/api/v1/tickets/{connection}/{ticket}/audit",
        "GET",
        Endpoint::TicketAudit,
    ),
    token("/api/v1/audit/verify", "GET", Endpoint::AuditVerify),
    token("/api/v1/backfill", "POST", Endpoint::Backfill),
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
    AdminRoute {
        path: "/readyz",
        method: "GET",
        endpoint: Endpoint::Readyz,
        access: Access::Open(
            "probed by orchestrators and monitors without a token; states only, \
             reason texts only with the token",
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
