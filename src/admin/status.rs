//! `GET /api/v1/status`, `/connections` and `/pairings`: per connection
//! whether the vendor answers, webhook registration and when one was last
//! accepted, the last successful poll, outbox depth and dead letters, and
//! the vendor-call counters against the configured hourly budget; per
//! pairing its links, outbox figures and whether it is paused (a pairing
//! removed from the configuration while paused is listed with
//! `configured: false`).

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::api::{Api, ApiResult};
use crate::engine::Engine;
use crate::store::{PausedPairing, TreeName};

/// One connection's status (see the contract in the OpenAPI document).
#[derive(Debug, Serialize)]
pub struct ConnectionStatus {
    pub name: String,
    pub vendor: String,
    /// No call got a 5xx, a 401, a 408 or no answer since the last success
    /// (a 429 or another 4xx is an answer: the vendor is reachable).
    pub up: bool,
    pub webhook: WebhookStatus,
    pub last_poll_ok_unix_ms: Option<i64>,
    /// Operations waiting to be written to this connection (not dead).
    pub queue_depth: u64,
    pub dead_letters: u64,
    /// `psa_connector::ApiStatsSnapshot` plus `requests_per_hour`.
    pub api: Value,
    /// The tenant's shared request budget as the vendor last reported it
    /// (Autotask's `ThresholdInformation`); `null` for other vendors.
    pub tenant_budget: Option<psa_connector::webhooks::ApiBudget>,
}

#[derive(Debug, Serialize)]
pub struct WebhookStatus {
    /// The registration state `/healthz` shows; `null` when the connection
    /// does not register webhooks.
    pub registration: Option<crate::daemon::Registration>,
    pub last_seen_unix_ms: Option<i64>,
}

/// One pairing's figures.
#[derive(Debug, Serialize, Deserialize)]
pub struct PairingStatus {
    pub name: String,
    pub a: String,
    pub b: String,
    pub links: u64,
    pub pending: u64,
    pub dead: u64,
    /// Paused by an operator: its changes wait in the outbox.
    pub paused: bool,
    pub paused_since_unix_ms: Option<i64>,
    pub paused_reason: Option<String>,
    /// `false` for a pairing no longer in the configuration that is still
    /// paused in the store (resume it to clear the record).
    pub configured: bool,
}

#[derive(Default)]
struct Counts {
    pending: u64,
    dead: u64,
}

/// Counts by connection or pairing name.
type ByName = HashMap<String, Counts>;

/// Pending and dead operations per connection and per pairing (one pass).
fn outbox_counts(engine: &Engine) -> Result<(ByName, ByName), crate::store::StoreError> {
    let (mut by_connection, mut by_pairing) = (HashMap::new(), HashMap::new());
    for op in engine.store.outbox()? {
        for (map, key) in [
            (&mut by_connection, &op.connection),
            (&mut by_pairing, &op.pairing),
        ] {
            let counts: &mut Counts = map.entry(key.clone()).or_default();
            if op.dead.is_some() {
                counts.dead += 1;
            } else {
                counts.pending += 1;
            }
        }
    }
    Ok((by_connection, by_pairing))
}

pub fn connections(api: &Api) -> Result<Vec<ConnectionStatus>, crate::store::StoreError> {
    let (by_connection, _) = outbox_counts(&api.engine)?;
    Ok(connections_with(api, &by_connection))
}

/// The connections' status from outbox counts already taken.
fn connections_with(api: &Api, counts: &ByName) -> Vec<ConnectionStatus> {
    let engine = &api.engine;
    let mut names: Vec<&String> = engine.connections.keys().collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let conn = engine.connection(name)?;
            let live = engine.live.get(name);
            let stats = conn.connector.api_stats().map(|s| s.snapshot());
            let up = stats.as_ref().is_none_or(|s| match s.last_failure_unix_ms {
                None => true,
                Some(failed) => s.last_success_unix_ms.is_some_and(|ok| ok >= failed),
            });
            let mut api_json = serde_json::to_value(stats.unwrap_or_default()).unwrap_or(json!({}));
            api_json["requests_per_hour"] = json!(live.requests_per_hour);
            let c = counts.get(name.as_str());
            Some(ConnectionStatus {
                name: name.clone(),
                vendor: conn.connector.vendor().to_string(),
                up,
                webhook: WebhookStatus {
                    registration: api.health.registration(name),
                    last_seen_unix_ms: live.webhook_last_seen_unix_ms,
                },
                last_poll_ok_unix_ms: live.last_poll_ok_unix_ms,
                queue_depth: c.map_or(0, |c| c.pending),
                dead_letters: c.map_or(0, |c| c.dead),
                api: api_json,
                tenant_budget: conn.connector.budget(),
            })
        })
        .collect()
}

pub fn pairings(engine: &Engine) -> Result<Vec<PairingStatus>, crate::store::StoreError> {
    let (_, by_pairing) = outbox_counts(engine)?;
    pairings_with(engine, &by_pairing)
}

/// The pairings' figures from outbox counts already taken.
fn pairings_with(
    engine: &Engine,
    counts: &ByName,
) -> Result<Vec<PairingStatus>, crate::store::StoreError> {
    let mut links: HashMap<String, u64> = HashMap::new();
    for link in engine.store.links()? {
        *links.entry(link.pairing).or_default() += 1;
    }
    let mut paused = engine.store.paused_pairings()?;
    let status = |name: &str, a: &str, b: &str, configured: bool, paused: Option<PausedPairing>| {
        let c = counts.get(name);
        PairingStatus {
            name: name.to_string(),
            a: a.to_string(),
            b: b.to_string(),
            links: links.get(name).copied().unwrap_or(0),
            pending: c.map_or(0, |c| c.pending),
            dead: c.map_or(0, |c| c.dead),
            paused: paused.is_some(),
            paused_since_unix_ms: paused.as_ref().map(|p| p.since.timestamp_millis()),
            paused_reason: paused.and_then(|p| p.reason),
            configured,
        }
    };
    let mut all: Vec<PairingStatus> = engine
        .pairings
        .iter()
        .map(|p| status(&p.name, &p.a, &p.b, true, paused.remove(&p.name)))
        .collect();
    // Paused, then removed from the configuration: still listed, so it is
    // not forgotten (its operations wait in the outbox).
    all.extend(
        paused
            .into_values()
            .map(|p| status(&p.pairing.clone(), "", "", false, Some(p))),
    );
    Ok(all)
}

pub async fn get_connections(State(api): State<Api>) -> ApiResult<Vec<ConnectionStatus>> {
    Ok(Json(connections(&api)?))
}

pub async fn get_pairings(State(api): State<Api>) -> ApiResult<Vec<PairingStatus>> {
    Ok(Json(pairings(&api.engine)?))
}

pub async fn get_status(State(api): State<Api>) -> ApiResult<Value> {
    let engine = &api.engine;
    let outbox = engine.store.outbox_counts()?;
    // One pass over the outbox for both tables (the dashboard asks every 3 s).
    let (by_connection, by_pairing) = outbox_counts(engine)?;
    let (_, health) = api.health.report(true);
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "started_unix_ms": engine.live.started_unix_ms(),
        "health": health,
        "connections": connections_with(&api, &by_connection),
        "pairings": pairings_with(engine, &by_pairing)?,
        "outbox": { "pending": outbox.pending, "dead": outbox.dead },
        "notices": {
            "pending": engine.store.count(TreeName::Inbox),
            "dead": engine.store.count(TreeName::DeadNotices),
        },
    })))
}
