//! Autotask's shared tenant budget through the real daemon: another
//! integration has used the tenant's hour nearly up, so the bridge pauses
//! its Autotask calls (the simulator never has to refuse one with 429);
//! once the other integration's usage drops out of the window, the bridge
//! resumes on its own and the escalation goes through.

use std::time::Duration;

use psa_bridge::demo::{wait_for, DemoOptions, AT_WEBHOOK_SECRET};

use crate::common::{env, Bridge, STEP};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_pauses_before_the_tenant_is_locked_out() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let config = std::fs::read_to_string(&env.config_path).unwrap();
    let hook = format!("webhook_secret = \"{AT_WEBHOOK_SECRET}\"\n");
    let config = config.replacen(
        &hook,
        &format!("{hook}api_budget_share = 0.5\napi_budget_check_secs = 1\n"),
        1,
    );
    assert!(config.contains("api_budget_share"));
    std::fs::write(&env.config_path, config).unwrap();
    // 2,000 an hour for the tenant; another integration used 1,800 of it.
    env.autotask.set_request_threshold(2_000);
    env.autotask.set_external_requests(1_800);
    let sent_before = env.autotask.control().requests().len();
    let bridge = Bridge::spawn(&env.config_path).await;

    // A ticket in the escalation queue: the bridge hears of it but pauses.
    env.autotask
        .user_create_ticket("VPN down", "d", "Escalate to MSP", "High");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        env.connectwise.tickets().is_empty(),
        "paused: nothing escalated"
    );
    let calls: Vec<String> = env.autotask.control().requests()[sent_before..]
        .iter()
        .map(|r| r.path.to_ascii_lowercase())
        .filter(|p| !p.ends_with("/thresholdinformation") && !p.ends_with("/zoneinformation"))
        .collect();
    assert!(calls.is_empty(), "only the budget was read: {calls:?}");
    assert_eq!(env.autotask.threshold_refusals(), 0);

    // The other integration's calls leave the window: the bridge resumes.
    env.autotask.set_external_requests(0);
    wait_for("the escalation after the pause", STEP, || {
        (env.connectwise.tickets().len() == 1).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(env.autotask.threshold_refusals(), 0, "never locked out");
    bridge.stop().await;
}
