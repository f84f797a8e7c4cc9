//! `drain`: a backlog of queued operations (100,000 at full size) against
//! a ConnectWise simulator that answers 429 above R calls in any second,
//! with the bridge's limiter configured to the same R.
//!
//! The backlog: notes are added to linked Autotask tickets while the
//! simulator sends no webhooks, then one more note per ticket with
//! webhooks on, so the planner reads each ticket once and queues a note
//! post for every note. Once every note is queued or posted the outbox holds the
//! backlog (ConnectWise calls back for every note the bridge posts, so
//! the planner keeps reading while it drains, as it would in production);
//! the ConnectWise calls of a steady window over R give the
//! achieved share, the daemon's `VmHWM` its peak memory. Then the daemon
//! is stopped (SIGTERM) and started again on the same store: the time from
//! the start to the first ConnectWise write is the restart figure.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

use crate::daemon::Daemon;
use crate::report::{Report, Size};
use crate::setup;

/// The simulator's ceiling and the bridge's configured rate (calls per second).
pub const RATE: u32 = 50;

pub async fn run(size: Size, binary: &Path) -> Result<Report> {
    let queued = size.pick(100_000, 2_000, 60);
    let tickets = size.pick(1_000, 40, 3);
    let window = Duration::from_secs(size.pick(30, 10, 2));
    let dir = setup::WorkDir::new()?;
    // Burst 1: the limiter spaces calls evenly, as the vendor's window wants.
    let env = setup::start(dir.path(), setup::options(60, (RATE, 1))).await?;
    let mut daemon = Daemon::spawn(binary, &env.config_path).await?;
    let linking = Instant::now();
    let linked = setup::link(&env, &daemon, tickets).await?;
    let link_secs = linking.elapsed().as_secs_f64();
    let cw = env.connectwise.control();
    cw.set_rate_limit(Some(RATE), 1);
    let begin = Instant::now();

    env.autotask.set_webhooks_enabled(false);
    for n in 0..queued - tickets {
        let link = linked[n % tickets];
        let text = format!("bench backlog note {n}");
        env.autotask
            .user_add_note(link.autotask, &text, false, "Bench Technician");
    }
    env.autotask.set_webhooks_enabled(true);
    for (n, link) in linked.iter().enumerate() {
        let text = format!("bench backlog note {}", queued - tickets + n);
        env.autotask
            .user_add_note(link.autotask, &text, false, "Bench Technician");
    }
    env.wait_webhooks_idle().await;
    let plan_limit = Duration::from_secs(size.pick(1_800, 300, 120));
    // Queued once every note is an operation in the outbox or already posted
    // (the inbox is rarely empty: ConnectWise calls back for each posted note).
    let backlog = loop {
        let q = daemon.queues().await?;
        let posted = cw
            .requests()
            .iter()
            .filter(|r| r.at >= begin && r.is_write() && r.applied() && r.path.contains("/notes"))
            .count();
        if q.outbox as usize + posted >= queued {
            break q.outbox;
        }
        if begin.elapsed() > plan_limit {
            bail!("the planner did not queue the backlog within {plan_limit:?}: {q:?}, {posted} posted");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let from = Instant::now();
    tokio::time::sleep(window).await;
    let to = Instant::now();
    let in_window = setup::calls(&cw, from, to);
    let achieved =
        (in_window.reads + in_window.writes) as f64 / to.duration_since(from).as_secs_f64();
    let peak_rss = daemon.peak_rss_mb()?;
    let left = daemon.queues().await?.outbox;

    daemon.stop().await?;
    let restarted = Instant::now();
    daemon = Daemon::spawn(binary, &env.config_path).await?;
    let first = setup::wait_for(
        "a ConnectWise write after the restart",
        Duration::from_secs(120),
        || {
            cw.requests()
                .iter()
                .find(|r| r.at >= restarted && r.is_write() && r.applied())
                .map(|r| r.at)
        },
    )
    .await?;
    let restart_ms = first.duration_since(restarted).as_secs_f64() * 1000.0;
    let peak_rss = peak_rss.max(daemon.peak_rss_mb()?);
    daemon.stop().await?;
    let all = setup::calls(&cw, begin, Instant::now());
    if backlog == 0 {
        return Err(anyhow!("no backlog was queued"));
    }

    let share = achieved / RATE as f64;
    let mut report = Report::new("drain", size);
    report.note(format!(
        "{queued} notes on {tickets} linked Autotask tickets -> {backlog} operations queued; \
         ConnectWise limit {RATE}/s on both sides; window {} s ({left} still queued after it)",
        window.as_secs()
    ));
    report.note(format!(
        "linking the {tickets} tickets first took {link_secs:.1} s"
    ));
    report.note(format!(
        "window: {} reads, {} writes to ConnectWise = {achieved:.1} calls/s",
        in_window.reads, in_window.writes
    ));
    report.figure("achieved_over_allowed", share);
    report.figure("http_429", all.http_429 as f64);
    report.figure("peak_rss_mb", peak_rss);
    report.figure("restart_to_first_delivery_ms", restart_ms);
    report.figure("queued_operations", backlog as f64);
    report.target("achieved_over_allowed >= 0.95", share >= 0.95);
    report.target("http_429 == 0", all.http_429 == 0);
    report.target("peak_rss_mb < 100", peak_rss < 100.0);
    report.target("restart_to_first_delivery_ms < 2000", restart_ms < 2000.0);
    Ok(report)
}
