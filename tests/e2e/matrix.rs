//! The matrix: the escalation story for every ordered pair of distinct
//! systems among Autotask, ConnectWise, ServiceNow and Jira (12 directions),
//! each with its shipped mapping, its own simulators and its own daemon,
//! several directions at once. After every step the bridge's ticket and note
//! writes on each side are exactly the script's; at the end both tickets are
//! closed with the story's priority, every crossing note is there once, and
//! the internal notes of both sides (the MSP's, the tech's, the bridge's
//! write-back and close notes) stayed where they were written.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use psa_bridge::demo::desk::Desk;
use psa_bridge::demo::story::Story;
use psa_bridge::demo::{DemoOptions, System, PAIRINGS};

use crate::common::{env, settled, Bridge, STEP};

/// Directions played at once (each runs a daemon and four simulators):
/// all of them; the whole matrix takes about as long as its slowest direction.
const AT_ONCE: usize = 12;

/// How many notes on `desk`'s ticket `id` contain `text`, and how many of those are public.
fn count(desk: &dyn Desk, id: &str, text: &str) -> (usize, usize) {
    let notes: Vec<_> = desk
        .notes(id)
        .into_iter()
        .filter(|n| n.text.contains(text))
        .collect();
    (notes.len(), notes.iter().filter(|n| n.public).count())
}

/// Plays one direction; returns its name and how long it took.
async fn direction(internal: System, msp: System) -> (String, Duration) {
    let started = Instant::now();
    let name = format!("{} -> {}", internal.connection(), msp.connection());
    let (_dir, env) = env(DemoOptions {
        internal,
        msp,
        webhooks: true,
        poll_interval_secs: 1,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    if internal == System::Servicenow || msp == System::Servicenow {
        env.connect_servicenow_notifications(bridge.addr);
    }
    let script = env.pairing.script;
    let (all_internal, all_msp) = script.expected_writes;
    // The write-back: a note, and a field where the system has one.
    let write_back = if internal == System::Connectwise {
        1
    } else {
        2
    };
    let mut story = Story::new(&env, STEP, false);
    let steps: [(&str, (usize, usize)); 4] = [
        ("escalation", (write_back, 1)),
        // + the MSP's status and public note.
        ("the MSP picked up", (all_internal - 3, 1)),
        // + the tech's reply and the priority on the MSP side.
        ("the tech replied", (all_internal - 3, 3)),
        // + resolution note, closed status, close-rule note.
        ("resolution", (all_internal, all_msp)),
    ];
    for (n, (step, expected)) in steps.into_iter().enumerate() {
        let played = match n {
            0 => story.escalate().await,
            1 => story.msp_picks_up().await,
            2 => story.tech_replies().await,
            _ => story.msp_resolves().await,
        };
        if let Err(e) = played {
            panic!(
                "{name}: {step}: {e} (daemon log in {})",
                bridge.log.display()
            );
        }
        assert_eq!(
            settled(&env, &bridge).await,
            expected,
            "{name}: (internal, MSP) writes after {step}"
        );
    }
    assert_end_state(&name, &story);
    bridge.stop().await;
    (name, started.elapsed())
}

fn assert_end_state(name: &str, story: &Story<'_>) {
    let script = story.script;
    let (internal, msp) = (story.internal(), story.msp());
    let (i_id, m_id) = (story.internal_id.as_str(), story.msp_id.as_str());
    let it = internal.ticket(i_id).unwrap();
    let mt = msp.ticket(m_id).unwrap();
    assert_eq!(
        (it.status.as_str(), it.priority.as_str()),
        (script.internal_done, script.internal_critical),
        "{name}: internal ticket"
    );
    assert_eq!(
        (mt.status.as_str(), mt.priority.as_str()),
        (script.msp_closed, script.msp_critical),
        "{name}: MSP ticket"
    );
    assert_eq!(
        (internal.ticket_count(), msp.ticket_count()),
        (1, 1),
        "{name}: one ticket on each side"
    );
    // Public notes crossed once, as public notes.
    assert_eq!(count(internal, i_id, "VPN logs"), (1, 1), "{name}");
    assert_eq!(
        count(internal, i_id, "expired VPN certificate"),
        (1, 1),
        "{name}"
    );
    assert_eq!(count(msp, m_id, "on site until"), (1, 1), "{name}");
    // Internal notes stayed on their side, internal.
    for (desk, id, other, other_id, text) in [
        (msp, m_id, internal, i_id, "firmware is two years old"),
        (internal, i_id, msp, m_id, "not for the MSP"),
        (internal, i_id, msp, m_id, "Escalated to the MSP"),
        (internal, i_id, msp, m_id, "The MSP closed its ticket"),
    ] {
        assert_eq!(
            count(desk, id, text),
            (1, 0),
            "{name}: {text:?} where written"
        );
        assert_eq!(
            count(other, other_id, text),
            (0, 0),
            "{name}: {text:?} leaked"
        );
    }
}

/// All 12 directions, [`AT_ONCE`] at a time; every failing direction is named.
/// About 45 s on a loaded 2-core machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_direction_plays_the_story_with_exact_writes() {
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(AT_ONCE));
    let runs: Vec<_> = PAIRINGS
        .iter()
        .map(|p| {
            let (internal, msp, slots) = (p.internal, p.msp, slots.clone());
            let name = format!("{} -> {}", internal.connection(), msp.connection());
            let run = tokio::spawn(async move {
                let _slot = slots.acquire_owned().await.unwrap();
                direction(internal, msp).await
            });
            (name, run)
        })
        .collect();
    let mut failed = Vec::new();
    for (name, run) in runs {
        match run.await {
            Ok((_, took)) => eprintln!("{name}: {took:.1?}"),
            Err(e) => {
                let why = e
                    .try_into_panic()
                    .ok()
                    .and_then(|p| {
                        p.downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    })
                    .unwrap_or_default();
                failed.push(format!("{name}: {why}"));
            }
        }
    }
    eprintln!("matrix: 12 directions in {:.1?}", started.elapsed());
    assert!(
        failed.is_empty(),
        "failed directions:\n{}",
        failed.join("\n")
    );
}
