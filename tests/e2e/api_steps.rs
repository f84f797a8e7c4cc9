//! Steps the `/api/v1` tests share: calls with the admin token (status and
//! JSON body), waiting until an answer shows what is awaited, and tickets
//! escalated from Autotask to ConnectWise.

use std::time::{Duration, Instant};

use psa_bridge::demo::{wait_for, DemoEnv, DemoOptions};
use serde_json::Value;

use crate::common::{env, Bridge, TestDir, STEP};

/// `GET path` with the token: status and JSON body (`null` if not JSON).
pub async fn get(bridge: &Bridge, path: &str) -> (u16, Value) {
    let response = bridge
        .admin_client()
        .get(bridge.admin_url(path))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET path` that must answer 200; its body.
pub async fn get_ok(bridge: &Bridge, path: &str) -> Value {
    let (status, body) = get(bridge, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// `POST path` with the token and a JSON `body`: status and JSON answer.
pub async fn post(bridge: &Bridge, path: &str, body: &Value) -> (u16, Value) {
    let response = bridge
        .admin_client()
        .post(bridge.admin_url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls `GET path` until `check` finds what is awaited (at most [`STEP`]).
pub async fn wait_get<T>(
    bridge: &Bridge,
    path: &str,
    what: &str,
    check: impl Fn(&Value) -> Option<T>,
) -> T {
    let deadline = Instant::now() + STEP;
    loop {
        let (_, body) = get(bridge, path).await;
        if let Some(found) = check(&body) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never showed {what}: {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The status entry of `connection`.
pub fn connection<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["connections"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no connection {name} in {status:#}"))
}

/// Creates an Autotask ticket and escalates it; waits for its ConnectWise
/// ticket. Returns (Autotask id, Autotask number, ConnectWise id).
pub async fn escalate(env: &DemoEnv, title: &str) -> (i64, String, i64) {
    let before = env.connectwise.tickets().len();
    let ticket =
        env.autotask
            .user_create_ticket(title, "Something is broken.", "Level I Support", "Medium");
    env.autotask.user_set_queue(ticket.id, "Escalate to MSP");
    let cw = wait_for("the escalation", STEP, || {
        let tickets = env.connectwise.tickets();
        (tickets.len() > before).then(|| {
            tickets
                .into_iter()
                .find(|t| t.summary.contains(&ticket.number))
                .map(|t| t.id)
        })?
    })
    .await
    .unwrap();
    (ticket.id, ticket.number, cw)
}

/// The simulators (polling every second) and a daemon on them.
pub async fn started() -> (TestDir, DemoEnv, Bridge) {
    let (dir, env) = env(DemoOptions {
        poll_interval_secs: 1,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    (dir, env, bridge)
}

/// The dead operations of an outbox page.
pub fn dead_items(page: &Value) -> Vec<Value> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|i| i["state"] == "dead")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}
