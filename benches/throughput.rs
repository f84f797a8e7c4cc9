//! Throughput and latency of the whole bridge, in one process, on loopback.
//!
//! Run with `cargo bench --bench throughput` (a plain `main`, no harness: it
//! prints figures and asserts nothing about them). It starts both vendor
//! simulators and the daemon the way `psa-bridge demo` does
//! ([`DemoEnv::start`] + [`psa_bridge::daemon::start`] with the system clock
//! on `127.0.0.1:0`, store in a temp dir), then measures:
//!
//! 1. **Durable webhook intake.** `BENCH_WEBHOOKS` correctly signed Autotask
//!    ticket webhooks are POSTed to `/webhooks/autotask` by
//!    `BENCH_CONCURRENCY` senders. The daemon answers 200 only after the
//!    notice is in the sled inbox and flushed, so requests per second and the
//!    latency of the 200s measure durable intake, not just HTTP. Every body
//!    has its own ticket id (none exists in the simulator) and SequenceNumber,
//!    so nothing is deduplicated or coalesced, and planning each notice costs
//!    one 404 fetch. The planner runs meanwhile, as in production; how long it
//!    then takes to empty the inbox is printed too.
//! 2. **End-to-end sync latency.** For `BENCH_TICKETS` tickets, one at a
//!    time, a technician creates an Autotask ticket and moves it to "Escalate
//!    to MSP" (as in `Story::escalate`); the clock starts at the move and
//!    stops when the ConnectWise ticket exists, then when the Autotask
//!    write-back (the "MSP Ticket" UDF and the internal note) is there. Then,
//!    again one at a time, each linked ticket's priority is raised in Autotask
//!    and timed until ConnectWise shows it. Simulator state is checked at
//!    once and then every 5 ms, so a figure is an upper bound: a sync done
//!    before the first re-check reads as about 6 ms (Tokio sleeps round up).
//!
//! A stuck daemon makes the bench exit 1 with a message instead of hanging:
//! a webhook without an answer within 10 s aborts it, and so does a watchdog
//! thread when the Tokio runtime runs nothing for 15 s (a store call can
//! block every worker thread, and then no timeout on the runtime fires).
//!
//! The bridge's own rate limiter is set to 1000 requests/s with a burst of
//! 1000 on both connections (at most 3 calls in flight: the demo config's
//! fixed `max_concurrent`), far above what the run asks of the simulators,
//! so the limiter is not what is measured; with the vendor defaults (5/s
//! Autotask, 10/s ConnectWise) sync latency would mostly be quota waits.
//! Pollers run every 60 s, so webhooks drive every change. No tracing
//! subscriber is installed, so logging costs nothing. Load generator,
//! simulators and daemon share one Tokio runtime and the machine's cores: a
//! daemon on its own host would do at least as well.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use psa_bridge::daemon::Daemon;
use psa_bridge::demo::{DemoEnv, DemoOptions, AT_WEBHOOK_SECRET};
use serde_json::json;

const REPRODUCE: &str = "cargo bench --bench throughput";
/// Unmeasured webhooks posted (and planned) before the intake phase.
const WARMUP: usize = 64;
/// A webhook without an answer after this long counts as unanswered.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Abort when the Tokio runtime has not run a task for this long.
const STALL_LIMIT: Duration = Duration::from_secs(15);
/// How long the planner may take to empty the inbox.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(90);
/// Simulator state polling interval while waiting for a sync.
const POLL: Duration = Duration::from_millis(5);
/// Give up on one sync after this long (the bench then panics).
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// Bridge rate limits for both connections: (requests per second, burst).
const LIMITS: (u32, u32) = (1000, 1000);
/// First (non-existent) Autotask ticket id used by the intake webhooks; the
/// simulator numbers its tickets from 1001.
const GHOST_TICKET_BASE: i64 = 900_000_000;

/// Sizes of the run, each overridable by the environment variable named
/// (e.g. `BENCH_CONCURRENCY=1 cargo bench --bench throughput`).
#[derive(Clone, Copy)]
struct Sizes {
    /// `BENCH_WEBHOOKS`: webhooks posted in the intake phase.
    webhooks: usize,
    /// `BENCH_CONCURRENCY`: concurrent webhook senders.
    concurrency: usize,
    /// `BENCH_TICKETS`: tickets escalated, then re-prioritised.
    tickets: usize,
}

impl Sizes {
    /// (variable, default) for webhooks, concurrency, tickets.
    const VARIABLES: [(&'static str, usize); 3] = [
        ("BENCH_WEBHOOKS", 2_000),
        ("BENCH_CONCURRENCY", 8),
        ("BENCH_TICKETS", 20),
    ];

    fn from_env() -> Self {
        let [webhooks, concurrency, tickets] =
            Self::VARIABLES.map(|(name, default)| match std::env::var(name) {
                Ok(v) => match v.parse() {
                    Ok(n) if n > 0 => n,
                    _ => panic!("{name}={v:?} is not a positive count"),
                },
                Err(_) => default,
            });
        Self {
            webhooks,
            concurrency,
            tickets,
        }
    }

    /// The command that reproduces this run.
    fn command(&self) -> String {
        let values = [self.webhooks, self.concurrency, self.tickets];
        let mut command = String::new();
        for ((name, default), value) in Self::VARIABLES.iter().zip(values) {
            if value != *default {
                command.push_str(&format!("{name}={value} "));
            }
        }
        command + REPRODUCE
    }
}

#[tokio::main]
async fn main() {
    let sizes = Sizes::from_env();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("psa-bridge throughput bench");
    println!(
        "machine: {cores} cores (std::thread::available_parallelism), {}/{}; \
         daemon, simulators and load generator share one Tokio runtime",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    println!("reproduce: {}", sizes.command());
    println!(
        "bridge limits: {} req/s, burst {}, 3 in flight per connection (not the bottleneck); \
         polling every 60 s, changes arrive by webhook\n",
        LIMITS.0, LIMITS.1
    );

    let started = Instant::now();
    let temp = tempfile::tempdir().expect("temp dir");
    spawn_watchdog(temp.path().to_path_buf());
    let (env, daemon) = start(temp.path()).await;

    if !webhook_intake(&daemon, &sizes).await {
        println!("\nABORTED: the daemon stopped answering webhooks; the sync phases were not run");
        drop(temp);
        std::process::exit(1);
    }
    let linked = escalations(&env, sizes.tickets).await;
    priority_changes(&env, &linked).await;

    daemon.shutdown().await;
    println!("\ntotal run time: {:.1} s", started.elapsed().as_secs_f64());
}

/// Ends the process (exit 1) when the runtime stops making progress. A stuck
/// daemon can block every worker thread inside a synchronous store call, and
/// then no timeout on the runtime fires; this watchdog is a plain thread.
fn spawn_watchdog(temp_dir: std::path::PathBuf) {
    let beats = Arc::new(AtomicUsize::new(0));
    let counter = beats.clone();
    tokio::spawn(async move {
        loop {
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    std::thread::spawn(move || {
        let (mut seen, mut since) = (0, Instant::now());
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let now = beats.load(Ordering::Relaxed);
            if now != seen {
                (seen, since) = (now, Instant::now());
            } else if since.elapsed() >= STALL_LIMIT {
                println!(
                    "\nABORTED: the Tokio runtime ran nothing for {} s (every worker thread is \
                     blocked, e.g. inside a store call); the figures above are all there is",
                    STALL_LIMIT.as_secs()
                );
                let _ = std::fs::remove_dir_all(&temp_dir);
                std::process::exit(1);
            }
        }
    });
}

/// Both simulators and the daemon, configured as the demo does.
async fn start(dir: &std::path::Path) -> (DemoEnv, Daemon) {
    let options = DemoOptions {
        webhooks: true,
        poll_interval_secs: 60,
        limits: Some(LIMITS),
        ..Default::default()
    };
    let env = DemoEnv::start(dir, &options)
        .await
        .expect("start simulators");
    let loaded = psa_bridge::config::load(&env.config_path, &|name| std::env::var(name).ok())
        .expect("load the generated config");
    let listeners = psa_bridge::daemon::Listeners::bind(&loaded.config.daemon)
        .await
        .expect("bind the daemon");
    let daemon =
        psa_bridge::daemon::start(loaded, listeners, Arc::new(psa_bridge::clock::SystemClock))
            .await
            .expect("start the daemon");
    (env, daemon)
}

/// What the senders saw.
#[derive(Default)]
struct Answers {
    /// Latency of every 200.
    ok: Vec<Duration>,
    /// Answers other than 200.
    refused: usize,
    /// No answer within `ANSWER_TIMEOUT` (or the connection failed).
    unanswered: usize,
}

/// Phase 1: signed webhooks at a fixed concurrency; throughput and latency of
/// the 200s. Returns false when some webhook got no answer (daemon stuck).
async fn webhook_intake(daemon: &Daemon, sizes: &Sizes) -> bool {
    let url = format!("http://{}/webhooks/autotask", daemon.addr);
    let client = reqwest::Client::builder()
        .timeout(ANSWER_TIMEOUT)
        .build()
        .expect("HTTP client");
    println!(
        "webhook intake: {} signed Autotask webhooks (distinct non-existent tickets), concurrency {}",
        sizes.webhooks, sizes.concurrency
    );
    let warmup = post_all(&client, &url, signed_bodies(0, WARMUP), sizes.concurrency).await;
    if warmup.unanswered == 0 {
        wait_inbox_empty(daemon).await;
    }

    let bodies = signed_bodies(WARMUP, sizes.webhooks);
    let begin = Instant::now();
    let mut answers = post_all(&client, &url, bodies, sizes.concurrency).await;
    let elapsed = begin.elapsed();
    let stuck = warmup.unanswered + answers.unanswered;
    if stuck > 0 || answers.refused > 0 {
        println!(
            "  {} answered 200, {} refused, {stuck} without an answer after {} s (warm-up included)",
            answers.ok.len(),
            warmup.refused + answers.refused,
            ANSWER_TIMEOUT.as_secs()
        );
    }
    if stuck > 0 {
        // Nothing the bench can work around: the handlers are waiting on the store.
        return false;
    }
    println!(
        "  throughput         {:>7.0} requests/s ({} in {:.2} s; each 200 follows the sled flush)",
        answers.ok.len() as f64 / elapsed.as_secs_f64(),
        answers.ok.len(),
        elapsed.as_secs_f64()
    );
    print_latencies("  latency of 200s", &mut answers.ok, true);
    let drain = wait_inbox_empty(daemon).await;
    println!(
        "  planner backlog    inbox empty {:.2} s after the last 200 ({:.0} notices/s end to end, one 404 fetch each)",
        drain.as_secs_f64(),
        sizes.webhooks as f64 / (elapsed + drain).as_secs_f64()
    );
    true
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

/// Posts every body with `concurrency` senders, each taking the next unsent body.
async fn post_all(
    client: &reqwest::Client,
    url: &str,
    bodies: Vec<(Vec<u8>, String)>,
    concurrency: usize,
) -> Answers {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
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
                let request = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("X-Hook-Signature", signature)
                    .body(body.clone());
                // The timeout covers reading the body too.
                let answer = match request.send().await {
                    Ok(r) => Some(r.status()).zip(r.bytes().await.ok()),
                    Err(_) => None,
                };
                match answer {
                    Some((status, _)) if status == 200 => answers.ok.push(sent.elapsed()),
                    Some(_) => answers.refused += 1,
                    None => answers.unanswered += 1,
                }
            }
            answers
        });
    }
    let mut all = Answers::default();
    while let Some(answers) = senders.join_next().await {
        let answers = answers.expect("sender task");
        all.ok.extend(answers.ok);
        all.refused += answers.refused;
        all.unanswered += answers.unanswered;
    }
    all
}

/// Waits until the planner has emptied the inbox; returns how long that took.
async fn wait_inbox_empty(daemon: &Daemon) -> Duration {
    let begin = Instant::now();
    let store = &daemon.engine.store;
    while !store.inbox().expect("read the inbox").is_empty() {
        assert!(
            begin.elapsed() < DRAIN_TIMEOUT,
            "the planner did not empty the inbox within {} s",
            DRAIN_TIMEOUT.as_secs()
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
async fn escalations(env: &DemoEnv, count: usize) -> Vec<Linked> {
    let (at, cw) = (&env.autotask, &env.connectwise);
    let mut to_cw = Vec::new();
    let mut to_writeback = Vec::new();
    let mut linked = Vec::new();
    for i in 0..count {
        let ticket = at.user_create_ticket(
            &format!("Bench ticket {i}"),
            "Created by the throughput bench.",
            "Level I Support",
            "High",
        );
        // The mapping titles the ConnectWise ticket "{title} [{number}]".
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
        let (number, reference) = (connectwise_id.to_string(), format!("#{connectwise_id}"));
        wait_until("the Autotask write-back", || {
            let field_set = at.ticket(ticket.id)?.udfs.get("MSP Ticket") == Some(&number);
            let noted = at
                .notes(ticket.id)
                .iter()
                .any(|n| n.text.contains(&reference));
            (field_set && noted).then_some(())
        })
        .await;
        to_writeback.push(begin.elapsed());
        linked.push(Linked {
            autotask_id: ticket.id,
            connectwise_id,
        });
    }
    println!(
        "\nescalation, Autotask -> ConnectWise: {count} tickets, one at a time, state polled every 5 ms"
    );
    print_latencies("  ConnectWise ticket", &mut to_cw, false);
    print_latencies("  Autotask write-back", &mut to_writeback, false);
    linked
}

/// Phase 3: raise the priority of each linked ticket in Autotask, one at a
/// time; time until ConnectWise shows it.
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
        "\npriority change High -> Critical, Autotask -> ConnectWise: {} linked tickets, one at a time",
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
            "no {what} after {} s",
            SYNC_TIMEOUT.as_secs()
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
        "{label:<22} p50 {:>7.1} ms  p95 {:>7.1} ms{p99}  max {:>7.1} ms  (n = {})",
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
