//! Per-field ownership: when both sides changed the same field since the last
//! sync, the owner's value wins on both sides and the other is audited.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoOptions};

use crate::common::{env, Bridge, STEP};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_wins_when_both_sides_changed_a_field() {
    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 1,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    bridge.stop().await;

    // While the bridge is down, both teams change priority and status.
    env.autotask.user_set_priority(story.autotask_id(), "Low");
    env.connectwise
        .user_set_priority(story.connectwise_id(), "Priority 1 - Emergency Response");
    env.autotask
        .user_set_status(story.autotask_id(), "Waiting Customer");
    env.connectwise
        .user_set_status(story.connectwise_id(), "In Progress");

    let bridge = Bridge::spawn(&env.config_path).await;
    // The internal team owns priority; the MSP owns status.
    wait_for("owners' values on both sides", STEP, || {
        let cw = env.connectwise.ticket(story.connectwise_id())?;
        let at = env.autotask.ticket(story.autotask_id())?;
        (cw.priority == "Priority 4 - Schedule Maintenance" && at.status == "In Progress")
            .then_some(())
    })
    .await
    .unwrap();
    let at = env.autotask.ticket(story.autotask_id()).unwrap();
    let cw = env.connectwise.ticket(story.connectwise_id()).unwrap();
    assert_eq!(at.priority, "Low");
    assert_eq!(cw.status, "In Progress");
    bridge.stop().await;

    let out =
        crate::common::audit_history(&env, &format!("autotask:{}", story.internal_number)).await;
    let conflicts: Vec<&str> = out.lines().filter(|l| l.contains(" conflict ")).collect();
    assert_eq!(conflicts.len(), 2, "{out}");
    assert!(
        conflicts.iter().any(|l| l.contains("priority")
            && l.contains("kept \"Low\"")
            && l.contains("Priority 1")),
        "{out}"
    );
    assert!(
        conflicts.iter().any(|l| l.contains("status")
            && l.contains("kept \"In Progress\"")
            && l.contains("Waiting Customer")),
        "{out}"
    );
}
