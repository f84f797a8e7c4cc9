//! `/api/v1/status`, `/connections`, `/pairings` and the outbox routes
//! through the real daemon against the simulators: the figures follow what
//! happened (a link, a dead letter after a permanent refusal, an operation
//! waiting behind it, a 429), and retry and discard of dead letters work.

use serde_json::{json, Value};

use crate::api_steps::{connection, dead_items, escalate, get_ok, post, started, wait_get};
use crate::common::settled;

const P1: &str = "Priority 1 - Emergency Response";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_follows_a_link_a_dead_letter_a_429_and_a_retry() {
    let (_dir, env, bridge) = started().await;
    let (at, _number, cw) = escalate(&env, "Mail server down").await;
    settled(&env, &bridge).await;

    // A link, polls and the Autotask webhook seen, nothing queued.
    let status = wait_get(
        &bridge,
        "/api/v1/status",
        "polls of both connections",
        |s| {
            let polled = ["autotask", "connectwise"]
                .iter()
                .all(|c| connection(s, c)["last_poll_ok_unix_ms"].is_i64());
            polled.then(|| s.clone())
        },
    )
    .await;
    assert!(
        status["version"].is_string() && status["started_unix_ms"].is_i64(),
        "{status:#}"
    );
    assert!(
        status["health"]["tasks"]["planner"].is_object(),
        "{status:#}"
    );
    let at_status = connection(&status, "autotask");
    assert_eq!(at_status["vendor"], "autotask");
    assert_eq!(at_status["up"], true);
    assert!(
        at_status["webhook"]["last_seen_unix_ms"].is_i64(),
        "{at_status:#}"
    );
    assert_eq!(at_status["webhook"]["registration"]["state"], "registered");
    assert!(
        at_status["api"]["reads"].as_u64().unwrap() > 0,
        "{at_status:#}"
    );
    assert!(at_status["api"]["calls_last_hour"].as_u64().unwrap() > 0);
    assert!(at_status["api"].get("requests_per_hour").is_some());
    let cw_status = connection(&status, "connectwise");
    assert_eq!(
        (
            cw_status["queue_depth"].as_u64(),
            cw_status["dead_letters"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert!(
        cw_status["api"]["writes"].as_u64().unwrap() >= 1,
        "the create: {cw_status:#}"
    );
    assert_eq!(status["pairings"][0]["name"], "acme");
    assert_eq!(status["pairings"][0]["links"], 1);
    assert_eq!(status["outbox"], json!({ "pending": 0, "dead": 0 }));
    // Counters move between two reads: compare names and vendors.
    let names = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].clone(), c["vendor"].clone()))
            .collect::<Vec<_>>()
    };
    let listed = get_ok(&bridge, "/api/v1/connections").await;
    assert_eq!(names(&listed), names(&status["connections"]));
    assert_eq!(
        get_ok(&bridge, "/api/v1/pairings").await,
        status["pairings"]
    );

    // ConnectWise refuses the next write for good: a dead letter with the
    // vendor's message; a later change of the same ticket waits behind it.
    env.connectwise.control().fail_next_writes(&[400]);
    env.autotask.user_set_priority(at, "Critical");
    let dead = wait_get(
        &bridge,
        "/api/v1/outbox?state=dead",
        "a dead letter",
        |page| dead_items(page).into_iter().next(),
    )
    .await;
    assert_eq!(dead["connection"], "connectwise");
    assert_eq!(dead["kind"], "update_ticket");
    assert_eq!(dead["status"], 400);
    assert!(
        dead["last_error"].as_str().is_some_and(|m| !m.is_empty()),
        "{dead:#}"
    );
    assert!(dead["tickets"]
        .as_array()
        .unwrap()
        .contains(&json!(format!("autotask:{at}"))));
    let description = env.autotask.ticket(at).unwrap().description;
    env.autotask
        .user_set_text(at, "Mail server down everywhere", &description);
    let dead_id = dead["id"].as_str().unwrap().to_string();
    let waiting = wait_get(
        &bridge,
        "/api/v1/outbox?state=pending",
        "an op behind the dead letter",
        |page| {
            page["items"]
                .as_array()?
                .iter()
                .find(|op| op["blocked_by"] == dead_id.as_str())
                .cloned()
        },
    )
    .await;
    let status = get_ok(&bridge, "/api/v1/status").await;
    let cw_status = connection(&status, "connectwise");
    assert_eq!(cw_status["dead_letters"], 1, "{cw_status:#}");
    assert!(
        cw_status["queue_depth"].as_u64().unwrap() >= 1,
        "{cw_status:#}"
    );
    assert_eq!(status["pairings"][0]["dead"], 1);
    assert_eq!(status["outbox"]["dead"], 1);
    let dead_listed = get_ok(&bridge, "/api/v1/outbox?state=dead").await;
    assert_eq!(dead_listed["items"][0]["waiting"], 1, "{dead_listed:#}");

    // Retrying a pending op is a conflict; retrying the dead letter delivers.
    let (code, body) = post(
        &bridge,
        &format!("/api/v1/outbox/{}/retry", waiting["id"].as_str().unwrap()),
        &json!({}),
    )
    .await;
    assert_eq!(code, 409, "{body}");
    let (code, body) = post(
        &bridge,
        &format!("/api/v1/outbox/{dead_id}/retry"),
        &json!({}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["id"], dead_id.as_str());
    assert!(
        body["retried"] == "replanned" || body["retried"] == "requeued",
        "{body}"
    );
    psa_bridge::demo::wait_for("the retried priority", crate::common::STEP, || {
        (env.connectwise.ticket(cw)?.priority == P1).then_some(())
    })
    .await
    .unwrap();
    settled(&env, &bridge).await;
    let status = get_ok(&bridge, "/api/v1/status").await;
    assert_eq!(status["outbox"], json!({ "pending": 0, "dead": 0 }));
    assert!(env
        .connectwise
        .ticket(cw)
        .unwrap()
        .summary
        .contains("everywhere"));

    // A 429 from ConnectWise is counted (and the write still lands).
    env.connectwise
        .control()
        .fail_next_write_with_retry_after(429, 1);
    env.autotask.user_set_priority(at, "Medium");
    let throttled = wait_get(&bridge, "/api/v1/connections", "a 429", |c| {
        let cw = c.as_array()?.iter().find(|c| c["name"] == "connectwise")?;
        (cw["api"]["http_429"].as_u64()? >= 1).then(|| cw.clone())
    })
    .await;
    assert_eq!(
        throttled["up"], true,
        "a 429 is not a failure: {throttled:#}"
    );
    settled(&env, &bridge).await;
    bridge.stop().await;
}
