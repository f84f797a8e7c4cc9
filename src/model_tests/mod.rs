//! Model-based test of intake, planning, the outbox and delivery: random
//! sequences of people's changes on either side (priority edits and notes
//! on a, status edits and notes on b, three tickets), planning rounds,
//! delivery rounds that succeed or fail (retryable, permanent, or
//! ambiguous: the vendor applied the write but the answer was lost),
//! restarts, operator retries of dead letters and time passing, run on the
//! real store, planner and delivery code against fake vendors
//! ([`vendor`]) and checked against a small model ([`model`]) after every
//! step and after a final heal and drain ([`driver`]):
//!
//! - FIFO per ticket: mirrors arrive in the order their sources were
//!   written; field writes follow the order of people's edits (no stale
//!   value replayed); no operation overtakes an earlier one of its ticket;
//! - exactly once: one created ticket per escalation, one mirror per public
//!   note, one write-back note, whatever timeouts and restarts happened;
//!   internal notes never cross, no note is echoed back;
//! - retry state (attempts, next attempt, first failure, dead letters,
//!   inbox schedule, shadows) is the same after a restart;
//! - a dead letter holds back later operations of its ticket, and only
//!   those: after the drain, everything left sits behind a dead letter of
//!   its own queue;
//! - nothing acknowledged is lost: after retrying every dead letter and
//!   draining, both sides agree and every note crossed.
//!
//! 48 cases from a fixed seed (every run, CI included, checks the same
//! sequences), no failure files. More: `PROPTEST_CASES=2000 cargo test -p
//! psa-bridge model_tests`; other sequences: `MODEL_SEED=<u64>` too.

mod driver;
mod model;
mod vendor;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed};

use crate::store::Side;
use driver::{Step, World, TICKETS};
use model::{PRIORITIES, STATUSES};
use vendor::Fault;

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn config() -> Config {
    Config {
        cases: env("PROPTEST_CASES").map_or(48, |n| n as u32),
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(env("MODEL_SEED").unwrap_or(0x0de1_0b0c)),
        ..Config::default()
    }
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::A), Just(Side::B)]
}

fn fault() -> impl Strategy<Value = Option<Fault>> {
    prop_oneof![
        3 => Just(None),
        2 => Just(Some(Fault::Retryable)),
        1 => Just(Some(Fault::Permanent)),
        2 => Just(Some(Fault::Ambiguous)),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let ticket = 0..TICKETS;
    prop_oneof![
        3 => (ticket.clone(), 0..PRIORITIES.len()).prop_map(|(ticket, priority)| Step::EditA { ticket, priority }),
        3 => (ticket.clone(), any::<bool>()).prop_map(|(ticket, public)| Step::NoteA { ticket, public }),
        2 => (ticket.clone(), 0..STATUSES.len()).prop_map(|(ticket, status)| Step::EditB { ticket, status }),
        2 => (ticket, any::<bool>()).prop_map(|(ticket, public)| Step::NoteB { ticket, public }),
        4 => Just(Step::Plan),
        6 => (side(), fault()).prop_map(|(side, fault)| Step::Deliver { side, fault }),
        1 => Just(Step::Restart),
        1 => Just(Step::RetryDead),
        2 => prop_oneof![Just(1i64), Just(11), Just(120), Just(24 * 60)].prop_map(|minutes| Step::Advance { minutes }),
    ]
}

/// Runs `steps`, then heals and drains; the first broken rule.
fn run(steps: &[Step]) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut world = World::new();
        for (n, step) in steps.iter().enumerate() {
            world
                .step(step)
                .await
                .map_err(|e| format!("step {n} {step:?}: {e}"))?;
            world
                .model
                .check_invariants(&world.a, &world.b)
                .map_err(|e| format!("after step {n} {step:?}: {e}"))?;
        }
        world.settle().await.map_err(|e| format!("settling: {e}"))?;
        world.model.check_final(&world.a, &world.b).map_err(|e| {
            if std::env::var_os("MODEL_AUDIT").is_some() {
                for entry in world.engine().store.audit_entries().unwrap_or_default() {
                    eprintln!("audit {}: {}", entry.kind, entry.message);
                }
            }
            format!("at the end: {e}")
        })
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_bridge_keeps_to_the_model(steps in prop::collection::vec(step(), 1..40)) {
        if let Err(e) = run(&steps) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// A plain story without faults: escalate, notes both ways, edits both ways.
#[test]
fn a_plain_story_keeps_to_the_model() {
    use Step::*;
    let steps = [
        NoteA {
            ticket: 0,
            public: true,
        },
        Plan,
        Deliver {
            side: Side::B,
            fault: None,
        },
        Deliver {
            side: Side::A,
            fault: None,
        },
        NoteB {
            ticket: 0,
            public: true,
        },
        EditB {
            ticket: 0,
            status: 1,
        },
        EditA {
            ticket: 0,
            priority: 0,
        },
        Plan,
        Deliver {
            side: Side::B,
            fault: Some(Fault::Ambiguous),
        },
        Restart,
        Advance { minutes: 11 },
        Deliver {
            side: Side::A,
            fault: Some(Fault::Permanent),
        },
        RetryDead,
    ];
    run(&steps).unwrap();
}

/// Found by the model (shrunk): a create whose answer was lost (the ticket
/// exists on b), a person on b edits the new ticket and adds a note before
/// the retry; their notices are dropped (the ticket is not linked yet).
/// The retry adopted the ticket and took its current state as the shadow,
/// so the edit and the note never reached a. Now the shadow keeps what the
/// create wrote and the adopted ticket is planned again.
#[test]
fn edits_of_an_adopted_ticket_before_its_link_are_not_lost() {
    use Step::*;
    let steps = [
        NoteA {
            ticket: 0,
            public: false,
        },
        Plan,
        Deliver {
            side: Side::B,
            fault: Some(Fault::Ambiguous),
        },
        EditB {
            ticket: 0,
            status: 1,
        },
        NoteB {
            ticket: 0,
            public: true,
        },
    ];
    run(&steps).unwrap();
}

/// Found by the model (shrunk): a priority change is planned while the
/// far ticket is not written yet (here: its create still queued; equally
/// a far side that is down), then reverted. The revert's plan saw the far
/// ticket already holding the reverted value and planned nothing, so the
/// queued write of the intermediate value landed last and stayed. Now a
/// value is only taken as already there when no queued write of that field
/// to that side will overwrite it.
#[test]
fn a_change_reverted_while_its_write_waits_is_written_again() {
    use Step::*;
    let steps = [
        NoteA {
            ticket: 0,
            public: false,
        },
        Plan,
        EditA {
            ticket: 0,
            priority: 0,
        },
        Plan,
        EditA {
            ticket: 0,
            priority: 2,
        },
        Deliver {
            side: Side::B,
            fault: None,
        },
    ];
    run(&steps).unwrap();
}
