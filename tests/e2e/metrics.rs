//! Metrics and `/readyz` through the real daemon on the simulators: after
//! the story every series the docs list exists with the right labels and
//! plausible values; a throttling burst shows in the 429 counter, an
//! injected permanent failure in the dead-letter counter; `/readyz` turns
//! 503 while a simulator fails and 200 again after; no label carries a
//! ticket id; the Grafana dashboard and the docs use only series the
//! daemon exports.

use std::time::Duration;

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{DemoEnv, DemoOptions};
use reqwest::StatusCode;

use crate::common::{env, settled, Bridge, STEP};
use crate::scrape::{
    assert_dashboard_uses_exported_series, assert_docs_list_exported_series,
    assert_no_ticket_labels, readyz, scrape, scrape_until,
};

const CONNECTIONS: [&str; 2] = ["autotask", "connectwise"];

/// The plan: webhooks and polling (the demo's default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_shows_in_the_metrics_and_the_dashboard_uses_only_exported_series() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    settled(&env, &bridge).await;
    story.msp_picks_up().await.unwrap();
    settled(&env, &bridge).await;
    story.tech_replies().await.unwrap();
    settled(&env, &bridge).await;
    story.msp_resolves().await.unwrap();
    let (at_writes, cw_writes) = settled(&env, &bridge).await;
    let s = scrape(&bridge).await;

    // Intake: the story's changes arrived by webhook; polls found the
    // same changes already planned (or counted them as repeats).
    for conn in CONNECTIONS {
        let webhook = [("connection", conn), ("source", "webhook")];
        assert!(
            s.sum(
                "psa_bridge_intake_total",
                &[webhook[0], webhook[1], ("outcome", "accepted")]
            ) >= 1.0,
            "{conn} webhooks:\n{}",
            s.text
        );
        assert!(s.has(
            "psa_bridge_intake_total",
            &[("connection", conn), ("source", "poll")]
        ));
    }

    // Delivery latency: one observation per delivery made, by connection.
    let mut delivered_total = 0.0;
    for conn in CONNECTIONS {
        let delivered = s.sum(
            "psa_bridge_deliveries_total",
            &[("connection", conn), ("outcome", "delivered")],
        );
        let timed = s.sum(
            "psa_bridge_delivery_duration_seconds_count",
            &[("connection", conn), ("outcome", "delivered")],
        );
        assert!(delivered >= 1.0, "{conn}:\n{}", s.text);
        assert_eq!(timed, delivered, "{conn}: a latency per delivery");
        delivered_total += delivered;
        let sum = s.sum(
            "psa_bridge_delivery_duration_seconds_sum",
            &[("connection", conn)],
        );
        assert!(sum > 0.0 && sum < 60.0 * delivered, "{conn}: {sum} s");
    }
    // Each delivered operation is one ticket or note write on a simulator.
    assert_eq!(delivered_total as usize, at_writes + cw_writes);

    // Propagation: every delivered operation carries its change's time,
    // the escalation's write-backs (the internal ticket's note and field,
    // follow-ups of the create) too: one observation per write.
    let propagated = s.sum(
        "psa_bridge_propagation_seconds_count",
        &[("pairing", "acme")],
    );
    assert_eq!(propagated, delivered_total, "{}", s.text);
    for conn in CONNECTIONS {
        assert!(
            s.sum(
                "psa_bridge_propagation_seconds_count",
                &[("connection", conn)]
            ) >= 1.0,
            "{conn}"
        );
    }
    let seconds = s.sum("psa_bridge_propagation_seconds_sum", &[]);
    assert!(
        seconds > 0.0 && seconds < 60.0 * propagated,
        "webhook-driven changes cross within seconds: {seconds} s for {propagated}"
    );
    assert!(s.has(
        "psa_bridge_propagation_seconds_bucket",
        &[("pairing", "acme"), ("le", "+Inf")]
    ));

    // Planning latency.
    for conn in CONNECTIONS {
        assert!(
            s.sum(
                "psa_bridge_plan_duration_seconds_count",
                &[("connection", conn), ("outcome", "planned")]
            ) >= 1.0,
            "{conn}"
        );
    }

    // Vendor API use, by connection and kind.
    for conn in CONNECTIONS {
        let reads = s.sum(
            "psa_bridge_api_calls_total",
            &[("connection", conn), ("kind", "read")],
        );
        let writes = s.sum(
            "psa_bridge_api_calls_total",
            &[("connection", conn), ("kind", "write")],
        );
        assert!(reads >= 1.0, "{conn} reads");
        assert!(writes >= 1.0, "{conn} writes");
        for name in [
            "psa_bridge_api_429_total",
            "psa_bridge_api_failures_total",
            "psa_bridge_rate_limit_wait_milliseconds_total",
            "psa_bridge_api_calls_last_hour",
            "psa_bridge_api_last_success_timestamp_seconds",
            "psa_bridge_delivery_retries_total",
            "psa_bridge_dead_letters_total",
            "psa_bridge_dead_notices_total",
            "psa_bridge_connection_reachable",
        ] {
            assert!(s.has(name, &[("connection", conn)]), "{name} for {conn}");
        }
        assert!(
            s.sum("psa_bridge_api_calls_last_hour", &[("connection", conn)])
                >= reads + writes - 0.5
        );
    }
    assert_eq!(s.sum("psa_bridge_ready", &[]), 1.0);
    assert_eq!(s.sum("psa_bridge_dead_letters_total", &[]), 0.0);

    let tickets = vec![
        story.internal_id.clone(),
        story.internal_number.clone(),
        story.msp_id.clone(),
        story.msp_number.clone(),
    ];
    assert_no_ticket_labels(&s, &tickets);
    assert_dashboard_uses_exported_series(&s);
    assert_docs_list_exported_series(&s);
    bridge.stop().await;
}

/// Polling only: intake by poll; a throttling burst counts 429s; `/readyz`
/// is 503 while ConnectWise fails and 200 again after; a permanent failure
/// counts a dead letter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_429s_and_dead_letters_through_the_daemon() {
    let options = DemoOptions {
        webhooks: false,
        ..Default::default()
    };
    let (_dir, env) = env(options).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let (code, body) = readyz(&bridge, false).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["store"]["state"], "ok");
    assert_eq!(body["connections"]["connectwise"]["state"], "reachable");

    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    settled(&env, &bridge).await;
    let s = scrape(&bridge).await;
    assert!(
        s.sum(
            "psa_bridge_intake_total",
            &[
                ("connection", "autotask"),
                ("source", "poll"),
                ("outcome", "accepted")
            ]
        ) >= 1.0,
        "{}",
        s.text
    );
    assert!(
        !s.has("psa_bridge_intake_total", &[("source", "webhook")]),
        "no webhooks"
    );

    // A throttling burst (ended once seen, so no poll timing matters):
    // polls get 429s, counted, and a 429 does not make a connection unready.
    env.connectwise
        .control()
        .throttle_for(Duration::from_secs(300), 1);
    let s = scrape_until(&bridge, "a ConnectWise 429", |s| {
        s.sum("psa_bridge_api_429_total", &[("connection", "connectwise")]) >= 1.0
    })
    .await;
    env.connectwise.control().throttle_for(Duration::ZERO, 1);
    assert_eq!(
        readyz(&bridge, false).await.0,
        StatusCode::OK,
        "a 429 is an answer"
    );
    assert_eq!(
        s.sum("psa_bridge_api_429_total", &[("connection", "autotask")]),
        0.0
    );

    // ConnectWise fails every request: unreachable once past its budget
    // (poll interval + timeout), and the reason only with the token.
    env.connectwise.control().set_error_rate(1.0);
    let deadline = tokio::time::Instant::now() + STEP * 2;
    let body = loop {
        let (code, body) = readyz(&bridge, true).await;
        if code == StatusCode::SERVICE_UNAVAILABLE {
            break body;
        }
        assert_eq!(code, StatusCode::OK, "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "never unready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["connections"]["connectwise"]["state"], "unreachable");
    assert_eq!(body["connections"]["autotask"]["state"], "reachable");
    let reason = body["connections"]["connectwise"]["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("failing"), "{reason}");
    let (code, public) = readyz(&bridge, false).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert!(public["connections"]["connectwise"].get("reason").is_none());
    let s = scrape(&bridge).await;
    assert_eq!(s.sum("psa_bridge_ready", &[]), 0.0);
    assert_eq!(
        s.sum(
            "psa_bridge_connection_reachable",
            &[("connection", "connectwise")]
        ),
        0.0
    );
    assert!(
        s.sum(
            "psa_bridge_api_failures_total",
            &[("connection", "connectwise")]
        ) >= 1.0
    );

    env.connectwise.control().set_error_rate(0.0);
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let (code, body) = readyz(&bridge, true).await;
        if code == StatusCode::OK {
            assert_eq!(body["connections"]["connectwise"]["state"], "reachable");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ready again: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // A permanent failure: the MSP's next write is refused for good.
    dead_letter_on_connectwise(&env, &story).await;
    let s = scrape_until(&bridge, "a ConnectWise dead letter", |s| {
        s.sum(
            "psa_bridge_dead_letters_total",
            &[("connection", "connectwise")],
        ) >= 1.0
    })
    .await;
    assert_eq!(
        s.sum(
            "psa_bridge_dead_letters_total",
            &[("connection", "connectwise")]
        ),
        1.0
    );
    assert_eq!(
        s.sum(
            "psa_bridge_dead_letters_total",
            &[("connection", "autotask")]
        ),
        0.0
    );
    assert_eq!(
        s.sum(
            "psa_bridge_deliveries_total",
            &[("connection", "connectwise"), ("outcome", "dead_letter")]
        ),
        1.0
    );
    let tickets = vec![
        story.internal_id.clone(),
        story.internal_number.clone(),
        story.msp_id.clone(),
        story.msp_number.clone(),
    ];
    assert_no_ticket_labels(&s, &tickets);
    bridge.stop().await;
}

/// Changes the internal ticket's priority with ConnectWise refusing the
/// next write (400): the update to ConnectWise is dead-lettered.
async fn dead_letter_on_connectwise(env: &DemoEnv, story: &Story<'_>) {
    env.connectwise.control().fail_next_writes(&[400]);
    env.autotask
        .user_set_priority(story.autotask_id(), "Critical");
}

/// `daemon.metrics_listen` serves `/readyz` too, without a token and
/// without reason texts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_listener_serves_readyz() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let original = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(
        &env.config_path,
        original.replace(
            "admin_listen = \"127.0.0.1:0\"\n",
            "admin_listen = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\n",
        ),
    )
    .unwrap();
    let loaded = psa_bridge::config::load(&env.config_path, &|_| None).unwrap();
    let listeners = psa_bridge::daemon::Listeners::bind(&loaded.config.daemon)
        .await
        .unwrap();
    let daemon = psa_bridge::daemon::start(
        loaded,
        listeners,
        std::sync::Arc::new(psa_bridge::clock::SystemClock),
    )
    .await
    .unwrap();
    let metrics = daemon.metrics_addr.expect("a metrics listener");
    let response = reqwest::get(format!("http://{metrics}/readyz"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["connections"]["autotask"]["state"], "reachable");
    daemon.shutdown().await;
}
