//! Simulated queries: the query body (`filter`, `MaxRecords`, `IncludeFields`)
//! from a POST body or `?search=`, filtering, `IncludeFields` projection and
//! paging with absolute `nextPageUrl`s (POSTed again with the same body).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::filter::{self, Filter};
use super::state::get_ci;
use super::ApiError;

pub(crate) const PAGE_MAX: usize = 500;

/// A parsed query.
pub(crate) struct QuerySpec {
    pub filters: Vec<Filter>,
    pub max_records: usize,
    pub include: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct PagingToken {
    #[serde(rename = "lastId")]
    last_id: i64,
}

/// The raw query string pairs of a request.
pub(crate) fn params(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Reads the query from a POST body or the `search` parameter.
pub(crate) fn parse_spec(
    raw: &Value,
    known: &dyn Fn(&str, bool) -> bool,
) -> Result<QuerySpec, ApiError> {
    let Value::Object(map) = raw else {
        return Err(ApiError::invalid("The query must be a JSON object."));
    };
    let filters = match get_ci(map, "filter") {
        None | Some(Value::Null) => Vec::new(),
        Some(f) => filter::parse(f, known).map_err(ApiError::invalid)?,
    };
    if filters.is_empty() {
        return Err(ApiError::invalid(
            "A query must contain at least one filter condition.",
        ));
    }
    let max_records = match get_ci(map, "MaxRecords") {
        None | Some(Value::Null) => PAGE_MAX,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=PAGE_MAX as u64).contains(&n) => n as usize,
            _ => {
                return Err(ApiError::invalid(format!(
                    "MaxRecords must be between 1 and {PAGE_MAX}."
                )))
            }
        },
    };
    let include = match get_ci(map, "IncludeFields") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::invalid("IncludeFields must be strings."))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(ApiError::invalid("IncludeFields must be an array.")),
    };
    for name in &include {
        if !known(name, false) {
            return Err(ApiError::invalid(format!(
                "Unable to find {name} in the entity's fields."
            )));
        }
    }
    Ok(QuerySpec {
        filters,
        max_records,
        include,
    })
}

/// Applies the filters; items must be sorted by id.
pub(crate) fn select(spec: &QuerySpec, items: Vec<Value>) -> Vec<Value> {
    items
        .into_iter()
        .filter(|i| {
            i.as_object()
                .is_some_and(|o| filter::matches_all(&spec.filters, o))
        })
        .collect()
}

fn project(item: Value, include: &[String]) -> Value {
    if include.is_empty() {
        return item;
    }
    let Value::Object(map) = item else {
        return item;
    };
    let kept: Map<String, Value> = map
        .into_iter()
        .filter(|(k, _)| k == "id" || include.iter().any(|i| i.eq_ignore_ascii_case(k)))
        .collect();
    Value::Object(kept)
}

/// One page after the paging token in `params`; `next_base` is the absolute
/// URL (with any `search` parameter) the next page is fetched from.
pub(crate) fn page(
    items: Vec<Value>,
    page_size: usize,
    include: &[String],
    params: &[(String, String)],
    next_base: &str,
) -> Result<Value, ApiError> {
    let after = match param(params, "paging") {
        None => i64::MIN,
        Some(token) => {
            serde_json::from_str::<PagingToken>(token)
                .map_err(|_| ApiError::invalid("The paging token is not valid."))?
                .last_id
        }
    };
    let mut rest = items.into_iter().filter(|i| {
        i.get("id")
            .and_then(Value::as_i64)
            .is_some_and(|id| id > after)
    });
    let chunk: Vec<Value> = rest.by_ref().take(page_size).collect();
    let more = rest.next().is_some();
    let next = match (
        more,
        chunk
            .last()
            .and_then(|i| i.get("id"))
            .and_then(Value::as_i64),
    ) {
        (true, Some(last_id)) => {
            let token = serde_json::to_string(&PagingToken { last_id }).unwrap_or_default();
            let sep = if next_base.contains('?') { '&' } else { '?' };
            Value::String(format!(
                "{next_base}{sep}paging={}",
                urlencoding::encode(&token)
            ))
        }
        _ => Value::Null,
    };
    let count = chunk.len();
    let items: Vec<Value> = chunk.into_iter().map(|i| project(i, include)).collect();
    Ok(json!({
        "items": items,
        "pageDetails": {
            "count": count,
            "requestCount": page_size,
            "prevPageUrl": null,
            "nextPageUrl": next,
        }
    }))
}
