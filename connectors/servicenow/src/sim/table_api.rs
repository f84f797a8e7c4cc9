//! The Table API routes: `GET|POST /api/now[/v1|/v2]/table/{table}` and
//! `GET|PUT|PATCH|DELETE /api/now[/v1|/v2]/table/{table}/{sys_id}`, behind
//! authentication and the rate-limit rule, with the platform's envelopes,
//! `X-Total-Count` and `Link` paging headers.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{json, Value};

use super::auth::unauthenticated;
use super::query::Query;
use super::render::{render, Display, RenderOptions};
use super::state::{Rec, Refusal};
use super::Shared;

/// Default page size when `sysparm_limit` is absent.
const DEFAULT_LIMIT: usize = 10_000;

/// The platform's error envelope.
pub(crate) fn error_json(message: &str, detail: &str) -> Value {
    json!({"error": {"message": message, "detail": detail}, "status": "failure"})
}

fn answer(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

fn refused(r: Refusal) -> Response {
    answer(r.status, error_json(&r.message, &r.detail))
}

/// `(table, sys_id)` of a Table API path.
fn route(path: &str) -> Option<(String, Option<String>)> {
    let rest = path.strip_prefix("/api/now/")?;
    let rest = rest
        .strip_prefix("v1/")
        .or_else(|| rest.strip_prefix("v2/"))
        .unwrap_or(rest);
    let rest = rest.strip_prefix("table/")?;
    let mut parts = rest.trim_end_matches('/').split('/');
    let table = parts.next().filter(|t| !t.is_empty())?.to_string();
    let sys_id = parts.next().map(str::to_string);
    if parts.next().is_some() {
        return None;
    }
    Some((table, sys_id))
}

fn params(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn is_true(params: &[(String, String)], name: &str) -> bool {
    param(params, name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn render_options<'a>(params: &[(String, String)], origin: &'a str) -> RenderOptions<'a> {
    RenderOptions {
        display: Display::parse(param(params, "sysparm_display_value")),
        exclude_links: is_true(params, "sysparm_exclude_reference_link"),
        fields: param(params, "sysparm_fields")
            .filter(|f| !f.trim().is_empty())
            .map(|f| f.split(',').map(|s| s.trim().to_string()).collect()),
        origin,
    }
}

/// A write body: a JSON object whose values become strings.
fn write_values(body: &[u8]) -> Result<Rec, Refusal> {
    let bad = || {
        Refusal::new(
            400,
            "Exception while reading request",
            "The payload is not valid JSON.",
        )
    };
    let value: Value = serde_json::from_slice(body).map_err(|_| bad())?;
    let Value::Object(map) = value else {
        return Err(bad());
    };
    Ok(map
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                Value::Object(o) => match o.get("value") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                },
                other => other.to_string(),
            };
            (k, text)
        })
        .collect())
}

/// Every request that is not the token endpoint.
pub(crate) async fn dispatch(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((table, sys_id)) = route(uri.path()) else {
        return answer(
            400,
            error_json("Requested URI does not represent any resource", ""),
        );
    };
    let user = match shared.lock().auth.authenticate(&headers) {
        Some(user) => user,
        None => {
            let (status, body) = unauthenticated();
            return answer(status, body);
        }
    };
    let decision = shared
        .lock()
        .rate_rule
        .as_mut()
        .map(|r| r.check(Utc::now()));
    let mut response = match decision.as_ref().and_then(|d| d.retry_after) {
        Some(wait) => {
            let mut r = answer(
                429,
                error_json(
                    "Rate limit exceeded",
                    "The request was rejected by a rate limit rule",
                ),
            );
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(wait));
            r
        }
        None => handle(
            &shared,
            &method,
            &uri,
            &table,
            sys_id.as_deref(),
            &user,
            &body,
        ),
    };
    for (name, value) in decision.map(|d| d.headers).unwrap_or_default() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

fn handle(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    table: &str,
    sys_id: Option<&str>,
    user: &str,
    body: &[u8],
) -> Response {
    let params = params(uri);
    match (method.as_str(), sys_id) {
        ("GET", None) => list(shared, uri, table, &params),
        ("GET", Some(id)) => {
            let data = shared.lock();
            match data.get(table, id) {
                Some(rec) => {
                    let options = render_options(&params, &shared.origin);
                    answer(200, json!({"result": render(&data, table, rec, &options)}))
                }
                None => not_found(),
            }
        }
        ("POST", None) => {
            let values = match write_values(body) {
                Ok(v) => v,
                Err(r) => return refused(r),
            };
            let created = shared.lock().insert(table, values, user, Utc::now());
            match created {
                Ok(id) => {
                    shared.announce(table, &id, "insert");
                    let data = shared.lock();
                    let options = render_options(&params, &shared.origin);
                    let rendered = data
                        .get(table, &id)
                        .map(|rec| render(&data, table, rec, &options))
                        .unwrap_or(Value::Null);
                    let mut r = answer(201, json!({"result": rendered}));
                    let location = format!("{}/api/now/table/{table}/{id}", shared.origin);
                    if let Ok(v) = HeaderValue::from_str(&location) {
                        r.headers_mut().insert("location", v);
                    }
                    r
                }
                Err(r) => refused(r),
            }
        }
        ("PUT" | "PATCH", Some(id)) => {
            let values = match write_values(body) {
                Ok(v) => v,
                Err(r) => return refused(r),
            };
            let updated = shared.lock().update(table, id, values, user, Utc::now());
            match updated {
                Ok(Some(())) => {
                    shared.announce(table, id, "update");
                    let data = shared.lock();
                    let options = render_options(&params, &shared.origin);
                    let rendered = data
                        .get(table, id)
                        .map(|rec| render(&data, table, rec, &options))
                        .unwrap_or(Value::Null);
                    answer(200, json!({"result": rendered}))
                }
                Ok(None) => not_found(),
                Err(r) => refused(r),
            }
        }
        ("DELETE", Some(id)) => {
            if shared.lock().delete(table, id) {
                StatusCode::NO_CONTENT.into_response()
            } else {
                not_found()
            }
        }
        _ => answer(
            405,
            error_json(
                "Method not Supported",
                "The requested method is not supported",
            ),
        ),
    }
}

fn not_found() -> Response {
    answer(
        404,
        error_json(
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        ),
    )
}

fn list(shared: &Shared, uri: &Uri, table: &str, params: &[(String, String)]) -> Response {
    let query = Query::parse(param(params, "sysparm_query").unwrap_or_default());
    let number = |name: &str| param(params, name).and_then(|v| v.trim().parse::<i64>().ok());
    let limit = number("sysparm_limit")
        .filter(|n| *n > 0)
        .map(|n| n as usize)
        .unwrap_or(DEFAULT_LIMIT);
    let offset = number("sysparm_offset").unwrap_or(0).max(0) as usize;
    let data = shared.lock();
    let mut rows: Vec<_> = data.rows(table).collect();
    rows.sort_by_key(|r| r.seq);
    let mut recs: Vec<&Rec> = rows
        .iter()
        .map(|r| &r.fields)
        .filter(|rec| query.matches(&data, table, rec))
        .collect();
    query.sort(&data, table, &mut recs);
    let total = recs.len();
    let options = render_options(params, &shared.origin);
    let page: Vec<Value> = recs
        .iter()
        .skip(offset)
        .take(limit)
        .map(|rec| render(&data, table, rec, &options))
        .collect();
    let mut response = answer(200, json!({"result": page}));
    let headers = response.headers_mut();
    if !is_true(params, "sysparm_no_count") {
        headers.insert("x-total-count", HeaderValue::from(total));
    }
    if !is_true(params, "sysparm_suppress_pagination_header") {
        let link = link_header(&shared.origin, uri.path(), params, offset, limit, total);
        if let Ok(v) = HeaderValue::from_str(&link) {
            headers.insert("link", v);
        }
    }
    response
}

/// `Link` with `first`, `prev` (offset −1 on the first page, as the platform
/// sends), `next` (only when more records follow) and `last`.
pub(crate) fn link_header(
    origin: &str,
    path: &str,
    params: &[(String, String)],
    offset: usize,
    limit: usize,
    total: usize,
) -> String {
    let mut base: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in params {
        base.insert(k, v);
    }
    let limit_text = limit.to_string();
    base.insert("sysparm_limit", &limit_text);
    let url = |at: i64| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &base {
            if *k != "sysparm_offset" {
                s.append_pair(k, v);
            }
        }
        s.append_pair("sysparm_offset", &at.to_string());
        format!("<{origin}{path}?{}>", s.finish())
    };
    let (offset, limit, total) = (offset as i64, limit as i64, total as i64);
    let prev = if offset - limit < 0 {
        -1
    } else {
        offset - limit
    };
    let last = if total == 0 {
        0
    } else {
        (total - 1) / limit * limit
    };
    let mut links = vec![format!("{};rel=\"first\"", url(0))];
    links.push(format!("{};rel=\"prev\"", url(prev)));
    if offset + limit < total {
        links.push(format!("{};rel=\"next\"", url(offset + limit)));
    }
    links.push(format!("{};rel=\"last\"", url(last)));
    links.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route("/api/now/table/incident"),
            Some(("incident".into(), None))
        );
        assert_eq!(
            route("/api/now/v2/table/incident/abc"),
            Some(("incident".into(), Some("abc".into())))
        );
        assert_eq!(route("/api/now/table/"), None);
        assert_eq!(route("/api/now/table/a/b/c"), None);
    }
}
