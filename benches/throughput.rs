//! Throughput and latency of the whole bridge, in one process, on loopback.
//!
//! Run with `cargo bench --bench throughput` (a plain `main`, no harness: it
//! prints figures, it asserts nothing about them). It starts both vendor
//! simulators and the daemon exactly as `psa-bridge demo` does
//! ([`DemoEnv::start`] + [`psa_bridge::daemon::start`] with the system clock
//! on `127.0.0.1:0`, store in a temp dir), then measures:
//!
//! 1. **Durable webhook intake.** `WEBHOOKS` correctly signed Autotask ticket
//!    webhooks are POSTed to `/webhooks/autotask` by `CONCURRENCY` clients.
//!    The daemon answers 200 only after the notice is in the sled inbox and
//!    flushed, so requests per second and the latency of the 200s measure
//!    durable intake, not just HTTP. Every body has its own ticket id (none of
//!    which exists in the simulator) and SequenceNumber, so nothing is
//!    deduplicated or coalesced and planning each one is a single 404 fetch.
//!    The planner runs concurrently, as it would in production; the time it
//!    then needs to empty the inbox is printed as well.
//! 2. **End-to-end sync latency.** For `TICKETS` tickets, one at a time, a
//!    technician creates an Autotask ticket and moves it to "Escalate to MSP"
//!    (as in `Story::escalate`); we time until the ConnectWise ticket exists
//!    and until the Autotask write-back (the "MSP Ticket" UDF and the internal
//!    note) is there. Then, again one at a time, the priority of each linked
//!    ticket is raised in Autotask and we time until ConnectWise shows it.
//!    Simulator state is polled every 5 ms, so figures carry up to 5 ms of
//!    observation granularity.
//!
//! The bridge's own rate limiter is set to 1000 requests/s with a burst of
//! 1000 on both connections (at most 3 calls in flight, the demo config's
//! fixed `max_concurrent`), far above what two cores can push through the
//! simulators, so the limiter is not what is measured; with the vendor
//! defaults (5/s Autotask, 10/s ConnectWise) sync latency would be dominated
//! by the quota. Pollers run every 60 s, so webhooks drive every change. No
//! tracing subscriber is installed: logging costs nothing here. Load
//! generator, simulators and daemon share one Tokio runtime and the machine's
//! cores, so the figures are a lower bound for a dedicated daemon.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use psa_bridge::demo::{DemoEnv, DemoOptions, AT_WEBHOOK_SECRET};
use serde_json::json;

const REPRODUCE: &str = "cargo bench --bench throughput";
/// Webhooks posted in the intake phase (after `WARMUP` unmeasured ones).
const WEBHOOKS: usize = 2_000;
const WARMUP: usize = 64;
/// Concurrent webhook senders.
const CONCURRENCY: usize = 8;
/// Tickets escalated, then re-prioritised, in the end-to-end phase.
const TICKETS: usize = 20;
/// Simulator state polling interval while waiting for a sync.
const POLL: Duration = Duration::from_millis(5);
/// Give up on one sync after this long (the bench then panics).
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// Bridge rate limits for both connections: (requests per second, burst).
const LIMITS: (u32, u32) = (1000, 1000);
/// First (non-existent) Autotask ticket id used by the intake webhooks; the
/// simulator numbers its tickets from 1001.
const GHOST_TICKET_BASE: i64 = 900_000_000;

#[tokio::main]
async fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("psa-bridge throughput bench");
    println!(
        "machine: {cores} cores available (std::thread::available_parallelism), {} {}; \
         daemon, simulators and load generator share one Tokio runtime",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    println!("reproduce: {REPRODUCE}");
    println!(
        "bridge limits: {} req/s, burst {}, max 3 in flight per connection (not the bottleneck)\n",
        LIMITS.0, LIMITS.1
    );

    let started = Instant::now();
    let temp = tempfile::tempdir().expect("temp dir");
    let options = DemoOptions {
        webhooks: true,
        poll_interval_secs: 60,
        limits: Some(LIMITS),
        mapping: None,
    };
    let env = DemoEnv::start(temp.path(), &options)
        .await
        .expect("start simulators");
    let loaded = psa_bridge::config::load(&env.config_path, &|name| std::env::var(name).ok())
        .expect("load the generated config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the daemon");
    let daemon =
        psa_bridge::daemon::start(loaded, listener, Arc::new(psa_bridge::clock::SystemClock))
            .await
            .expect("start the daemon");

    webhook_intake(&daemon).await;
    let linked = escalations(&env).await;
    priority_changes(&env, &linked).await;

    daemon.shutdown().await;
    println!("\ntotal run time: {:.1} s", started.elapsed().as_secs_f64());
}

/// Phase 1: signed webhooks at a fixed concurrency; throughput and latency of the 200s.
async fn webhook_intake(daemon: &psa_bridge::daemon::Daemon) {
    let url = format!("http://{}/webhooks/autotask", daemon.addr);
    let client = reqwest::Client::new();
    let warmup = signed_bodies(0, WARMUP);
    post_all(&client, &url, warmup).await;
    wait_inbox_empty(daemon).await;

    let bodies = signed_bodies(WARMUP, WEBHOOKS);
    let begin = Instant::now();
    let mut latencies = post_all(&client, &url, bodies).await;
    let elapsed = begin.elapsed();
    let drain = wait_inbox_empty(daemon).await;

    println!(
        "webhook intake: {WEBHOOKS} signed Autotask webhooks (distinct non-existent tickets), \
         concurrency {CONCURRENCY}"
    );
    println!(
        "  throughput        {:>8.0} requests/s ({WEBHOOKS} in {:.2} s, every answer 200 after the sled flush)",
        WEBHOOKS as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    print_latencies("  latency of 200s", &mut latencies, true);
    println!(
        "  planner backlog   inbox empty {:.2} s after the last 200 ({:.0} notices/s overall, one 404 fetch each)",
        drain.as_secs_f64(),
        WEBHOOKS as f64 / (elapsed + drain).as_secs_f64()
    );
}

/// `count` signed webhook bodies, each for its own non-existent ticket and sequence number.
fn signed_bodies(first: usize, count: usize) -> Vec<(Vec<u8>, String)> {
    (first..first + count)
        .map(|i| {
            let body = serde_json::to_vec(&json!({
                "Action": "Update",
                "Guid": "5a0c1b7e-9d1e-4d55-a0b4-2f1c3d4e5f60",
                "EntityType": "Ticket",
                "Id": GHOST_TICKET_BASE + i as i64,
                "Fields": { "TicketNumber": format!("T20261125.{i:04}"), "Priority": "2" },
                "EventTime": "2026-11-25T14:57:50Z",
                "SequenceNumber": i + 1,
                "PersonID": 29682885
            }))
            .expect("serialise a webhook body");
            let signature = psa_autotask::hooks::sign(AT_WEBHOOK_SECRET, &body);
            (body, signature)
        })
        .collect()
}

/// Posts every body with `CONCURRENCY` senders; returns the latency of each answer.
async fn post_all(
    client: &reqwest::Client,
    url: &str,
    bodies: Vec<(Vec<u8>, String)>,
) -> Vec<Duration> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (client, url, bodies, next) = (
            client.clone(),
            url.to_string(),
            bodies.clone(),
            next.clone(),
        );
        senders.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, signature)) = bodies.get(i) else {
                    return latencies;
                };
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("X-Hook-Signature", signature)
                    .body(body.clone())
                    .send()
                    .await
                    .expect("post a webhook");
                let status = response.status();
                response.bytes().await.expect("read the answer");
                assert_eq!(status, 200, "webhook {i} was not accepted");
                latencies.push(sent.elapsed());
            }
        });
    }
    let mut all = Vec::with_capacity(bodies.len());
    while let Some(latencies) = senders.join_next().await {
        all.extend(latencies.expect("sender task"));
    }
    all
}

/// Waits until the planner has emptied the inbox; returns how long that took.
async fn wait_inbox_empty(daemon: &psa_bridge::daemon::Daemon) -> Duration {
    let begin = Instant::now();
    let store = &daemon.engine.store;
    while !store.inbox().expect("read the inbox").is_empty() {
        assert!(
            begin.elapsed() < Duration::from_secs(90),
            "the planner did not drain the inbox"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    begin.elapsed()
}

/// An escalated ticket: Autotask id and the linked ConnectWise id.
struct Linked {
    autotask_id: i64,
    connectwise_id: i64,
}

/// Phase 2: escalate tickets one at a time; time until ConnectWise has each and
/// until Autotask shows the write-back.
async fn escalations(env: &DemoEnv) -> Vec<Linked> {
    let (at, cw) = (&env.autotask, &env.connectwise);
    let mut to_cw = Vec::new();
    let mut to_writeback = Vec::new();
    let mut linked = Vec::new();
    for i in 0..TICKETS {
        let ticket = at.user_create_ticket(
            &format!("Bench ticket {i}"),
            "Created by the throughput bench.",
            "Level I Support",
            "High",
        );
        let suffix = format!("[{}]", ticket.number);
        let begin = Instant::now();
        at.user_set_queue(ticket.id, "Escalate to MSP");
        let connectwise_id = wait_until("the ConnectWise ticket", || {
            cw.tickets()
                .into_iter()
                .find(|t| t.summary.ends_with(&suffix))
                .map(|t| t.id)
        })
        .await;
        to_cw.push(begin.elapsed());
        let reference = format!("#{connectwise_id}");
        wait_until("the Autotask write-back", || {
            let udf_set = at
                .ticket(ticket.id)?
                .udfs
                .get("MSP Ticket")
                .is_some_and(|v| *v == connectwise_id.to_string());
            let noted = at
                .notes(ticket.id)
                .iter()
                .any(|n| n.text.contains(&reference));
            (udf_set && noted).then_some(())
        })
        .await;
        to_writeback.push(begin.elapsed());
        linked.push(Linked {
            autotask_id: ticket.id,
            connectwise_id,
        });
    }
    println!("\nescalation, Autotask -> ConnectWise: {TICKETS} tickets, one at a time, state polled every 5 ms");
    print_latencies("  ConnectWise ticket", &mut to_cw, false);
    print_latencies("  Autotask write-back", &mut to_writeback, false);
    linked
}

/// Phase 3: raise the priority of each linked ticket in Autotask, one at a time;
/// time until ConnectWise shows it.
async fn priority_changes(env: &DemoEnv, linked: &[Linked]) {
    let (at, cw) = (&env.autotask, &env.connectwise);
    let mut latencies = Vec::new();
    for link in linked {
        let begin = Instant::now();
        at.user_set_priority(link.autotask_id, "Critical");
        wait_until("the priority in ConnectWise", || {
            (cw.ticket(link.connectwise_id)?.priority == "Priority 1 - Emergency Response")
                .then_some(())
        })
        .await;
        latencies.push(begin.elapsed());
    }
    println!(
        "\npriority change, Autotask -> ConnectWise: {} linked tickets, one at a time",
        linked.len()
    );
    print_latencies("  ConnectWise priority", &mut latencies, false);
}

/// Polls `check` every [`POLL`] until it yields; panics after [`SYNC_TIMEOUT`].
async fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let begin = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            begin.elapsed() < SYNC_TIMEOUT,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Prints p50/p95(/p99)/max of `samples` (sorted in place), in milliseconds.
fn print_latencies(label: &str, samples: &mut [Duration], with_p99: bool) {
    samples.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p99 = if with_p99 {
        format!("  p99 {:>7.1} ms", ms(percentile(samples, 99.0)))
    } else {
        String::new()
    };
    println!(
        "{label:<20} p50 {:>7.1} ms  p95 {:>7.1} ms{p99}  max {:>7.1} ms  (n = {})",
        ms(percentile(samples, 50.0)),
        ms(percentile(samples, 95.0)),
        ms(samples.last().copied().unwrap_or_default()),
        samples.len()
    );
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
