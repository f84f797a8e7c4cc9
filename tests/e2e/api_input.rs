//! Bad input to `/api/v1` through the real daemon: a clear 400 naming the
//! parameter (and the valid choices), 404 for unknown ids, connections and
//! pairings, 413 for a huge body, 400 for malformed JSON; nothing changes.

use psa_bridge::demo::DemoOptions;
use serde_json::json;

use crate::api_steps::{get, get_ok, post};
use crate::common::{env, Bridge};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let (_dir, env) = env(DemoOptions {
        poll_interval_secs: 60,
        ..Default::default()
    })
    .await;
    let bridge = Bridge::spawn(&env.config_path).await;
    let verify = get_ok(&bridge, "/api/v1/audit/verify").await;

    for (path, names) in [
        ("/api/v1/links?limit=0", vec!["limit", "500"]),
        ("/api/v1/links?limit=501", vec!["limit"]),
        ("/api/v1/links?limit=ten", vec!["limit"]),
        ("/api/v1/links?cursor=abc", vec!["cursor"]),
        (
            "/api/v1/links?colour=red",
            vec!["colour", "pairing", "q", "limit", "cursor"],
        ),
        (
            "/api/v1/outbox?state=sleeping",
            vec!["state", "pending", "dead"],
        ),
        ("/api/v1/outbox?cursor=-1", vec!["cursor"]),
        ("/api/v1/activity?before=x", vec!["before"]),
        ("/api/v1/activity?limit=1&limit=2", vec!["limit", "twice"]),
        ("/api/v1/outbox/abc/retry", vec!["id"]),
    ] {
        let (code, body) = if path.ends_with("retry") {
            post(&bridge, path, &json!({})).await
        } else {
            get(&bridge, path).await
        };
        assert_eq!(code, 400, "{path}: {body}");
        let error = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: {body}"));
        for name in names {
            assert!(
                error.contains(name),
                "{path}: {error:?} does not name {name}"
            );
        }
    }

    for (method, path) in [
        ("POST", "/api/v1/outbox/987654321/retry"),
        ("POST", "/api/v1/outbox/987654321/discard"),
        ("POST", "/api/v1/notices/987654321/retry"),
        ("POST", "/api/v1/notices/987654321/discard"),
        ("POST", "/api/v1/links/987654321/unlink"),
        ("GET", "/api/v1/tickets/nowhere/1/audit"),
        ("GET", "/api/v1/links?pairing=nope"),
        ("GET", "/api/v1/no-such-route"),
    ] {
        let (code, body) = if method == "POST" {
            post(&bridge, path, &json!({})).await
        } else {
            get(&bridge, path).await
        };
        assert_eq!(code, 404, "{method} {path}: {body}");
        assert!(body["error"].is_string(), "{method} {path}: {body}");
    }
    let (code, body) = post(
        &bridge,
        "/api/v1/links",
        &json!({ "pairing": "nope", "a": "1", "b": "2" }),
    )
    .await;
    assert_eq!(code, 404, "{body}");

    // Bodies: malformed, wrong shape, unknown fields, empty fields, huge.
    let client = bridge.admin_client();
    for body in [
        "{",
        "[1, 2]",
        "{\"pairing\": 5}",
        "{\"pairing\": \"acme\", \"a\": \"1\", \"b\": \"2\", \"evil\": true}",
        "{\"pairing\": \"acme\", \"a\": \" \", \"b\": \"2\"}",
        "\u{0}\u{1}",
    ] {
        let response = client
            .post(bridge.admin_url("/api/v1/links"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let code = response.status().as_u16();
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(code, 400, "{body:?}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let huge = format!("{{\"reason\": \"{}\"}}", "x".repeat(1 << 20));
    let response = client
        .post(bridge.admin_url("/api/v1/links/1/unlink"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer["error"].as_str().unwrap().contains("bytes"),
        "{answer}"
    );

    // Nothing was written by any of it (start-up wrote what it writes).
    let after = get_ok(&bridge, "/api/v1/audit/verify").await;
    assert_eq!(after["entries"], verify["entries"], "{after}");
    bridge.stop().await;
}
