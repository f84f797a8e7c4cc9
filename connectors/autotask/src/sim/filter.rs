//! Autotask query filters: parsing (`{"op","field","value","udf"}` and
//! `{"op":"and|or","items":[…]}` groups) and evaluation against an item's JSON.
//! Comparisons are case-insensitive for text, numeric for numbers and
//! chronological for dates, as the SQL behind the API behaves.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::state::get_ci;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    NotEq,
    Gt,
    Gte,
    Lt,
    Lte,
    BeginsWith,
    EndsWith,
    Contains,
    Exist,
    NotExist,
    In,
    NotIn,
}

impl Op {
    fn parse(text: &str) -> Option<Op> {
        Some(match text.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "noteq" => Op::NotEq,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "beginswith" => Op::BeginsWith,
            "endswith" => Op::EndsWith,
            "contains" => Op::Contains,
            "exist" => Op::Exist,
            "notexist" => Op::NotExist,
            "in" => Op::In,
            "notin" => Op::NotIn,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Filter {
    Cond {
        op: Op,
        field: String,
        value: Value,
        udf: bool,
    },
    Group {
        all: bool,
        items: Vec<Filter>,
    },
}

/// Parses a filter array; `known(field, udf)` says whether a field exists.
pub(crate) fn parse(
    value: &Value,
    known: &dyn Fn(&str, bool) -> bool,
) -> Result<Vec<Filter>, String> {
    let Value::Array(items) = value else {
        return Err("The filter must be an array of conditions.".into());
    };
    items.iter().map(|i| parse_one(i, known)).collect()
}

fn parse_one(value: &Value, known: &dyn Fn(&str, bool) -> bool) -> Result<Filter, String> {
    let Value::Object(map) = value else {
        return Err(format!("Invalid filter condition: {value}"));
    };
    let op_text = get_ci(map, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| "Each filter condition needs an 'op'.".to_string())?;
    if op_text.eq_ignore_ascii_case("and") || op_text.eq_ignore_ascii_case("or") {
        let items = get_ci(map, "items")
            .ok_or_else(|| format!("The '{op_text}' filter group needs 'items'."))?;
        let Value::Array(items) = items else {
            return Err(format!(
                "The '{op_text}' filter group needs an array of 'items'."
            ));
        };
        let items = items
            .iter()
            .map(|i| parse_one(i, known))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Filter::Group {
            all: op_text.eq_ignore_ascii_case("and"),
            items,
        });
    }
    let op = Op::parse(op_text).ok_or_else(|| format!("Invalid filter operator '{op_text}'."))?;
    let field = get_ci(map, "field")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("The '{op_text}' condition needs a 'field'."))?
        .to_string();
    let udf = match get_ci(map, "udf") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(other) => return Err(format!("Invalid 'udf' flag: {other}")),
    };
    if !known(&field, udf) {
        return Err(if udf {
            format!("Unable to find the user-defined field '{field}'.")
        } else {
            format!("Unable to find {field} in the entity's fields.")
        });
    }
    let value = get_ci(map, "value").cloned().unwrap_or(Value::Null);
    match op {
        Op::Exist | Op::NotExist => {}
        Op::In | Op::NotIn if !value.is_array() => {
            return Err(format!("The '{op_text}' operator needs an array value."))
        }
        Op::In | Op::NotIn => {}
        _ if value.is_null() || value.is_array() || value.is_object() => {
            return Err(format!(
                "The '{op_text}' condition on {field} needs a scalar value."
            ))
        }
        _ => {}
    }
    Ok(Filter::Cond {
        op,
        field,
        value,
        udf,
    })
}

/// Whether an item passes every top-level condition (they are ANDed).
pub(crate) fn matches_all(filters: &[Filter], item: &Map<String, Value>) -> bool {
    filters.iter().all(|f| matches(f, item))
}

fn matches(filter: &Filter, item: &Map<String, Value>) -> bool {
    match filter {
        Filter::Group { all: true, items } => items.iter().all(|f| matches(f, item)),
        Filter::Group { all: false, items } => items.iter().any(|f| matches(f, item)),
        Filter::Cond {
            op,
            field,
            value,
            udf,
        } => {
            let actual = if *udf {
                udf_value(item, field)
            } else {
                get_ci(item, field).cloned()
            }
            .filter(|v| !v.is_null());
            eval(*op, actual.as_ref(), value)
        }
    }
}

fn udf_value(item: &Map<String, Value>, name: &str) -> Option<Value> {
    let Some(Value::Array(udfs)) = get_ci(item, "userDefinedFields") else {
        return None;
    };
    udfs.iter().find_map(|u| {
        let u = u.as_object()?;
        let n = get_ci(u, "name")?.as_str()?;
        n.eq_ignore_ascii_case(name)
            .then(|| get_ci(u, "value").cloned())
            .flatten()
    })
}

fn eval(op: Op, actual: Option<&Value>, wanted: &Value) -> bool {
    match op {
        Op::Exist => actual.is_some_and(|v| text(v).is_none_or(|t| !t.is_empty())),
        Op::NotExist => !eval(Op::Exist, actual, wanted),
        Op::In => wanted
            .as_array()
            .is_some_and(|w| w.iter().any(|w| eval(Op::Eq, actual, w))),
        Op::NotIn => !eval(Op::In, actual, wanted),
        Op::NotEq => !eval(Op::Eq, actual, wanted),
        _ => {
            let Some(actual) = actual else { return false };
            match op {
                Op::BeginsWith | Op::EndsWith | Op::Contains => {
                    let (Some(a), Some(w)) = (text(actual), text(wanted)) else {
                        return false;
                    };
                    let (a, w) = (a.to_lowercase(), w.to_lowercase());
                    match op {
                        Op::BeginsWith => a.starts_with(&w),
                        Op::EndsWith => a.ends_with(&w),
                        _ => a.contains(&w),
                    }
                }
                _ => match compare(actual, wanted) {
                    None => false,
                    Some(ord) => match op {
                        Op::Eq => ord == Ordering::Equal,
                        Op::Gt => ord == Ordering::Greater,
                        Op::Gte => ord != Ordering::Less,
                        Op::Lt => ord == Ordering::Less,
                        _ => ord != Ordering::Greater,
                    },
                },
            }
        }
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

/// Parses the date forms Autotask accepts in filters.
pub(crate) fn date(v: &Value) -> Option<DateTime<Utc>> {
    let s = v.as_str()?.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn compare(actual: &Value, wanted: &Value) -> Option<Ordering> {
    match actual {
        Value::Number(_) => number(actual)?.partial_cmp(&number(wanted)?),
        Value::Bool(a) => Some(a.cmp(&boolean(wanted)?)),
        Value::String(a) => {
            if let (Some(a), Some(w)) = (date(actual), date(wanted)) {
                return Some(a.cmp(&w));
            }
            let w = text(wanted)?;
            Some(a.to_lowercase().cmp(&w.to_lowercase()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item() -> Map<String, Value> {
        json!({
            "id": 42, "title": "VPN down at Site B", "status": 8, "queueID": null,
            "lastTrackedModificationDateTime": "2026-11-25T10:00:00.500Z", "isActive": true,
            "userDefinedFields": [{"name": "PSA Bridge Ref", "value": "op-1"}, {"name": "MSP Ticket", "value": null}]
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn check(filter: Value) -> bool {
        let known = |f: &str, udf: bool| udf || item().keys().any(|k| k.eq_ignore_ascii_case(f));
        let parsed = parse(&filter, &known).unwrap();
        matches_all(&parsed, &item())
    }

    #[test]
    fn scalar_operators() {
        assert!(check(json!([{"op": "eq", "field": "status", "value": 8}])));
        assert!(check(
            json!([{"op": "eq", "field": "Status", "value": "8"}])
        ));
        assert!(check(
            json!([{"op": "noteq", "field": "status", "value": 5}])
        ));
        assert!(check(json!([{"op": "gt", "field": "id", "value": 41}])));
        assert!(!check(json!([{"op": "lt", "field": "id", "value": 42}])));
        assert!(check(json!([{"op": "lte", "field": "id", "value": 42}])));
        assert!(check(
            json!([{"op": "eq", "field": "title", "value": "vpn down at site b"}])
        ));
        assert!(check(
            json!([{"op": "beginsWith", "field": "title", "value": "vpn"}])
        ));
        assert!(check(
            json!([{"op": "endsWith", "field": "title", "value": "site B"}])
        ));
        assert!(check(
            json!([{"op": "contains", "field": "title", "value": "DOWN"}])
        ));
        assert!(check(
            json!([{"op": "eq", "field": "isActive", "value": "true"}])
        ));
    }

    #[test]
    fn dates_compare_chronologically() {
        assert!(check(
            json!([{"op": "gte", "field": "lastTrackedModificationDateTime", "value": "2026-11-25T10:00:00.500Z"}])
        ));
        assert!(check(
            json!([{"op": "gt", "field": "lastTrackedModificationDateTime", "value": "2026-11-25T11:00:00+02:00"}])
        ));
        assert!(!check(
            json!([{"op": "gt", "field": "lastTrackedModificationDateTime", "value": "2026-11-25T10:00:01"}])
        ));
        assert!(check(
            json!([{"op": "lt", "field": "lastTrackedModificationDateTime", "value": "2026-11-26"}])
        ));
    }

    #[test]
    fn existence_sets_groups_and_udfs() {
        assert!(check(json!([{"op": "exist", "field": "title"}])));
        assert!(check(json!([{"op": "notExist", "field": "queueID"}])));
        assert!(check(
            json!([{"op": "in", "field": "status", "value": [1, 8]}])
        ));
        assert!(check(
            json!([{"op": "notIn", "field": "status", "value": [1, 5]}])
        ));
        assert!(check(json!([{"op": "or", "items": [
            {"op": "eq", "field": "status", "value": 1},
            {"op": "and", "items": [{"op": "eq", "field": "id", "value": 42}, {"op": "exist", "field": "title"}]}
        ]}])));
        assert!(!check(json!([{"op": "and", "items": [
            {"op": "eq", "field": "status", "value": 8}, {"op": "eq", "field": "id", "value": 1}
        ]}])));
        assert!(check(
            json!([{"op": "eq", "field": "PSA Bridge Ref", "value": "op-1", "udf": true}])
        ));
        assert!(check(
            json!([{"op": "notExist", "field": "MSP Ticket", "udf": true}])
        ));
        assert!(!check(
            json!([{"op": "eq", "field": "MSP Ticket", "value": "x", "udf": true}])
        ));
    }

    #[test]
    fn bad_filters_are_refused() {
        let known = |f: &str, _udf: bool| f == "id";
        for bad in [
            json!({"op": "eq"}),
            json!([{"op": "like", "field": "id", "value": 1}]),
            json!([{"op": "eq", "field": "nope", "value": 1}]),
            json!([{"op": "eq", "field": "id"}]),
            json!([{"op": "in", "field": "id", "value": 1}]),
            json!([{"op": "or"}]),
            json!([42]),
        ] {
            assert!(parse(&bad, &known).is_err(), "{bad}");
        }
    }
}
