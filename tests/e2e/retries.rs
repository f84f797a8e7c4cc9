//! Delivery failures: transient errors are retried on the stored schedule
//! for a period (not a count), `Retry-After` is honoured and 429s are not
//! attempts (checked with a manual clock), permanent errors become dead
//! letters that the CLI lists and re-queues. Dead letters: see `dead_letters.rs`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use psa_bridge::clock::{Clock, ManualClock};
use psa_bridge::demo::{wait_for, DemoOptions};

use crate::common::{cli, env, text, Bridge, STEP};

fn escalate(env: &psa_bridge::demo::DemoEnv) -> i64 {
    let t = env.autotask.user_create_ticket(
        "Email bouncing",
        "All mail to contoso.com bounces.",
        "Level I Support",
        "Medium",
    );
    env.autotask.user_set_queue(t.id, "Escalate to MSP");
    t.id
}

fn ticket_posts(env: &psa_bridge::demo::DemoEnv) -> usize {
    env.connectwise
        .control()
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/service/tickets"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_errors_are_retried_and_delivered_once() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    // A delivery is tried 3 times in place (1 + 2 quick retries) before the
    // failure is recorded: four 503s are one recorded retry, then the
    // second scheduled attempt's second try creates the ticket.
    env.connectwise.control().fail_next_writes(&[503; 4]);
    escalate(&env);
    wait_for("the ConnectWise ticket", STEP, || {
        (!env.connectwise.tickets().is_empty()).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(ticket_posts(&env), 5, "four 503s, then the create");
    assert_eq!(env.connectwise.tickets().len(), 1);
    bridge.stop().await;
    let out = crate::common::audit_history(
        &env,
        &format!("connectwise:{}", env.connectwise.tickets()[0].id),
    )
    .await;
    assert_eq!(out.matches(" retry ").count(), 1, "{out}");
}

/// Waits until the connection's delivery worker has completed `n` more
/// rounds: every round after the first started after this call.
async fn rounds_pass(daemon: &psa_bridge::daemon::Daemon, connection: &str, n: u64) {
    let rounds = &daemon.engine.delivery_rounds;
    let start = rounds.get(connection);
    wait_for("delivery rounds", STEP, || {
        (rounds.get(connection) >= start + n).then_some(())
    })
    .await
    .unwrap();
}

/// A 429 with `Retry-After: 30` holds that operation *and* the whole
/// connection: a second ticket's create, due at once on its own schedule,
/// waits too. Checked on a manual clock, after completed delivery rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_waited_for_on_a_manual_clock() {
    let (_dir, env, daemon, clock) = slow_polling_manual_daemon().await;
    let start = clock.now();
    env.connectwise
        .control()
        .fail_next_write_with_retry_after(429, 30);
    escalate(&env);
    let op = wait_for("the throttled create to be rescheduled", STEP, || {
        daemon
            .engine
            .store
            .outbox()
            .ok()?
            .into_iter()
            .find(|op| op.last_error.is_some())
    })
    .await
    .unwrap();
    assert_eq!(op.attempts, 0, "a 429 is not an attempt: {op:?}");
    assert!(
        op.next_attempt_at >= start + chrono::Duration::seconds(30),
        "{op:?}"
    );
    assert_eq!(ticket_posts(&env), 1);

    // A second escalation: its create is due now, but the connection waits.
    escalate(&env);
    let second = wait_for("the second create to be planned", STEP, || {
        let ops = daemon.engine.store.outbox().ok()?;
        (ops.len() == 2).then(|| ops.into_iter().find(|o| o.id != op.id))?
    })
    .await
    .unwrap();
    assert!(second.next_attempt_at <= clock.now(), "{second:?}");
    rounds_pass(&daemon, "connectwise", 3).await;
    assert_eq!(ticket_posts(&env), 1, "sent during the connection's pause");
    clock.advance(chrono::Duration::seconds(29));
    rounds_pass(&daemon, "connectwise", 3).await;
    assert_eq!(ticket_posts(&env), 1, "sent 1 s before Retry-After elapsed");
    clock.advance(chrono::Duration::seconds(2));
    wait_for("both creates after Retry-After", STEP, || {
        (env.connectwise.tickets().len() == 2).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(ticket_posts(&env), 3);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_dead_letter_and_retry_requeues() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let config = env.config_path.to_str().unwrap().to_string();
    let bridge = Bridge::spawn(&env.config_path).await;
    env.connectwise.control().fail_next_writes(&[400]);
    let at_id = escalate(&env);
    // The CLI reaches the running daemon through its admin API.
    let deadline = tokio::time::Instant::now() + STEP;
    let listing = loop {
        let out = text(&cli(&["outbox", "dead", "--config", &config]).await);
        if out.contains("DEAD") {
            break out;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no dead letter: {out}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(listing.contains("DEAD (400)"), "{listing}");
    let number = env.autotask.ticket(at_id).unwrap().number;
    assert!(
        listing.contains(&format!("autotask:{number}")),
        "names the ticket: {listing}"
    );
    assert!(
        listing.contains("Injected fault"),
        "the vendor's message is kept: {listing}"
    );
    assert!(env.connectwise.tickets().is_empty());
    let id = listing.split_whitespace().next().unwrap().to_string();
    let requeued = cli(&["outbox", "retry", &id, "--config", &config]).await;
    assert!(requeued.status.success(), "{}", text(&requeued));
    wait_for("the re-queued create", STEP, || {
        (!env.connectwise.tickets().is_empty()).then_some(())
    })
    .await
    .unwrap();
    let empty = text(&cli(&["outbox", "dead", "--config", &config]).await);
    assert!(empty.contains("no dead letters"), "{empty}");
    let missing = cli(&["outbox", "retry", "999999", "--config", &config]).await;
    assert_eq!(missing.status.code(), Some(1));
    bridge.stop().await;
}

/// Autotask answers every call with 503: the stored notice cannot be
/// planned, a retry is scheduled for it (not dropped), and once the outage
/// ends and the retry is due, the escalation happens once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planning_waits_out_a_vendor_outage() {
    let (_dir, env, daemon, clock) = slow_polling_manual_daemon().await;
    env.autotask.control().set_error_rate(1.0);
    escalate(&env);
    let waiting = wait_for("a planning retry to be scheduled", STEP, || {
        daemon
            .engine
            .store
            .inbox()
            .ok()?
            .into_iter()
            .find(|item| item.attempts >= 1)
    })
    .await
    .unwrap();
    let due = waiting.next_attempt_at.expect("a retry time");
    assert!(due > clock.now(), "{waiting:?}");
    assert!(env.connectwise.tickets().is_empty());
    env.autotask.control().set_error_rate(0.0);
    clock.advance(due - clock.now() + chrono::Duration::seconds(1));
    wait_for("the escalation after the outage", STEP, || {
        (!env.connectwise.tickets().is_empty()).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(env.connectwise.tickets().len(), 1);
    daemon.shutdown().await;
}

/// Simulators, and an in-process daemon on a manual clock that polls only
/// once a minute (so webhooks alone bring the changes under test).
async fn slow_polling_manual_daemon() -> (
    crate::common::TestDir,
    psa_bridge::demo::DemoEnv,
    psa_bridge::daemon::Daemon,
    ManualClock,
) {
    let (dir, env) = env(DemoOptions {
        poll_interval_secs: 60,
        ..Default::default()
    })
    .await;
    let (daemon, clock) = manual_daemon(&env).await;
    (dir, env, daemon, clock)
}

/// An in-process daemon on a manual clock.
pub async fn manual_daemon(
    env: &psa_bridge::demo::DemoEnv,
) -> (psa_bridge::daemon::Daemon, ManualClock) {
    let clock = ManualClock::new(Utc::now());
    let loaded = psa_bridge::config::load(&env.config_path, &|_| None).unwrap();
    let listeners = psa_bridge::daemon::Listeners::bind(&loaded.config.daemon)
        .await
        .unwrap();
    let daemon = psa_bridge::daemon::start(loaded, listeners, Arc::new(clock.clone()))
        .await
        .unwrap();
    (daemon, clock)
}

/// Twelve attempts used to dead-letter an operation (about 27 minutes of
/// 5xx); now a retryable error is retried for `daemon.retry_for_hours`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_past_twelve_attempts_does_not_dead_letter() {
    let (_dir, env, daemon, clock) = slow_polling_manual_daemon().await;
    // Each scheduled attempt tries 3 times in place: 45 503s are 15 attempts.
    env.connectwise.control().fail_next_writes(&[503; 45]);
    escalate(&env);
    for failures in 1..=15u32 {
        let op = wait_for(&format!("failure {failures} to be recorded"), STEP, || {
            daemon
                .engine
                .store
                .outbox()
                .ok()?
                .into_iter()
                .find(|op| op.attempts >= failures || op.dead.is_some())
        })
        .await
        .unwrap();
        assert!(op.dead.is_none(), "dead-lettered after {failures}: {op:?}");
        assert_eq!(op.attempts, failures);
        // The schedule is capped (10 min + jitter): 11 minutes always reach the next attempt.
        clock.advance(chrono::Duration::minutes(11));
    }
    wait_for("the create after the outage", STEP, || {
        (!env.connectwise.tickets().is_empty()).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(
        ticket_posts(&env),
        46,
        "45 refused (15 attempts), then the create"
    );
    assert_eq!(env.connectwise.tickets().len(), 1);
    daemon.shutdown().await;
}

/// 429s wait out `Retry-After` but are never counted as attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_does_not_count_as_attempts() {
    let (_dir, env, daemon, clock) = slow_polling_manual_daemon().await;
    for _ in 0..14 {
        env.connectwise
            .control()
            .fail_next_write_with_retry_after(429, 5);
    }
    escalate(&env);
    // Time moves one second per check, so every Retry-After elapses without
    // racing the worker's own clock readings.
    let deadline = tokio::time::Instant::now() + STEP;
    while env.connectwise.tickets().is_empty() {
        for op in daemon.engine.store.outbox().unwrap() {
            assert_eq!(op.attempts, 0, "a 429 counted as an attempt: {op:?}");
            assert!(op.dead.is_none(), "{op:?}");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no create after {} posts",
            ticket_posts(&env)
        );
        clock.advance(chrono::Duration::seconds(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ticket_posts(&env), 15);
    daemon.shutdown().await;
}
