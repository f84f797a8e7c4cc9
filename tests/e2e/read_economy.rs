//! Read economy (issue 11): on a linked pair, changes made one at a time on
//! both sides cross with fewer vendor reads than the four (both tickets,
//! both note lists) every plan used to spend, because a plan takes the far
//! ticket from what the bridge last read or wrote while no notice for it
//! waits (`src/engine/read_plan.rs`). Reads are counted from the
//! simulators' request logs; the end state is checked on both sides.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{DemoEnv, DemoOptions, AT_USER};
use psa_connector::sim::RequestRecord;
use psa_connectwise::sim::{ConnectWiseSimOptions, SimNoteKind};

use crate::common::{env, settled, Bridge, STEP};

/// The bridge's ticket and note reads on one simulator.
fn reads(log: Vec<RequestRecord>, user: &str) -> usize {
    log.iter()
        .filter(|r| r.user.as_deref() == Some(user) && !r.is_write())
        .filter(|r| r.path.to_ascii_lowercase().contains("ticket"))
        .count()
}

fn both(env: &DemoEnv) -> usize {
    let cw_user = ConnectWiseSimOptions::default().public_key;
    reads(env.autotask.control().requests(), AT_USER)
        + reads(env.connectwise.control().requests(), &cw_user)
}

/// One person's change on one side.
type Change<'a> = Box<dyn Fn() + 'a>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_both_ways_cross_with_fewer_reads() {
    let (_dir, env) = env(DemoOptions {
        polling: false,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    settled(&env, &bridge).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    settled(&env, &bridge).await;
    let (at, cw) = (story.autotask_id(), story.connectwise_id());
    // The link's first plan of this session reads everything.
    env.autotask.user_set_priority(at, "Medium");
    settled(&env, &bridge).await;

    let before = both(&env);
    let changes: [(&str, Change); 6] = [
        (
            "at priority",
            Box::new(|| env.autotask.user_set_priority(at, "Critical")),
        ),
        (
            "cw status",
            Box::new(|| env.connectwise.user_set_status(cw, "In Progress")),
        ),
        (
            "at note",
            Box::new(|| {
                env.autotask
                    .user_add_note(at, "Rebooted the VPN gateway.", false, "Tina");
            }),
        ),
        (
            "cw note",
            Box::new(|| {
                env.connectwise.user_add_note(
                    cw,
                    "Tunnel rekeyed on our side.",
                    SimNoteKind::Discussion,
                    "jsmith",
                );
            }),
        ),
        (
            "cw priority",
            Box::new(|| {
                env.connectwise
                    .user_set_priority(cw, "Priority 4 - Schedule Maintenance")
            }),
        ),
        (
            "at status",
            Box::new(|| env.autotask.user_set_status(at, "Waiting Customer")),
        ),
    ];
    for (name, change) in &changes {
        let start = both(&env);
        change();
        settled(&env, &bridge).await;
        println!("{name:<12} {} reads", both(&env) - start);
    }
    let spent = both(&env) - before;
    let per_change = spent as f64 / changes.len() as f64;
    println!(
        "{spent} reads for {} changes: {per_change:.2} per change",
        changes.len()
    );
    bridge.stop().await;

    // The end state: every change crossed, each note once.
    let a = env.autotask.ticket(at).unwrap();
    let c = env.connectwise.ticket(cw).unwrap();
    assert_eq!(a.status, "Waiting Customer");
    assert_eq!(c.status, "Waiting Customer");
    assert_eq!(a.priority, "Low");
    assert_eq!(c.priority, "Priority 4 - Schedule Maintenance");
    let once = |texts: Vec<String>, text: &str| texts.iter().filter(|t| t.contains(text)).count();
    let cw_notes: Vec<String> = env
        .connectwise
        .notes(cw)
        .into_iter()
        .map(|n| n.text)
        .collect();
    let at_notes: Vec<String> = env.autotask.notes(at).into_iter().map(|n| n.text).collect();
    assert_eq!(once(cw_notes, "Rebooted the VPN gateway."), 1);
    assert_eq!(once(at_notes, "Tunnel rekeyed on our side."), 1);
    // Before (every plan read both tickets and both note lists: the
    // change's plan and the plans of the echoes of the bridge's writes)
    // these six changes cost 39 reads, 6.5 per change; with the far side
    // from the known ticket 21, 3.5 per change (2026-11-27).
    assert!(
        per_change <= 5.0,
        "{per_change:.2} reads per change (before: 6.5)"
    );
}
