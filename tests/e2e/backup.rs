//! The backup and restore procedure of `docs/operations.md`, as written:
//! stop the daemon, `tar` the store folder, start again; later restore the
//! archive over a store that has moved on. Work done after the backup (a
//! second escalation, notes both ways) is then unknown to the restored store;
//! the vendors still have it, so the restored daemon must converge without
//! creating any ticket or note twice (creates and notes are found again by
//! their markers) and its audit chain must verify.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoEnv, DemoOptions};
use psa_connectwise::sim::SimNoteKind;

use crate::common::{env, settled, Bridge, STEP};
use crate::steps::{audit_verifies, msp_ticket};

fn tar(args: &[&str]) {
    let status = std::process::Command::new("tar")
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "tar {args:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_converges_without_duplicates() {
    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 1,
        ..Default::default()
    })
    .await;
    let dir = env.dir.to_str().unwrap().to_string();
    let archive = env.dir.join("psa-bridge-backup.tgz");
    let archive = archive.to_str().unwrap();

    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    story.msp_picks_up().await.unwrap();
    // Backup: stop, archive the store folder, start again.
    bridge.stop().await;
    tar(&["-C", &dir, "-czf", archive, "store"]);
    let bridge = Bridge::spawn(&env.config_path).await;

    // Work the backup does not know: a note each way, a second escalation
    // with a note each way.
    story.tech_replies().await.unwrap();
    let msp_note = env.connectwise.user_add_note(
        story.connectwise_id(),
        "Engineer dispatched to the branch.",
        SimNoteKind::Discussion,
        "Mike MSP",
    );
    assert!(msp_note > 0);
    wait_for("the MSP's note on Autotask", STEP, || {
        note_with(&env, story.autotask_id(), "Engineer dispatched")
    })
    .await
    .unwrap();
    let second = env.autotask.user_create_ticket(
        "Printer jams on floor 2",
        "Every second page.",
        "Level I Support",
        "Medium",
    );
    env.autotask.user_set_queue(second.id, "Escalate to MSP");
    wait_for("the second escalation", STEP, || {
        msp_ticket(&env, second.id)
    })
    .await
    .unwrap();
    let second_msp = msp_ticket(&env, second.id).unwrap();
    env.autotask
        .user_add_note(second.id, "Model HP M404.", false, "Tina Tech");
    env.connectwise.user_add_note(
        second_msp,
        "Ordered a new fuser.",
        SimNoteKind::Discussion,
        "Mike MSP",
    );
    wait_for("the second link's notes cross", STEP, || {
        let on_msp = env
            .connectwise
            .notes(second_msp)
            .iter()
            .any(|n| n.text.contains("HP M404"));
        (on_msp && note_with(&env, second.id, "new fuser").is_some()).then_some(())
    })
    .await
    .unwrap();
    settled(&env, &bridge).await;
    let tickets_before = env.connectwise.tickets().len();
    let notes = |env: &DemoEnv| {
        (
            env.autotask.notes(story.autotask_id()).len(),
            env.connectwise.notes(story.connectwise_id()).len(),
            env.autotask.notes(second.id).len(),
            env.connectwise.notes(second_msp).len(),
        )
    };
    let notes_before = notes(&env);

    // Restore: stop, replace the store folder with the archive's, start.
    bridge.stop().await;
    std::fs::remove_dir_all(env.dir.join("store")).unwrap();
    tar(&["-C", &dir, "-xzf", archive]);
    let bridge = Bridge::spawn(&env.config_path).await;
    settled(&env, &bridge).await;
    assert_eq!(
        env.connectwise.tickets().len(),
        tickets_before,
        "no ticket created twice"
    );
    assert_eq!(notes(&env), notes_before, "no note posted twice");
    assert_eq!(msp_ticket(&env, second.id), Some(second_msp));

    // The restored store still syncs both links, notes included.
    story.msp_resolves().await.unwrap();
    env.connectwise.user_add_note(
        second_msp,
        "Fuser replaced.",
        SimNoteKind::Discussion,
        "Mike MSP",
    );
    wait_for(
        "a note on the second link crosses after the restore",
        STEP,
        || note_with(&env, second.id, "Fuser replaced"),
    )
    .await
    .unwrap();
    env.connectwise.user_set_status(second_msp, "In Progress");
    wait_for("the second link syncs after the restore", STEP, || {
        (env.autotask.ticket(second.id)?.status == "In Progress").then_some(())
    })
    .await
    .unwrap();
    settled(&env, &bridge).await;
    assert_eq!(env.connectwise.tickets().len(), tickets_before);
    let fuser = env
        .autotask
        .notes(second.id)
        .iter()
        .filter(|n| n.text.contains("Fuser replaced"))
        .count();
    assert_eq!(fuser, 1, "the note after the restore crossed once");
    bridge.stop().await;
    audit_verifies(&env).await;
}

/// The id of the first Autotask note of `ticket` containing `text`.
fn note_with(env: &DemoEnv, ticket: i64, text: &str) -> Option<i64> {
    env.autotask
        .notes(ticket)
        .into_iter()
        .find(|n| n.text.contains(text))
        .map(|n| n.id)
}
