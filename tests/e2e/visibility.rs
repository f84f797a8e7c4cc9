//! Internal notes: denied by default; where a rule allows them they arrive
//! internal, never customer-visible.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoOptions, EXAMPLE_MAPPING};
use psa_connectwise::sim::SimNoteKind;

use crate::common::{env, settled, Bridge, STEP};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_notes_cross_only_where_allowed_and_stay_internal() {
    // MSP internal notes may reach the internal team; the team's internal notes may not reach the MSP.
    let mapping = EXAMPLE_MAPPING.replace("internal = \"none\"", "internal = \"b_to_a\"");
    assert_ne!(mapping, EXAMPLE_MAPPING);
    let (_dir, env) = env(DemoOptions {
        mapping: Some(mapping),
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();

    env.connectwise.user_add_note(
        story.connectwise_id(),
        "Suspect the ISP; internal only.",
        SimNoteKind::Internal,
        "jsmith",
    );
    let note = wait_for("the allowed internal note", STEP, || {
        env.autotask
            .notes(story.autotask_id())
            .into_iter()
            .find(|n| n.text.contains("Suspect the ISP"))
    })
    .await
    .unwrap();
    assert!(
        note.internal,
        "an internal note must arrive internal: {note:?}"
    );

    env.autotask.user_add_note(
        story.autotask_id(),
        "Budget owner is cranky; do not share.",
        true,
        "Tina Tech",
    );
    env.autotask.user_add_note(
        story.autotask_id(),
        "Public: we rebooted the router.",
        false,
        "Tina Tech",
    );
    wait_for("the public note", STEP, || {
        env.connectwise
            .notes(story.connectwise_id())
            .into_iter()
            .find(|n| n.text.contains("rebooted the router"))
    })
    .await
    .unwrap();
    settled(&env, &bridge).await;
    let cw_notes = env.connectwise.notes(story.connectwise_id());
    assert!(
        !cw_notes.iter().any(|n| n.text.contains("cranky")),
        "denied internal note crossed: {cw_notes:?}"
    );
    let public = cw_notes
        .iter()
        .find(|n| n.text.contains("rebooted the router"))
        .unwrap();
    assert!(public.discussion && !public.internal);
    bridge.stop().await;
    let out =
        crate::common::audit_history(&env, &format!("autotask:{}", story.internal_number)).await;
    assert!(out.contains("note_withheld"), "{out}");
}

/// A public ConnectWise note crosses to Autotask public; the MSP then makes
/// it internal: the bridge makes the Autotask mirror internal with exactly
/// one write (the note PATCH), audits it, and writes nothing back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_made_internal_after_crossing_makes_its_mirror_internal() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let (cw_id, at_id) = (story.connectwise_id(), story.autotask_id());

    let note = env.connectwise.user_add_note(
        cw_id,
        "Replaced the router; our engineer's home number is 555-0100.",
        SimNoteKind::Discussion,
        "jsmith",
    );
    let mirror = wait_for("the public note on Autotask", STEP, || {
        env.autotask
            .notes(at_id)
            .into_iter()
            .find(|n| n.text.contains("Replaced the router"))
    })
    .await
    .unwrap();
    assert!(!mirror.internal, "{mirror:?}");
    let before = settled(&env, &bridge).await;
    let at_notes = env.autotask.notes(at_id).len();

    env.connectwise.user_make_note_internal(cw_id, note);
    wait_for("the Autotask mirror to become internal", STEP, || {
        env.autotask
            .notes(at_id)
            .into_iter()
            .find(|n| n.id == mirror.id && n.internal)
    })
    .await
    .unwrap();
    let after = settled(&env, &bridge).await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 0),
        "one note update on Autotask, nothing back to ConnectWise"
    );
    assert_eq!(env.autotask.notes(at_id).len(), at_notes, "no new note");
    let source = env.connectwise.notes(cw_id);
    let source = source.iter().find(|n| n.id == note).unwrap();
    assert!(source.internal && !source.discussion, "{source:?}");
    bridge.stop().await;
    let history =
        crate::common::audit_history(&env, &format!("autotask:{}", story.internal_number)).await;
    assert!(
        history.contains(&format!(
            "became internal after it crossed; making its autotask mirror {} internal",
            mirror.id
        )),
        "{history}"
    );
    assert!(
        history.contains(&format!("make note {} internal", mirror.id)),
        "{history}"
    );
}
