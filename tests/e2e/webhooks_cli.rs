//! `psa-bridge webhooks register|status|remove --connection X` against the
//! simulators, without a daemon: registering twice leaves one webhook per
//! kind, status shows it active, Autotask deactivating it after failed
//! deliveries shows as inactive (exit 1) until `register` repairs it,
//! `remove` deletes it; bad connections and vendor errors have their own
//! exit codes; ServiceNow says how to check by hand.

use psa_bridge::demo::{DemoOptions, System};
use serde_json::Value;

use crate::common::{cli, env, text};

/// Nothing listens here: every delivery to it fails.
const PUBLIC_URL: &str = "http://127.0.0.1:9";

fn with_public_url(config: &std::path::Path) -> String {
    let original = std::fs::read_to_string(config).unwrap();
    std::fs::write(
        config,
        original.replacen(
            "[daemon]\n",
            &format!("[daemon]\npublic_url = \"{PUBLIC_URL}\"\n"),
            1,
        ),
    )
    .unwrap();
    config.to_str().unwrap().to_string()
}

async fn webhooks(config: &str, action: &str, connection: &str) -> (Option<i32>, Value) {
    let out = cli(&[
        "webhooks",
        action,
        "--connection",
        connection,
        "-c",
        config,
        "--json",
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{action}: not JSON ({e}): {}", text(&out)));
    (out.status.code(), json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_status_deactivation_and_removal_from_the_cli() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let config = with_public_url(&env.config_path);
    let url = format!("{PUBLIC_URL}/webhooks/autotask");

    let (code, before) = webhooks(&config, "status", "autotask").await;
    assert_eq!(code, Some(1), "not registered yet: {before}");

    for _ in 0..2 {
        let (code, out) = webhooks(&config, "register", "autotask").await;
        assert_eq!(code, Some(0), "{out}");
    }
    let hooks = env.autotask.webhooks();
    assert_eq!(hooks.len(), 2, "one ticket and one note webhook: {hooks:?}");
    assert!(hooks.iter().all(|h| h.url == url && h.active));

    let (code, status) = webhooks(&config, "status", "autotask").await;
    assert_eq!(code, Some(0), "{status}");
    assert_eq!(status["status"]["hooks"].as_array().unwrap().len(), 2);
    assert_eq!(status["status"]["hooks"][0]["active"], true);
    assert_eq!(status["budget"]["threshold"], 10_000, "{status}");
    assert_eq!(status["budget"]["state"], "ok");

    // Every delivery fails; Autotask deactivates the webhook (after 25 in
    // a row; 3 here to keep the test short).
    env.autotask.set_webhook_failure_limit(3);
    let t = env
        .autotask
        .user_create_ticket("VPN down", "d", "Level I Support", "Medium");
    for title in ["VPN down!", "VPN down!!"] {
        env.autotask.user_set_text(t.id, title, "d");
        env.autotask.wait_webhooks_idle().await;
    }
    let (code, status) = webhooks(&config, "status", "autotask").await;
    assert_eq!(code, Some(1), "{status}");
    assert_eq!(status["status"]["hooks"][0]["active"], false, "{status}");
    assert!(status["status"]["problems"][0]
        .as_str()
        .unwrap()
        .contains("inactive"));

    let (code, out) = webhooks(&config, "register", "autotask").await;
    assert_eq!(code, Some(0), "{out}");
    assert!(env.autotask.webhooks().iter().all(|h| h.active));

    let (code, out) = webhooks(&config, "remove", "autotask").await;
    assert_eq!((code, &out["removed"]), (Some(0), &Value::from(2)), "{out}");
    assert!(env.autotask.webhooks().is_empty());
    let (code, _) = webhooks(&config, "status", "autotask").await;
    assert_eq!(code, Some(1));

    // ConnectWise's callback the same way.
    webhooks(&config, "register", "connectwise").await;
    let (code, out) = webhooks(&config, "register", "connectwise").await;
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(env.connectwise.callbacks().len(), 1);
    env.connectwise.deactivate_callbacks();
    let (code, out) = webhooks(&config, "status", "connectwise").await;
    assert_eq!(code, Some(1), "{out}");
    webhooks(&config, "register", "connectwise").await;
    assert!(env.connectwise.callbacks()[0].1);

    // Human output names the state.
    let out = cli(&[
        "webhooks",
        "status",
        "--connection",
        "connectwise",
        "-c",
        &config,
    ])
    .await;
    assert!(
        text(&out).contains("registered and active"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_their_exit_codes() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let plain = env.config_path.to_str().unwrap().to_string();
    // The demo listens on port 0 and has no public_url: the URL is unknown.
    let (code, out) = webhooks(&plain, "status", "autotask").await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out["error"].as_str().unwrap().contains("public_url"),
        "{out}"
    );
    let config = with_public_url(&env.config_path);
    let (code, out) = webhooks(&config, "status", "nope").await;
    assert_eq!(code, Some(2), "{out}");
    // The vendor refuses: exit 5 with its message.
    env.autotask.control().set_error_rate(1.0);
    let (code, out) = webhooks(&config, "status", "autotask").await;
    assert_eq!(code, Some(5), "{out}");
    assert!(out["error"].as_str().unwrap().contains("HTTP 50"), "{out}");
    let help = cli(&["webhooks", "--help"]).await;
    assert!(text(&help).contains("Exit codes"), "{}", text(&help));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_says_how_to_check_by_hand() {
    let (_dir, env) = env(DemoOptions {
        internal: System::Servicenow,
        ..Default::default()
    })
    .await;
    let config = with_public_url(&env.config_path);
    let (code, out) = webhooks(&config, "status", System::Servicenow.connection()).await;
    assert_eq!(code, Some(6), "{out}");
    assert!(
        out["status"]["note"]
            .as_str()
            .unwrap()
            .contains("Business Rules"),
        "{out}"
    );
}
