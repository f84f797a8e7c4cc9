//! `/api/v1/links`: listing links (paged, by pairing, by either side's
//! ticket id or number), unlinking one, linking two existing tickets.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::api::{self, Api, ApiError, ApiResult};
use crate::engine::Engine;
use crate::store::{Link, Side};

/// One side of a link as the API shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct TicketView {
    pub connection: String,
    pub id: String,
    pub number: String,
}

/// A link as the API shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct LinkView {
    pub id: String,
    pub pairing: String,
    pub a: Option<TicketView>,
    pub b: Option<TicketView>,
    /// The side the link came from (whose values won when it was made).
    pub origin: Side,
    pub linked_unix_ms: Option<i64>,
    /// Set while one of the link's tickets is outside the pairing's scope
    /// (the link is held): the warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_scope: Option<String>,
}

impl LinkView {
    pub fn of(engine: &Engine, link: &Link) -> Self {
        let side = |side: Side| {
            let r = link.side(side)?;
            let connection = engine
                .pairing(&link.pairing)
                .map(|p| p.connection(side).to_string())
                .unwrap_or_default();
            Some(TicketView {
                connection,
                id: r.id.clone(),
                number: r.number.clone(),
            })
        };
        LinkView {
            id: link.id.to_string(),
            pairing: link.pairing.clone(),
            a: side(Side::A),
            b: side(Side::B),
            origin: link.origin,
            linked_unix_ms: Some(api::unix_ms(link.created_at)),
            out_of_scope: crate::engine::scope::hold_warning(&engine.store, link.id),
        }
    }
}

/// A page of links.
#[derive(Debug, Serialize, Deserialize)]
pub struct LinkPage {
    pub items: Vec<LinkView>,
    pub next_cursor: Option<String>,
}

/// Whether `q` is either side's ticket id or number (case-insensitive).
pub fn matches(link: &Link, q: &str) -> bool {
    [&link.a, &link.b]
        .into_iter()
        .flatten()
        .any(|r| r.id.eq_ignore_ascii_case(q) || r.number.eq_ignore_ascii_case(q))
}

/// A page of links of `pairing` (all when `None`) matching `q`.
pub fn page(
    engine: &Engine,
    pairing: Option<&str>,
    q: Option<&str>,
    limit: usize,
    cursor: Option<u64>,
) -> Result<LinkPage, ApiError> {
    if let Some(p) = pairing {
        if engine.pairing(p).is_none() {
            let names: Vec<&str> = engine.pairings.iter().map(|p| p.name.as_str()).collect();
            return Err(ApiError::not_found(format!(
                "no pairing {p:?}; configured: {}",
                names.join(", ")
            )));
        }
    }
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    let page = engine.store.links_page(cursor, limit, |link| {
        pairing.is_none_or(|p| link.pairing == p) && q.is_none_or(|q| matches(link, q))
    })?;
    Ok(LinkPage {
        items: page.items.iter().map(|l| LinkView::of(engine, l)).collect(),
        next_cursor: page.next.map(|n| n.to_string()),
    })
}

pub async fn list(State(api): State<Api>, RawQuery(raw): RawQuery) -> ApiResult<LinkPage> {
    let params = api::query(raw.as_deref(), &["pairing", "q", "limit", "cursor"])?;
    let limit = api::limit(&params)?;
    let cursor = api::number_param(&params, "cursor")?;
    let pairing = params.get("pairing").map(String::as_str);
    let q = params.get("q").map(String::as_str);
    Ok(Json(page(&api.engine, pairing, q, limit, cursor)?))
}

/// Body of unlink and discard: why (optional, audited).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub reason: Option<String>,
}

pub async fn unlink(
    State(api): State<Api>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Value> {
    let id = api::path_id(&id)?;
    let reason: Reason = api::json_body(body).await?.unwrap_or_default();
    let (link, removed) = api
        .engine
        .unlink_by_operator(id, reason.reason.as_deref())
        .await?;
    let mut view = serde_json::to_value(LinkView::of(&api.engine, &link)).unwrap_or(json!({}));
    view["operations_removed"] = json!(removed.len());
    Ok(Json(view))
}

/// Body of `POST /api/v1/links`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    pub pairing: String,
    /// Ticket on side a: the vendor's id, or a number the bridge has seen.
    pub a: String,
    /// Ticket on side b, likewise.
    pub b: String,
    /// The side whose values win (default: the pairing's trigger side).
    #[serde(default)]
    pub from: Option<Side>,
}

pub async fn relink(State(api): State<Api>, body: Body) -> ApiResult<LinkView> {
    let new: NewLink = api::json_body(body).await?.ok_or_else(|| {
        ApiError::bad("send {\"pairing\": ..., \"a\": ticket id, \"b\": ticket id}")
    })?;
    for (name, value) in [("pairing", &new.pairing), ("a", &new.a), ("b", &new.b)] {
        if value.trim().is_empty() {
            return Err(ApiError::bad(format!("{name} must not be empty")));
        }
    }
    let link = api
        .engine
        .relink(&new.pairing, &new.a, &new.b, new.from)
        .await?;
    Ok(Json(LinkView::of(&api.engine, &link)))
}
