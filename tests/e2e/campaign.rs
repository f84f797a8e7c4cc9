//! The crash campaign: two pairings at once (ServiceNow ↔ ConnectWise and
//! Jira ↔ Autotask, so all four connectors), tickets escalated and then
//! changed at random on both sides (priorities, statuses, public and
//! internal notes) through the simulators, which send their signed
//! webhooks, while the daemon is SIGKILLed at random instants and restarted
//! each time. After the last restart it drains. Then the far sides equal the
//! expected final state, no ticket or note is duplicated, no internal note
//! crossed, every webhook the daemon acknowledged is in its store, and the
//! audit chain verifies.
//!
//! `.ci/run` plays a seeded variant (20 tickets, 200 changes, 10 kills).
//! The full campaign (100 tickets, 1,000 changes, 50 kills) is
//! `scripts/crash-campaign.sh [SEED]`; the variables below change any run:
//! `PSA_CAMPAIGN_SEED`, `PSA_CAMPAIGN_TICKETS`, `PSA_CAMPAIGN_CHANGES`,
//! `PSA_CAMPAIGN_KILLS`. The seed is printed so a failure can be replayed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::common::settled_by;
use crate::steps::{audit_verifies, kill_at_random};
use crate::workload::acked::{missing_from_store, Collector};
use crate::workload::checks::{mismatches, Notes};
use crate::workload::plan::{apply, draw, Expected};
use crate::workload::{all_writes, converge, escalate, knob, lanes, pause, two_pairings};

/// Generous: every step converges through kills and restarts.
const CONVERGE: Duration = Duration::from_secs(420);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_campaign_over_two_pairings_loses_and_duplicates_nothing() {
    let seed = knob("PSA_CAMPAIGN_SEED", 20261127);
    let tickets = knob("PSA_CAMPAIGN_TICKETS", 20) as usize;
    let changes = knob("PSA_CAMPAIGN_CHANGES", 200) as usize;
    let kills = knob("PSA_CAMPAIGN_KILLS", 10) as usize;
    eprintln!("campaign: seed {seed}, {tickets} tickets, {changes} changes, {kills} kills");
    let mut rng = StdRng::seed_from_u64(seed);
    let (_dir, env, _addr) = two_pairings(10).await;
    let env = Arc::new(env);
    let lanes = lanes();
    let collector = Collector::new(&env.config_path);
    let collecting = collector.run(env.clone());

    // The killer: SIGKILL at random instants, restart at once.
    let started = Instant::now();
    let killer = kill_at_random(&mut rng, kills, &env.config_path);

    let mut expected = Expected::default();
    escalate(
        &env,
        &lanes,
        tickets.div_ceil(2),
        &mut rng,
        &mut expected,
        CONVERGE,
    )
    .await;
    for _ in 0..changes {
        let change = draw(&mut rng, &expected);
        apply(&env, &lanes, &mut expected, &change);
        tokio::time::sleep(pause(&mut rng, 30)).await;
    }
    let workload_secs = started.elapsed().as_secs_f64();
    let bridge = killer.await.unwrap();
    let last_restart = Instant::now();

    converge(&env, &lanes, &expected, Notes::Arrived, CONVERGE).await;
    settled_by(&env, &bridge, || all_writes(&env)).await;
    let converge_secs = last_restart.elapsed().as_secs_f64();
    let wrong = mismatches(&env, &lanes, &expected, Notes::Exactly);
    assert!(wrong.is_empty(), "after settling: {wrong:#?}");

    collector.collect(&env).await;
    collecting.abort();
    bridge.stop().await;
    let acked = std::mem::take(&mut *collector.acked.lock().unwrap());
    assert!(
        acked.unreadable.is_empty(),
        "the daemon acknowledged webhooks its connectors refuse: {:#?}",
        acked.unreadable
    );
    let loaded = psa_bridge::config::load(&env.config_path, &|_| None).unwrap();
    let missing = missing_from_store(&loaded.store_path, &acked);
    assert!(
        missing.is_empty(),
        "acknowledged webhooks missing from the store: {missing:#?}"
    );
    audit_verifies(&env).await;
    eprintln!(
        "campaign: seed {seed}: {} tickets in 2 pairings, {} changes ({} priorities, {} statuses, {} notes), \
         {kills} kills; {} webhooks acknowledged ({:?}) carrying {} change hints, all in the store; \
         workload {workload_secs:.1} s, converged and settled {converge_secs:.1} s after the last restart",
        expected.tickets.len(),
        expected.changes(),
        expected.priorities,
        expected.statuses,
        expected.notes,
        acked.deliveries.values().sum::<usize>(),
        acked.deliveries,
        acked.hints.len(),
    );
}
