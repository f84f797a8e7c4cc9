//! The webhook receiver through the real daemon: signatures, malformed and
//! oversized bodies, unknown connections and repeated deliveries.

use futures::StreamExt;
use psa_bridge::demo::{DemoOptions, AT_WEBHOOK_SECRET};
use serde_json::{json, Value};

use crate::common::{env, Bridge};

fn autotask_payload(ticket_id: i64, sequence: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "Action": "Update",
        "Guid": "5a0c1b7e-9d1e-4d55-a0b4-2f1c3d4e5f60",
        "EntityType": "Ticket",
        "Id": ticket_id,
        "Fields": { "TicketNumber": "T20261125.0999", "Status": "8" },
        "EventTime": "2026-11-25T14:57:50Z",
        "SequenceNumber": sequence,
        "PersonID": 30691780
    }))
    .unwrap()
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    signature: Option<&str>,
) -> reqwest::Response {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(sig) = signature {
        request = request.header("X-Hook-Signature", sig);
    }
    request.send().await.unwrap()
}

/// A daemon that does not poll, so every notice (and every stored byte) in a
/// test comes from the test's own webhooks.
async fn webhook_only_bridge() -> (crate::common::TestDir, psa_bridge::demo::DemoEnv, Bridge) {
    let (dir, env) = env(DemoOptions {
        polling: false,
        poll_interval_secs: 60,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    (dir, env, bridge)
}

async fn intake_count(client: &reqwest::Client, bridge: &Bridge, ticket: &str) -> usize {
    let entries: Vec<Value> = client
        .get(bridge.admin_url(&format!(
            "/api/v1/tickets/{}/audit",
            ticket.replacen(':', "/", 1)
        )))
        .bearer_auth(bridge.admin_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    entries.iter().filter(|e| e["kind"] == "intake").count()
}

/// What the daemon has stored: (audit entries, inbox items pending).
async fn stored(client: &reqwest::Client, bridge: &Bridge) -> (u64, u64) {
    let verify: Value = client
        .get(bridge.admin_url("/api/v1/audit/verify"))
        .bearer_auth(bridge.admin_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify["intact"], true, "{verify}");
    let entries = verify["entries"].as_u64().unwrap();
    let metrics = client
        .get(bridge.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let inbox = metrics
        .lines()
        .find_map(|l| l.strip_prefix("psa_bridge_inbox_pending "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no inbox gauge in {metrics}"));
    (entries, inbox as u64)
}

/// [`stored`] once the simulators' own callbacks have arrived and been planned:
/// inbox empty and the same answer twice in a row.
async fn quiet_stored(
    client: &reqwest::Client,
    env: &psa_bridge::demo::DemoEnv,
    bridge: &Bridge,
) -> (u64, u64) {
    env.autotask.wait_webhooks_idle().await;
    env.connectwise.wait_callbacks_idle().await;
    let deadline = tokio::time::Instant::now() + crate::common::STEP;
    let mut last = stored(client, bridge).await;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = stored(client, bridge).await;
        if now == last && now.1 == 0 {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the store never settled: {now:?}"
        );
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autotask_webhook_signatures_and_bad_input() {
    let (_dir, env, bridge) = webhook_only_bridge().await;
    let client = reqwest::Client::new();
    let url = bridge.url("/webhooks/autotask");
    let initial = quiet_stored(&client, &env, &bridge).await;

    // Wrong and missing signatures: 401, nothing stored.
    let body = autotask_payload(900001, 1);
    let wrong = psa_autotask::hooks::sign("not-the-secret", &body);
    assert_eq!(
        post(&client, &url, body.clone(), Some(&wrong))
            .await
            .status(),
        401
    );
    assert_eq!(post(&client, &url, body.clone(), None).await.status(), 401);
    assert_eq!(
        post(&client, &url, body.clone(), Some("sha1="))
            .await
            .status(),
        401
    );
    assert_eq!(
        post(&client, &url, body.clone(), Some("garbage"))
            .await
            .status(),
        401
    );
    assert_eq!(intake_count(&client, &bridge, "autotask:900001").await, 0);

    // A signature over different bytes (re-serialised JSON) is refused.
    let mut tampered = body.clone();
    tampered.push(b' ');
    let sig_of_original = psa_autotask::hooks::sign(AT_WEBHOOK_SECRET, &body);
    assert_eq!(
        post(&client, &url, tampered, Some(&sig_of_original))
            .await
            .status(),
        401
    );

    assert_eq!(
        stored(&client, &bridge).await,
        initial,
        "a 401 stored something"
    );

    // Malformed but correctly signed: 400, nothing stored.
    for bad in [
        &b"{not json"[..],
        b"[]",
        b"{\"Action\":\"Update\"}",
        b"\xff\xfe",
    ] {
        let sig = psa_autotask::hooks::sign(AT_WEBHOOK_SECRET, bad);
        let status = post(&client, &url, bad.to_vec(), Some(&sig)).await.status();
        assert_eq!(status, 400, "{:?}", String::from_utf8_lossy(bad));
    }
    assert_eq!(
        stored(&client, &bridge).await,
        initial,
        "a 400 stored something"
    );

    // Oversized: 413, whatever the signature; nothing stored.
    let huge = vec![b' '; 300 * 1024];
    let sig = psa_autotask::hooks::sign(AT_WEBHOOK_SECRET, &huge);
    assert_eq!(post(&client, &url, huge, Some(&sig)).await.status(), 413);
    assert_eq!(
        stored(&client, &bridge).await,
        initial,
        "a 413 stored something"
    );

    // Unknown connection: 404, even for a body genuinely signed for another
    // connection; nothing stored.
    let sig = psa_autotask::hooks::sign(AT_WEBHOOK_SECRET, &body);
    for path in [
        "/webhooks/nope",
        "/webhooks/Autotask",
        "/webhooks/autotask%20",
    ] {
        assert_eq!(
            post(&client, &bridge.url(path), body.clone(), Some(&sig))
                .await
                .status(),
            404,
            "{path}"
        );
    }
    assert_eq!(
        stored(&client, &bridge).await,
        initial,
        "a 404 stored something"
    );

    // Valid: accepted once and stored; the same delivery again is a duplicate.
    let sig = psa_autotask::hooks::sign(AT_WEBHOOK_SECRET, &body);
    let first = post(&client, &url, body.clone(), Some(&sig)).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.json::<Value>().await.unwrap()["accepted"], 1);
    assert!(
        stored(&client, &bridge).await.0 > initial.0,
        "an accepted webhook is audited"
    );
    let again = post(&client, &url, body.clone(), Some(&sig)).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["duplicates"], 1);
    assert_eq!(intake_count(&client, &bridge, "autotask:900001").await, 1);

    // The admin API is not on the public listener.
    for path in ["/api/v1/outbox", "/metrics", "/api/v1/audit/verify"] {
        assert_eq!(
            client.get(bridge.url(path)).send().await.unwrap().status(),
            404,
            "{path}"
        );
    }
    assert_eq!(
        client
            .get(bridge.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectwise_callbacks_verify_against_the_allowed_key_host() {
    let (_dir, env, bridge) = webhook_only_bridge().await;
    let client = reqwest::Client::new();
    let url = bridge.url("/webhooks/connectwise?id=");
    let ticket = env.connectwise.user_create_ticket(
        "Disk full",
        "Co-Managed",
        "ACME",
        "Priority 3 - Normal Response",
    );

    let (body, signature) = env.connectwise.signed_callback(ticket.id, "updated");
    let send = |body: Vec<u8>, sig: Option<String>| {
        let mut r = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = sig {
            r = r.header("x-content-signature", s);
        }
        r.send()
    };
    let initial = quiet_stored(&client, &env, &bridge).await;
    assert_eq!(send(body.clone(), None).await.unwrap().status(), 401);
    assert_eq!(
        send(b"{}".to_vec(), Some("x".into()))
            .await
            .unwrap()
            .status(),
        400
    );
    let mut tampered = body.clone();
    tampered.insert(1, b' ');
    assert_eq!(
        send(tampered, Some(signature.clone()))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        stored(&client, &bridge).await,
        initial,
        "a refused callback stored something"
    );
    assert_eq!(
        send(body.clone(), Some(signature.clone()))
            .await
            .unwrap()
            .status(),
        200
    );

    // A key_url on a host that is not allowed is never fetched: 401.
    let mut forged: Value = serde_json::from_slice(&body).unwrap();
    forged["Metadata"]["key_url"] = json!("http://203.0.113.9/system/callbackkey/index.rails?id=x");
    let forged = serde_json::to_vec(&forged).unwrap();
    assert_eq!(send(forged, Some(signature)).await.unwrap().status(), 401);

    // The accepted callback was about a ticket the bridge has no business with
    // (not linked, and ConnectWise is not the trigger side): it is never read.
    let deadline = tokio::time::Instant::now() + crate::common::STEP;
    loop {
        let metrics = client
            .get(bridge.admin_url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.lines().any(|l| l == "psa_bridge_inbox_pending 0") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "inbox never drained: {metrics}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let reads = env
        .connectwise
        .control()
        .requests()
        .iter()
        .filter(|r| {
            r.method == "GET" && r.path.ends_with(&format!("/service/tickets/{}", ticket.id))
        })
        .count();
    assert_eq!(reads, 0, "an unrelated ticket was fetched");
    bridge.stop().await;
}

/// Many webhooks at once are all stored and acknowledged (sled's
/// `flush_async` locks up with more than ~7 concurrent flushes; the store
/// must not use it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_webhooks_are_all_acknowledged() {
    let (_dir, env, bridge) = webhook_only_bridge().await;
    let client = reqwest::Client::new();
    let url = bridge.url("/webhooks/autotask");
    let initial = quiet_stored(&client, &env, &bridge).await;
    let send_all = || {
        let sends = (0..96u64).map(|i| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let body = autotask_payload(950_000 + i as i64, i);
                let sig = psa_autotask::hooks::sign(AT_WEBHOOK_SECRET, &body);
                let response = post(&client, &url, body, Some(&sig)).await;
                let status = response.status();
                let counts: Value = response.json().await.unwrap_or(Value::Null);
                (i, status, counts)
            }
        });
        tokio::time::timeout(
            std::time::Duration::from_secs(120),
            futures::stream::iter(sends)
                .buffer_unordered(16)
                .collect::<Vec<_>>(),
        )
    };
    let replies = send_all()
        .await
        .expect("the daemon stopped answering webhooks");
    assert_eq!(replies.len(), 96);
    for (i, status, counts) in &replies {
        assert_eq!(*status, 200, "webhook {i}: {counts}");
        assert_eq!(counts["accepted"], 1, "webhook {i}: {counts}");
        assert_eq!(counts["duplicates"], 0, "webhook {i}: {counts}");
    }
    // Every one was stored: one intake entry per ticket, 96 in all, and the
    // same deliveries again are all recognised as duplicates.
    let mut intakes = 0;
    for i in 0..96 {
        intakes += intake_count(&client, &bridge, &format!("autotask:{}", 950_000 + i)).await;
    }
    assert_eq!(intakes, 96);
    assert!(stored(&client, &bridge).await.0 >= initial.0 + 96);
    let again = send_all()
        .await
        .expect("the daemon stopped answering webhooks");
    for (i, status, counts) in &again {
        assert_eq!(*status, 200, "webhook {i} again: {counts}");
        assert_eq!(counts["accepted"], 0, "webhook {i} again: {counts}");
        assert_eq!(counts["duplicates"], 1, "webhook {i} again: {counts}");
    }
    bridge.stop().await;
}
