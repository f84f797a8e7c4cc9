//! API economy: the vendor calls the bridge spends per change, counted from
//! the simulators' request logs while the demo story (Autotask → ConnectWise,
//! webhooks only, so no poll listing is counted) is played step by step.
//! Prints a table (`cargo test --test e2e economy -- --nocapture`); the
//! exact look-up rules are pinned in `src/delivery/attempt_tests.rs`.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoEnv, DemoOptions, AT_USER};
use psa_connector::sim::{AmbiguousReply, RequestRecord};
use psa_connectwise::sim::ConnectWiseSimOptions;

use crate::common::{audit_history, env, progress, settled, Bridge, STEP};

/// The bridge's calls to one simulator, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Calls {
    ticket_reads: usize,
    note_reads: usize,
    writes: usize,
}

impl Calls {
    fn reads(&self) -> usize {
        self.ticket_reads + self.note_reads
    }
    fn minus(self, before: Calls) -> Calls {
        Calls {
            ticket_reads: self.ticket_reads - before.ticket_reads,
            note_reads: self.note_reads - before.note_reads,
            writes: self.writes - before.writes,
        }
    }
}

/// Ticket and note calls of the bridge's API user (webhook registration
/// and discovery are not a change's cost and are left out).
fn calls(log: Vec<RequestRecord>, user: &str) -> Calls {
    let mut calls = Calls::default();
    for r in log.iter().filter(|r| r.user.as_deref() == Some(user)) {
        let path = r.path.to_ascii_lowercase();
        if !path.contains("ticket") {
            continue;
        }
        if r.is_write() {
            calls.writes += 1;
        } else if path.contains("/notes") {
            calls.note_reads += 1;
        } else {
            calls.ticket_reads += 1;
        }
    }
    calls
}

fn both(env: &DemoEnv) -> (Calls, Calls) {
    let cw_user = ConnectWiseSimOptions::default().public_key;
    (
        calls(env.autotask.control().requests(), AT_USER),
        calls(env.connectwise.control().requests(), &cw_user),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_story_spends_few_calls_per_change() {
    let (_dir, env) = env(DemoOptions {
        polling: false,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    settled(&env, &bridge).await;
    let mut story = Story::new(&env, STEP, false);
    // (step, people's changes in it)
    let steps = [
        ("escalate", 2),
        ("msp_picks_up", 3),
        ("tech_replies", 3),
        ("msp_resolves", 2),
    ];
    let mut rows = Vec::new();
    for (name, changes) in steps {
        let before = both(&env);
        let plans_before = plans(&bridge).await;
        match name {
            "escalate" => story.escalate().await.unwrap(),
            "msp_picks_up" => story.msp_picks_up().await.unwrap(),
            "tech_replies" => story.tech_replies().await.unwrap(),
            _ => story.msp_resolves().await.unwrap(),
        }
        settled(&env, &bridge).await;
        let after = both(&env);
        rows.push((
            name,
            changes,
            after.0.minus(before.0),
            after.1.minus(before.1),
            plans(&bridge).await - plans_before,
        ));
    }
    bridge.stop().await;

    println!("step           changes | autotask ticket/note reads, writes | connectwise ticket/note reads, writes");
    let (mut reads, mut writes, mut changes_total) = (0, 0, 0);
    for (name, changes, at, cw, _) in &rows {
        println!(
            "{name:<14} {changes:>7} | {:>2} / {:>2}, {:>2}                     | {:>2} / {:>2}, {:>2}",
            at.ticket_reads, at.note_reads, at.writes, cw.ticket_reads, cw.note_reads, cw.writes
        );
        reads += at.reads() + cw.reads();
        writes += at.writes + cw.writes;
        changes_total += changes;
    }
    println!(
        "total: {reads} reads, {writes} writes for {changes_total} changes: {:.2} reads and {:.2} writes per change",
        reads as f64 / changes_total as f64,
        writes as f64 / changes_total as f64
    );

    // Every notes read is a plan's: a plan reads each side's notes at most
    // once, and with the ticket of that side unless its webhook carried
    // the ticket. So a step reads no more notes than it planned notices or
    // read tickets: a first note post or create adds no look-up (before
    // the attempt mark each added a notes read or a ticket search).
    for (name, _, at, cw, plans) in &rows {
        for (vendor, calls) in [("autotask", at), ("connectwise", cw)] {
            assert!(
                calls.note_reads as u64 <= (*plans).max(calls.ticket_reads as u64),
                "{name}: {vendor} notes read beyond one per plan ({plans} plans; a marker look-up?): {calls:?}"
            );
        }
    }
    let (_, _, _, cw, _) = rows[2];
    assert!(cw.writes >= 2, "the reply and the priority crossed: {cw:?}");
}

/// A first post skips the look-up, so the attempt mark must carry an
/// unknown outcome across a restart: the note's answer is lost (applied,
/// answered 503) and the daemon is killed at once; after the restart the
/// retry looks, finds the note and adopts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_whose_answer_was_lost_before_a_kill_is_adopted_after_the_restart() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    settled(&env, &bridge).await;
    let cw = env.connectwise.control();
    cw.ambiguous_next_writes_to(AmbiguousReply::Unavailable, 1, "/notes");
    env.autotask.user_add_note(
        story.autotask_id(),
        "Users still cannot print.",
        false,
        "Tina",
    );
    wait_for("the note's answer to be lost", STEP, || {
        (cw.ambiguous_writes().len() == 1).then_some(())
    })
    .await
    .unwrap();
    bridge.kill().await;

    let bridge = Bridge::spawn(&env.config_path).await;
    settled(&env, &bridge).await;
    let copies = env
        .connectwise
        .notes(story.connectwise_id())
        .iter()
        .filter(|n| n.text.contains("cannot print"))
        .count();
    assert_eq!(copies, 1, "posted once");
    let user = ConnectWiseSimOptions::default().public_key;
    let posts = cw
        .writes_by(&user)
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/notes"))
        .count();
    assert_eq!(posts, 1, "the retry looked instead of posting again");
    let history = audit_history(&env, &format!("autotask:{}", story.internal_number)).await;
    assert!(history.contains("adopted note"), "{history}");
    bridge.stop().await;
}

/// Notice groups the daemon has planned so far.
async fn plans(bridge: &Bridge) -> u64 {
    progress(bridge).await.map_or(0, |p| p.plans)
}
