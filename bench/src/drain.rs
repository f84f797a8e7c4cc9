//! `drain`: a backlog of queued operations (100,000 at full size) against
//! a ConnectWise simulator that answers 429 above R calls in any second,
//! with the bridge's limiter configured to the same R.
//!
//! Two phases, so that building the backlog does not run under R (at
//! full size that alone took longer than a session):
//!
//! 1. **Build** (limits out of the way: the simulator enforces nothing,
//!    the daemon's limiter is [`setup::OPEN_LIMITS`]). Tickets are linked
//!    by escalation, then the pairing is paused (`psa-bridge pairings
//!    pause`: planning goes on, deliveries wait in the outbox) and notes
//!    are added to the linked Autotask tickets while the simulator sends
//!    no webhooks, then one more per ticket with webhooks on, so the
//!    planner reads each ticket (both sides, ConnectWise included) once
//!    and queues a note post for every note. Every planning read of the
//!    backlog happens here. Once the inbox is empty and the outbox holds
//!    the backlog the daemon is stopped (SIGTERM).
//! 2. **Measure**: the pairing is resumed on the stopped store, the config
//!    gets the limiter at R (burst 1), the simulator starts enforcing R,
//!    and the daemon starts again on the same store. The time from that
//!    start to the first ConnectWise write is the restart figure; the
//!    ConnectWise calls of a steady window (30 / quick 10 s, starting 1 s
//!    after that first write) over R give the achieved share. ConnectWise
//!    calls back for every note the bridge posts, so the planner keeps
//!    reading while the backlog drains, as it would in production; those
//!    reads are part of the window. Peak memory is the daemon's `VmHWM`,
//!    the larger of both runs.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use psa_connector::sim::SimControl;

use crate::daemon::Daemon;
use crate::report::{Report, Size};
use crate::setup;

/// The simulator's ceiling and the bridge's configured rate (calls per second).
pub const RATE: u32 = 50;

/// The demo configuration's pairing (paused while the backlog is built).
const PAIRING: &str = "acme";

pub async fn run(size: Size, binary: &Path) -> Result<Report> {
    let queued = size.pick(100_000, 2_000, 60);
    let tickets = size.pick(1_000, 40, 3);
    let window = Duration::from_secs(size.pick(30, 10, 2));

    // Phase 1: build the backlog with the limits out of the way.
    let dir = setup::WorkDir::new()?;
    let mut options = setup::options(60, setup::OPEN_LIMITS);
    let env = setup::start(dir.path(), options.clone()).await?;
    // `PSA_BENCH_CACHE_MB`: the daemon's `store_cache_mb` (default 16), to
    // see how much of the peak memory is sled's cache.
    let cache = std::env::var("PSA_BENCH_CACHE_MB").ok();
    let config_text = |o: &psa_bridge::demo::DemoOptions| {
        let text = env.config_text(o);
        match &cache {
            Some(mb) => text.replace("[daemon]\n", &format!("[daemon]\nstore_cache_mb = {mb}\n")),
            None => text,
        }
    };
    std::fs::write(&env.config_path, config_text(&options))?;
    let mut daemon = Daemon::spawn(binary, &env.config_path).await?;
    let building = Instant::now();
    let linked = setup::link(&env, &daemon, tickets).await?;
    let link_secs = building.elapsed().as_secs_f64();
    pairing_command(binary, &env.config_path, "pause").await?;
    let cw = env.connectwise.control();
    let queueing = Instant::now();
    env.autotask.set_webhooks_enabled(false);
    for n in 0..queued - tickets {
        let link = linked[n % tickets];
        let text = format!("bench backlog note {n}");
        env.autotask
            .user_add_note(link.autotask, &text, false, "Bench Technician");
    }
    env.autotask.set_webhooks_enabled(true);
    // In batches: a thousand webhooks at once would be answered 503 beyond
    // `max_concurrent_webhooks` (not what is measured here).
    for (n, link) in linked.iter().enumerate() {
        let text = format!("bench backlog note {}", queued - tickets + n);
        env.autotask
            .user_add_note(link.autotask, &text, false, "Bench Technician");
        if (n + 1) % setup::LINK_BATCH == 0 {
            env.wait_webhooks_idle().await;
        }
    }
    env.wait_webhooks_idle().await;
    let backlog = wait_queued(&daemon, queued, size).await?;
    let queue_secs = queueing.elapsed().as_secs_f64();
    let build_rss = daemon.peak_rss_mb()?;
    daemon.stop().await?;
    let built_calls = setup::calls(&cw, building, Instant::now());

    // Phase 2: the same store, the limiter at R, the simulator enforcing R.
    pairing_command(binary, &env.config_path, "resume").await?;
    options.limits = Some((RATE, 1));
    std::fs::write(&env.config_path, config_text(&options))?;
    cw.set_rate_limit(Some(RATE), 1);
    let restarted = Instant::now();
    daemon = Daemon::spawn(binary, &env.config_path).await?;
    let listening_ms = restarted.elapsed().as_secs_f64() * 1000.0;
    let first = setup::wait_for(
        "a note posted to ConnectWise after the restart",
        Duration::from_secs(120),
        || {
            cw.requests()
                .iter()
                .find(|r| r.at >= restarted && is_delivery(r))
                .map(|r| r.at)
        },
    )
    .await?;
    let restart_ms = first.duration_since(restarted).as_secs_f64() * 1000.0;
    let since_restart = |at: Instant| at.duration_since(restarted).as_secs_f64() * 1000.0;
    let first_call = cw
        .requests()
        .iter()
        .find(|r| r.at >= restarted)
        .map(|r| format!("{} {} at {:.0} ms", r.method, r.path, since_restart(r.at)))
        .unwrap_or_default();
    // The window starts a second after the first delivery (start-up's own
    // calls, webhook registration and the first polls, are behind it) and
    // is all steady-state delivery of the queued operations at R.
    let from = first + Duration::from_secs(1);
    tokio::time::sleep_until(from.into()).await;
    tokio::time::sleep(window).await;
    let to = Instant::now();
    let in_window = setup::calls(&cw, from, to);
    let achieved =
        (in_window.reads + in_window.writes) as f64 / to.duration_since(from).as_secs_f64();
    let busiest = busiest_second(&cw, from, to);
    let left = daemon.queues().await?.outbox;
    // After that scrape: what a `/metrics` scrape costs at this depth counts.
    let drain_rss = daemon.peak_rss_mb()?;
    daemon.stop().await?;
    let measured = setup::calls(&cw, restarted, Instant::now());
    if backlog == 0 {
        bail!("no backlog was queued");
    }

    let peak_rss = build_rss.max(drain_rss);
    let http_429 = built_calls.http_429 + measured.http_429;
    let share = achieved / RATE as f64;
    let mut report = Report::new("drain", size);
    report.note(format!(
        "{queued} notes on {tickets} linked Autotask tickets -> {backlog} operations queued \
         (pairing paused, limits open: linking {link_secs:.1} s, queueing {queue_secs:.1} s, \
         {} ConnectWise calls); then restarted with the ConnectWise limit {RATE}/s on both sides",
        built_calls.reads + built_calls.writes
    ));
    report.note(format!(
        "after the restart: listening at {listening_ms:.0} ms, first ConnectWise call {first_call}, \
         first note posted at {restart_ms:.0} ms"
    ));
    report.note(format!(
        "window {} s from 1 s after the first delivery: {} reads, {} writes to ConnectWise \
         = {achieved:.1} calls/s, busiest second {busiest}; {left} still queued after it",
        window.as_secs(),
        in_window.reads,
        in_window.writes
    ));
    report.note(format!(
        "peak RSS {build_rss:.1} MB building the backlog, {drain_rss:.1} MB restarted and draining"
    ));
    report.figure("achieved_over_allowed", share);
    report.figure("http_429", http_429 as f64);
    report.figure("peak_rss_mb", peak_rss);
    report.figure("restart_to_first_delivery_ms", restart_ms);
    report.figure("queued_operations", backlog as f64);
    report.target("achieved_over_allowed >= 0.95", share >= 0.95);
    report.target("http_429 == 0", http_429 == 0);
    report.target("peak_rss_mb < 100", peak_rss < 100.0);
    report.target("restart_to_first_delivery_ms < 2000", restart_ms < 2000.0);
    Ok(report)
}

/// Waits until the planner has queued the backlog: the inbox empty and
/// the outbox at `queued` (or no longer growing with the inbox empty, for
/// notes the planner folded together); the outbox depth then.
async fn wait_queued(daemon: &Daemon, queued: usize, size: Size) -> Result<u64> {
    let limit = Duration::from_secs(size.pick(1_800, 300, 120));
    let begin = Instant::now();
    let mut last = None;
    let mut steady = 0;
    loop {
        let q = daemon.queues().await?;
        if q.inbox == 0 && q.outbox as usize >= queued {
            return Ok(q.outbox);
        }
        steady = if q.inbox == 0 && last == Some(q.outbox) {
            steady + 1
        } else {
            0
        };
        // Ten quiet seconds with nothing left to plan.
        if steady >= 50 {
            return Ok(q.outbox);
        }
        last = Some(q.outbox);
        if begin.elapsed() > limit {
            bail!("the planner did not queue the backlog within {limit:?}: {q:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A backlog operation delivered: a note posted to ConnectWise and applied
/// (not the webhook registration, also a write).
fn is_delivery(r: &psa_connector::sim::RequestRecord) -> bool {
    r.method == "POST" && r.path.ends_with("/notes") && r.applied()
}

/// The most ConnectWise requests that arrived within any one second of
/// `from..to` (429s included): how close the bridge came to the limit.
fn busiest_second(control: &SimControl, from: Instant, to: Instant) -> usize {
    let times: Vec<Instant> = control
        .requests()
        .iter()
        .filter(|r| r.at >= from && r.at < to)
        .map(|r| r.at)
        .collect();
    let (mut best, mut start) = (0, 0);
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= Duration::from_secs(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// `psa-bridge pairings ACTION acme`: through the running daemon's admin
/// API, or on the store when the daemon is stopped.
async fn pairing_command(binary: &Path, config: &Path, action: &str) -> Result<()> {
    let output = tokio::process::Command::new(binary)
        .args(["pairings", action, PAIRING, "--reason", "benchmark backlog"])
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .with_context(|| format!("run psa-bridge pairings {action}"))?;
    if !output.status.success() {
        bail!(
            "psa-bridge pairings {action} {PAIRING} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
