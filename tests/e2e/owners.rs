//! Owners and categories through the daemon: a category set on Autotask
//! arrives mapped on ConnectWise, the MSP's owner set on ConnectWise
//! arrives on Autotask (matched by e-mail), and the audit trail records
//! who held each side (`custody`).

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoOptions, EXAMPLE_MAPPING};

use crate::common::{audit_history, env, Bridge, STEP};

const OWNERS: &str = r#"
[owners]
sync = "person"
direction = "b_to_a"

[categories]
direction = "a_to_b"
values = [
  { a = { category = "Hardware", subcategory = "Printer" }, b = { category = "Incident", subcategory = "Hardware", item = "Printer" } },
]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_and_category_cross_and_custody_is_audited() {
    let options = DemoOptions {
        mapping: Some(format!("{EXAMPLE_MAPPING}\n{OWNERS}")),
        ..DemoOptions::default()
    };
    let (_dir, env) = env(options).await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    let (at_id, cw_id) = (story.autotask_id(), story.connectwise_id());

    env.autotask.user_set_category(at_id, "Hardware", "Printer");
    wait_for("ConnectWise to get the mapped category", STEP, || {
        let t = env.connectwise.ticket(cw_id)?;
        (t.kind == "Incident" && t.sub_kind == "Hardware" && t.item == "Printer").then_some(())
    })
    .await
    .unwrap();

    env.connectwise.user_set_owner(cw_id, Some("ssupervisor"));
    wait_for("Autotask to get the MSP's owner", STEP, || {
        let t = env.autotask.ticket(at_id)?;
        (t.assignee.as_deref() == Some("sam.supervisor@northwind-msp.example")).then_some(())
    })
    .await
    .unwrap();

    // The echo of the write is read too: both sides' holders are recorded.
    let ticket = format!("autotask:{}", story.internal_number);
    let deadline = tokio::time::Instant::now() + STEP;
    let history = loop {
        let history = audit_history(&env, &ticket).await;
        let both = history.contains("side b held by Sam Supervisor")
            && history.contains("side a held by Sam Supervisor");
        if both || tokio::time::Instant::now() > deadline {
            break history;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(
        history.contains("side a held by nobody (Escalate to MSP)"),
        "{history}"
    );
    assert!(
        history.contains("side b held by Sam Supervisor (Co-Managed)"),
        "{history}"
    );
    assert!(
        history.contains("side a held by Sam Supervisor"),
        "{history}"
    );
    bridge.stop().await;
}

/// `check` asks both simulators for group and category labels: the example
/// mapping's owners section passes, a category the vendor lacks is named
/// with the valid ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_category_labels_the_vendor_lacks() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let config = env.config_path.to_str().unwrap().to_string();
    let good = format!("{EXAMPLE_MAPPING}\n{OWNERS}");
    std::fs::write(env.dir.join("mapping.toml"), &good).unwrap();
    let ok = crate::common::cli(&["check", "--config", &config]).await;
    let out = crate::common::text(&ok);
    assert!(ok.status.success(), "{out}");
    // Autotask's categories flow (a_to_b); two of its three have no pair.
    assert!(
        out.contains(
            "warning: pairing acme: side a (autotask) has categories no [categories] pair maps"
        ) && out.contains("unmapped_category: Software, Network"),
        "{out}"
    );

    let bad = good.replace("subcategory = \"Printer\"", "subcategory = \"Printr\"");
    std::fs::write(env.dir.join("mapping.toml"), &bad).unwrap();
    let refused = crate::common::cli(&["check", "--config", &config]).await;
    let out = crate::common::text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{out}");
    assert!(out.contains("categories.values[0].a.subcategory"), "{out}");
    assert!(
        out.contains("side a has no subcategory \"Printr\"; it has: Laptop, Printer"),
        "{out}"
    );
}
