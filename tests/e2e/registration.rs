//! Webhook registration in the background: a vendor that fails at start-up
//! neither blocks the daemon nor leaves the webhook unregistered, and
//! `/healthz` says where registration stands.

use std::time::Duration;

use psa_bridge::demo::{wait_for, DemoOptions};
use serde_json::Value;

use crate::common::{env, Bridge, STEP};

/// Waits until the admin `/healthz` satisfies `check`; returns the body.
async fn health_until(bridge: &Bridge, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let (_, body) = bridge.health().await;
        if check(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "health never showed {what}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_retried_until_the_vendor_accepts_it() {
    // Polling once a minute: after start-up only webhooks bring changes.
    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 60,
        ..Default::default()
    })
    .await;
    let control = env.autotask.control();
    // Autotask is down when the daemon starts: the daemon still starts.
    control.set_error_rate(1.0);
    let bridge = Bridge::spawn(&env.config_path).await;
    let retrying = health_until(&bridge, "autotask retrying", |h| {
        h["webhooks"]["autotask"]["state"] == "retrying"
    })
    .await;
    assert!(
        retrying["webhooks"]["autotask"]["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("HTTP 50"),
        "{retrying}"
    );
    assert_eq!(retrying["status"], "degraded", "{retrying}");
    // Without the token the admin listener shows the state, not the
    // vendor's error text.
    let (_, public) = bridge.health_without_token().await;
    assert_eq!(
        public["webhooks"]["autotask"]["state"], "retrying",
        "{public}"
    );
    assert!(
        public["webhooks"]["autotask"].get("last_error").is_none(),
        "{public}"
    );
    let (code, _) = bridge.health().await;
    assert_eq!(
        code, 200,
        "registration retrying is not a failure of the daemon"
    );

    // Autotask comes back, but its next writes still fail with 503.
    let failed_before = hook_write_failures(&env);
    control.fail_next_writes(&[503, 503, 503]);
    control.set_error_rate(0.0);
    let registered = health_until(&bridge, "autotask registered", |h| {
        h["webhooks"]["autotask"]["state"] == "registered"
    })
    .await;
    assert_eq!(registered["status"], "ok", "{registered}");
    assert_eq!(registered["webhooks"]["connectwise"]["state"], "registered");
    assert!(
        hook_write_failures(&env) >= failed_before + 3,
        "the injected failures hit registration writes"
    );
    let attempts = registered["webhooks"]["autotask"]["attempts"]
        .as_u64()
        .unwrap();
    assert!(
        attempts >= 5,
        "at least 1 + 3 failed attempts: {registered}"
    );

    // The registered webhook works: an escalation arrives without polling.
    let t = env.autotask.user_create_ticket(
        "Printer offline",
        "Third floor printer is offline.",
        "Level I Support",
        "Medium",
    );
    env.autotask.user_set_queue(t.id, "Escalate to MSP");
    wait_for("the escalation via webhook", STEP, || {
        (!env.connectwise.tickets().is_empty()).then_some(())
    })
    .await
    .unwrap();
    bridge.stop().await;
}

/// Failed write calls to Autotask's webhook entities so far.
fn hook_write_failures(env: &psa_bridge::demo::DemoEnv) -> usize {
    env.autotask
        .control()
        .requests()
        .iter()
        .filter(|r| r.is_write() && r.path.contains("Webhook") && (502..=504).contains(&r.status))
        .count()
}
