//! What the scenarios share: the simulators and a generated config
//! ([`DemoEnv`], Autotask ↔ ConnectWise with the shipped mapping), linked
//! tickets made by escalation through the daemon, waiting on simulator
//! state, and counting the calls a simulator answered.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use psa_bridge::demo::{DemoEnv, DemoOptions};
use psa_connector::sim::SimControl;

use crate::daemon::Daemon;

/// The bridge's own limiter, far above what the scenarios ask (so it is
/// not what is measured), unless a scenario sets its own.
pub const OPEN_LIMITS: (u32, u32) = (1000, 1000);
/// The Autotask queue that escalates a ticket (the shipped mapping's trigger).
pub const ESCALATE: &str = "Escalate to MSP";

/// The Autotask simulator's hourly request threshold in the scenarios.
/// Autotask's real one is 10,000 per tenant, and the connector paces
/// itself from half of it (`psa_autotask` budget); a full-size run spends
/// more than that in minutes, so the pacing, not the bridge, would be
/// measured. What the real budget allows is worked out in
/// `docs/performance.md` from the calls per change measured here.
pub const AUTOTASK_THRESHOLD: u64 = 100_000_000;

/// Simulators on loopback (Autotask's hourly threshold raised to
/// [`AUTOTASK_THRESHOLD`]) and the config in `dir`.
pub async fn start(dir: &Path, options: DemoOptions) -> Result<DemoEnv> {
    let env = DemoEnv::start(dir, &options).await?;
    env.autotask.set_request_threshold(AUTOTASK_THRESHOLD);
    Ok(env)
}

/// Options with webhooks on, polling every `poll_secs`, and `limits`.
pub fn options(poll_secs: u64, limits: (u32, u32)) -> DemoOptions {
    DemoOptions {
        webhooks: true,
        polling: true,
        poll_interval_secs: poll_secs,
        limits: Some(limits),
        ..Default::default()
    }
}

/// A linked ticket pair.
#[derive(Clone, Copy, Debug)]
pub struct Linked {
    pub autotask: i64,
    pub connectwise: i64,
}

/// Tickets escalated at once by [`link`]: a thousand at once would be a
/// webhook burst beyond the daemon's `max_concurrent_webhooks` and
/// `max_connections` (what waits over 3 s for a slot gets 503, extra
/// connections are closed, after which the Autotask simulator deactivates
/// the webhook, as Autotask does), which is not what the scenarios measure.
pub const LINK_BATCH: usize = 50;

/// Creates `count` Autotask tickets in the escalation queue, [`LINK_BATCH`]
/// at a time, and waits until the daemon has linked each (the write-back
/// field names the ConnectWise ticket), then until it is idle.
pub async fn link(env: &DemoEnv, daemon: &Daemon, count: usize) -> Result<Vec<Linked>> {
    let limit = Duration::from_secs(120);
    let mut linked = Vec::with_capacity(count);
    for first in (0..count).step_by(LINK_BATCH) {
        let ids: Vec<i64> = (first..count.min(first + LINK_BATCH))
            .map(|i| {
                env.autotask
                    .user_create_ticket(
                        &format!("Bench ticket {i}"),
                        "Created by the benchmark.",
                        ESCALATE,
                        "Medium",
                    )
                    .id
            })
            .collect();
        let batch = wait_for("every escalation's write-back", limit, || {
            ids.iter()
                .map(|&id| {
                    let ticket = env.autotask.ticket(id)?;
                    let cw = ticket.udfs.get("MSP Ticket")?.parse().ok()?;
                    Some(Linked {
                        autotask: id,
                        connectwise: cw,
                    })
                })
                .collect::<Option<Vec<_>>>()
        })
        .await?;
        linked.extend(batch);
    }
    daemon.wait_idle(limit).await?;
    env.wait_webhooks_idle().await;
    Ok(linked)
}

/// Polls `check` every 5 ms until it yields; an error after `limit`.
pub async fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T> {
    let begin = Instant::now();
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if begin.elapsed() > limit {
            bail!("no {what} after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Calls one simulator answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Calls {
    pub reads: usize,
    pub writes: usize,
    pub http_429: usize,
}

impl std::ops::Add for Calls {
    type Output = Calls;
    fn add(self, other: Calls) -> Calls {
        Calls {
            reads: self.reads + other.reads,
            writes: self.writes + other.writes,
            http_429: self.http_429 + other.http_429,
        }
    }
}

/// Calls that arrived at a simulator in `from..to` (reads and writes as
/// [`psa_connector::sim::RequestRecord::is_write`] tells them; 429s counted
/// apart and not as reads or writes).
pub fn calls(control: &SimControl, from: Instant, to: Instant) -> Calls {
    let mut calls = Calls::default();
    for r in control
        .requests()
        .iter()
        .filter(|r| r.at >= from && r.at < to)
    {
        if r.status == 429 {
            calls.http_429 += 1;
        } else if r.is_write() {
            calls.writes += 1;
        } else {
            calls.reads += 1;
        }
    }
    calls
}

/// The calls between `from` and `to` by method and path (ids as `{id}`,
/// query strings dropped), most frequent first: where the calls go.
pub fn calls_by_endpoint(control: &SimControl, from: Instant, to: Instant) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for r in control
        .requests()
        .iter()
        .filter(|r| r.at >= from && r.at < to)
    {
        let path = r.path.split('?').next().unwrap_or_default();
        let shape: Vec<&str> = path
            .split('/')
            .map(|part| {
                if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
                    "{id}"
                } else {
                    part
                }
            })
            .collect();
        *counts
            .entry(format!("{} {}", r.method, shape.join("/")))
            .or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
}

/// A scenario's temporary folder (config, store, daemon logs); kept, and
/// its path printed, when `PSA_BENCH_KEEP` is set.
pub struct WorkDir(Option<tempfile::TempDir>, std::path::PathBuf);

impl WorkDir {
    pub fn new() -> Result<WorkDir> {
        let dir = tempfile::Builder::new().prefix("psa-bench-").tempdir()?;
        let path = dir.path().to_path_buf();
        Ok(WorkDir(Some(dir), path))
    }

    pub fn path(&self) -> &Path {
        &self.1
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if std::env::var_os("PSA_BENCH_KEEP").is_some() {
            if let Some(dir) = self.0.take() {
                eprintln!("kept {}", dir.keep().display());
            }
        }
    }
}
