//! Replayed webhooks, through the real daemon: a delivery whose signed body
//! arrives again is answered 200 (`"replayed": true`, so the sender stops)
//! and is not stored again (one intake entry, an outcome="replayed" count),
//! even with a new delivery id; where the vendor signs a timestamp, a stale
//! one is refused with 401 and nothing is stored. One test per vendor that
//! carries a delivery id or timestamp the bridge can check.

use psa_bridge::demo::SN_WEBHOOK_SECRET;
use psa_bridge::demo::{DemoEnv, DemoOptions, System, AT_WEBHOOK_SECRET, JIRA_WEBHOOK_SECRET};
use serde_json::{json, Value};

use crate::common::{env, Bridge};

/// A daemon that does not poll, so every notice comes from the test.
async fn webhook_only(internal: System, msp: System) -> (crate::common::TestDir, DemoEnv, Bridge) {
    let (dir, env) = env(DemoOptions {
        polling: false,
        poll_interval_secs: 60,
        internal,
        msp,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    (dir, env, bridge)
}

async fn post(
    bridge: &Bridge,
    connection: &str,
    body: &[u8],
    headers: &[(&str, String)],
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(bridge.url(&format!("/webhooks/{connection}")))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Intake audit entries of `ticket` (one per notice stored).
async fn intakes(bridge: &Bridge, ticket: &str) -> usize {
    let entries: Vec<Value> = serde_json::from_str(
        &bridge
            .admin_get(&format!(
                "/api/v1/tickets/{}/audit",
                ticket.replacen(':', "/", 1)
            ))
            .await,
    )
    .unwrap();
    entries.iter().filter(|e| e["kind"] == "intake").count()
}

/// The `psa_bridge_webhooks_total` count of `connection` and `outcome`.
async fn outcome(bridge: &Bridge, connection: &str, outcome: &str) -> u64 {
    let metrics = bridge.admin_get("/metrics").await;
    let labels = [
        format!("connection=\"{connection}\""),
        format!("outcome=\"{outcome}\""),
    ];
    metrics
        .lines()
        .filter(|l| l.starts_with("psa_bridge_webhooks_total{"))
        .filter(|l| labels.iter().all(|label| l.contains(label.as_str())))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn first_stored(answer: &Value) {
    assert_eq!(answer["accepted"], 1, "{answer}");
    assert!(answer.get("replayed").is_none(), "{answer}");
}

fn replayed(answer: &Value) {
    assert_eq!(answer["accepted"], 0, "{answer}");
    assert_eq!(answer["replayed"], true, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_jira_delivery_is_not_stored_twice_and_a_stale_one_is_refused() {
    let (_dir, _env, bridge) = webhook_only(System::Jira, System::Autotask).await;
    let body = |sent_ms: i64, issue: &str| {
        serde_json::to_vec(&json!({
            "timestamp": sent_ms,
            "webhookEvent": "jira:issue_updated",
            "issue": { "id": issue, "key": format!("HELP-{issue}"), "fields": {} }
        }))
        .unwrap()
    };
    let headers = |body: &[u8], id: &str| {
        vec![
            (
                "x-hub-signature",
                psa_jira::webhook::sign(JIRA_WEBHOOK_SECRET, body),
            ),
            ("x-atlassian-webhook-identifier", id.to_string()),
        ]
    };
    let now = chrono::Utc::now().timestamp_millis();
    let fresh = body(now, "91001");
    let (status, answer) = post(&bridge, "jira", &fresh, &headers(&fresh, "delivery-1")).await;
    assert_eq!(status, 200, "{answer}");
    first_stored(&answer);
    // The identifier header is not signed: a replayer sends a new one.
    for id in ["delivery-1", "delivery-forged-2"] {
        let (status, answer) = post(&bridge, "jira", &fresh, &headers(&fresh, id)).await;
        assert_eq!(status, 200, "{id}: {answer}");
        replayed(&answer);
    }
    assert_eq!(intakes(&bridge, "jira:91001").await, 1, "stored once");
    assert_eq!(outcome(&bridge, "jira", "replayed").await, 2);

    // Two hours old: refused, nothing stored.
    let stale = body(now - 2 * 3600 * 1000, "91002");
    let (status, answer) = post(&bridge, "jira", &stale, &headers(&stale, "delivery-3")).await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("stale"),
        "{answer}"
    );
    assert_eq!(intakes(&bridge, "jira:91002").await, 0);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_servicenow_notice_is_not_stored_twice_and_a_stale_one_is_refused() {
    let (_dir, _env, bridge) = webhook_only(System::Servicenow, System::Connectwise).await;
    let sys_id = "0123456789abcdef0123456789abcdef";
    let body = serde_json::to_vec(&json!({
        "table": "incident",
        "sys_id": sys_id,
        "sys_updated_on": "2026-11-27 05:00:00",
        "sys_mod_count": "3",
        "operation": "update"
    }))
    .unwrap();
    let headers = |sent: i64| {
        let sent = sent.to_string();
        vec![
            (
                "x-bridge-signature",
                psa_servicenow::signature::sign(SN_WEBHOOK_SECRET, &sent, &body),
            ),
            ("x-bridge-timestamp", sent),
        ]
    };
    let now = chrono::Utc::now().timestamp();
    let signed = headers(now);
    let (status, answer) = post(&bridge, "servicenow", &body, &signed).await;
    assert_eq!(status, 200, "{answer}");
    first_stored(&answer);
    let (status, answer) = post(&bridge, "servicenow", &body, &signed).await;
    assert_eq!(status, 200, "{answer}");
    replayed(&answer);
    assert_eq!(intakes(&bridge, &format!("servicenow:{sys_id}")).await, 1);
    assert_eq!(outcome(&bridge, "servicenow", "replayed").await, 1);

    // Signed ten minutes ago (beyond the 300 s window): refused.
    let (status, answer) = post(&bridge, "servicenow", &body, &headers(now - 600)).await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("stale"),
        "{answer}"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_autotask_delivery_is_not_stored_twice() {
    let (_dir, _env, bridge) = webhook_only(System::Autotask, System::Connectwise).await;
    let body = serde_json::to_vec(&json!({
        "Action": "Update",
        "Guid": "5a0c1b7e-9d1e-4d55-a0b4-2f1c3d4e5f61",
        "EntityType": "Ticket",
        "Id": 930001,
        "Fields": { "TicketNumber": "T20261127.0001", "Status": "8" },
        "EventTime": chrono::Utc::now().to_rfc3339(),
        "SequenceNumber": 1,
        "PersonID": 30691780
    }))
    .unwrap();
    let signed = vec![(
        "x-hook-signature",
        psa_autotask::hooks::sign(AT_WEBHOOK_SECRET, &body),
    )];
    let (status, answer) = post(&bridge, "autotask", &body, &signed).await;
    assert_eq!(status, 200, "{answer}");
    first_stored(&answer);
    for _ in 0..3 {
        let (status, answer) = post(&bridge, "autotask", &body, &signed).await;
        assert_eq!(status, 200, "{answer}");
        replayed(&answer);
    }
    assert_eq!(intakes(&bridge, "autotask:930001").await, 1);
    assert_eq!(outcome(&bridge, "autotask", "replayed").await, 3);
    bridge.stop().await;
}
