//! The simulator's HTTP surface: zone discovery, authentication by the
//! `ApiIntegrationCode` / `UserName` / `Secret` headers, and routing of
//! `/ATServicesRest/V1.0/…` (matched case-insensitively) to the handlers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::hook_routes::hooks;
use super::hooks::hook_fields_entity;
use super::query::{self, param};
use super::resources;
use super::state::{
    fields_json, note_json, ticket_json, Data, FieldMeta, HookKind, PickValue, NOTE_FIELDS,
    TICKET_FIELDS,
};
use super::{ApiError, Shared};

pub(crate) type Reply = Result<Response, ApiError>;

pub(crate) fn ok(value: Value) -> Reply {
    Ok(Json(value).into_response())
}

pub(crate) fn body_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "The request is invalid: {e}"
        ))),
    }
}

pub(crate) fn parse_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("The value '{text}' is not valid for id.")))
}

/// Entry point for every request.
pub(crate) async fn dispatch(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    if lower.len() < 3 || lower[0] != "atservicesrest" || lower[1] != "v1.0" {
        return ApiError::not_found(format!(
            "No HTTP resource was found that matches the request URI '{path}'."
        ))
        .into_response();
    }
    let params = query::params(uri.query());
    if lower[2..] == ["zoneinformation"] {
        return zone(&shared, &method, &params).unwrap_or_else(|e| e.into_response());
    }
    let author = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let lower: Vec<&str> = lower[2..].iter().map(String::as_str).collect();
    if lower != ["thresholdinformation"] {
        if let Some(message) = shared.over_threshold() {
            shared
                .threshold_refusals
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut response = ApiError {
                status: 429,
                message,
            }
            .into_response();
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("60"));
            return response;
        }
    }
    let is_write =
        method != Method::GET && !matches!(lower.last(), Some(&("query" | "count" | "search")));
    let request = Request {
        method,
        params,
        body,
        path: &path,
        author,
    };
    let response = route(&shared, &lower, &request).unwrap_or_else(|e| e.into_response());
    if is_write && response.status().is_success() {
        shared.count_write();
    }
    response
}

pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) body: Bytes,
    pub(crate) path: &'a str,
    pub(crate) author: i64,
}

fn zone(shared: &Shared, method: &Method, params: &[(String, String)]) -> Reply {
    if method != Method::GET {
        return Err(ApiError::method(method));
    }
    let user = param(params, "user").unwrap_or("").trim().to_string();
    let known = shared
        .lock()
        .api_users
        .iter()
        .any(|u| u.username.eq_ignore_ascii_case(&user));
    if !known {
        return Err(ApiError::invalid(
            "Zone information could not be determined for this user.",
        ));
    }
    ok(json!({
        "zoneName": "Simulated Zone (America East)",
        "url": format!("{}/ATServicesRest/", shared.origin),
        "webUrl": format!("{}/", shared.origin),
        "ci": 1,
    }))
}

/// The acting resource id, or 401 like Autotask.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<i64, ApiError> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let (code, user, secret) = (get("apiintegrationcode"), get("username"), get("secret"));
    let data = shared.lock();
    let api_user = data.api_users.iter().find(|u| {
        u.username.eq_ignore_ascii_case(user) && u.secret == secret && u.integration_code == code
    });
    let Some(api_user) = api_user else {
        return Err(ApiError::unauthorized(
            "User authentication failed: check the UserName, Secret and ApiIntegrationCode headers.",
        ));
    };
    match headers
        .get("impersonationresourceid")
        .and_then(|v| v.to_str().ok())
    {
        None => Ok(api_user.resource_id),
        Some(text) => match text.trim().parse::<i64>() {
            Ok(id) if data.tenant.resources.contains_key(&id) => Ok(id),
            _ => Err(ApiError::forbidden(format!(
                "Impersonation of resource '{text}' is not allowed."
            ))),
        },
    }
}

fn ticket_known(data: &Data) -> impl Fn(&str, bool) -> bool + '_ {
    move |field: &str, udf: bool| {
        if udf {
            data.tenant
                .udfs
                .iter()
                .any(|u| u.eq_ignore_ascii_case(field))
        } else {
            TICKET_FIELDS
                .iter()
                .any(|f| f.0.eq_ignore_ascii_case(field))
        }
    }
}

pub(crate) fn meta_known(fields: &'static [FieldMeta]) -> impl Fn(&str, bool) -> bool {
    move |field: &str, udf: bool| !udf && fields.iter().any(|f| f.0.eq_ignore_ascii_case(field))
}

/// A collection read with a plain GET: paged at the maximum page size.
pub(crate) fn list_all(shared: &Shared, req: &Request, items: Vec<Value>) -> Reply {
    let base = format!("{}{}", shared.origin, req.path);
    ok(query::page(
        items,
        query::PAGE_MAX,
        &[],
        &req.params,
        &base,
    )?)
}

/// Runs a query (POST body or GET `search=`) over `items`, sorted by id.
pub(crate) fn run_query(
    shared: &Shared,
    req: &Request,
    items: Vec<Value>,
    known: &dyn Fn(&str, bool) -> bool,
    count: bool,
) -> Reply {
    let (raw, next_base) = match req.method {
        Method::POST => {
            let body = Value::Object(body_object(&req.body)?);
            (body, format!("{}{}", shared.origin, req.path))
        }
        Method::GET => {
            let Some(search) = param(&req.params, "search") else {
                return Err(ApiError::method(&req.method));
            };
            let raw = serde_json::from_str(search).map_err(|e| {
                ApiError::bad_request(format!("The search parameter is not valid JSON: {e}"))
            })?;
            let base = format!(
                "{}{}?search={}",
                shared.origin,
                req.path,
                urlencoding::encode(search)
            );
            (raw, base)
        }
        _ => return Err(ApiError::method(&req.method)),
    };
    let spec = query::parse_spec(&raw, known)?;
    let selected = query::select(&spec, items);
    if count {
        return ok(json!({"queryCount": selected.len()}));
    }
    ok(query::page(
        selected,
        spec.max_records,
        &spec.include,
        &req.params,
        &next_base,
    )?)
}

fn route(shared: &Shared, lower: &[&str], req: &Request) -> Reply {
    let m = &req.method;
    match lower {
        ["thresholdinformation"] if m == Method::GET => {
            let used = shared.requests_this_hour();
            let threshold = shared.lock().request_threshold;
            ok(
                json!({"externalRequestThreshold": threshold, "requestThresholdTimeframe": 60, "currentTimeframeRequestCount": used}),
            )
        }
        ["tickets", rest @ ..] => tickets(shared, rest, req),
        ["ticketnotes", "entityinformation", "fields"] if m == Method::GET => {
            ok(note_fields(shared))
        }
        ["ticketnotes", "query", count @ ..]
            if count.len() <= 1 && count.iter().all(|c| *c == "count") =>
        {
            let data = shared.lock();
            let items = data.notes.values().map(note_json).collect();
            run_query(
                shared,
                req,
                items,
                &meta_known(NOTE_FIELDS),
                !count.is_empty(),
            )
        }
        ["ticketnotes", id] if m == Method::GET => {
            let id = parse_id(id)?;
            let item = shared.lock().notes.get(&id).map(note_json);
            ok(json!({ "item": item }))
        }
        ["ticketwebhookfields", "entityinformation", "fields"] if m == Method::GET => ok(
            hook_fields_entity(HookKind::Ticket, &shared.lock().hidden_hook_fields),
        ),
        ["ticketnotewebhookfields", "entityinformation", "fields"] if m == Method::GET => ok(
            hook_fields_entity(HookKind::Note, &shared.lock().hidden_hook_fields),
        ),
        ["ticketwebhooks", rest @ ..] => hooks(shared, HookKind::Ticket, rest, req),
        ["ticketnotewebhooks", rest @ ..] => hooks(shared, HookKind::Note, rest, req),
        ["resources", rest @ ..] => resources::route(shared, rest, req),
        _ if known_path(lower) => Err(ApiError::method(m)),
        _ => Err(ApiError::not_found(format!(
            "No HTTP resource was found that matches the request URI '{}'.",
            req.path
        ))),
    }
}

fn known_path(lower: &[&str]) -> bool {
    matches!(
        lower.first(),
        Some(
            &("tickets"
                | "ticketnotes"
                | "ticketwebhooks"
                | "ticketnotewebhooks"
                | "resources"
                | "thresholdinformation")
        )
    )
}

fn note_fields(shared: &Shared) -> Value {
    let data = shared.lock();
    let tenant = &data.tenant;
    fields_json(NOTE_FIELDS, |name| match name {
        "noteType" => tenant.note_types.clone(),
        "publish" => tenant.publishes.clone(),
        _ => Vec::<PickValue>::new(),
    })
}

fn tickets(shared: &Shared, lower: &[&str], req: &Request) -> Reply {
    let m = &req.method;
    match lower {
        [] if m == Method::POST => {
            let body = body_object(&req.body)?;
            let (id, events) = shared.lock().create_ticket(&body, req.author)?;
            shared.deliver(events);
            ok(json!({ "itemId": id }))
        }
        [] if m == Method::PATCH || m == Method::PUT => {
            let body = body_object(&req.body)?;
            let (id, events) = shared
                .lock()
                .update_ticket(&body, req.author, m == Method::PUT)?;
            shared.deliver(events);
            ok(json!({ "itemId": id }))
        }
        ["query", count @ ..] if count.len() <= 1 && count.iter().all(|c| *c == "count") => {
            let data = shared.lock();
            let items = data
                .tickets
                .values()
                .map(|t| ticket_json(t, &data.tenant))
                .collect();
            let known = ticket_known(&data);
            run_query(shared, req, items, &known, !count.is_empty())
        }
        ["entityinformation"] if m == Method::GET => ok(json!({"info": {
            "name": "Ticket", "canCreate": true, "canDelete": false, "canQuery": true, "canUpdate": true,
            "hasUserDefinedFields": true, "supportsWebhookCallouts": true, "userAccessForCreate": "All",
        }})),
        ["entityinformation", "fields"] if m == Method::GET => {
            let data = shared.lock();
            let tenant = &data.tenant;
            ok(fields_json(TICKET_FIELDS, |name| {
                tenant
                    .ticket_list(name)
                    .map(<[PickValue]>::to_vec)
                    .unwrap_or_default()
            }))
        }
        ["entityinformation", "userdefinedfields"] if m == Method::GET => {
            let data = shared.lock();
            let fields: Vec<Value> = data.tenant.udfs.iter().map(|name| json!({
                "name": name, "label": name, "type": "string", "length": 8000, "isRequired": false,
                "isReadOnly": false, "isQueryable": true, "isPickList": false, "picklistValues": null,
            })).collect();
            ok(json!({ "fields": fields }))
        }
        [id] if m == Method::GET => {
            let id = parse_id(id)?;
            let data = shared.lock();
            let item = data.tickets.get(&id).map(|t| ticket_json(t, &data.tenant));
            ok(json!({ "item": item }))
        }
        [_, "notes", "entityinformation", "fields"] if m == Method::GET => ok(note_fields(shared)),
        [id, "notes"] if m == Method::POST => {
            let id = parse_id(id)?;
            let body = body_object(&req.body)?;
            let (note, events) = shared.lock().create_note(id, &body, req.author)?;
            shared.deliver(events);
            ok(json!({ "itemId": note }))
        }
        [id, "notes"] if m == Method::PATCH => {
            let id = parse_id(id)?;
            let body = body_object(&req.body)?;
            let (note, events) = shared.lock().update_note(id, &body, req.author)?;
            shared.deliver(events);
            ok(json!({ "itemId": note }))
        }
        [id, "notes"] if m == Method::GET => {
            let id = parse_id(id)?;
            let items: Vec<Value> = shared
                .lock()
                .notes
                .values()
                .filter(|n| n.ticket_id == id)
                .map(note_json)
                .collect();
            list_all(shared, req, items)
        }
        [id, "notes", note] if m == Method::GET => {
            let (id, note) = (parse_id(id)?, parse_id(note)?);
            let item = shared
                .lock()
                .notes
                .get(&note)
                .filter(|n| n.ticket_id == id)
                .map(note_json);
            ok(json!({ "item": item }))
        }
        _ => Err(ApiError::method(m)),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(json!({ "errors": [self.message] }))).into_response()
    }
}
