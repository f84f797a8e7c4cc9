//! The simulator's HTTP surface: company-info discovery and the signing-key
//! endpoint (no auth), the API under `/{codebase}apis/3.0/` behind Basic auth
//! and `clientId` checks, and the board, status, priority, company and
//! callback routes. Tickets and notes live in their own modules.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{OriginalUri, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

use super::api_error::find;
use super::extract::Listing;
use super::listing::{self, ApiError};
use super::{callbacks_api, notes_api, tickets_api, Shared};

pub(crate) type Sim = State<Arc<Shared>>;

/// The version a real server reports as its newest model.
const CURRENT_VERSION: &str = "2025.16";

/// CW error bodies for the shared middleware (429 has its own shape).
pub(crate) fn error_body(status: u16, message: &str) -> Value {
    if status == 429 {
        return json!({"error": "ConnectWiseAPI", "message": message});
    }
    let code = match status {
        400 => "InvalidObject",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "ObjectExists",
        _ => "ConnectWiseApi",
    };
    json!({"code": code, "message": message})
}

/// `(company, public key, private key)` from `Authorization: Basic …`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, private) = text.split_once(':')?;
    let (company, public) = user.split_once('+')?;
    Some((company.to_string(), public.to_string(), private.to_string()))
}

/// The API user a request authenticates as: its public key.
pub(crate) fn identify(headers: &HeaderMap) -> Option<String> {
    basic_credentials(headers).map(|(_, public, _)| public)
}

async fn auth(State(shared): Sim, request: Request<Body>, next: Next) -> Response {
    let o = &shared.options;
    let ok = basic_credentials(request.headers()).is_some_and(|(company, public, private)| {
        company.eq_ignore_ascii_case(&o.company_id)
            && public == o.public_key
            && private == o.private_key
    });
    let mut response = if !ok {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Incorrect public/private key or company",
        )
        .into_response()
    } else if request
        .headers()
        .get("clientid")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        != Some(o.client_id.as_str())
    {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidObject",
            "A valid clientId header is required. See https://developer.connectwise.com/ClientID",
        )
        .into_response()
    } else {
        next.run(request).await
    };
    response.headers_mut().insert(
        "api-current-version",
        HeaderValue::from_static(CURRENT_VERSION),
    );
    response
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route(
            "/service/tickets",
            get(tickets_api::list).post(tickets_api::create),
        )
        .route("/service/tickets/count", get(tickets_api::count))
        .route(
            "/service/tickets/search",
            axum::routing::post(tickets_api::search),
        )
        .route(
            "/service/tickets/{id}",
            get(tickets_api::get_one)
                .patch(tickets_api::patch)
                .put(tickets_api::put)
                .delete(tickets_api::delete),
        )
        .route(
            "/service/tickets/{id}/notes",
            get(notes_api::list).post(notes_api::create),
        )
        .route("/service/tickets/{id}/notes/count", get(notes_api::count))
        .route(
            "/service/tickets/{id}/notes/{note}",
            get(notes_api::get_one).patch(notes_api::patch),
        )
        .route("/service/tickets/{id}/allNotes", get(notes_api::all_notes))
        .route("/service/boards", get(boards))
        .route("/service/boards/{id}/statuses", get(statuses))
        .route("/service/boards/{id}/types", get(types))
        .route("/service/boards/{id}/subtypes", get(subtypes))
        .route("/service/boards/{id}/items", get(items))
        .route("/service/priorities", get(priorities))
        .route("/system/members", get(members))
        .route("/system/members/{id}", get(member))
        .route("/company/companies", get(companies))
        .route(
            "/system/callbacks",
            get(callbacks_api::list).post(callbacks_api::create),
        )
        .route(
            "/system/callbacks/{id}",
            get(callbacks_api::get_one)
                .patch(callbacks_api::patch)
                .delete(callbacks_api::delete),
        )
        .fallback(not_found)
        .layer(from_fn_with_state(shared.clone(), auth));
    let prefix = format!("/{}apis/3.0", shared.options.codebase);
    Router::new()
        .route("/login/companyinfo/{company}", get(company_info))
        .route(
            "/system/callbackkey/index.rails",
            get(callbacks_api::signing_key),
        )
        .nest(&prefix, api)
        .fallback(not_found)
        .layer(from_fn_with_state(
            shared.control.clone(),
            psa_connector::sim::middleware,
        ))
        .with_state(shared)
}

async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!(
        "The requested resource {} was not found",
        uri.path()
    ))
}

async fn company_info(State(shared): Sim, Path(company): Path<String>) -> Response {
    if !company.eq_ignore_ascii_case(&shared.options.company_id) {
        return ApiError::not_found(format!("Company {company} was not found")).into_response();
    }
    let codebase = shared.options.codebase.clone();
    axum::Json(json!({
        "CompanyName": shared.options.company_id,
        "Codebase": codebase,
        "VersionCode": "v2025.1",
        "VersionNumber": "v2025.1.105512",
        "CompanyID": shared.options.company_id,
        "IsCloud": true,
        "SiteUrl": shared.site_url.trim_end_matches('/'),
    }))
    .into_response()
}

async fn boards(State(shared): Sim, list: Listing) -> Result<Response, ApiError> {
    let state = shared.state();
    let items = state.boards.iter().map(|b| state.board_json(b)).collect();
    list.respond(&listing::BOARD, items)
}

async fn statuses(
    State(shared): Sim,
    Path(id): Path<String>,
    list: Listing,
) -> Result<Response, ApiError> {
    let state = shared.state();
    let board = find("Board", &id, |n| state.board(n))?;
    let items = state
        .statuses
        .iter()
        .filter(|s| s.board_id == board.id)
        .map(|s| state.status_json(s))
        .collect();
    list.respond(&listing::STATUS, items)
}

async fn types(
    State(shared): Sim,
    Path(id): Path<String>,
    list: Listing,
) -> Result<Response, ApiError> {
    board_types(&shared, &id, list, |s| &s.types)
}

async fn subtypes(
    State(shared): Sim,
    Path(id): Path<String>,
    list: Listing,
) -> Result<Response, ApiError> {
    board_types(&shared, &id, list, |s| &s.subtypes)
}

async fn items(
    State(shared): Sim,
    Path(id): Path<String>,
    list: Listing,
) -> Result<Response, ApiError> {
    board_types(&shared, &id, list, |s| &s.items)
}

fn board_types(
    shared: &Shared,
    id: &str,
    list: Listing,
    pick: fn(&super::state::State) -> &Vec<super::state::BoardType>,
) -> Result<Response, ApiError> {
    let state = shared.state();
    let board = find("Board", id, |n| state.board(n))?;
    let items = pick(&state)
        .iter()
        .filter(|t| t.board_id == board.id)
        .map(|t| state.board_type_json(t))
        .collect();
    list.respond(&listing::BOARD_TYPE, items)
}

async fn priorities(State(shared): Sim, list: Listing) -> Result<Response, ApiError> {
    let state = shared.state();
    let items = state
        .priorities
        .iter()
        .map(|p| state.priority_json(p))
        .collect();
    list.respond(&listing::PRIORITY, items)
}

async fn members(State(shared): Sim, list: Listing) -> Result<Response, ApiError> {
    let state = shared.state();
    let items = state.members.iter().map(|m| state.member_json(m)).collect();
    list.respond(&listing::MEMBER, items)
}

async fn member(State(shared): Sim, Path(id): Path<String>) -> Result<Response, ApiError> {
    let state = shared.state();
    let m = find("Member", &id, |n| state.member(n).cloned())?;
    Ok(axum::Json(state.member_json(&m)).into_response())
}

async fn companies(State(shared): Sim, list: Listing) -> Result<Response, ApiError> {
    let state = shared.state();
    let items = state
        .companies
        .iter()
        .map(|c| state.company_json(c))
        .collect();
    list.respond(&listing::COMPANY, items)
}
