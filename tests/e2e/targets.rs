//! Response targets through the daemon: an escalation nobody answers
//! breaches a 24/7 first-response target of a few seconds. The monitor
//! records one near-breach and one breach (audit entries, metrics) and puts
//! an internal note on both tickets. Timing-free: the test waits for the
//! notes (generous timeouts); the exact timestamps are covered on a manual
//! clock in `src/accountability/monitor_tests.rs`.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoOptions};

use crate::common::{env, Bridge, STEP};

const TARGETS: &str = r#"
[targets]
note = true

[[targets.priority]]
label = "*"
first_response = "4s"
resolution = "1h"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_escalation_breaches_once_with_notes_on_both_sides() {
    let mapping = format!(
        "{}\n{TARGETS}",
        include_str!("../../mappings/autotask-to-connectwise.toml")
    );
    let (_dir, env) = env(DemoOptions {
        mapping: Some(mapping),
        ..DemoOptions::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let (at_id, cw_id) = (story.autotask_id(), story.connectwise_id());

    let breach_note = "first_response target breached";
    wait_for("the breach note on both tickets", STEP, || {
        let on_cw = env
            .connectwise
            .notes(cw_id)
            .iter()
            .any(|n| n.text.contains(breach_note) && n.internal);
        let on_at = env
            .autotask
            .notes(at_id)
            .iter()
            .any(|n| n.text.contains(breach_note));
        (on_cw && on_at).then_some(())
    })
    .await
    .unwrap();
    let metrics = bridge.admin_get("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("psa_bridge_target_breaches_total")
                && l.contains("target=\"first_response\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );
    bridge.stop().await;

    let store = psa_bridge::store::Store::open(&env.dir.join("store")).unwrap();
    let audit = store.audit_entries().unwrap();
    let count = |kind: &str| audit.iter().filter(|e| e.kind == kind).count();
    assert_eq!(
        (count("target_near_breach"), count("target_breached")),
        (1, 1),
        "{audit:#?}"
    );
    let breach = audit.iter().find(|e| e.kind == "target_breached").unwrap();
    assert_eq!(breach.detail["target"], "first_response");
    assert_eq!(breach.detail["target_secs"], 4);
    // Each note is posted once on each side and not mirrored across.
    let notes_cw = env
        .connectwise
        .notes(cw_id)
        .iter()
        .filter(|n| n.text.contains("target"))
        .count();
    let notes_at = env
        .autotask
        .notes(at_id)
        .iter()
        .filter(|n| n.text.contains("target"))
        .count();
    assert_eq!((notes_cw, notes_at), (2, 2));
}
