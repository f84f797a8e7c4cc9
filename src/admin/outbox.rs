//! `/api/v1/outbox` and `/api/v1/notices`: pending operations and dead
//! letters (with the vendor's message), retrying and discarding them.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::api::{self, Api, ApiError, ApiResult};
use super::links::Reason;
use crate::delivery::Retried;
use crate::engine::Engine;
use crate::report::{self, NoticeView, OpView};
use crate::store::{DeadNotice, OutboxOp};

/// A page of operations.
#[derive(Debug, Serialize, Deserialize)]
pub struct OpPage {
    pub items: Vec<OpView>,
    pub next_cursor: Option<String>,
}

/// Operations in `state` (`pending`, `dead`, or both), after op id `cursor`.
pub fn page(
    engine: &Engine,
    state: Option<&str>,
    limit: usize,
    cursor: Option<u64>,
) -> Result<OpPage, ApiError> {
    let dead = match state {
        None => None,
        Some("pending") => Some(false),
        Some("dead") => Some(true),
        Some(other) => {
            return Err(ApiError::bad(format!(
                "state must be pending or dead, not {other:?}"
            )))
        }
    };
    let rows = report::outbox_rows(engine)?;
    let mut items: Vec<OpView> = rows
        .iter()
        .filter(|r| cursor.is_none_or(|c| r.op.id > c))
        .filter(|r| dead.is_none_or(|d| r.op.dead.is_some() == d))
        .take(limit + 1)
        .map(OpView::from)
        .collect();
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|op| op.id.clone())
    } else {
        None
    };
    Ok(OpPage { items, next_cursor })
}

pub async fn list(State(api): State<Api>, RawQuery(raw): RawQuery) -> ApiResult<OpPage> {
    let params = api::query(raw.as_deref(), &["state", "limit", "cursor"])?;
    let limit = api::limit(&params)?;
    let cursor = api::number_param(&params, "cursor")?;
    Ok(Json(page(
        &api.engine,
        params.get("state").map(String::as_str),
        limit,
        cursor,
    )?))
}

/// The view of one op, with the tickets of its link.
fn view(engine: &Engine, op: OutboxOp) -> OpView {
    let tickets = engine
        .store
        .link(op.link)
        .ok()
        .flatten()
        .map(|l| engine.link_keys(&l))
        .unwrap_or_default();
    OpView::from(&report::OutboxRow {
        op,
        tickets,
        blocked_by: None,
        waiting: 0,
        held: None,
    })
}

fn with(view: impl Serialize, retried: &str, message: String) -> Value {
    let mut value = serde_json::to_value(view).unwrap_or(json!({}));
    value["retried"] = json!(retried);
    value["message"] = json!(message);
    value
}

pub async fn retry(State(api): State<Api>, Path(id): Path<String>) -> ApiResult<Value> {
    let id = api::path_id(&id)?;
    let engine = &api.engine;
    match engine.store.outbox_op(id)? {
        None => return Err(ApiError::not_found(format!("no outbox operation {id}"))),
        Some(op) if op.dead.is_none() => {
            return Err(ApiError::conflict(format!(
                "operation {id} is not a dead letter (it is still being retried)"
            )))
        }
        Some(_) => {}
    }
    let missing = || ApiError::not_found(format!("no outbox operation {id}"));
    let retried = engine.retry_dead(id).await?.ok_or_else(missing)?;
    let (op, how) = match &retried {
        Retried::Requeued { op } => (op.clone(), "requeued"),
        Retried::Replanned { op, .. } => (op.clone(), "replanned"),
        Retried::Notice { .. } => return Err(missing()),
    };
    Ok(Json(with(view(engine, op), how, retried.describe())))
}

pub async fn discard(
    State(api): State<Api>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<OpView> {
    let id = api::path_id(&id)?;
    let reason: Reason = api::json_body(body).await?.unwrap_or_default();
    let op = api.engine.discard_op(id, reason.reason.as_deref()).await?;
    Ok(Json(view(&api.engine, op)))
}

pub async fn dead_notices(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Vec<NoticeView>> {
    api::query(raw.as_deref(), &[])?;
    let notices = api.engine.store.dead_notices()?;
    Ok(Json(notices.iter().map(NoticeView::from).collect()))
}

pub async fn retry_notice(State(api): State<Api>, Path(id): Path<String>) -> ApiResult<Value> {
    let id = api::path_id(&id)?;
    let engine = &api.engine;
    let dead: Option<DeadNotice> = engine.store.dead_notice(id)?;
    let Some(dead) = dead else {
        return Err(ApiError::not_found(format!("no dead notice {id}")));
    };
    match engine.retry_dead(id).await? {
        Some(r @ Retried::Notice { .. }) => {
            Ok(Json(with(NoticeView::from(&dead), "notice", r.describe())))
        }
        _ => Err(ApiError::not_found(format!("no dead notice {id}"))),
    }
}

pub async fn discard_notice(
    State(api): State<Api>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<NoticeView> {
    let id = api::path_id(&id)?;
    let reason: Reason = api::json_body(body).await?.unwrap_or_default();
    let notice = api
        .engine
        .discard_notice(id, reason.reason.as_deref())
        .await?;
    Ok(Json(NoticeView::from(&notice)))
}
