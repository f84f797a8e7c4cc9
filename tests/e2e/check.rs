//! `psa-bridge check`: unknown keys, missing secrets and labels the vendor
//! does not have are refused with file, line and field.

use psa_bridge::demo::{DemoOptions, System, EXAMPLE_MAPPING, SERVICENOW_MAPPING};

use crate::common::{cli, env, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_accepts_the_demo_config_and_names_bad_labels() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let config = env.config_path.to_str().unwrap().to_string();
    let ok = cli(&["check", "--config", &config]).await;
    assert!(ok.status.success(), "{}", text(&ok));

    let bad = EXAMPLE_MAPPING.replace(
        "{ a = \"In Progress\", b = \"In Progress\" }",
        "{ a = \"In Progress\", b = \"Working On It\" }",
    );
    std::fs::write(env.dir.join("mapping.toml"), &bad).unwrap();
    let refused = cli(&["check", "--config", &config]).await;
    let out = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{out}");
    let line = bad
        .lines()
        .position(|l| l.contains("Working On It"))
        .unwrap()
        + 1;
    assert!(
        out.contains(&format!("mapping.toml:{line}: fields[1].values[1].b")),
        "{out}"
    );
    assert!(out.contains("no status \"Working On It\""), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_refuses_unknown_keys_and_missing_secrets() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let original = std::fs::read_to_string(&env.config_path).unwrap();
    let config = env.config_path.to_str().unwrap().to_string();

    std::fs::write(
        &env.config_path,
        original.replace("tick_ms = 50", "tick_ms = 50\nlisten_adress = \"x\""),
    )
    .unwrap();
    let out = text(&cli(&["check", "--config", &config, "--offline"]).await);
    assert!(
        out.contains("psa-bridge.toml:")
            && out.contains("daemon.listen_adress")
            && out.contains("unknown field"),
        "{out}"
    );

    std::fs::write(
        &env.config_path,
        original.replace(
            "secret = \"demo-secret\"",
            "secret = \"${PSA_TEST_UNSET_SECRET}\"",
        ),
    )
    .unwrap();
    let refused = cli(&["check", "--config", &config]).await;
    let out = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{out}");
    assert!(
        out.contains("connections.autotask.autotask.secret")
            && out.contains("PSA_TEST_UNSET_SECRET is not set"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_asks_servicenow_for_its_labels() {
    let (_dir, env) = env(DemoOptions {
        internal: System::Servicenow,
        ..Default::default()
    })
    .await;
    let config = env.config_path.to_str().unwrap().to_string();
    let ok = cli(&["check", "--config", &config]).await;
    assert!(ok.status.success(), "{}", text(&ok));

    // A state the instance does not have, and an assignment group it does not have.
    let bad = SERVICENOW_MAPPING
        .replace(
            "{ a = \"In Progress\", b = \"In Progress\" }",
            "{ a = \"Work In Progress\", b = \"In Progress\" }",
        )
        .replace("queue = \"MSP Escalation\"", "queue = \"MSP Escalations\"");
    std::fs::write(env.dir.join("mapping.toml"), &bad).unwrap();
    let refused = cli(&["check", "--config", &config]).await;
    let out = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{out}");
    assert!(out.contains("no status \"Work In Progress\""), "{out}");
    assert!(out.contains("In Progress"), "lists the valid states: {out}");
    assert!(out.contains("\"MSP Escalations\""), "{out}");
    assert!(
        out.contains("Service Desk"),
        "lists the valid groups: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_asks_jira_and_autotask_for_their_labels() {
    let (_dir, env) = env(DemoOptions {
        internal: System::Jira,
        msp: System::Autotask,
        ..Default::default()
    })
    .await;
    let config = env.config_path.to_str().unwrap().to_string();
    let ok = cli(&["check", "--config", &config]).await;
    assert!(ok.status.success(), "{}", text(&ok));
    let bad =
        psa_bridge::demo::JIRA_MAPPING.replace("status = \"Escalated\"", "status = \"Escalate\"");
    std::fs::write(env.dir.join("mapping.toml"), &bad).unwrap();
    let refused = cli(&["check", "--config", &config]).await;
    let out = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{out}");
    assert!(
        out.contains("trigger.status") && out.contains("\"Escalate\""),
        "{out}"
    );
    assert!(
        out.contains("Waiting for customer"),
        "lists the workflow's statuses: {out}"
    );
}
