//! SIGKILL in the middle of the story: after restart the same end state, no
//! duplicate ticket or note, nothing acknowledged lost.

use std::time::Duration;

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoOptions};

use crate::common::{env, Bridge, STEP};
use crate::steps::{audit_verifies, msp_ticket};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_daemon_resumes_without_duplicates() {
    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 1,
        ..Default::default()
    })
    .await;
    // Slow vendors keep operations in flight when the kill lands.
    env.connectwise
        .control()
        .set_latency(Duration::from_millis(150));
    env.autotask
        .control()
        .set_latency(Duration::from_millis(150));
    let bridge = Bridge::spawn(&env.config_path).await;

    // Kill right after the escalation webhook was acknowledged.
    let t = env.autotask.user_create_ticket(
        "Server room too hot",
        "AC unit failed at HQ.",
        "Level I Support",
        "High",
    );
    env.autotask.user_set_queue(t.id, "Escalate to MSP");
    env.autotask.wait_webhooks_idle().await;
    bridge.kill().await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let cw_id: i64 = wait_for("the escalation after restart", STEP, || {
        msp_ticket(&env, t.id)
    })
    .await
    .unwrap();

    // Kill while the MSP's changes are being delivered.
    env.connectwise.user_set_status(cw_id, "In Progress");
    env.connectwise.user_add_note(
        cw_id,
        "On my way with a portable AC.",
        psa_connectwise::sim::SimNoteKind::Discussion,
        "jsmith",
    );
    env.connectwise.wait_callbacks_idle().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    bridge.kill().await;
    let bridge = Bridge::spawn(&env.config_path).await;

    let mut story = Story::new(&env, STEP, false);
    story.internal_id = t.id.to_string();
    story.internal_number = t.number.clone();
    story.msp_id = cw_id.to_string();
    wait_for("the MSP's note in Autotask", STEP, || {
        (env.autotask.ticket(t.id)?.status == "In Progress"
            && env
                .autotask
                .notes(t.id)
                .iter()
                .any(|n| n.text.contains("portable AC")))
        .then_some(())
    })
    .await
    .unwrap();
    story.tech_replies().await.unwrap();
    bridge.kill().await;
    let bridge = Bridge::spawn(&env.config_path).await;
    story.msp_resolves().await.unwrap();
    crate::common::settled(&env, &bridge).await;

    assert_eq!(env.connectwise.tickets().len(), 1, "no duplicate ticket");
    let at_notes = env.autotask.notes(t.id);
    for text in [
        "portable AC",
        "expired VPN certificate",
        "Escalated to the MSP",
    ] {
        assert_eq!(
            at_notes.iter().filter(|n| n.text.contains(text)).count(),
            1,
            "{text} in {at_notes:?}"
        );
    }
    let cw_notes = env.connectwise.notes(cw_id);
    assert_eq!(
        cw_notes
            .iter()
            .filter(|n| n.text.contains("on site until"))
            .count(),
        1,
        "{cw_notes:?}"
    );
    assert_eq!(env.autotask.ticket(t.id).unwrap().status, "Complete");
    assert!(env.connectwise.ticket(cw_id).unwrap().closed);
    bridge.stop().await;
    audit_verifies(&env).await;
}

/// With polling off, only the stored webhook can bring the change: a kill
/// right after the 200 must not lose it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_webhook_survives_a_kill() {
    let (_dir, env) = env(DemoOptions {
        polling: false,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    // Reading the ticket takes 3 s, so planning cannot finish before the kill.
    env.autotask.control().set_latency(Duration::from_secs(3));
    let t = env.autotask.user_create_ticket(
        "Badge reader offline",
        "Door 3.",
        "Level I Support",
        "Medium",
    );
    env.autotask.user_set_queue(t.id, "Escalate to MSP");
    env.autotask.wait_webhooks_idle().await;
    bridge.kill().await;
    assert!(
        env.connectwise.tickets().is_empty(),
        "planned before the kill; the test proves nothing"
    );
    env.autotask.control().set_latency(Duration::ZERO);
    let bridge = Bridge::spawn(&env.config_path).await;
    wait_for("the escalation from the stored webhook", STEP, || {
        (!env.connectwise.tickets().is_empty()).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(env.connectwise.tickets().len(), 1);
    bridge.stop().await;
}
