//! Self-healing webhooks through the real daemon: Autotask deactivates the
//! bridge's webhooks without notice while polling is (nearly) off; the
//! periodic status check finds them inactive, registers them again and
//! polls the gap, so the ticket opened meanwhile is escalated, exactly once,
//! and the audit log has the detection, the re-registration and the
//! catch-up poll with its gap.

use std::time::Duration;

use psa_bridge::demo::story::Story;
use psa_bridge::demo::DemoOptions;

use crate::common::{env, Bridge, STEP};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_webhook_is_registered_again_and_the_gap_polled() {
    // One poll at start-up, then webhooks only.
    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 3600,
        ..Default::default()
    })
    .await;
    let config = std::fs::read_to_string(&env.config_path).unwrap();
    let config = config.replace(
        "poll_interval_secs = 3600\n",
        "poll_interval_secs = 3600\nwebhook_check_interval_secs = 1\n",
    );
    assert!(config.contains("webhook_check_interval_secs"));
    std::fs::write(&env.config_path, config).unwrap();
    let bridge = Bridge::spawn(&env.config_path).await;
    let deadline = tokio::time::Instant::now() + STEP;
    while !(env.autotask.webhooks().len() == 2 && env.autotask.webhooks().iter().all(|h| h.active))
    {
        assert!(tokio::time::Instant::now() < deadline, "never registered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    env.autotask.deactivate_webhooks_silently();
    let mut story = Story::new(&env, STEP, false);
    // Opened while no webhook is active: only the catch-up poll can bring it.
    story.escalate().await.unwrap();
    assert_eq!(env.connectwise.tickets().len(), 1, "escalated exactly once");
    assert!(env.autotask.webhooks().iter().all(|h| h.active));
    bridge.stop().await;

    let store = psa_bridge::store::Store::open(&env.dir.join("store")).unwrap();
    let entries = store.audit_entries().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e.kind.as_str())
        .filter(|k| k.starts_with("webhook_") || *k == "catch_up_poll")
        .collect();
    assert!(
        kinds.starts_with(&[
            "webhook_disabled_detected",
            "webhook_reregistered",
            "catch_up_poll"
        ]),
        "{kinds:?}"
    );
    let detected = entries
        .iter()
        .find(|e| e.kind == "webhook_disabled_detected")
        .unwrap();
    assert!(
        detected.detail["problems"].to_string().contains("inactive"),
        "{}",
        detected.detail
    );
    let catch_up = entries.iter().find(|e| e.kind == "catch_up_poll").unwrap();
    assert!(
        catch_up.detail["gap_secs"].as_i64().unwrap() >= 0,
        "{}",
        catch_up.detail
    );
    assert!(
        catch_up.detail["notices"].as_u64().unwrap() >= 1,
        "{}",
        catch_up.detail
    );
    // The escalated ticket came in through the catch-up poll.
    let opened = format!("autotask ticket {} changed", story.autotask_id());
    let intake: Vec<&str> = entries
        .iter()
        .filter(|e| e.kind == "intake" && e.message.contains(&opened))
        .map(|e| e.message.as_str())
        .collect();
    assert!(!intake.is_empty(), "{intake:?}");
    assert!(intake.iter().all(|m| m.contains("via poll")), "{intake:?}");
}
