//! The escalation trigger through the real daemon: only an open ticket in
//! the trigger queue escalates, and only once however often it moves.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoOptions};

use crate::common::{audit_history, env, settled, Bridge, STEP};

/// Edited outside the queue: nothing. Completed, then moved into the queue:
/// nothing either (closed tickets do not escalate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_open_tickets_in_the_queue_escalate() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let t = env.autotask.user_create_ticket(
        "Toner low",
        "Printer 2 on floor 3.",
        "Level I Support",
        "Low",
    );
    env.autotask.user_set_priority(t.id, "Medium");
    settled(&env, &bridge).await;
    // The daemon did look at the ticket (it is on the trigger side)...
    let history = audit_history(&env, &format!("autotask:{}", t.id)).await;
    assert!(history.contains("changed (via"), "{history}");
    // ...and did not escalate it.
    assert!(
        env.connectwise.tickets().is_empty(),
        "escalated from outside the queue"
    );

    env.autotask.user_set_status(t.id, "Complete");
    env.autotask.user_set_queue(t.id, "Escalate to MSP");
    settled(&env, &bridge).await;
    assert_eq!(env.autotask.ticket(t.id).unwrap().queue, "Escalate to MSP");
    assert!(
        env.connectwise.tickets().is_empty(),
        "a closed ticket escalated"
    );
    assert_eq!(crate::common::writes(&env), (0, 0));
    bridge.stop().await;
}

/// A linked ticket that leaves the queue and comes back keeps its one far
/// ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_and_reentering_the_queue_escalates_once() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let after_escalation = settled(&env, &bridge).await;
    assert_eq!(env.connectwise.tickets().len(), 1);

    env.autotask
        .user_set_queue(story.autotask_id(), "Level I Support");
    settled(&env, &bridge).await;
    env.autotask
        .user_set_queue(story.autotask_id(), "Escalate to MSP");
    wait_for("the re-entry to be planned", STEP, || {
        let t = env.autotask.ticket(story.autotask_id())?;
        (t.queue == "Escalate to MSP").then_some(())
    })
    .await
    .unwrap();
    let end = settled(&env, &bridge).await;
    assert_eq!(env.connectwise.tickets().len(), 1, "escalated twice");
    assert_eq!(end, after_escalation, "queue moves are not synced fields");
    bridge.stop().await;
}
