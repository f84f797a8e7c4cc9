//! No credential ever leaves the configuration: the story plus a dead letter
//! with note content, with the daemon and the CLI logging at trace level,
//! then every secret (Autotask username, secret, integration code, webhook
//! secret; ConnectWise public and private key, client id, the base64 basic
//! authorisation value; the admin token) is searched for in the logs, every
//! admin API answer, every CLI output and every file of the store.

use psa_bridge::demo::story::Story;
use psa_bridge::demo::{wait_for, DemoOptions, AT_CODE, AT_SECRET, AT_USER, AT_WEBHOOK_SECRET};
use psa_connectwise::sim::ConnectWiseSimOptions;

use crate::common::{cli_with_env, env, text, Bridge, STEP};

const TRACE: &[(&str, &str)] = &[("RUST_LOG", "trace")];

/// Every file under `dir`, recursively, as (path, lossy text).
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

/// Standard base64 with padding (written out here so the test does not
/// reuse the connector's own encoding).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_api_cli_or_store() {
    let (_dir, env) = env(DemoOptions::default()).await;
    let config = env.config_path.to_str().unwrap().to_string();
    // Autotask is down at start-up: zone discovery and registration errors
    // land in the logs and in /healthz.
    env.autotask.control().set_error_rate(1.0);
    let bridge = Bridge::spawn_with_env(&env.config_path, TRACE).await;
    let mut seen: Vec<(String, String)> = Vec::new();
    let deadline = tokio::time::Instant::now() + STEP;
    let health = loop {
        let (_, health) = bridge.health().await;
        if health["webhooks"]["autotask"]["state"] == "retrying" {
            break health;
        }
        assert!(tokio::time::Instant::now() < deadline, "{health}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    seen.push((
        "admin /healthz while Autotask is down".into(),
        health.to_string(),
    ));
    env.autotask.control().set_error_rate(0.0);
    let deadline = tokio::time::Instant::now() + STEP;
    while bridge.health().await.1["webhooks"]["autotask"]["state"] != "registered" {
        assert!(tokio::time::Instant::now() < deadline, "never registered");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut story = Story::new(&env, STEP, false);
    story.escalate().await.unwrap();
    story.msp_picks_up().await.unwrap();
    story.tech_replies().await.unwrap();

    // A dead letter carrying a note's text.
    env.connectwise.control().fail_next_writes(&[400]);
    let content = "Replaced the branch router, serial RX-4471";
    env.autotask
        .user_add_note(story.autotask_id(), content, false, "Tina Tech");
    wait_for("a dead letter", STEP, || {
        let out = std::process::Command::new(crate::common::BIN)
            .args(["outbox", "dead", "--config", &config])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .contains("DEAD")
            .then_some(())
    })
    .await
    .unwrap();

    let number = &story.internal_number;
    let cw_ticket = format!("connectwise:{}", story.connectwise_id());
    let at_ticket = format!("autotask:{number}");
    for path in [
        "/admin/outbox".to_string(),
        "/admin/audit/verify".to_string(),
        format!("/admin/audit?ticket={at_ticket}"),
        format!("/admin/audit?ticket={cw_ticket}"),
        "/metrics".to_string(),
        "/healthz".to_string(),
    ] {
        seen.push((format!("admin {path}"), bridge.admin_get(&path).await));
    }
    let outbox = &seen
        .iter()
        .find(|(what, _)| what == "admin /admin/outbox")
        .unwrap()
        .1;
    assert!(
        outbox.contains(content),
        "the dead letter listing carries the note: {outbox}"
    );
    let public = reqwest::get(bridge.url("/healthz")).await.unwrap();
    seen.push(("public /healthz".into(), public.text().await.unwrap()));
    // The CLI, through the running daemon's admin API, logging at trace.
    let commands: [&[&str]; 5] = [
        &["outbox", "list"],
        &["outbox", "dead"],
        &["audit", "--ticket", &at_ticket],
        &["audit", "--ticket", &cw_ticket],
        &["audit", "verify"],
    ];
    for args in commands {
        let mut full = args.to_vec();
        full.extend(["--config", &config]);
        let out = cli_with_env(&full, TRACE).await;
        assert!(out.status.success(), "{full:?}: {}", text(&out));
        seen.push((format!("cli {args:?}"), text(&out)));
    }
    let dead = &seen
        .iter()
        .find(|(what, _)| what.contains("\"dead\""))
        .unwrap()
        .1;
    assert!(dead.contains("DEAD (400)"), "{dead}");
    let token = bridge.admin_token();
    bridge.stop().await;

    // Logs (daemon at trace) and every file of the store.
    let mut logs = 0;
    for (path, body) in files(&env.dir) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".log") {
            assert!(body.contains("TRACE"), "{name} was written at trace level");
            logs += 1;
            seen.push((name, body));
        } else if path.starts_with(env.dir.join("store")) {
            seen.push((path.display().to_string(), body));
        }
    }
    assert!(logs >= 1);
    assert!(
        seen.iter()
            .any(|(what, body)| what.contains("store") && body.contains(content)),
        "the store files were read (they hold the note)"
    );

    let cw = ConnectWiseSimOptions::default();
    let basic =
        base64(format!("{}+{}:{}", cw.company_id, cw.public_key, cw.private_key).as_bytes());
    assert_eq!(base64(b"Ma"), "TWE=", "the test's own encoder");
    let secrets = [
        ("Autotask username", AT_USER),
        ("Autotask secret", AT_SECRET),
        ("Autotask integration code", AT_CODE),
        ("Autotask webhook secret", AT_WEBHOOK_SECRET),
        ("ConnectWise public key", cw.public_key.as_str()),
        ("ConnectWise private key", cw.private_key.as_str()),
        ("ConnectWise client id", cw.client_id.as_str()),
        ("ConnectWise basic authorisation", basic.as_str()),
        ("admin token", token.as_str()),
    ];
    // Also as they would appear in a URL (e.g. a query string in an error).
    let encoded: Vec<(String, String)> = secrets
        .iter()
        .map(|(name, secret)| {
            (
                format!("{name} (URL-encoded)"),
                url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
            )
        })
        .filter(|(_, e)| !secrets.iter().any(|(_, s)| s == e))
        .collect();
    let all: Vec<(&str, &str)> = secrets
        .iter()
        .copied()
        .chain(encoded.iter().map(|(n, e)| (n.as_str(), e.as_str())))
        .collect();
    let mut leaks = Vec::new();
    for (what, body) in &seen {
        for &(name, secret) in &all {
            if let Some(at) = body.find(secret) {
                let from = body[..at]
                    .char_indices()
                    .rev()
                    .nth(150)
                    .map_or(0, |(i, _)| i);
                let to = (at + secret.len() + 100).min(body.len());
                let to = (to..=body.len())
                    .find(|i| body.is_char_boundary(*i))
                    .unwrap();
                leaks.push(format!("{name} in {what}: …{}…", &body[from..to]));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}
