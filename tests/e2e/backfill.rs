//! `psa-bridge backfill` against the simulators: tickets that met the
//! trigger before the bridge saw them are escalated (exact vendor writes),
//! a far ticket whose link was lost (store restored from a backup) is linked
//! by its marker instead of created twice, `--dry-run` writes nothing and
//! lists the same plan, a rerun is a no-op, an interrupted run run again
//! creates nothing twice, and bad input is refused clearly.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use psa_autotask::sim::SimTicket;
use psa_bridge::demo::{DemoEnv, DemoOptions};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::{cli, env, settled, text, writes, Bridge, BIN};
use crate::steps::msp_ticket;

const QUEUE: &str = "Escalate to MSP";

fn options() -> DemoOptions {
    // Webhooks only: a ticket made while they are off is never noticed,
    // like a ticket older than the bridge.
    DemoOptions {
        polling: false,
        ..DemoOptions::default()
    }
}

/// `backfill ... --json` on the demo config; (exit success, parsed document, text).
async fn backfill_json(env: &DemoEnv, dry_run: bool) -> (bool, Value, String) {
    let config = env.config_path.to_str().unwrap();
    let mut args = vec![
        "backfill",
        "--config",
        config,
        "--pairing",
        "acme",
        "--since",
        "2020-01-01",
        "--json",
    ];
    if dry_run {
        args.push("--dry-run");
    }
    let output = cli(&args).await;
    let doc = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.success(), doc, text(&output))
}

/// Each ticket number's decision in a `--json` document.
fn decisions(doc: &Value) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = doc["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["number"].as_str().unwrap().to_string(),
                t["decision"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    all.sort();
    all
}

/// Copies a stopped daemon's store directory (a "backup").
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn new_ticket(env: &DemoEnv, title: &str, queue: &str) -> SimTicket {
    env.autotask
        .user_create_ticket(title, "Needs the MSP.", queue, "Medium")
}

/// Pre-existing tickets: two that meet the trigger, one in another queue,
/// one completed in the queue, one linked already, one whose far ticket the
/// bridge created before the store was restored from an older backup.
/// Dry run lists the plan and writes nothing; the run links and escalates
/// exactly those; a rerun does nothing.
/// `psa-bridge backfill --pairing acme --since 2020-01-01` running, its
/// stdout piped (one line per ticket), to be read or killed midway.
fn spawn_backfill(env: &DemoEnv, stderr: Stdio) -> tokio::process::Child {
    tokio::process::Command::new(BIN)
        .args([
            "backfill",
            "--config",
            env.config_path.to_str().unwrap(),
            "--pairing",
            "acme",
            "--since",
            "2020-01-01",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_links_and_escalates_exactly_the_right_tickets() {
    let (_dir, env) = env(options()).await;
    let store = env.dir.join("store");
    let backup = env.dir.join("store-backup");

    // Linked the ordinary way; one escalation's writes are the unit below.
    let bridge = Bridge::spawn(&env.config_path).await;
    let linked = new_ticket(&env, "Linked already", QUEUE);
    let per_escalation = settled(&env, &bridge).await;
    assert_eq!(env.connectwise.tickets().len(), 1);
    bridge.stop().await;
    copy_dir(&store, &backup);

    // Escalated, then the store is restored from the backup: its link is lost.
    let bridge = Bridge::spawn(&env.config_path).await;
    let lost = new_ticket(&env, "Link lost", QUEUE);
    settled(&env, &bridge).await;
    let far_of_lost = env
        .connectwise
        .tickets()
        .into_iter()
        .find(|t| t.summary.contains(&lost.number))
        .unwrap();
    // Notes crossed both ways before the link was lost: adopting must not
    // mirror them (or their mirrors) again.
    env.autotask
        .user_add_note(lost.id, "Printer still jammed.", false, "tech");
    env.connectwise.user_add_note(
        far_of_lost.id,
        "Ordering a new fuser.",
        psa_connectwise::sim::SimNoteKind::Discussion,
        "jsmith",
    );
    settled(&env, &bridge).await;
    let notes = (
        env.autotask.notes(lost.id).len(),
        env.connectwise.notes(far_of_lost.id).len(),
    );
    bridge.stop().await;
    std::fs::remove_dir_all(&store).unwrap();
    copy_dir(&backup, &store);

    let bridge = Bridge::spawn(&env.config_path).await;
    env.autotask.set_webhooks_enabled(false);
    let first = new_ticket(&env, "Older than the bridge", QUEUE);
    let second = new_ticket(&env, "Also older", QUEUE);
    let other = new_ticket(&env, "Another queue", "Level I Support");
    let closed = new_ticket(&env, "Done already", QUEUE);
    env.autotask.user_set_status(closed.id, "Complete");
    env.autotask.set_webhooks_enabled(true);
    let before = settled(&env, &bridge).await;
    let verify = |out: std::process::Output| text(&out);
    let audit_before = verify(
        cli(&[
            "audit",
            "--config",
            env.config_path.to_str().unwrap(),
            "verify",
        ])
        .await,
    );

    let expected = {
        let mut e = vec![
            (linked.number.clone(), "already_linked".to_string()),
            (lost.number.clone(), "link_by_marker".into()),
            (first.number.clone(), "escalate".into()),
            (second.number.clone(), "escalate".into()),
            (other.number.clone(), "not_matched".into()),
            (closed.number.clone(), "not_matched".into()),
        ];
        e.sort();
        e
    };

    // Dry run: the plan, and nothing written anywhere.
    let (ok, plan, out) = backfill_json(&env, true).await;
    assert!(ok, "{out}");
    assert_eq!(decisions(&plan), expected, "{out}");
    let lost_line = plan["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["number"] == lost.number.as_str())
        .unwrap();
    assert_eq!(
        lost_line["far_ticket"],
        far_of_lost.id.to_string().as_str(),
        "{out}"
    );
    assert_eq!(plan["summary"]["dry_run"], true);
    assert_eq!(writes(&env), before, "a dry run wrote to a vendor");
    let audit_after_dry = verify(
        cli(&[
            "audit",
            "--config",
            env.config_path.to_str().unwrap(),
            "verify",
        ])
        .await,
    );
    assert_eq!(
        audit_after_dry, audit_before,
        "a dry run wrote to the store"
    );
    assert_eq!(env.connectwise.tickets().len(), 2);

    // The run: the same plan, done.
    let (ok, done, out) = backfill_json(&env, false).await;
    assert!(ok, "{out}");
    assert_eq!(decisions(&done), expected, "{out}");
    let s = &done["summary"];
    assert_eq!(
        [
            &s["found"],
            &s["matched"],
            &s["already_linked"],
            &s["not_matched"],
            &s["linked_by_marker"],
            &s["escalated"],
            &s["failed"]
        ],
        [6, 3, 1, 2, 1, 2, 0].map(Value::from).each_ref(),
        "{out}"
    );
    let after = settled(&env, &bridge).await;
    // Two escalations' writes exactly; the adopted far ticket costs none.
    assert_eq!(
        after,
        (
            before.0 + 2 * per_escalation.0,
            before.1 + 2 * per_escalation.1
        ),
        "per escalation {per_escalation:?}"
    );
    let far = env.connectwise.tickets();
    assert_eq!(far.len(), 4, "{far:#?}");
    assert_eq!(
        (
            env.autotask.notes(lost.id).len(),
            env.connectwise.notes(far_of_lost.id).len()
        ),
        notes,
        "notes crossed again after the adoption"
    );
    for t in [&first, &second] {
        assert_eq!(
            far.iter().filter(|f| f.summary.contains(&t.number)).count(),
            1,
            "{far:#?}"
        );
    }
    let history = crate::common::audit_history(&env, &format!("autotask:{}", lost.id)).await;
    assert!(history.contains("found by its marker"), "{history}");
    let history = crate::common::audit_history(&env, &format!("autotask:{}", first.id)).await;
    assert!(history.contains("escalated (link"), "{history}");

    // The adopted pair syncs: the MSP's status reaches the internal ticket.
    env.connectwise
        .user_set_status(far_of_lost.id, env.pairing.script.msp_in_progress);
    settled(&env, &bridge).await;
    assert_ne!(
        env.autotask.ticket(lost.id).unwrap().status,
        lost.status,
        "the adopted link does not sync"
    );

    // Again: nothing left to do.
    let before_rerun = writes(&env);
    let (ok, again, out) = backfill_json(&env, false).await;
    assert!(ok, "{out}");
    assert_eq!(again["summary"]["already_linked"], 4, "{out}");
    assert_eq!(again["summary"]["escalated"], 0, "{out}");
    assert_eq!(settled(&env, &bridge).await, before_rerun);
    assert_eq!(env.connectwise.tickets().len(), 4);
    bridge.stop().await;
}

/// Without a daemon the CLI plans itself; killed in the middle and run
/// again, then the daemon delivers: one far ticket per ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_backfill_run_again_creates_nothing_twice() {
    let (_dir, env) = env(options()).await;
    let tickets: Vec<SimTicket> = (0..6)
        .map(|i| new_ticket(&env, &format!("Old ticket {i}"), QUEUE))
        .collect();
    // Slow reads, so the kill lands in the middle of the run.
    env.autotask
        .control()
        .set_latency(Duration::from_millis(150));
    let config = env.config_path.to_str().unwrap();
    let mut child = spawn_backfill(&env, Stdio::null());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        let escalated = line.contains(": escalated");
        seen.push(line);
        if escalated {
            break;
        }
    }
    child.kill().await.unwrap();
    assert!(
        seen.iter().any(|l| l.contains(": escalated"))
            && !seen.iter().any(|l| l.starts_with("backfill of")),
        "not killed in the middle: {seen:#?}"
    );
    env.autotask.control().set_latency(Duration::ZERO);

    let output = cli(&[
        "backfill",
        "--config",
        config,
        "--pairing",
        "acme",
        "--since",
        "2020-01-01",
    ])
    .await;
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("failed 0"), "{out}");
    assert!(
        !out.contains("already linked 0,"),
        "the killed run linked nothing: {out}"
    );

    let bridge = Bridge::spawn(&env.config_path).await;
    settled(&env, &bridge).await;
    let far = env.connectwise.tickets();
    assert_eq!(far.len(), tickets.len(), "{far:#?}");
    for t in &tickets {
        assert_eq!(
            far.iter().filter(|f| f.summary.contains(&t.number)).count(),
            1,
            "{far:#?}"
        );
    }
    bridge.stop().await;
}

/// A bad `--since`, an unknown pairing, a refused listing, a forged
/// write-back marker naming a far ticket linked elsewhere: clear errors,
/// nothing written; the API answers 400/404/401 the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_a_refused_listing_fail_cleanly() {
    let (_dir, env) = env(options()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    env.autotask.set_webhooks_enabled(false);
    new_ticket(&env, "Old ticket", QUEUE);
    let before = settled(&env, &bridge).await;
    let config = env.config_path.to_str().unwrap();

    let output = cli(&[
        "backfill",
        "--config",
        config,
        "--pairing",
        "acme",
        "--since",
        "last week",
    ])
    .await;
    let out = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}");
    assert!(
        out.contains("RFC 3339") && out.contains("YYYY-MM-DD"),
        "{out}"
    );

    let output = cli(&[
        "backfill",
        "--config",
        config,
        "--pairing",
        "nope",
        "--since",
        "2020-01-01",
    ])
    .await;
    let out = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}");
    assert!(
        out.contains("\"nope\"") && out.contains("configured pairings: acme"),
        "{out}"
    );

    let client = bridge.admin_client();
    let url = bridge.admin_url("/api/v1/backfill");
    let post = |body: Value| client.post(&url).json(&body).send();
    let answer = post(serde_json::json!({"pairing": "acme", "since": "soon"}))
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(answer.text().await.unwrap().contains("YYYY-MM-DD"));
    let answer = post(serde_json::json!({"pairing": "nope", "since": "2020-01-01"}))
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    assert!(answer
        .text()
        .await
        .unwrap()
        .contains("configured pairings: acme"));
    let answer = reqwest::Client::new()
        .post(&url)
        .json(&serde_json::json!({"pairing": "acme", "since": "2020-01-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);

    // The trigger side refuses the listing: the run fails, naming it.
    env.autotask.control().fail_next_reads(&[400]);
    let output = cli(&[
        "backfill",
        "--config",
        config,
        "--pairing",
        "acme",
        "--since",
        "2020-01-01",
    ])
    .await;
    let out = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}");
    assert!(out.contains("listing autotask"), "{out}");
    assert_eq!(settled(&env, &bridge).await, before);
    assert!(env.connectwise.tickets().is_empty());

    // A person's note copying the write-back trailer of a far ticket that
    // is linked to another ticket: a current link's marker names its source
    // ticket, not a link id, so the copy points nowhere. The ticket is
    // escalated to a far ticket of its own (dry run first), and the other
    // link's far ticket is left alone.
    env.autotask.set_webhooks_enabled(true);
    let linked = new_ticket(&env, "Linked", QUEUE);
    settled(&env, &bridge).await;
    let far = env.connectwise.tickets();
    assert_eq!(far.len(), 1);
    env.autotask.set_webhooks_enabled(false);
    let forged = new_ticket(&env, "Forged", QUEUE);
    env.autotask.user_add_note(
        forged.id,
        &format!(
            "Escalated.\n[psa-bridge:{}:writeback]",
            far[0].external_xref
        ),
        true,
        "mallory",
    );
    env.autotask.set_webhooks_enabled(true);
    for (dry_run, decision) in [(true, "escalate"), (false, "escalate")] {
        let (ok, doc, out) = backfill_json(&env, dry_run).await;
        assert!(ok, "{out}");
        let line = doc["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["number"] == forged.number.as_str())
            .unwrap();
        assert_eq!(line["decision"], decision, "{out}");
        assert_eq!(doc["summary"]["linked_by_marker"], 0, "{out}");
    }
    settled(&env, &bridge).await;
    // The old ticket and the forged one each have their own far ticket; the
    // linked pair kept its far ticket.
    let tickets = env.connectwise.tickets();
    assert_eq!(tickets.len(), 3);
    assert_eq!(
        msp_ticket(&env, linked.id),
        Some(far[0].id),
        "the other link keeps its far ticket"
    );
    assert_ne!(msp_ticket(&env, forged.id), Some(far[0].id));
    let _ = linked;
    bridge.stop().await;
}

/// The daemon does the work while it runs; SIGKILLed in the middle of a
/// backfill, started again and the backfill run again: one far ticket per
/// ticket, and the CLI said the first run was cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_mid_backfill_then_run_again_creates_nothing_twice() {
    let (_dir, env) = env(options()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    env.autotask.set_webhooks_enabled(false);
    let tickets: Vec<SimTicket> = (0..6)
        .map(|i| new_ticket(&env, &format!("Old ticket {i}"), QUEUE))
        .collect();
    env.autotask.set_webhooks_enabled(true);
    env.autotask
        .control()
        .set_latency(Duration::from_millis(150));
    let config = env.config_path.to_str().unwrap();
    let mut child = spawn_backfill(&env, Stdio::piped());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains(": escalated") {
            break;
        }
    }
    bridge.kill().await;
    let cut = child.wait_with_output().await.unwrap();
    let out = text(&cut);
    assert!(!cut.status.success(), "{out}");
    assert!(out.contains("run the backfill again"), "{out}");
    env.autotask.control().set_latency(Duration::ZERO);

    let bridge = Bridge::spawn(&env.config_path).await;
    let output = cli(&[
        "backfill",
        "--config",
        config,
        "--pairing",
        "acme",
        "--since",
        "2020-01-01",
    ])
    .await;
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("failed 0") && !out.contains("already linked 0,"),
        "{out}"
    );
    settled(&env, &bridge).await;
    let far = env.connectwise.tickets();
    assert_eq!(far.len(), tickets.len(), "{far:#?}");
    for t in &tickets {
        assert_eq!(
            far.iter().filter(|f| f.summary.contains(&t.number)).count(),
            1,
            "{far:#?}"
        );
    }
    bridge.stop().await;
}
