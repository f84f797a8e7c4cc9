//! SIGTERM through the real binary: new webhooks get 503 while the process
//! drains, a webhook admitted before the signal still gets its 200 and is
//! stored, the process exits 0 within `daemon.shutdown_timeout_secs`, and
//! after a restart the story converges with no duplicate ticket or note. A
//! delivery stuck longer than the bound is left in the outbox and completed
//! exactly once by the next start; a second SIGTERM exits at once.

use std::time::{Duration, Instant};

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoEnv, DemoOptions};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{env, settled, Bridge, STEP};
use crate::steps::{
    audit_verifies, autotask_webhook, msp_ticket, post_autotask_webhook, wait_for_metric,
};

/// Slack on top of the configured bound when checking the exit time: the
/// test must not fail because the machine is slow, only because the daemon
/// ignored its bound by a wide margin.
const SLACK: Duration = Duration::from_secs(20);

/// Adds `settings` to `[daemon]` in the environment's config.
fn with_bound(env: &DemoEnv, settings: &str) {
    let text = std::fs::read_to_string(&env.config_path).unwrap();
    let text = text.replacen("[daemon]\n", &format!("[daemon]\n{settings}\n"), 1);
    std::fs::write(&env.config_path, text).unwrap();
}

/// A signed Autotask webhook for `ticket` whose dedup key carries `sequence`.
fn webhook(ticket: &str, sequence: u64) -> (Vec<u8>, String) {
    autotask_webhook(ticket.parse().unwrap(), json!({ "Status": "8" }), sequence)
}

/// Whether the audit log holds an intake entry whose dedup key carries `sequence`.
async fn intake_stored(bridge: &Bridge, ticket: &str, sequence: u64) -> bool {
    let entries: Vec<Value> = serde_json::from_str(
        &bridge
            .admin_get(&format!("/api/v1/tickets/autotask/{ticket}/audit"))
            .await,
    )
    .unwrap();
    let needle = format!(":{sequence}:");
    entries.iter().any(|e| {
        e["kind"] == "intake"
            && e["detail"]["dedup_key"]
                .as_str()
                .is_some_and(|k| k.contains(&needle))
    })
}

/// `text` without terminal colour codes.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Deliveries to `connection` the daemon has started, from its log.
fn deliveries_started(bridge: &Bridge, connection: &str) -> usize {
    let log = plain(&std::fs::read_to_string(&bridge.log).unwrap_or_default());
    let field = format!("connection={connection}");
    log.lines()
        .filter(|l| l.contains("delivering") && l.contains(&field))
        .count()
}

/// SIGTERM while the MSP's changes are being delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_story_answers_503_keeps_every_200_and_duplicates_nothing() {
    const BOUND: u64 = 5;
    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 1,
        ..Default::default()
    })
    .await;
    // The slow webhook below may take its time.
    with_bound(
        &env,
        &format!("shutdown_timeout_secs = {BOUND}\nwebhook_read_timeout_secs = 120"),
    );
    // Slow vendors keep deliveries in flight when the signal lands.
    env.connectwise
        .control()
        .set_latency(Duration::from_millis(300));
    env.autotask
        .control()
        .set_latency(Duration::from_millis(300));
    let mut bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let ticket = story.internal_id.clone();
    // Two ordinary webhooks, acknowledged before the signal.
    for sequence in [70_001, 70_002] {
        let hook = webhook(&ticket, sequence);
        assert_eq!(post_autotask_webhook(&bridge, &hook).await.status(), 200);
    }
    // One webhook whose body is still arriving when the signal lands. The
    // simulators stay quiet meanwhile (polling brings their changes), so
    // the in-flight gauge counts this request only.
    env.autotask.set_webhooks_enabled(false);
    env.connectwise.set_callbacks_enabled(false);
    env.wait_webhooks_idle().await;
    wait_for_gauge(&bridge, 0.0).await;
    let (body, signature) = webhook(&ticket, 70_003);
    let mut slow = tokio::net::TcpStream::connect(bridge.addr).await.unwrap();
    let head = format!(
        "POST /webhooks/autotask HTTP/1.1\r\nhost: bridge\r\ncontent-type: application/json\r\n\
         x-hook-signature: {signature}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    slow.write_all(first).await.unwrap();
    wait_for_gauge(&bridge, 1.0).await;
    let before = deliveries_started(&bridge, "autotask");

    let stopper = async {
        // The MSP's changes are being delivered to Autotask.
        wait_for("a delivery of the MSP's changes", STEP, || {
            (deliveries_started(&bridge, "autotask") > before).then_some(())
        })
        .await
        .unwrap();
        let signalled = Instant::now();
        bridge.terminate();
        // New webhooks: 503 with Retry-After, not a refused connection,
        // while the daemon waits for the admitted one.
        let refused = post_autotask_webhook(&bridge, &webhook(&ticket, 70_004)).await;
        assert_eq!(refused.status(), 503);
        assert!(refused.headers().contains_key("retry-after"));
        // The admitted webhook finishes and is acknowledged.
        slow.write_all(rest).await.unwrap();
        let mut answer = String::new();
        slow.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let status = bridge
            .exited_within(Duration::from_secs(BOUND) + SLACK)
            .await
            .expect("the daemon did not exit within its shutdown bound");
        assert!(status.success(), "exit status {status}");
        assert!(signalled.elapsed() < Duration::from_secs(BOUND) + SLACK);
        let log = std::fs::read_to_string(&bridge.log).unwrap();
        assert!(log.contains("stopped"), "no shutdown summary in the log");

        env.autotask.set_webhooks_enabled(true);
        env.connectwise.set_callbacks_enabled(true);
        Bridge::spawn(&env.config_path).await
    };
    let (played, bridge) = tokio::join!(story.msp_picks_up(), stopper);
    played.unwrap();

    // Every acknowledged webhook was stored; the refused one was not.
    for sequence in [70_001, 70_002, 70_003] {
        assert!(
            intake_stored(&bridge, &ticket, sequence).await,
            "acknowledged webhook {sequence} lost"
        );
    }
    assert!(!intake_stored(&bridge, &ticket, 70_004).await);

    story.tech_replies().await.unwrap();
    story.msp_resolves().await.unwrap();
    settled(&env, &bridge).await;
    assert_eq!(env.connectwise.tickets().len(), 1, "no duplicate ticket");
    let at_notes = env.autotask.notes(story.autotask_id());
    for needle in [
        "VPN logs",
        "expired VPN certificate",
        "Escalated to the MSP",
    ] {
        assert_eq!(
            at_notes.iter().filter(|n| n.text.contains(needle)).count(),
            1,
            "{needle} in {at_notes:?}"
        );
    }
    let cw_notes = env.connectwise.notes(story.connectwise_id());
    for needle in ["expired VPN certificate", "VPN logs"] {
        assert_eq!(
            cw_notes.iter().filter(|n| n.text.contains(needle)).count(),
            1,
            "{needle} in {cw_notes:?}"
        );
    }
    assert_eq!(
        env.autotask.ticket(story.autotask_id()).unwrap().status,
        "Complete"
    );
    assert!(
        env.connectwise
            .ticket(story.connectwise_id())
            .unwrap()
            .closed
    );
    bridge.stop().await;
    audit_verifies(&env).await;
}

/// Waits until the daemon's in-flight webhook gauge reads `value`.
async fn wait_for_gauge(bridge: &Bridge, value: f64) {
    let what = format!("read {value}");
    wait_for_metric(bridge, "psa_bridge_webhooks_in_flight", &[], &what, |v| {
        v == value
    })
    .await;
}

/// A delivery stuck far longer than the bound: the daemon exits at the
/// bound, and the next start completes the operation exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_stuck_past_the_bound_is_left_and_done_once_after_restart() {
    const BOUND: u64 = 2;
    let (_dir, env) = env(DemoOptions {
        polling: false,
        ..Default::default()
    })
    .await;
    with_bound(&env, &format!("shutdown_timeout_secs = {BOUND}"));
    let mut bridge = Bridge::spawn(&env.config_path).await;
    // ConnectWise answers nothing for 60 s: a daemon that waited for its
    // deliveries could not exit within the bound and the slack.
    env.connectwise
        .control()
        .set_latency(Duration::from_secs(60));
    let t = env.autotask.user_create_ticket(
        "Printer on fire",
        "Second floor.",
        "Level I Support",
        "High",
    );
    env.autotask.user_set_queue(t.id, "Escalate to MSP");
    wait_for("the escalation's delivery to start", STEP, || {
        let log = std::fs::read_to_string(&bridge.log).ok()?;
        log.lines()
            .any(|l| l.contains("delivering") && l.contains("connectwise"))
            .then_some(())
    })
    .await
    .unwrap();

    let signalled = Instant::now();
    bridge.terminate();
    let status = bridge
        .exited_within(Duration::from_secs(BOUND) + SLACK)
        .await
        .expect("the daemon waited for a stuck delivery beyond its bound");
    assert!(status.success(), "exit status {status}");
    let elapsed = signalled.elapsed();
    let log = std::fs::read_to_string(&bridge.log).unwrap();
    assert!(
        log.contains("stopped at the shutdown deadline") && log.contains("left in the outbox"),
        "no deadline summary in the log (exited after {elapsed:?})"
    );

    env.connectwise.control().set_latency(Duration::ZERO);
    let bridge = Bridge::spawn(&env.config_path).await;
    wait_for("the escalation after restart", STEP, || {
        msp_ticket(&env, t.id)
    })
    .await
    .unwrap();
    settled(&env, &bridge).await;
    assert_eq!(env.connectwise.tickets().len(), 1, "exactly one ticket");
    let notes = env.autotask.notes(t.id);
    assert_eq!(
        notes
            .iter()
            .filter(|n| n.text.contains("Escalated to the MSP"))
            .count(),
        1,
        "{notes:?}"
    );
    bridge.stop().await;
    audit_verifies(&env).await;
}

/// A second SIGTERM while a stuck delivery holds the shutdown up: the
/// process exits at once with 128 + 15, and the next start completes the
/// operation exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_exits_at_once() {
    let (_dir, env) = env(DemoOptions {
        polling: false,
        ..Default::default()
    })
    .await;
    // A bound no test waits for.
    with_bound(&env, "shutdown_timeout_secs = 3600");
    let mut bridge = Bridge::spawn(&env.config_path).await;
    env.connectwise
        .control()
        .set_latency(Duration::from_secs(60));
    let t = env.autotask.user_create_ticket(
        "Coffee machine leaking",
        "Kitchen.",
        "Level I Support",
        "High",
    );
    env.autotask.user_set_queue(t.id, "Escalate to MSP");
    wait_for("the escalation's delivery to start", STEP, || {
        (deliveries_started(&bridge, "connectwise") > 0).then_some(())
    })
    .await
    .unwrap();
    bridge.terminate();
    wait_for("the shutdown to begin", STEP, || {
        let log = plain(&std::fs::read_to_string(&bridge.log).ok()?);
        log.contains("letting the deliveries in flight finish")
            .then_some(())
    })
    .await
    .unwrap();
    bridge.terminate();
    let status = bridge
        .exited_within(SLACK)
        .await
        .expect("a second SIGTERM did not end the process");
    assert_eq!(status.code(), Some(143), "{status}");

    env.connectwise.control().set_latency(Duration::ZERO);
    let bridge = Bridge::spawn(&env.config_path).await;
    settled(&env, &bridge).await;
    assert_eq!(env.connectwise.tickets().len(), 1, "exactly one ticket");
    bridge.stop().await;
    audit_verifies(&env).await;
}
