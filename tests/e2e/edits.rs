//! Title and description edits after escalation: the title follows (cut to
//! ConnectWise's 100 characters), the description arrives as an internal note.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoOptions};

use crate::common::{env, settled, Bridge, STEP};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn title_and_description_edits_reach_connectwise() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let before = settled(&env, &bridge).await;

    let long_title = format!(
        "VPN down at the Leeds branch {}",
        "and the backup line too ".repeat(6)
    );
    env.autotask.user_set_text(
        story.autotask_id(),
        &long_title,
        "Both VPN tunnels are down; the backup DSL line is also dead.",
    );
    let expected: String = long_title.chars().take(100).collect();
    let cw_id = story.connectwise_id();
    wait_for("the new summary and the description note", STEP, || {
        let summary_ok = env.connectwise.ticket(cw_id)?.summary == expected;
        let note = env
            .connectwise
            .notes(cw_id)
            .into_iter()
            .find(|n| n.text.contains("backup DSL line"))?;
        (summary_ok && note.internal && !note.discussion).then_some(())
    })
    .await
    .unwrap();
    let after = settled(&env, &bridge).await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (0, 2),
        "one PATCH and one note, no echoes"
    );
    // The truncated summary is not mistaken for a ConnectWise edit.
    assert_eq!(
        env.autotask.ticket(story.autotask_id()).unwrap().title,
        long_title
    );
    bridge.stop().await;
}

/// Without `max_length_b` the bridge asks for the whole title; ConnectWise
/// keeps 100 characters. The shadow takes what the vendor stored, so the cut
/// title is not mistaken for a ConnectWise edit and sent back to Autotask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_title_the_vendor_cut_is_not_bounced_back() {
    let mapping = psa_bridge::demo::EXAMPLE_MAPPING.replace(
        "max_length_b = 100          # ConnectWise summaries hold at most 100 characters\n",
        "",
    );
    assert!(!mapping.contains("max_length_b"));
    let options = DemoOptions {
        mapping: Some(mapping),
        ..DemoOptions::default()
    };
    let (_dir, env) = env(options).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let before = settled(&env, &bridge).await;

    let long_title = format!(
        "Mail relay rejects {}",
        "messages from the scanner ".repeat(6)
    );
    let description = env
        .autotask
        .ticket(story.autotask_id())
        .unwrap()
        .description;
    env.autotask
        .user_set_text(story.autotask_id(), &long_title, &description);
    let expected: String = long_title.chars().take(100).collect();
    let cw_id = story.connectwise_id();
    wait_for("the cut summary", STEP, || {
        (env.connectwise.ticket(cw_id)?.summary == expected).then_some(())
    })
    .await
    .unwrap();
    let after = settled(&env, &bridge).await;
    assert_eq!(
        env.autotask.ticket(story.autotask_id()).unwrap().title,
        long_title,
        "the Autotask title was overwritten with ConnectWise's cut"
    );
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (0, 1),
        "one PATCH to ConnectWise, nothing back"
    );
    bridge.stop().await;
}
