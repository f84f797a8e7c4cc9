//! The OpenAPI document the daemon serves (open, no token) validates as
//! OpenAPI 3.1, and the daemon's real answers (status, connections,
//! pairings, links, outbox, notices, activity, a ticket's audit, verify,
//! and error answers) validate against its schemas. Both checks run in
//! `api_openapi.py` with `openapi-spec-validator` and `jsonschema` from the
//! virtualenv `scripts/openapi-tools.sh` makes; skipped only when `python3`
//! is missing.

use std::path::PathBuf;
use std::process::Command;

use psa_bridge::demo::DemoOptions;
use serde_json::{json, Value};

use crate::api_steps::{escalate, get, post, wait_get};
use crate::common::{env, settled, Bridge};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One answer to check: method, route template, status, body.
fn sample(method: &str, route: &str, (status, body): (u16, Value)) -> Value {
    json!({ "method": method, "route": route, "status": status, "body": body })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_validates_and_so_do_the_answers() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED the_document_validates_and_so_do_the_answers: python3 is not installed");
        return;
    }
    // Webhooks only: a poll's read would take the injected 403 below.
    let (_dir, env) = env(DemoOptions {
        polling: false,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;

    // Served without a token, exactly the compiled-in document.
    let served = reqwest::get(bridge.admin_url("/api/v1/openapi.json"))
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert!(served.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let document: Value = served.json().await.unwrap();
    let compiled: Value = serde_json::from_str(psa_bridge::admin::openapi::DOCUMENT).unwrap();
    assert_eq!(document, compiled);

    // Data in every listing: a link, a dead letter with one op behind it,
    // a dead notice.
    let (at, _, _) = escalate(&env, "Projector broken").await;
    settled(&env, &bridge).await;
    env.connectwise.control().fail_next_writes(&[400]);
    env.autotask.user_set_priority(at, "Critical");
    let dead = wait_get(
        &bridge,
        "/api/v1/outbox?state=dead",
        "a dead letter",
        |page| page["items"].as_array()?.first().cloned(),
    )
    .await;
    let dead_id = dead["id"].as_str().unwrap().to_string();
    let (other, _, _) = escalate(&env, "Beamer broken").await;
    // The write-back's reads must not take the injected 403.
    settled(&env, &bridge).await;
    env.autotask.control().fail_next_reads(&[403]);
    env.autotask.user_set_priority(other, "Critical");
    wait_get(&bridge, "/api/v1/notices/dead", "a dead notice", |list| {
        list.as_array()?.first().cloned()
    })
    .await;

    let mut samples = Vec::new();
    for (route, path) in [
        ("/api/v1/status", "/api/v1/status".to_string()),
        ("/api/v1/connections", "/api/v1/connections".to_string()),
        ("/api/v1/pairings", "/api/v1/pairings".to_string()),
        (
            "/api/v1/pairings/{name}/escalations",
            "/api/v1/pairings/acme/escalations".to_string(),
        ),
        (
            "/api/v1/pairings/{name}/escalations",
            "/api/v1/pairings/nope/escalations".to_string(),
        ),
        ("/api/v1/links", "/api/v1/links?limit=1".to_string()),
        ("/api/v1/links", "/api/v1/links?limit=0".to_string()),
        ("/api/v1/links", "/api/v1/links?pairing=nope".to_string()),
        ("/api/v1/outbox", "/api/v1/outbox".to_string()),
        (
            "/api/v1/outbox",
            "/api/v1/outbox?state=dead&limit=1".to_string(),
        ),
        ("/api/v1/notices/dead", "/api/v1/notices/dead".to_string()),
        ("/api/v1/activity", "/api/v1/activity?limit=3".to_string()),
        (
            "/api/v1/tickets/{connection}/{ticket}/audit",
            format!("/api/v1/tickets/autotask/{at}/audit"),
        ),
        (
            "/api/v1/tickets/{connection}/{ticket}/audit",
            "/api/v1/tickets/nowhere/1/audit".to_string(),
        ),
        ("/api/v1/audit/verify", "/api/v1/audit/verify".to_string()),
        ("/healthz", "/healthz".to_string()),
    ] {
        samples.push(sample("GET", route, get(&bridge, &path).await));
    }
    let unauthorized = reqwest::get(bridge.admin_url("/api/v1/status"))
        .await
        .unwrap();
    let status = unauthorized.status().as_u16();
    samples.push(sample(
        "GET",
        "/api/v1/status",
        (status, unauthorized.json().await.unwrap()),
    ));
    let retried = post(
        &bridge,
        &format!("/api/v1/outbox/{dead_id}/retry"),
        &json!({}),
    )
    .await;
    assert_eq!(retried.0, 200, "{}", retried.1);
    samples.push(sample("POST", "/api/v1/outbox/{id}/retry", retried));
    samples.push(sample(
        "POST",
        "/api/v1/outbox/{id}/retry",
        post(&bridge, "/api/v1/outbox/1/retry", &json!({})).await,
    ));
    samples.push(sample(
        "POST",
        "/api/v1/links",
        post(&bridge, "/api/v1/links", &json!({ "pairing": "acme" })).await,
    ));
    let link = get(&bridge, &format!("/api/v1/links?q={at}")).await.1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    samples.push(sample(
        "POST",
        "/api/v1/links/{id}/unlink",
        post(&bridge, &format!("/api/v1/links/{link}/unlink"), &json!({})).await,
    ));
    let notice = get(&bridge, "/api/v1/notices/dead").await.1[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    samples.push(sample(
        "POST",
        "/api/v1/notices/{id}/discard",
        post(
            &bridge,
            &format!("/api/v1/notices/{notice}/discard"),
            &json!({}),
        )
        .await,
    ));
    // Pausing and resuming: done, refused twice over, unknown, bad body.
    for (route, path, body) in [
        (
            "pause",
            "acme/pause",
            json!({ "reason": "client migrating" }),
        ),
        ("pause", "acme/pause", json!({})),
        ("resume", "acme/resume", json!({})),
        ("resume", "acme/resume", json!({})),
        ("pause", "nope/pause", json!({})),
        ("pause", "acme/pause", json!({ "why": "x" })),
    ] {
        samples.push(sample(
            "POST",
            &format!("/api/v1/pairings/{{name}}/{route}"),
            post(&bridge, &format!("/api/v1/pairings/{path}"), &body).await,
        ));
    }
    bridge.stop().await;

    let setup = Command::new(repo_root().join("scripts/openapi-tools.sh"))
        .output()
        .expect("run scripts/openapi-tools.sh");
    assert!(
        setup.status.success(),
        "scripts/openapi-tools.sh failed: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let python = String::from_utf8_lossy(&setup.stdout).trim().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (doc_file, samples_file) = (
        dir.path().join("openapi.json"),
        dir.path().join("samples.json"),
    );
    std::fs::write(&doc_file, serde_json::to_vec(&document).unwrap()).unwrap();
    std::fs::write(&samples_file, serde_json::to_vec(&samples).unwrap()).unwrap();
    let checked = Command::new(python)
        .arg(repo_root().join("tests/e2e/api_openapi.py"))
        .arg(&doc_file)
        .arg(&samples_file)
        .output()
        .expect("run api_openapi.py");
    assert!(
        checked.status.success(),
        "the document or the answers do not validate:\n{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}
