//! Listing support shared by every collection route: query parameters,
//! `conditions` filtering against a resource's known fields, `orderBy`,
//! `page`/`pageSize` with a `Link` header, forward-only paging (`pageId`),
//! `fields` trimming, and the CW error type the routes answer with.

use std::cmp::Ordering;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

pub(crate) use super::api_error::{ApiError, Params};
use super::conditions;

/// A resource's filterable fields (JSON paths with `/`).
pub(crate) struct Resource {
    pub name: &'static str,
    pub fields: &'static [&'static str],
}

pub(crate) const TICKET: Resource = Resource {
    name: "ticket",
    fields: &[
        "id",
        "summary",
        "recordType",
        "board/id",
        "board/name",
        "status/id",
        "status/name",
        "company/id",
        "company/identifier",
        "company/name",
        "priority/id",
        "priority/name",
        "owner/id",
        "owner/identifier",
        "owner/name",
        "type/name",
        "externalXRef",
        "closedFlag",
        "closedDate",
        "dateEntered",
        "enteredBy",
        "_info/lastUpdated",
        "_info/updatedBy",
        "_info/dateEntered",
        "_info/enteredBy",
    ],
};
pub(crate) const NOTE: Resource = Resource {
    name: "note",
    fields: &[
        "id",
        "ticketId",
        "text",
        "detailDescriptionFlag",
        "internalAnalysisFlag",
        "resolutionFlag",
        "dateCreated",
        "createdBy",
        "internalFlag",
        "externalFlag",
        "member/id",
        "member/identifier",
        "member/name",
        "_info/lastUpdated",
    ],
};
pub(crate) const BOARD: Resource = Resource {
    name: "board",
    fields: &["id", "name", "inactiveFlag"],
};
pub(crate) const STATUS: Resource = Resource {
    name: "status",
    fields: &[
        "id",
        "name",
        "closedStatus",
        "inactive",
        "defaultFlag",
        "sortOrder",
        "board/id",
        "board/name",
    ],
};
pub(crate) const BOARD_TYPE: Resource = Resource {
    name: "type",
    fields: &["id", "name", "inactiveFlag", "board/id", "board/name"],
};
pub(crate) const MEMBER: Resource = Resource {
    name: "member",
    fields: &[
        "id",
        "identifier",
        "firstName",
        "lastName",
        "officeEmail",
        "inactiveFlag",
    ],
};
pub(crate) const PRIORITY: Resource = Resource {
    name: "priority",
    fields: &["id", "name", "sort", "defaultFlag"],
};
pub(crate) const COMPANY: Resource = Resource {
    name: "company",
    fields: &["id", "identifier", "name", "deletedFlag", "status/name"],
};
pub(crate) const CALLBACK: Resource = Resource {
    name: "callback",
    fields: &[
        "id",
        "url",
        "description",
        "type",
        "level",
        "objectId",
        "inactiveFlag",
        "memberId",
    ],
};

impl Resource {
    /// The JSON pointer of a field name (case-insensitive; `lastUpdated` is `_info/lastUpdated`).
    pub fn pointer(&self, field: &str) -> Result<String, ApiError> {
        let field = field.trim();
        let canonical = if field.eq_ignore_ascii_case("lastUpdated")
            || field.eq_ignore_ascii_case("updatedBy")
        {
            self.fields
                .iter()
                .find(|f| f.eq_ignore_ascii_case(&format!("_info/{field}")))
        } else {
            self.fields.iter().find(|f| f.eq_ignore_ascii_case(field))
        };
        canonical.map(|f| format!("/{f}")).ok_or_else(|| {
            let mut e = ApiError::bad_request(format!("Invalid query: unknown field '{field}' on {}", self.name));
            e.errors.push(json!({"code": "InvalidField", "message": format!("{field} is not a valid field"), "resource": self.name, "field": field}));
            e
        })
    }

    /// Keeps the items matching `conditions` (when given).
    pub fn filter(
        &self,
        items: Vec<Value>,
        conditions: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        let Some(text) = conditions else {
            return Ok(items);
        };
        let expr = conditions::parse(text)
            .map_err(|e| ApiError::bad_request(format!("Invalid conditions: {e}")))?;
        let mut pointers = std::collections::HashMap::new();
        for field in expr.fields() {
            pointers.insert(field.to_string(), self.pointer(field)?);
        }
        Ok(items
            .into_iter()
            .filter(|item| {
                expr.matches(&|field: &str| {
                    pointers
                        .get(field)
                        .and_then(|p| item.pointer(p))
                        .cloned()
                        .unwrap_or(Value::Null)
                })
            })
            .collect())
    }

    fn sort(&self, items: &mut [Value], order_by: &str) -> Result<(), ApiError> {
        let mut keys = Vec::new();
        for part in order_by.split(',').filter(|p| !p.trim().is_empty()) {
            let mut words = part.split_whitespace();
            let field = words.next().unwrap_or_default();
            let desc = match words.next() {
                None => false,
                Some(d) if d.eq_ignore_ascii_case("asc") => false,
                Some(d) if d.eq_ignore_ascii_case("desc") => true,
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid orderBy direction '{other}'"
                    )))
                }
            };
            keys.push((self.pointer(field)?, desc));
        }
        items.sort_by(|a, b| {
            for (p, desc) in &keys {
                let ord = cmp_values(a.pointer(p), b.pointer(p));
                let ord = if *desc { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
        Ok(())
    }
}

fn cmp_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (None | Some(Value::Null), None | Some(Value::Null)) => Ordering::Equal,
        (None | Some(Value::Null), _) => Ordering::Less,
        (_, None | Some(Value::Null)) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

fn insert_path(out: &mut Map<String, Value>, parts: &[&str], value: Value) {
    match parts {
        [] => {}
        [last] => {
            out.insert((*last).to_string(), value);
        }
        [first, rest @ ..] => {
            let entry = out
                .entry((*first).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(inner) = entry.as_object_mut() {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// Keeps only the `fields=` paths of an item.
fn project(item: &Value, fields: &[&str]) -> Value {
    let mut out = Map::new();
    for field in fields {
        let parts: Vec<&str> = field.split('/').filter(|p| !p.is_empty()).collect();
        if let Some(value) = item.pointer(&format!("/{}", parts.join("/"))) {
            insert_path(&mut out, &parts, value.clone());
        }
    }
    Value::Object(out)
}

fn link(base: &str, params: Vec<(String, String)>, extra: (&str, String), rel: &str) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        ser.append_pair(k, v);
    }
    ser.append_pair(extra.0, &extra.1);
    format!("<{base}?{}>; rel=\"{rel}\"", ser.finish())
}

/// Filters, sorts, pages and trims a collection, answering with `Link` when paged.
pub(crate) fn respond(
    resource: &Resource,
    items: Vec<Value>,
    params: &Params,
    conditions: Option<&str>,
    headers: &HeaderMap,
    link_base: &str,
) -> Result<Response, ApiError> {
    let mut items = resource.filter(items, conditions.or(params.get("conditions")))?;
    let page_size = match params.get("pageSize") {
        None => 25,
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("Invalid pageSize '{s}'")))?
            .clamp(1, 1000) as usize,
    };
    let forward_only = headers
        .get("pagination-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("forward-only"));
    let mut links = Vec::new();
    let page: Vec<Value> = if forward_only {
        if params.get("orderBy").is_some() {
            return Err(ApiError::bad_request(
                "orderBy is not supported with forward-only pagination",
            ));
        }
        let after = match params.get("pageId") {
            None => 0,
            Some(s) => s
                .trim()
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("Invalid pageId '{s}'")))?,
        };
        resource.sort(&mut items, "id asc")?;
        let rest: Vec<Value> = items
            .into_iter()
            .filter(|v| {
                v.get("id")
                    .and_then(Value::as_i64)
                    .is_some_and(|id| id > after)
            })
            .collect();
        let page: Vec<Value> = rest.iter().take(page_size).cloned().collect();
        if rest.len() > page_size {
            if let Some(last) = page
                .last()
                .and_then(|v| v.get("id"))
                .and_then(Value::as_i64)
            {
                let keep = params.without(&["pageId", "page"]);
                links.push(link(link_base, keep, ("pageId", last.to_string()), "next"));
            }
        }
        page
    } else {
        if let Some(order) = params.get("orderBy") {
            resource.sort(&mut items, order)?;
        }
        let page_no = params
            .get("page")
            .and_then(|p| p.trim().parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let last = items.len().div_ceil(page_size).max(1);
        let keep = params.without(&["page"]);
        if last > 1 {
            links.push(link(link_base, keep.clone(), ("page", "1".into()), "first"));
            if page_no > 1 {
                links.push(link(
                    link_base,
                    keep.clone(),
                    ("page", (page_no - 1).to_string()),
                    "prev",
                ));
            }
            if page_no < last {
                links.push(link(
                    link_base,
                    keep.clone(),
                    ("page", (page_no + 1).to_string()),
                    "next",
                ));
            }
            links.push(link(link_base, keep, ("page", last.to_string()), "last"));
        }
        items
            .into_iter()
            .skip((page_no - 1) * page_size)
            .take(page_size)
            .collect()
    };
    let page: Vec<Value> = match params.get("fields") {
        Some(f) => {
            let fields: Vec<&str> = f
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            page.iter().map(|v| project(v, &fields)).collect()
        }
        None => page,
    };
    let mut response = axum::Json(Value::Array(page)).into_response();
    if !links.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
            response.headers_mut().insert("link", v);
        }
    }
    Ok(response)
}

/// `{"count": N}` of the items matching the conditions.
pub(crate) fn count(
    resource: &Resource,
    items: Vec<Value>,
    params: &Params,
) -> Result<Response, ApiError> {
    let n = resource.filter(items, params.get("conditions"))?.len();
    Ok(axum::Json(json!({"count": n})).into_response())
}

/// One item, trimmed by `fields=` when given.
pub(crate) fn single(item: Value, params: &Params) -> Response {
    let item = match params.get("fields") {
        Some(f) => project(&item, &f.split(',').map(str::trim).collect::<Vec<_>>()),
        None => item,
    };
    axum::Json(item).into_response()
}
