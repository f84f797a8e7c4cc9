//! The audit trail: one ticket's history across both sides, and tamper evidence.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::DemoOptions;

use crate::common::{cli, env, text, Bridge, STEP};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_history_and_tamper_detection() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let config = env.config_path.to_str().unwrap().to_string();
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    story.msp_picks_up().await.unwrap();
    bridge.stop().await;

    let out =
        crate::common::audit_history(&env, &format!("autotask:{}", story.internal_number)).await;
    for expected in [
        "intake",
        "escalated",
        "delivered",
        "created ticket",
        "note_planned",
    ] {
        assert!(out.contains(expected), "history lacks {expected}: {out}");
    }
    // Events of both tickets, each found through either side's key.
    let at_intake = format!("autotask ticket {} changed", story.autotask_id());
    let cw_intake = format!("connectwise ticket {} changed", story.connectwise_id());
    assert!(out.contains(&at_intake), "lacks {at_intake:?}: {out}");
    assert!(out.contains(&cw_intake), "lacks {cw_intake:?}: {out}");
    let from_cw =
        crate::common::audit_history(&env, &format!("connectwise:{}", story.connectwise_id()))
            .await;
    for expected in ["escalated", at_intake.as_str(), cw_intake.as_str()] {
        assert!(
            from_cw.contains(expected),
            "the ConnectWise key's history lacks {expected:?}: {from_cw}"
        );
    }

    let verify = cli(&["audit", "verify", "--config", &config]).await;
    assert!(verify.status.success(), "{}", text(&verify));
    let verdict = text(&verify);
    assert!(verdict.contains("intact"), "{verdict}");
    let head = verdict
        .split("head sha256 ")
        .nth(1)
        .map(str::trim)
        .unwrap_or_default();
    assert_eq!(head.len(), 64, "prints the chain head: {verdict}");

    // Alter one stored entry's words, keeping its JSON valid.
    let store = psa_bridge::store::Store::open(&env.dir.join("store")).unwrap();
    let tree = store.raw_audit_tree();
    let (key, value) = tree.iter().nth(4).unwrap().unwrap();
    let seq = u64::from_be_bytes(key.as_ref().try_into().unwrap());
    let mut entry: serde_json::Value = serde_json::from_slice(&value).unwrap();
    entry["message"] = serde_json::Value::String("nothing to see here".into());
    tree.insert(key, serde_json::to_vec(&entry).unwrap())
        .unwrap();
    tree.flush().unwrap();
    drop(store);

    let verify = cli(&["audit", "verify", "--config", &config]).await;
    let out = text(&verify);
    assert_eq!(verify.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("entry #{seq}")),
        "names the entry: {out}"
    );
}
