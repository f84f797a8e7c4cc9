//! `/api/v1/activity` (recent audit entries, newest first, paged),
//! `/api/v1/tickets/{connection}/{ticket}/audit` (one ticket's history,
//! both sides of its link) and `/api/v1/audit/verify` (the chain check).

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde_json::{json, Value};

use super::api::{self, Api, ApiError, ApiResult};
use crate::report;
use crate::store::AuditEntry;

/// An audit entry as stored, plus `at_unix_ms`.
pub fn entry_json(entry: &AuditEntry) -> Value {
    let mut value = serde_json::to_value(entry).unwrap_or(json!({}));
    value["at_unix_ms"] = json!(entry.at.timestamp_millis());
    value
}

pub async fn activity(State(api): State<Api>, RawQuery(raw): RawQuery) -> ApiResult<Value> {
    let params = api::query(raw.as_deref(), &["limit", "before"])?;
    let limit = api::limit(&params)?;
    let before = api::number_param(&params, "before")?;
    let page = api.engine.store.audit_page(before, limit)?;
    Ok(Json(json!({
        "items": page.items.iter().map(entry_json).collect::<Vec<_>>(),
        "next_before": page.next,
    })))
}

pub async fn ticket(
    State(api): State<Api>,
    Path((connection, ticket)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Vec<Value>> {
    api::query(raw.as_deref(), &[])?;
    // `daemon:config` files the configuration reloads ([`crate::daemon::RELOAD_AUDIT_KEY`]).
    let daemon_entries = crate::daemon::RELOAD_AUDIT_KEY
        .split_once(':')
        .is_some_and(|(c, t)| c == connection && t == ticket);
    if !daemon_entries && api.engine.connection(&connection).is_none() {
        let mut names: Vec<&String> = api.engine.connections.keys().collect();
        names.sort();
        let names: Vec<&str> = names.into_iter().map(String::as_str).collect();
        return Err(ApiError::not_found(format!(
            "no connection {connection:?}; configured: {}",
            names.join(", ")
        )));
    }
    let key = format!("{connection}:{ticket}");
    let entries = report::ticket_history(&api.engine.store, &key)?;
    Ok(Json(entries.iter().map(entry_json).collect()))
}

pub async fn verify(State(api): State<Api>, RawQuery(raw): RawQuery) -> ApiResult<Value> {
    api::query(raw.as_deref(), &[])?;
    let report = api.engine.store.verify_audit()?;
    Ok(Json(report::verify_json(&report)))
}
