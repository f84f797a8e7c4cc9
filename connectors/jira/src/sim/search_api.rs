//! `GET|POST /rest/api/3/search/jql`: a bounded JQL query, token paging
//! (`nextPageToken`, `isLast`; no `total`, no `startAt`), `fields`
//! defaulting to the id only, and issue `properties` on request.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxState};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::{json, Value};

use super::api_error::{json_body, ApiError};
use super::jql;
use super::routes::{param, params};
use super::Shared;

type Sim = AxState<Arc<Shared>>;

/// Largest page the simulator serves when fields are asked for.
pub const MAX_PAGE: usize = 100;

struct SearchRequest {
    jql: String,
    token: Option<String>,
    max: usize,
    fields: Option<Vec<String>>,
    properties: Vec<String>,
}

fn jql_hash(jql: &str) -> u64 {
    let mut h = DefaultHasher::new();
    jql.hash(&mut h);
    h.finish()
}

fn token_for(jql: &str, offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{offset}:{:x}", jql_hash(jql)))
}

fn offset_of(jql: &str, token: &str) -> Result<usize, ApiError> {
    let bad = || ApiError::bad_request("The provided next page token is invalid or expired.");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (offset, hash) = text.split_once(':').ok_or_else(bad)?;
    if hash != format!("{:x}", jql_hash(jql)) {
        return Err(bad());
    }
    offset.parse().map_err(|_| bad())
}

fn run(sim: &Shared, req: SearchRequest) -> Result<Response, ApiError> {
    let query = jql::parse(&req.jql).map_err(ApiError::bad_request)?;
    let Some(filter) = query.filter else {
        return Err(ApiError::bad_request(
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
        ));
    };
    let offset = match &req.token {
        Some(t) => offset_of(&req.jql, t)?,
        None => 0,
    };
    let state = sim.state();
    let mut hits = Vec::new();
    for issue in state.issues.values() {
        if filter
            .matches(&state, issue)
            .map_err(ApiError::bad_request)?
        {
            hits.push(issue);
        }
    }
    jql::sort(&query.order, &mut hits);
    let max = req.max.clamp(1, MAX_PAGE);
    let page: Vec<Value> = hits
        .iter()
        .skip(offset)
        .take(max)
        .map(|i| match &req.fields {
            None => json!({"id": i.id.to_string()}),
            Some(f) => state.issue_json(&sim.base_url, i, Some(f), &req.properties),
        })
        .collect();
    let next = offset + page.len();
    let mut body = json!({"issues": page, "isLast": next >= hits.len()});
    if next < hits.len() {
        body["nextPageToken"] = json!(token_for(&req.jql, next));
    }
    Ok(Json(body).into_response())
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    })
}

pub(crate) async fn search_post(AxState(sim): Sim, body: Bytes) -> Result<Response, ApiError> {
    let b = json_body(&body)?;
    let req = SearchRequest {
        jql: b
            .get("jql")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        token: b
            .get("nextPageToken")
            .and_then(Value::as_str)
            .map(str::to_string),
        max: b.get("maxResults").and_then(Value::as_u64).unwrap_or(50) as usize,
        fields: strings(b.get("fields")).filter(|f| !f.is_empty()),
        properties: strings(b.get("properties")).unwrap_or_default(),
    };
    run(&sim, req)
}

pub(crate) async fn search_get(
    AxState(sim): Sim,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = params(q.as_deref());
    // A list arrives comma separated or as the parameter repeated.
    let split = |name: &str| {
        let values: Vec<String> = p
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect();
        p.iter().any(|(k, _)| k == name).then_some(values)
    };
    let req = SearchRequest {
        jql: param(&p, "jql").unwrap_or("").to_string(),
        token: param(&p, "nextPageToken").map(str::to_string),
        max: param(&p, "maxResults")
            .and_then(|m| m.parse().ok())
            .unwrap_or(50),
        fields: split("fields").filter(|f| !f.is_empty()),
        properties: split("properties").unwrap_or_default(),
    };
    run(&sim, req)
}
