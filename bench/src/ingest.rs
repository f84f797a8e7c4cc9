//! `ingest`: correctly signed Autotask webhooks from 64 concurrent senders
//! to the daemon's `/webhooks/autotask` (answered 200 only once the notice
//! is in the sled inbox and flushed), and in the same run to the
//! no-storage ceiling ([`crate::ceiling`]). Every body names its own
//! ticket (none exists, so the planner's work is one 404 read each) and
//! sequence number, so nothing is deduplicated or coalesced.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use psa_bridge::demo::AT_WEBHOOK_SECRET;
use serde_json::json;

use crate::daemon::Daemon;
use crate::report::{percentile_ms, Report, Size};
use crate::setup;

/// Concurrent senders (the figure).
pub const SENDERS: usize = 64;
/// Unmeasured webhooks sent to each receiver first.
const WARMUP: usize = 128;
/// Ids far above the simulator's (it numbers tickets from 1001).
const GHOST_TICKET_BASE: i64 = 900_000_000;
/// A webhook without an answer after this long counts as unanswered.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(size: Size, binary: &Path) -> Result<Report> {
    let count = size.pick(50_000, 10_000, 200);
    let dir = setup::WorkDir::new()?;
    let env = setup::start(dir.path(), setup::options(60, setup::OPEN_LIMITS)).await?;
    let daemon = Daemon::spawn(binary, &env.config_path).await?;
    let ceiling = crate::ceiling::start(&env.config_path, "autotask").await?;
    let client = reqwest::Client::builder()
        .timeout(ANSWER_TIMEOUT)
        .pool_max_idle_per_host(SENDERS)
        .build()?;

    let ceiling_url = format!("http://{}/webhooks/autotask", ceiling.addr);
    post_all(&client, &ceiling_url, bodies(0, WARMUP))
        .await
        .check("ceiling")?;
    let begin = Instant::now();
    let at_ceiling = post_all(&client, &ceiling_url, bodies(WARMUP, count)).await;
    let ceiling_secs = begin.elapsed().as_secs_f64();
    at_ceiling.check("ceiling")?;
    drop(ceiling);

    let url = format!("http://{}/webhooks/autotask", daemon.addr);
    let first = 2 * WARMUP + count;
    post_all(&client, &url, bodies(first, WARMUP))
        .await
        .check("daemon")?;
    daemon.wait_idle(Duration::from_secs(120)).await?;
    let begin = Instant::now();
    let mut answers = post_all(&client, &url, bodies(first + WARMUP, count)).await;
    let daemon_secs = begin.elapsed().as_secs_f64();
    answers.check("daemon")?;
    daemon.stop().await?;

    let accepted = answers.ok.len() as f64 / daemon_secs;
    let ceiling_rate = at_ceiling.ok.len() as f64 / ceiling_secs;
    let ratio = accepted / ceiling_rate;
    let p50 = percentile_ms(&mut answers.ok, 50.0);
    let p99 = percentile_ms(&mut answers.ok, 99.0);
    let mut report = Report::new("ingest", size);
    report.note(format!(
        "{count} signed Autotask webhooks from {SENDERS} senders to each receiver \
         (after {WARMUP} unmeasured); the daemon answers after the inbox flush, the ceiling \
         verifies and answers"
    ));
    report.figure("accepted_per_s", accepted);
    report.figure("ceiling_per_s", ceiling_rate);
    report.figure("ratio", ratio);
    report.figure("ack_p50_ms", p50);
    report.figure("ack_p99_ms", p99);
    report.target("ratio >= 0.5 (half the no-storage ceiling)", ratio >= 0.5);
    report.target("ack_p99_ms < 25", p99 < 25.0);
    Ok(report)
}

/// What the senders saw.
#[derive(Default)]
struct Answers {
    /// Latency of every 200.
    ok: Vec<Duration>,
    /// Answers other than 200.
    refused: usize,
    /// No answer within [`ANSWER_TIMEOUT`] (or the connection failed).
    unanswered: usize,
}

impl Answers {
    /// A run in which any webhook was refused or unanswered is broken.
    fn check(&self, receiver: &str) -> Result<()> {
        if self.refused + self.unanswered > 0 {
            bail!(
                "{receiver}: {} webhooks answered 200, {} refused, {} unanswered within {ANSWER_TIMEOUT:?}",
                self.ok.len(),
                self.refused,
                self.unanswered
            );
        }
        Ok(())
    }
}

/// `count` signed webhook bodies, each for its own non-existent ticket.
fn bodies(first: usize, count: usize) -> Vec<(Vec<u8>, String)> {
    (first..first + count)
        .map(|i| {
            let body = json!({
                "Action": "Update",
                "Guid": "5a0c1b7e-9d1e-4d55-a0b4-2f1c3d4e5f60",
                "EntityType": "Ticket",
                "Id": GHOST_TICKET_BASE + i as i64,
                "Fields": { "TicketNumber": format!("T20261125.{i:05}"), "Priority": "2" },
                "EventTime": "2026-11-25T14:57:50Z",
                "SequenceNumber": i + 1,
                "PersonID": 29682885
            })
            .to_string()
            .into_bytes();
            let signature = psa_autotask::hooks::sign(AT_WEBHOOK_SECRET, &body);
            (body, signature)
        })
        .collect()
}

/// Posts every body with [`SENDERS`] senders, each taking the next unsent one.
async fn post_all(client: &reqwest::Client, url: &str, bodies: Vec<(Vec<u8>, String)>) -> Answers {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..SENDERS {
        let (client, url, bodies, next) = (
            client.clone(),
            url.to_string(),
            bodies.clone(),
            next.clone(),
        );
        senders.spawn(async move {
            let mut answers = Answers::default();
            while let Some((body, signature)) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                let sent = Instant::now();
                let answer = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("X-Hook-Signature", signature)
                    .body(body.clone())
                    .send()
                    .await;
                let status = match answer {
                    Ok(r) => {
                        let status = r.status();
                        r.bytes().await.ok().map(|_| status)
                    }
                    Err(_) => None,
                };
                match status {
                    Some(s) if s == 200 => answers.ok.push(sent.elapsed()),
                    Some(_) => answers.refused += 1,
                    None => answers.unanswered += 1,
                }
            }
            answers
        });
    }
    let mut all = Answers::default();
    while let Some(joined) = senders.join_next().await {
        if let Ok(answers) = joined {
            all.ok.extend(answers.ok);
            all.refused += answers.refused;
            all.unanswered += answers.unanswered;
        } else {
            all.unanswered += 1;
        }
    }
    all
}
