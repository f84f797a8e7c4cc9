//! Close rules fire on a side's own close, never on the echo of the status
//! the bridge wrote there.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoOptions};

use crate::common::{audit_history, env, settled, Bridge, STEP};

/// The internal team completes its ticket: ConnectWise is closed through the
/// status mapping, and the echo of that close does not make the bridge claim
/// on Autotask that "The MSP closed its ticket."
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_close_does_not_bounce_the_msp_close_note() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let before = settled(&env, &bridge).await;

    env.autotask
        .user_set_status(story.autotask_id(), "Complete");
    let cw_id = story.connectwise_id();
    wait_for("ConnectWise to close", STEP, || {
        (env.connectwise.ticket(cw_id)?.status == ">Closed").then_some(())
    })
    .await
    .unwrap();
    let after = settled(&env, &bridge).await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (0, 1),
        "one status write to ConnectWise, nothing back to Autotask"
    );
    let notes = env.autotask.notes(story.autotask_id());
    assert!(
        !notes.iter().any(|n| n.text.contains("The MSP closed")),
        "the close rule fired on the bridge's own close: {notes:?}"
    );
    let history = audit_history(&env, &format!("autotask:{}", story.internal_number)).await;
    assert!(
        history.contains("closed by the status the bridge wrote"),
        "{history}"
    );

    // The MSP closing on its own still triggers the rule (the story's last step).
    bridge.stop().await;
}

/// The MSP closes: the close rule completes Autotask and posts its note once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msp_close_applies_the_close_rule_once() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    env.connectwise
        .user_set_status(story.connectwise_id(), ">Closed");
    let at_id = story.autotask_id();
    wait_for("Autotask to complete with the close note", STEP, || {
        let done = env.autotask.ticket(at_id)?.status == "Complete";
        let noted = env
            .autotask
            .notes(at_id)
            .iter()
            .any(|n| n.text.contains("The MSP closed its ticket."));
        (done && noted).then_some(())
    })
    .await
    .unwrap();
    settled(&env, &bridge).await;
    let count = env
        .autotask
        .notes(at_id)
        .iter()
        .filter(|n| n.text.contains("The MSP closed its ticket."))
        .count();
    assert_eq!(count, 1, "close note exactly once");
    bridge.stop().await;
}
