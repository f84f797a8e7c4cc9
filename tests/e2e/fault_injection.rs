//! Fault injection over two pairings (all four connectors): every
//! simulator answers 20% of calls with a 502, 503 or 504, resets 5% of
//! connections before doing anything, carries out 5% and never answers in
//! time (the daemon's 2 s timeout passes first: the ambiguous case), and
//! now and then throttles everything with bursts of 429 and `Retry-After`.
//! One write is refused for good (400). Every change must still arrive
//! exactly once (timed-out creates and notes are looked up before being
//! made again), and the only dead letter is the refused write; retrying it
//! once the cause is gone completes the sync.
//!
//! `PSA_FAULTS_SEED`, `PSA_FAULTS_TICKETS` and `PSA_FAULTS_CHANGES` change
//! the run (defaults: a fixed seed, 12 tickets, 120 changes).

use std::sync::Arc;
use std::time::{Duration, Instant};

use psa_connector::sim::AmbiguousReply;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::{cli, settled_by, text, Bridge};
use crate::steps::audit_verifies;
use crate::workload::checks::{mismatches, Notes};
use crate::workload::plan::{apply, draw, Expected};
use crate::workload::{all_writes, controls, converge, escalate, knob, lanes, pause, two_pairings};

const CONVERGE: Duration = Duration::from_secs(420);

/// Faults each simulator saw: (5xx, resets, timed-out writes, 429).
fn injected(env: &psa_bridge::demo::DemoEnv) -> [usize; 4] {
    let mut counts = [0; 4];
    for control in controls(env) {
        for r in control.requests() {
            match r.status {
                502..=504 if r.ambiguous.is_none() => counts[0] += 1,
                0 if r.ambiguous.is_none() => counts[1] += 1,
                429 => counts[3] += 1,
                _ => {}
            }
            if r.ambiguous == Some(AmbiguousReply::TimedOut) {
                counts[2] += 1;
            }
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_errors_resets_timeouts_and_429_bursts_every_change_arrives_once() {
    let seed = knob("PSA_FAULTS_SEED", 20261127);
    let tickets = knob("PSA_FAULTS_TICKETS", 12) as usize;
    let changes = knob("PSA_FAULTS_CHANGES", 120) as usize;
    eprintln!("faults: seed {seed}, {tickets} tickets, {changes} changes");
    let mut rng = StdRng::seed_from_u64(seed);
    let (_dir, env, _addr) = two_pairings(2).await;
    let env = Arc::new(env);
    let lanes = lanes();
    let bridge = Bridge::spawn(&env.config_path).await;
    for control in controls(&env) {
        control.set_error_rate(0.20);
        control.set_reset_rate(0.05);
        control.set_timeout_rate(0.05);
        control.set_hang(Duration::from_secs(5));
        control.set_latency(Duration::from_millis(10));
    }
    // Bursts of throttling: every 2-5 s one system answers everything 429
    // for a second or two, with Retry-After 1 or 2.
    let bursts = {
        let env = env.clone();
        let mut rng = StdRng::seed_from_u64(seed ^ 0x429);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(rng.random_range(2000..5000))).await;
                let which = rng.random_range(0..4);
                controls(&env)[which].throttle_for(
                    Duration::from_millis(rng.random_range(1000..2000)),
                    rng.random_range(1..=2),
                );
            }
        })
    };

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
    for step in 0..changes {
        if step == changes / 2 {
            // One write refused for good: a permanent error, a dead letter.
            env.connectwise.control().fail_next_writes(&[400]);
        }
        let change = draw(&mut rng, &expected);
        apply(&env, &lanes, &mut expected, &change);
        tokio::time::sleep(pause(&mut rng, 40)).await;
    }
    let workload_done = Instant::now();

    // The refused write becomes the one dead letter; retried, it goes through.
    let dead: Vec<serde_json::Value> =
        crate::workload::wait_for_json(&bridge, "/api/v1/outbox", CONVERGE, |page| {
            let dead: Vec<serde_json::Value> = page["items"]
                .as_array()?
                .iter()
                .filter(|r| r["state"] == "dead")
                .cloned()
                .collect();
            (!dead.is_empty()).then_some(dead)
        })
        .await;
    assert_eq!(dead.len(), 1, "only the refused write is dead: {dead:#?}");
    let message = dead[0].to_string();
    assert!(message.contains("400"), "{message}");
    let id = dead[0]["id"].as_str().unwrap();
    let retry = cli(&[
        "outbox",
        "retry",
        id,
        "--config",
        env.config_path.to_str().unwrap(),
    ])
    .await;
    assert!(retry.status.success(), "{}", text(&retry));

    converge(&env, &lanes, &expected, Notes::Arrived, CONVERGE).await;
    bursts.abort();
    settled_by(&env, &bridge, || all_writes(&env)).await;
    let converge_secs = workload_done.elapsed().as_secs_f64();
    let wrong = mismatches(&env, &lanes, &expected, Notes::Exactly);
    assert!(wrong.is_empty(), "after settling: {wrong:#?}");

    let outbox: serde_json::Value =
        serde_json::from_str(&bridge.admin_get("/api/v1/outbox").await).unwrap();
    assert_eq!(
        outbox["items"],
        serde_json::json!([]),
        "nothing left, nothing dead"
    );
    let notices: serde_json::Value =
        serde_json::from_str(&bridge.admin_get("/api/v1/notices/dead").await).unwrap();
    assert_eq!(notices, serde_json::json!([]), "no notice failed for good");
    let [errors, resets, timeouts, throttled] = injected(&env);
    assert!(
        errors > 0 && resets > 0 && timeouts > 0 && throttled > 0,
        "every kind of fault was injected: {:?}",
        injected(&env)
    );
    bridge.stop().await;
    audit_verifies(&env).await;
    eprintln!(
        "faults: seed {seed}: {} tickets, {} changes; injected {errors} 5xx, {resets} resets, \
         {timeouts} timed-out writes (applied), {throttled} 429s, 1 permanent 400; \
         converged and settled {converge_secs:.1} s after the workload",
        expected.tickets.len(),
        expected.changes(),
    );
}
