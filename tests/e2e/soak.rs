//! Soak: the real daemon against the simulators (loopback only) at a steady
//! load of signed webhooks and of notes crossing both ways, sampling the
//! daemon's resident memory, open files, threads and tokio tasks.
//!
//! `soak` is the long run, ignored by default; the figures in
//! `docs/reliability.md` come from it:
//!
//! ```text
//! SOAK_SECS=300 cargo test --test e2e soak -- --ignored --nocapture
//! # or: scripts/soak.sh 5
//! ```
//!
//! `SOAK_STORE_CACHE_MB` sets the daemon's `store_cache_mb` (the store's
//! page cache; default 64), `SOAK_DUPLICATES=1` makes every webhook a repeat.
//!
//! `soak_short_keeps_files_and_tasks_bounded` runs 15 s in the ordinary suite.
//! It asserts behaviour, not timing: after a warm-up, open files and alive
//! tasks stay within a generous margin of the warm-up's highest figure. A
//! leak of one file or task per request (about 300 requests) breaks that
//! margin whatever the machine's speed; a slow machine only sends fewer.

use std::time::{Duration, Instant};

use psa_bridge::demo::{wait_for, DemoEnv, DemoOptions, AT_WEBHOOK_SECRET};
use psa_connectwise::sim::SimNoteKind;
use serde_json::json;

use crate::common::{env, Bridge, TestDir, STEP};
use crate::steps::msp_ticket;

/// Signed webhooks per second (besides the simulators' own).
const WEBHOOKS_PER_SEC: u64 = 20;
/// Escalated ticket pairs the notes are spread over.
const TICKETS: usize = 6;

/// One sample of the daemon process.
#[derive(Clone, Copy, Debug)]
struct Sample {
    at: f64,
    rss_kb: f64,
    fds: f64,
    threads: f64,
    tasks: f64,
    /// The sled store's size on disk.
    store_kb: f64,
}

/// Size of the files the daemon holds open in its store, in kB (read
/// through `/proc/PID/fd`, so it stays right even if the folder is removed).
fn store_kb(pid: u32) -> f64 {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return f64::NAN;
    };
    let total: u64 = fds
        .flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| target.to_string_lossy().contains("/store/"))
        })
        .filter_map(|fd| std::fs::metadata(fd.path()).ok())
        .map(|m| m.len())
        .sum();
    total as f64 / 1024.0
}

fn read_proc(pid: u32) -> (f64, f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as f64)
        .unwrap_or(f64::NAN);
    (field("VmRSS:"), fds, field("Threads:"))
}

async fn alive_tasks(bridge: &Bridge) -> f64 {
    let Ok(response) = reqwest::get(bridge.admin_url("/metrics")).await else {
        return f64::NAN;
    };
    let body = response.text().await.unwrap_or_default();
    body.lines()
        .find_map(|l| l.strip_prefix("psa_bridge_tokio_alive_tasks "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

async fn sample(bridge: &Bridge, started: Instant) -> Sample {
    let (rss_kb, fds, threads) = read_proc(bridge.pid());
    Sample {
        store_kb: store_kb(bridge.pid()),
        at: started.elapsed().as_secs_f64(),
        rss_kb,
        fds,
        threads,
        tasks: alive_tasks(bridge).await,
    }
}

/// Least-squares slope of `values` over `at`, per minute.
fn slope_per_minute(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx * 60.0
    }
}

/// Start, end, max and the second half's trend of one figure, printed.
fn summarise(name: &str, samples: &[Sample], get: impl Fn(&Sample) -> f64) -> String {
    let values: Vec<(f64, f64)> = samples.iter().map(|s| (s.at, get(s))).collect();
    let start = values.first().map_or(f64::NAN, |v| v.1);
    let end = values.last().map_or(f64::NAN, |v| v.1);
    let max = values.iter().map(|v| v.1).fold(f64::MIN, f64::max);
    let half = &values[values.len() / 2..];
    let slope = slope_per_minute(half);
    let mean = half.iter().map(|v| v.1).sum::<f64>() / half.len().max(1) as f64;
    let span_min =
        half.last().map_or(0.0, |l| l.0) / 60.0 - half.first().map_or(0.0, |f| f.0) / 60.0;
    // Flat: over the second half the fitted line moves less than 5 % of the
    // mean (or less than 2 units for small counts).
    let drift = slope * span_min;
    let verdict = if drift.abs() <= (0.05 * mean).max(2.0) {
        "flat"
    } else if drift > 0.0 {
        "GROWING"
    } else {
        "falling"
    };
    format!(
        "{name:<8} start {start:>10.0}  end {end:>10.0}  max {max:>10.0}  second-half slope {slope:>+9.1}/min  {verdict}"
    )
}

/// An environment with `TICKETS` escalated pairs and a daemon on it.
async fn setup() -> (TestDir, DemoEnv, Bridge, Vec<(i64, i64)>) {
    let (dir, env) = env(DemoOptions {
        poll_interval_secs: 5,
        ..Default::default()
    })
    .await;
    // SOAK_STORE_CACHE_MB: the store's page cache (daemon.store_cache_mb).
    if let Ok(mb) = std::env::var("SOAK_STORE_CACHE_MB") {
        let config = std::fs::read_to_string(&env.config_path).unwrap().replacen(
            "[daemon]\n",
            &format!("[daemon]\nstore_cache_mb = {mb}\n"),
            1,
        );
        std::fs::write(&env.config_path, config).unwrap();
    }
    let bridge = Bridge::spawn_with_env(&env.config_path, &[("RUST_LOG", "warn")]).await;
    let mut pairs = Vec::new();
    for i in 0..TICKETS {
        let t = env.autotask.user_create_ticket(
            &format!("Soak ticket {i}"),
            "Steady load.",
            "Level I Support",
            "High",
        );
        env.autotask.user_set_queue(t.id, "Escalate to MSP");
        let cw: i64 = wait_for("the escalation", STEP * 2, || msp_ticket(&env, t.id))
            .await
            .unwrap();
        pairs.push((t.id, cw));
    }
    (dir, env, bridge, pairs)
}

/// Drives the load for `length`, sampling every `every`; returns the samples.
async fn run(
    env: &DemoEnv,
    bridge: &Bridge,
    pairs: &[(i64, i64)],
    length: Duration,
    every: Duration,
) -> (Vec<Sample>, u64, u64) {
    let started = Instant::now();
    let client = reqwest::Client::new();
    let url = bridge.url("/webhooks/autotask");
    let mut samples = vec![sample(bridge, started).await];
    let mut next_sample = started + every;
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / WEBHOOKS_PER_SEC));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut sent, mut notes) = (0u64, 0u64);
    // SOAK_DUPLICATES=1: every webhook repeats an earlier one and no notes
    // are written, so nothing new is stored (tells leaks from store growth).
    let duplicates = std::env::var_os("SOAK_DUPLICATES").is_some();
    while started.elapsed() < length {
        tick.tick().await;
        let (at_id, cw_id) = pairs[sent as usize % pairs.len()];
        let body = serde_json::to_vec(&json!({
            "Action": "Update",
            "Guid": "5a0c1b7e-9d1e-4d55-a0b4-2f1c3d4e5f60",
            "EntityType": "Ticket",
            "Id": at_id,
            "Fields": { "Status": "1" },
            "EventTime": "2026-11-25T14:57:50Z",
            "SequenceNumber": if duplicates { 1 } else { 1_000_000 + sent },
            "PersonID": 30691780
        }))
        .unwrap();
        let signature = psa_autotask::hooks::sign(AT_WEBHOOK_SECRET, &body);
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .header("X-Hook-Signature", signature)
            .body(body)
            .send()
            .await
            .expect("the daemon answers webhooks");
        assert_eq!(response.status(), 200);
        sent += 1;
        // Every second a note on one side, alternating, so deliveries run
        // both ways.
        if !duplicates && sent % WEBHOOKS_PER_SEC == 0 {
            notes += 1;
            if notes % 2 == 0 {
                env.autotask
                    .user_add_note(at_id, &format!("soak note {notes}"), false, "Tina");
            } else {
                env.connectwise.user_add_note(
                    cw_id,
                    &format!("soak note {notes}"),
                    SimNoteKind::Discussion,
                    "jsmith",
                );
            }
        }
        if Instant::now() >= next_sample {
            let s = sample(bridge, started).await;
            println!(
                "soak t={:>6.0}s rss={:>8.0}kB fds={:>4.0} threads={:>3.0} tasks={:>5.0} store={:>8.0}kB webhooks={sent} notes={notes}",
                s.at, s.rss_kb, s.fds, s.threads, s.tasks, s.store_kb
            );
            samples.push(s);
            next_sample += every;
        }
    }
    samples.push(sample(bridge, started).await);
    (samples, sent, notes)
}

fn report(samples: &[Sample], sent: u64, notes: u64, secs: f64) {
    println!(
        "soak: {secs:.0} s, {sent} signed webhooks ({:.1}/s), {notes} notes crossing, {} samples",
        sent as f64 / secs,
        samples.len()
    );
    println!("{}", summarise("rss kB", samples, |s| s.rss_kb));
    println!("{}", summarise("fds", samples, |s| s.fds));
    println!("{}", summarise("threads", samples, |s| s.threads));
    println!("{}", summarise("tasks", samples, |s| s.tasks));
    println!("{}", summarise("store kB", samples, |s| s.store_kb));
}

/// The long soak (`SOAK_SECS`, default 300 s); prints figures, asserts only
/// that the daemon kept answering and stopped cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes long; run with SOAK_SECS=300 cargo test --test e2e soak -- --ignored --nocapture"]
async fn soak() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let (_dir, env, bridge, pairs) = setup().await;
    let (samples, sent, notes) = run(
        &env,
        &bridge,
        &pairs,
        Duration::from_secs(secs),
        Duration::from_secs(5),
    )
    .await;
    report(&samples, sent, notes, secs as f64);
    crate::common::settled(&env, &bridge).await;
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_short_keeps_files_and_tasks_bounded() {
    let (_dir, env, bridge, pairs) = setup().await;
    // Warm-up: connection pools fill, every task has started.
    let (warm, _, _) = run(
        &env,
        &bridge,
        &pairs,
        Duration::from_secs(5),
        Duration::from_secs(1),
    )
    .await;
    let (samples, sent, notes) = run(
        &env,
        &bridge,
        &pairs,
        Duration::from_secs(15),
        Duration::from_secs(1),
    )
    .await;
    report(&samples, sent, notes, 15.0);
    let most = |list: &[Sample], get: fn(&Sample) -> f64| {
        list.iter()
            .map(get)
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max)
    };
    let (warm_fds, warm_tasks) = (most(&warm, |s| s.fds), most(&warm, |s| s.tasks));
    let end = samples.last().unwrap();
    assert!(
        end.fds <= warm_fds + 64.0,
        "open files grew from at most {warm_fds} to {} over {sent} webhooks",
        end.fds
    );
    assert!(
        end.tasks <= warm_tasks + 64.0,
        "alive tasks grew from at most {warm_tasks} to {} over {sent} webhooks",
        end.tasks
    );
    bridge.stop().await;
}
