//! SIGHUP reloads the configuration of the running binary: a changed
//! mapping applies to the next change; an invalid file (syntax error, a
//! mapping error `check --offline` finds, an oversized file) or one that
//! changes a restart-only setting is refused with its reason in `/healthz`
//! and the audit log while the old configuration keeps working; webhooks
//! streaming in during reloads are all stored; a pairing and connection
//! added by a reload syncs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{pairing, wait_for, DemoEnv, DemoOptions, System};
use serde_json::{json, Value};

use crate::common::{env, settled, Bridge, STEP};
use crate::steps::{autotask_webhook, post_autotask_webhook};

/// The admin API with the token read at the start (the helpers of
/// [`Bridge`] read the config file, which some tests break on purpose).
struct Admin<'a> {
    bridge: &'a Bridge,
    client: reqwest::Client,
}

impl<'a> Admin<'a> {
    fn new(bridge: &'a Bridge) -> Self {
        Self {
            bridge,
            client: bridge.admin_client(),
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.bridge.admin_url(path))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    async fn health(&self) -> (u16, Value) {
        self.get("/healthz").await
    }
}

/// Sends SIGHUP and waits for the reload's outcome in `/healthz`
/// (`config.last_reload`), which it returns.
async fn reload(admin: &Admin<'_>) -> Value {
    let (_, before) = admin.health().await;
    let before = before["config"]["last_reload"]["at_unix_ms"].clone();
    hangup(admin.bridge);
    tokio::time::timeout(STEP, async {
        loop {
            let (_, health) = admin.health().await;
            let last = &health["config"]["last_reload"];
            if last.is_object() && last["at_unix_ms"] != before {
                return last.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the reload's outcome shows in /healthz")
}

fn hangup(bridge: &Bridge) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &bridge.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -HUP failed");
}

/// Audit entries of `kind` about the configuration.
async fn audited(admin: &Admin<'_>, kind: &str) -> Vec<Value> {
    let (status, entries) = admin.get("/api/v1/tickets/daemon/config/audit").await;
    assert_eq!(status, 200);
    let entries: Vec<Value> = serde_json::from_value(entries).unwrap();
    entries.into_iter().filter(|e| e["kind"] == kind).collect()
}

/// Sets the Autotask ticket's priority and waits for ConnectWise to show `expected`.
async fn priority_flows(env: &DemoEnv, story: &Story<'_>, priority: &str, expected: &str) {
    let id = story.autotask_id().to_string();
    story.internal().set_priority(&id, priority);
    let cw = story.connectwise_id().to_string();
    wait_for(&format!("ConnectWise priority {expected}"), STEP, || {
        (env.desk(System::Connectwise).ticket(&cw)?.priority == expected).then_some(())
    })
    .await
    .unwrap();
}

/// The example mapping with Critical and High swapped on the MSP side.
fn swapped_priorities() -> String {
    let mapping = psa_bridge::demo::EXAMPLE_MAPPING
        .replace(
            "{ a = \"Critical\", b = \"Priority 1 - Emergency Response\" }",
            "{ a = \"Critical\", b = \"Priority 2 - Quick Response\" }",
        )
        .replacen(
            "{ a = \"High\", b = \"Priority 2 - Quick Response\" }",
            "{ a = \"High\", b = \"Priority 1 - Emergency Response\" }",
            1,
        );
    assert_ne!(mapping, psa_bridge::demo::EXAMPLE_MAPPING);
    mapping
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_mapping_applies_to_the_next_change() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let admin = Admin::new(&bridge);
    let (_, health) = admin.health().await;
    assert!(health["config"]["loaded_unix_ms"].as_i64().unwrap() > 0);
    assert!(health["config"]["last_reload"].is_null());
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    priority_flows(&env, &story, "Critical", "Priority 1 - Emergency Response").await;

    std::fs::write(env.dir.join("mapping.toml"), swapped_priorities()).unwrap();
    let outcome = reload(&admin).await;
    assert_eq!(outcome["ok"], true, "{outcome}");
    assert!(outcome["error"].is_null());
    priority_flows(&env, &story, "Low", "Priority 4 - Schedule Maintenance").await;
    priority_flows(&env, &story, "Critical", "Priority 2 - Quick Response").await;

    let reloaded = audited(&admin, "config_reloaded").await;
    assert_eq!(reloaded.len(), 1, "{reloaded:?}");
    let digest = reloaded[0]["detail"]["digest"].as_str().unwrap();
    assert_eq!(digest.len(), 64, "a SHA-256: {digest}");
    assert!(!reloaded[0]
        .to_string()
        .contains(psa_bridge::demo::AT_SECRET));
    drop(admin);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_refused_and_the_old_configuration_keeps_working() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let admin = Admin::new(&bridge);
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let good = std::fs::read_to_string(&env.config_path).unwrap();
    let mapping = env.dir.join("mapping.toml");
    let good_mapping = std::fs::read_to_string(&mapping).unwrap();

    let mut cases: Vec<(&str, String, String, &str)> = vec![
        (
            "syntax error",
            good.replace("tick_ms = 50", "tick_ms = = 50"),
            good_mapping.clone(),
            "psa-bridge.toml:",
        ),
        (
            "mapping error check --offline finds",
            good.clone(),
            format!(
                "{good_mapping}\n[[fields]]\nname = \"priority\"\ndirection = \"both\"\nowner = \"a\"\n"
            ),
            "mapped twice",
        ),
        (
            "oversized file",
            format!("{good}\n# {}\n", "x".repeat(2 * 1024 * 1024)),
            good_mapping.clone(),
            "larger than",
        ),
        (
            "restart-only setting",
            good.replace("store_path = \"store\"", "store_path = \"elsewhere\""),
            swapped_priorities(),
            "daemon.store_path",
        ),
    ];
    let priorities = [
        ("Low", "Priority 4 - Schedule Maintenance"),
        ("Critical", "Priority 1 - Emergency Response"),
    ];
    for (case, config, mapping_text, reason) in cases.drain(..) {
        std::fs::write(&env.config_path, config).unwrap();
        std::fs::write(&mapping, mapping_text).unwrap();
        let outcome = reload(&admin).await;
        assert_eq!(outcome["ok"], false, "{case}: {outcome}");
        let error = outcome["error"].as_str().unwrap();
        assert!(error.contains(reason), "{case}: {error}");
        // The old configuration (the shipped mapping) still syncs.
        for (priority, expected) in priorities {
            priority_flows(&env, &story, priority, expected).await;
        }
    }
    let (code, health) = admin.health().await;
    assert_eq!(code, 200, "a refused reload does not fail the daemon");
    assert_eq!(health["tasks"]["planner"]["state"], "running");
    let (_, public) = bridge.health_without_token().await;
    assert_eq!(public["config"]["last_reload"]["ok"], false);
    assert!(public["config"]["last_reload"].get("error").is_none());
    let failed = audited(&admin, "config_reload_failed").await;
    assert_eq!(failed.len(), 4, "{failed:?}");
    assert!(failed[3]["detail"]["error"]
        .as_str()
        .unwrap()
        .contains("daemon.store_path"));
    drop(admin);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_arriving_during_reloads_are_all_stored() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let admin = Admin::new(&bridge);
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let ticket = story.autotask_id();
    const RELOADS: usize = 4;
    // The sender streams until every reload is done, so they overlap by
    // construction whatever the machine's speed.
    let reloading = Arc::new(AtomicBool::new(true));
    let sender = {
        let bridge_url = bridge.url("/webhooks/autotask");
        let reloading = reloading.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut refused = Vec::new();
            let mut sequence = 0;
            while reloading.load(Ordering::SeqCst) || sequence < 20 {
                sequence += 1;
                let (body, signature) =
                    autotask_webhook(ticket, json!({ "Status": "8" }), 1_000 + sequence);
                let response = client
                    .post(&bridge_url)
                    .header("content-type", "application/json")
                    .header("X-Hook-Signature", &signature)
                    .body(body)
                    .send()
                    .await
                    .expect("the listener answers");
                if response.status() != 200 {
                    refused.push((sequence, response.status().as_u16()));
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (sequence, refused)
        })
    };
    for _ in 0..RELOADS {
        assert_eq!(reload(&admin).await["ok"], true);
    }
    reloading.store(false, Ordering::SeqCst);
    let (sent, refused) = sender.await.unwrap();
    assert!(refused.is_empty(), "webhooks refused: {refused:?}");
    let entries: Vec<Value> = serde_json::from_str(
        &bridge
            .admin_get(&format!("/api/v1/tickets/autotask/{ticket}/audit"))
            .await,
    )
    .unwrap();
    for sequence in 1..=sent {
        let needle = format!(":{}:", 1_000 + sequence);
        assert!(
            entries.iter().any(|e| e["kind"] == "intake"
                && e["detail"]["dedup_key"]
                    .as_str()
                    .is_some_and(|k| k.contains(&needle))),
            "webhook {sequence} of {sent} was not stored"
        );
    }
    assert_eq!(audited(&admin, "config_reloaded").await.len(), RELOADS);
    // The daemon still syncs after the reloads.
    priority_flows(&env, &story, "Low", "Priority 4 - Schedule Maintenance").await;
    // The stored hooks are also all accepted again as replays, not lost.
    let replay = post_autotask_webhook(
        &bridge,
        &autotask_webhook(ticket, json!({ "Status": "8" }), 1_001),
    )
    .await;
    assert_eq!(replay.status(), 200);
    drop(admin);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pairing_and_connection_added_by_reload_sync() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let target = std::fs::read_to_string(&env.config_path).unwrap();
    // Start with another pairing: Jira with Autotask; no ConnectWise yet.
    let jira = pairing(System::Jira, System::Autotask).unwrap();
    env.write_config_for(&[("other", jira)], &DemoOptions::default())
        .unwrap();
    let bridge = Bridge::spawn(&env.config_path).await;
    let admin = Admin::new(&bridge);
    let (_, health) = admin.health().await;
    assert!(health["tasks"].get("delivery:connectwise").is_none());

    std::fs::write(&env.config_path, target).unwrap();
    let outcome = reload(&admin).await;
    assert_eq!(outcome["ok"], true, "{outcome}");
    let reloaded = audited(&admin, "config_reloaded").await;
    assert_eq!(reloaded[0]["detail"]["added"], json!(["connectwise"]));
    assert_eq!(reloaded[0]["detail"]["removed"], json!(["jira"]));
    assert_eq!(reloaded[0]["detail"]["pairings"], json!(["acme"]));

    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    story.msp_picks_up().await.unwrap();
    let (_, health) = admin.health().await;
    assert_eq!(health["tasks"]["delivery:connectwise"]["state"], "running");
    assert!(health["tasks"].get("delivery:jira").is_none(), "{health}");
    assert!(health["webhooks"].get("jira").is_none(), "{health}");
    assert_eq!(health["webhooks"]["connectwise"]["state"], "registered");
    drop(admin);
    bridge.stop().await;
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
    let log = std::fs::read_to_string(&bridge.log).unwrap_or_default();
    let field = format!("connection={connection}");
    log.lines()
        .map(plain)
        .filter(|l| l.contains("delivering") && l.contains(&field))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_in_flight_during_a_reload_finishes_once() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let admin = Admin::new(&bridge);
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let before = settled(&env, &bridge).await;
    let started = deliveries_started(&bridge, "connectwise");
    env.connectwise
        .control()
        .set_latency(Duration::from_millis(1500));
    let id = story.autotask_id().to_string();
    story.internal().set_priority(&id, "Critical");
    wait_for("the PATCH to ConnectWise in flight", STEP, || {
        (deliveries_started(&bridge, "connectwise") > started).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(reload(&admin).await["ok"], true);
    env.connectwise.control().set_latency(Duration::ZERO);
    let cw = story.connectwise_id().to_string();
    wait_for("the priority on ConnectWise", STEP, || {
        (env.desk(System::Connectwise).ticket(&cw)?.priority == "Priority 1 - Emergency Response")
            .then_some(())
    })
    .await
    .unwrap();
    let after = settled(&env, &bridge).await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (0, 1),
        "one PATCH, finished by the old generation, not repeated"
    );
    drop(admin);
    bridge.stop().await;
}
