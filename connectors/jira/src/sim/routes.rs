//! The simulator's HTTP surface: Basic auth (`email:api_token`), the
//! shared fault middleware, Jira's rate-limit headers on 429s, site
//! metadata (server info, myself, fields, priorities, statuses, projects),
//! the removed `GET /rest/api/3/search` (410) and the route table.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State as AxState};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

use super::api_error::ApiError;
use super::state::{jira_time, SITE_TIME_ZONE};
use super::workflow::status_json;
use super::{comments_api, issues_api, search_api, webhooks, Shared};

type Sim = AxState<Arc<Shared>>;

/// `(email, token)` from `Authorization: Basic …`.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (email, token) = text.split_once(':')?;
    Some((email.to_string(), token.to_string()))
}

/// The API user a request authenticates as: its e-mail.
pub(crate) fn identify(headers: &HeaderMap) -> Option<String> {
    basic(headers).map(|(email, _)| email)
}

/// The display name of the authenticated caller (for authorship).
pub(crate) struct Actor(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let sim = parts
            .extensions
            .get::<Arc<Shared>>()
            .cloned()
            .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "no site"))?;
        let email = identify(&parts.headers).unwrap_or_default();
        let name = sim
            .state()
            .user_by_email(&email)
            .map(|u| u.name.clone())
            .unwrap_or(email);
        Ok(Actor(name))
    }
}

pub(crate) fn params(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn auth(AxState(sim): Sim, mut request: Request<Body>, next: Next) -> Response {
    let anonymous = request.uri().path() == "/rest/api/3/serverInfo"
        || request.uri().path() == "/rest/api/2/serverInfo";
    let ok = basic(request.headers()).is_some_and(|(email, token)| {
        email.eq_ignore_ascii_case(&sim.options.email) && token == sim.options.api_token
    });
    if !ok && !anonymous {
        let mut r = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Client must be authenticated to access this resource.",
        )
        .into_response();
        r.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Basic realm=\"protected-area\""),
        );
        return r;
    }
    request.extensions_mut().insert(sim.clone());
    next.run(request).await
}

/// Records request and answer bodies when the handle asked for it.
async fn capture(AxState(sim): Sim, request: Request<Body>, next: Next) -> Response {
    let on = sim
        .exchanges
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some();
    if !on {
        return next.run(request).await;
    }
    const LIMIT: usize = 16 * 1024 * 1024;
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, LIMIT).await.unwrap_or_default();
    let request_json = serde_json::from_slice(&bytes).ok();
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, LIMIT).await else {
        // A dropped connection (ambiguity knob): keep dropping it.
        return Response::from_parts(
            parts,
            Body::from_stream(futures::stream::once(async {
                Err::<Bytes, _>(std::io::Error::other("dropped"))
            })),
        );
    };
    let exchange = super::Exchange {
        method,
        path,
        request: request_json,
        status: parts.status.as_u16(),
        response: serde_json::from_slice(&bytes).ok(),
    };
    if let Some(log) = sim
        .exchanges
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
    {
        log.push(exchange);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Jira's rate-limit headers on a throttled answer.
async fn rate_headers(request: Request<Body>, next: Next) -> Response {
    let mut response = next.run(request).await;
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        let reset = (chrono::Utc::now() + chrono::Duration::seconds(5))
            .format("%Y-%m-%dT%H:%MZ")
            .to_string();
        let h = response.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from_static("100"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-nearlimit", HeaderValue::from_static("true"));
        h.insert(
            "ratelimit-reason",
            HeaderValue::from_static("jira-burst-based"),
        );
        if let Ok(v) = HeaderValue::from_str(&reset) {
            h.insert("x-ratelimit-reset", v);
        }
    }
    response
}

async fn server_info(AxState(sim): Sim) -> Json<Value> {
    Json(json!({
        "baseUrl": sim.base_url.trim_end_matches('/'),
        "displayUrl": sim.base_url.trim_end_matches('/'),
        "version": "1001.0.0-SNAPSHOT",
        "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud",
        "buildNumber": 100_281,
        "buildDate": "2026-11-20T00:00:00.000+0000",
        "serverTime": jira_time(chrono::Utc::now()),
        "scmInfo": "simulated",
        "serverTitle": "Jira (psa-bridge simulator)",
        "defaultLocale": {"locale": "en_US"},
        "serverTimeZone": SITE_TIME_ZONE
    }))
}

async fn myself(AxState(sim): Sim, actor: super::routes::Actor) -> Json<Value> {
    let state = sim.state();
    let mut me = state.user_json(&sim.base_url, &actor.0);
    me["locale"] = json!("en_US");
    me["groups"] = json!({"size": 1, "items": []});
    Json(me)
}

async fn fields(AxState(sim): Sim) -> Json<Value> {
    let state = sim.state();
    Json(Value::Array(
        state
            .fields
            .iter()
            .map(|f| {
                let clause = if f.custom {
                    format!("cf[{}]", f.id.trim_start_matches("customfield_"))
                } else {
                    f.id.to_string()
                };
                json!({"id": f.id, "key": f.id, "name": f.name, "custom": f.custom, "orderable": true,
                       "navigable": true, "searchable": true, "clauseNames": [clause, f.name], "schema": f.schema})
            })
            .collect(),
    ))
}

async fn priorities(AxState(sim): Sim) -> Json<Value> {
    let state = sim.state();
    Json(Value::Array(
        state
            .priorities
            .iter()
            .map(|(id, _)| state.priority_json(&sim.base_url, id))
            .collect(),
    ))
}

async fn statuses(AxState(sim): Sim) -> Json<Value> {
    let state = sim.state();
    Json(Value::Array(
        state
            .statuses
            .iter()
            .map(|s| status_json(&sim.base_url, s))
            .collect(),
    ))
}

async fn resolutions(AxState(sim): Sim) -> Json<Value> {
    Json(Value::Array(
        super::workflow::RESOLUTIONS
            .iter()
            .map(|(id, name)| json!({"self": format!("{}rest/api/3/resolution/{id}", sim.base_url), "id": id, "name": name, "description": ""}))
            .collect(),
    ))
}

fn project_json(base: &str, p: &super::state::Project) -> Value {
    json!({"self": format!("{base}rest/api/3/project/{}", p.id), "id": p.id, "key": p.key, "name": p.name,
           "projectTypeKey": if p.service_desk { "service_desk" } else { "software" }, "simplified": false, "style": "classic",
           "isPrivate": false, "properties": {},
           "issueTypes": p.issue_types.iter().map(|t| super::shapes::issue_type_json(base, t)).collect::<Vec<_>>()})
}

async fn projects(AxState(sim): Sim) -> Json<Value> {
    let state = sim.state();
    Json(Value::Array(
        state
            .projects
            .iter()
            .map(|p| project_json(&sim.base_url, p))
            .collect(),
    ))
}

async fn components(
    AxState(sim): Sim,
    axum::extract::Path(key): axum::extract::Path<String>,
) -> Result<Json<Value>, ApiError> {
    let state = sim.state();
    let project = state.project(&key).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No project could be found with key '{key}'."),
        )
    })?;
    let list: Vec<Value> = super::state::COMPONENTS
        .iter()
        .map(|(id, n)| json!({"self": format!("{}rest/api/3/component/{id}", sim.base_url), "id": id, "name": n, "project": project.key}))
        .collect();
    Ok(Json(Value::Array(list)))
}

/// `GET /rest/api/3/user/search?query=`: users whose e-mail or display
/// name starts with the query (case-insensitive), as Jira Cloud answers.
async fn user_search(
    AxState(sim): Sim,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    let state = sim.state();
    let query = q
        .get("query")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_default();
    let list: Vec<Value> = state
        .users
        .iter()
        .filter(|u| {
            !query.is_empty()
                && (u.email.to_lowercase().starts_with(&query)
                    || u.name.to_lowercase().starts_with(&query))
        })
        .map(|u| state.user_json(&sim.base_url, &u.account_id))
        .collect();
    Json(Value::Array(list))
}

async fn project(
    AxState(sim): Sim,
    axum::extract::Path(key): axum::extract::Path<String>,
) -> Result<Json<Value>, ApiError> {
    let state = sim.state();
    state
        .project(&key)
        .map(|p| Json(project_json(&sim.base_url, p)))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("No project could be found with key '{key}'."),
            )
        })
}

/// `GET /rest/api/3/workflow/search`: the one workflow both projects use.
async fn workflows(AxState(sim): Sim) -> Json<Value> {
    let state = sim.state();
    let transitions: Vec<Value> = state
        .transitions
        .iter()
        .map(|t| {
            let mut rules = json!({"validators": [], "postFunctions": []});
            if t.condition == super::workflow::Condition::UrgentOnly {
                rules["conditionsTree"] = json!({"nodeType": "simple", "type": "ValueFieldCondition",
                    "configuration": {"fieldId": "priority", "comparator": "in", "value": "Highest,High"}});
            }
            json!({"id": t.id, "name": t.name, "description": "", "from": t.from, "to": t.to, "type": "directed", "rules": rules})
        })
        .collect();
    let statuses: Vec<Value> = state
        .statuses
        .iter()
        .map(|s| json!({"id": s.id, "name": s.name}))
        .collect();
    let projects: Vec<Value> = state
        .projects
        .iter()
        .map(|p| json!({"id": p.id, "key": p.key, "name": p.name}))
        .collect();
    Json(json!({
        "isLast": true, "maxResults": 50, "startAt": 0, "total": 1,
        "values": [{"id": {"name": "Service workflow", "entityId": "b1a2c3d4-0000-4000-8000-000000000001"},
                    "description": "", "transitions": transitions, "statuses": statuses, "projects": projects, "isDefault": false}]
    }))
}

/// The old search endpoint, removed in 2025: 410 as Jira answers now.
async fn removed_search() -> Response {
    ApiError::new(
        StatusCode::GONE,
        "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
    )
    .into_response()
}

/// Dynamic webhooks are for Connect and OAuth 2.0 apps only.
async fn dynamic_webhooks() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "Only Connect and OAuth 2.0 apps can use this operation.",
    )
    .into_response()
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/rest/api/3/serverInfo", get(server_info))
        .route("/rest/api/3/myself", get(myself))
        .route("/rest/api/3/field", get(fields))
        .route("/rest/api/3/priority", get(priorities))
        .route("/rest/api/3/status", get(statuses))
        .route("/rest/api/3/resolution", get(resolutions))
        .route("/rest/api/3/project", get(projects))
        .route("/rest/api/3/workflow/search", get(workflows))
        .route("/rest/api/3/project/{key}", get(project))
        .route("/rest/api/3/project/{key}/components", get(components))
        .route("/rest/api/3/user/search", get(user_search))
        .route(
            "/rest/api/3/search",
            get(removed_search).post(removed_search),
        )
        .route(
            "/rest/api/3/search/jql",
            get(search_api::search_get).post(search_api::search_post),
        )
        .route("/rest/api/3/issue", post(issues_api::create_issue))
        .route(
            "/rest/api/3/issue/{key}",
            get(issues_api::get_issue).put(issues_api::edit_issue),
        )
        .route(
            "/rest/api/3/issue/{key}/editmeta",
            get(issues_api::edit_meta),
        )
        .route(
            "/rest/api/3/issue/{key}/transitions",
            get(issues_api::get_transitions).post(issues_api::do_transition),
        )
        .route(
            "/rest/api/3/issue/{key}/comment",
            get(comments_api::list_platform).post(comments_api::add_platform),
        )
        .route(
            "/rest/api/3/issue/{key}/properties",
            get(issues_api::list_properties),
        )
        .route(
            "/rest/api/3/issue/{key}/properties/{prop}",
            get(issues_api::get_property).put(issues_api::put_property),
        )
        .route(
            "/rest/servicedeskapi/request/{key}/comment",
            get(comments_api::list_jsm).post(comments_api::add_jsm),
        )
        .route(
            "/rest/webhooks/1.0/webhook",
            get(webhooks::list).post(webhooks::register),
        )
        .route(
            "/rest/webhooks/1.0/webhook/{id}",
            delete(webhooks::remove).put(webhooks::update),
        )
        .route(
            "/rest/api/3/webhook",
            get(dynamic_webhooks)
                .post(dynamic_webhooks)
                .delete(dynamic_webhooks),
        )
        .with_state(shared.clone());
    api.layer(from_fn_with_state(shared.clone(), auth))
        .layer(from_fn_with_state(
            shared.control.clone(),
            psa_connector::sim::middleware,
        ))
        .layer(axum::middleware::from_fn(rate_headers))
        .layer(from_fn_with_state(shared, capture))
}
