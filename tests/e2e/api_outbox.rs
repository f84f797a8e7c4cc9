//! Discarding dead letters through `/api/v1`: a dead operation is removed
//! (audited with the operator's reason) and what waited behind it goes out;
//! the CLI does the same while the daemon runs.

use psa_bridge::demo::{wait_for, DemoOptions};
use serde_json::{json, Value};

use crate::api_steps::{dead_items, escalate, get, get_ok, post, started, wait_get};
use crate::common::{cli, env, settled, text, Bridge, STEP};

fn first_dead(page: &Value) -> Option<Value> {
    dead_items(page).into_iter().next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discard_removes_a_dead_letter_and_unblocks_its_queue() {
    let (_dir, env, bridge) = started().await;
    let config = env.config_path.to_str().unwrap().to_string();
    let (at, _, cw) = escalate(&env, "Phones down").await;
    settled(&env, &bridge).await;

    env.connectwise.control().fail_next_writes(&[400]);
    env.autotask.user_set_priority(at, "Critical");
    let dead = wait_get(
        &bridge,
        "/api/v1/outbox?state=dead",
        "a dead letter",
        first_dead,
    )
    .await;
    let dead_id = dead["id"].as_str().unwrap().to_string();
    let description = env.autotask.ticket(at).unwrap().description;
    env.autotask
        .user_set_text(at, "Phones down in every office", &description);
    wait_get(
        &bridge,
        "/api/v1/outbox?state=pending",
        "an op behind it",
        |page| {
            page["items"]
                .as_array()?
                .iter()
                .any(|op| op["blocked_by"] == dead_id.as_str())
                .then_some(())
        },
    )
    .await;

    // Unknown ids, a pending op, a bad id.
    let (code, body) = post(&bridge, "/api/v1/outbox/999999999/discard", &json!({})).await;
    assert_eq!(code, 404, "{body}");
    let (code, body) = post(&bridge, "/api/v1/outbox/x/discard", &json!({})).await;
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("id"), "{body}");

    let (code, body) = post(
        &bridge,
        &format!("/api/v1/outbox/{dead_id}/discard"),
        &json!({ "reason": "priority is managed by the MSP" }),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["id"], dead_id.as_str());
    assert_eq!(body["state"], "dead");
    // The title update that waited goes out; the priority never does.
    wait_for("the waiting title update", STEP, || {
        env.connectwise
            .ticket(cw)?
            .summary
            .contains("every office")
            .then_some(())
    })
    .await
    .unwrap();
    settled(&env, &bridge).await;
    assert_ne!(
        env.connectwise.ticket(cw).unwrap().priority,
        "Priority 1 - Emergency Response"
    );
    let (code, _) = post(
        &bridge,
        &format!("/api/v1/outbox/{dead_id}/discard"),
        &json!({}),
    )
    .await;
    assert_eq!(code, 404, "gone");
    let status = get_ok(&bridge, "/api/v1/status").await;
    assert_eq!(status["outbox"], json!({ "pending": 0, "dead": 0 }));
    // Audited with the reason, in the ticket's history and the activity.
    let history = get_ok(&bridge, &format!("/api/v1/tickets/autotask/{at}/audit")).await;
    let discarded = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "discarded")
        .unwrap_or_else(|| panic!("no discard in {history:#}"));
    assert!(discarded["message"]
        .as_str()
        .unwrap()
        .contains("managed by the MSP"));
    let activity = get_ok(&bridge, "/api/v1/activity?limit=200").await;
    assert!(
        activity["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "discarded"),
        "{activity:#}"
    );

    // The CLI discards through the API too.
    env.connectwise.control().fail_next_writes(&[400]);
    env.autotask.user_set_priority(at, "High");
    let dead = wait_get(
        &bridge,
        "/api/v1/outbox?state=dead",
        "a second dead letter",
        first_dead,
    )
    .await;
    let id = dead["id"].as_str().unwrap();
    let listed = cli(&["outbox", "dead", "--config", &config]).await;
    assert!(
        text(&listed).contains(&format!("{id} ")),
        "{}",
        text(&listed)
    );
    let out = cli(&[
        "outbox", "discard", id, "--reason", "test", "--config", &config,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("discarded"), "{}", text(&out));
    let (_, page) = get(&bridge, "/api/v1/outbox?state=dead").await;
    assert_eq!(page["items"], json!([]));
    let again = cli(&["outbox", "discard", id, "--config", &config]).await;
    assert!(!again.status.success(), "{}", text(&again));
    // `audit` through the API: recent entries, one ticket's history.
    let recent = cli(&["audit", "--limit", "500", "--config", &config]).await;
    assert!(text(&recent).contains("discarded"), "{}", text(&recent));
    let ticket = format!("autotask:{at}");
    let history = cli(&["audit", "--ticket", &ticket, "--config", &config]).await;
    assert!(history.status.success(), "{}", text(&history));
    assert!(
        text(&history).contains("by an operator (test)"),
        "{}",
        text(&history)
    );
    bridge.stop().await;
}

/// A dead notice (planning refused for good) is listed with the vendor's
/// message and can be discarded; retrying an unknown notice is a 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_notices_are_listed_and_discarded() {
    let (_dir, env) = env(DemoOptions {
        polling: false,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let (at, _, cw) = escalate(&env, "Scanner jammed").await;
    settled(&env, &bridge).await;
    // Reading the ticket is refused for good: the notice dies.
    env.autotask.control().fail_next_reads(&[403]);
    env.autotask.user_set_priority(at, "Critical");
    let notice = wait_get(&bridge, "/api/v1/notices/dead", "a dead notice", |list| {
        list.as_array()?.first().cloned()
    })
    .await;
    assert_eq!(notice["connection"], "autotask");
    assert_eq!(notice["ticket"], at.to_string());
    assert!(
        notice["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{notice:#}"
    );
    let status = get_ok(&bridge, "/api/v1/status").await;
    assert_eq!(status["notices"]["dead"], 1, "{status:#}");
    let id = notice["id"].as_str().unwrap();
    let (code, body) = post(&bridge, "/api/v1/notices/424242424/retry", &json!({})).await;
    assert_eq!(code, 404, "{body}");
    let (code, body) = post(
        &bridge,
        &format!("/api/v1/notices/{id}/discard"),
        &json!({}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["id"], id);
    assert_eq!(get_ok(&bridge, "/api/v1/notices/dead").await, json!([]));

    // Another dead notice, retried once the cause is gone: it is planned.
    env.autotask.control().fail_next_reads(&[403]);
    env.autotask.user_set_priority(at, "Low");
    let notice = wait_get(
        &bridge,
        "/api/v1/notices/dead",
        "a second dead notice",
        |list| list.as_array()?.first().cloned(),
    )
    .await;
    let id = notice["id"].as_str().unwrap();
    let (code, body) = post(&bridge, &format!("/api/v1/notices/{id}/retry"), &json!({})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["retried"], "notice");
    wait_for("the retried notice's update", STEP, || {
        (env.connectwise.ticket(cw)?.priority == "Priority 4 - Schedule Maintenance").then_some(())
    })
    .await
    .unwrap();
    assert_eq!(get_ok(&bridge, "/api/v1/notices/dead").await, json!([]));
    bridge.stop().await;
}
