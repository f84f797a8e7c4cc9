//! Steps several end-to-end tests share: signed Autotask webhooks posted to
//! the daemon, metric samples from its `/metrics`, the ConnectWise ticket
//! an escalation wrote back, the killer of the crash tests, and the closing
//! check that `audit verify` finds the audit chain intact.

use std::path::Path;
use std::time::{Duration, Instant};

use psa_bridge::demo::{DemoEnv, AT_WEBHOOK_SECRET};
use rand::Rng;
use serde_json::{json, Value};

use crate::common::{cli, text, Bridge, STEP};

/// A signed Autotask ticket webhook (body, `X-Hook-Signature`) about
/// ticket `id` with `fields`, whose dedup key carries `sequence`.
pub fn autotask_webhook(id: i64, fields: Value, sequence: u64) -> (Vec<u8>, String) {
    let body = serde_json::to_vec(&json!({
        "Action": "Update",
        "Guid": "5a0c1b7e-9d1e-4d55-a0b4-2f1c3d4e5f60",
        "EntityType": "Ticket",
        "Id": id,
        "Fields": fields,
        "EventTime": "2026-11-25T14:57:50Z",
        "SequenceNumber": sequence,
        "PersonID": 30691780
    }))
    .unwrap();
    let signature = psa_autotask::hooks::sign(AT_WEBHOOK_SECRET, &body);
    (body, signature)
}

/// Posts `hook` (from [`autotask_webhook`]) to the daemon's Autotask route.
pub async fn post_autotask_webhook(bridge: &Bridge, hook: &(Vec<u8>, String)) -> reqwest::Response {
    reqwest::Client::new()
        .post(bridge.url("/webhooks/autotask"))
        .header("content-type", "application/json")
        .header("X-Hook-Signature", &hook.1)
        .body(hook.0.clone())
        .send()
        .await
        .expect("the listener answers")
}

/// The sum of the daemon's metric samples whose line starts with `name`
/// and contains every one of `labels` (0 when there are none).
pub async fn metric(bridge: &Bridge, name: &str, labels: &[&str]) -> f64 {
    let body = reqwest::get(bridge.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// Waits (at most [`STEP`]) until [`metric`]`(name, labels)` satisfies
/// `ok`; `what` says what was awaited when it never does.
pub async fn wait_for_metric(
    bridge: &Bridge,
    name: &str,
    labels: &[&str],
    what: &str,
    ok: impl Fn(f64) -> bool,
) {
    let deadline = Instant::now() + STEP;
    while !ok(metric(bridge, name, labels).await) {
        assert!(Instant::now() < deadline, "{name}{labels:?} never {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The ConnectWise ticket the escalation of Autotask ticket `id` wrote
/// back to its "MSP Ticket" field, once it has.
pub fn msp_ticket(env: &DemoEnv, id: i64) -> Option<i64> {
    env.autotask
        .ticket(id)?
        .udfs
        .get("MSP Ticket")
        .filter(|v| !v.is_empty())?
        .parse()
        .ok()
}

/// Starts the daemon on `config`, then SIGKILLs it at `kills` random
/// instants (300 to 1,500 ms apart, drawn from `rng` now) and restarts it
/// at once each time; the task ends with the last daemon.
pub fn kill_at_random(
    rng: &mut impl Rng,
    kills: usize,
    config: &Path,
) -> tokio::task::JoinHandle<Bridge> {
    let delays: Vec<Duration> = (0..kills)
        .map(|_| Duration::from_millis(rng.random_range(300..1500)))
        .collect();
    let config = config.to_path_buf();
    tokio::spawn(async move {
        let mut bridge = Bridge::spawn(&config).await;
        for delay in delays {
            tokio::time::sleep(delay).await;
            bridge.kill().await;
            bridge = Bridge::spawn(&config).await;
        }
        bridge
    })
}

/// `psa-bridge audit verify` on the environment's config succeeds.
pub async fn audit_verifies(env: &DemoEnv) {
    let verify = cli(&[
        "audit",
        "verify",
        "--config",
        env.config_path.to_str().unwrap(),
    ])
    .await;
    assert!(verify.status.success(), "{}", text(&verify));
}
