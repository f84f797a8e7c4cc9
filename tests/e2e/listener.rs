//! The public listener against clients that are not vendors: slow senders are
//! cut off, a flood of requests is capped, and made-up paths cannot create
//! metric series.

use std::time::Duration;

use psa_bridge::demo::{DemoEnv, DemoOptions, AT_WEBHOOK_SECRET};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{env, Bridge, TestDir, STEP};

/// A daemon without polling, with extra `[daemon]` settings.
async fn bridge_with(daemon_settings: &str) -> (TestDir, DemoEnv, Bridge) {
    let (dir, env) = env(DemoOptions {
        polling: false,
        ..Default::default()
    })
    .await;
    let config = std::fs::read_to_string(&env.config_path).unwrap();
    let config = config.replacen("[daemon]\n", &format!("[daemon]\n{daemon_settings}\n"), 1);
    std::fs::write(&env.config_path, config).unwrap();
    let bridge = Bridge::spawn(&env.config_path).await;
    (dir, env, bridge)
}

/// A correctly signed Autotask webhook for a ticket: status, `Retry-After`, body.
async fn genuine_webhook(
    client: &reqwest::Client,
    bridge: &Bridge,
    ticket: i64,
) -> (u16, Option<String>, Value) {
    let body = serde_json::to_vec(&json!({
        "Action": "Update",
        "Guid": "5a0c1b7e-9d1e-4d55-a0b4-2f1c3d4e5f60",
        "EntityType": "Ticket",
        "Id": ticket,
        "Fields": { "TicketNumber": "T20261125.0998", "Status": "8" },
        "EventTime": "2026-11-25T14:57:50Z",
        "SequenceNumber": ticket,
        "PersonID": 30691780
    }))
    .unwrap();
    let sig = psa_autotask::hooks::sign(AT_WEBHOOK_SECRET, &body);
    let response = client
        .post(bridge.url("/webhooks/autotask"))
        .header("content-type", "application/json")
        .header("X-Hook-Signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (
        status,
        retry_after,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// A client that announces a 100-byte body and then sends one byte per
/// `every` until its connection fails or it is dropped.
struct SlowClient {
    read: tokio::net::tcp::OwnedReadHalf,
    writer: tokio::task::JoinHandle<()>,
}

impl SlowClient {
    async fn start(bridge: &Bridge, every: Duration) -> SlowClient {
        let socket = TcpStream::connect(bridge.addr).await.unwrap();
        let (read, mut write) = socket.into_split();
        write
            .write_all(
                b"POST /webhooks/autotask HTTP/1.1\r\nhost: bridge\r\n\
                  content-type: application/json\r\ncontent-length: 100\r\n\r\n{",
            )
            .await
            .unwrap();
        let writer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if write.write_all(b" ").await.is_err() {
                    return;
                }
            }
        });
        SlowClient { read, writer }
    }

    /// Everything the server sends until it closes the connection.
    async fn answer(&mut self) -> Vec<u8> {
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        let closed = tokio::time::timeout(STEP, async {
            loop {
                match self.read.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        assert!(
            closed.is_ok(),
            "the server kept the slow connection open; got {:?}",
            String::from_utf8_lossy(&answer)
        );
        answer
    }
}

impl Drop for SlowClient {
    fn drop(&mut self) {
        self.writer.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_sender_gets_408_and_is_disconnected_while_webhooks_still_work() {
    let (_dir, _env, bridge) = bridge_with("webhook_read_timeout_secs = 1").await;
    let client = reqwest::Client::new();
    // One byte every 250 ms: bytes keep coming (an idle timeout would never
    // fire), but the whole body would take 25 s.
    let mut slow = SlowClient::start(&bridge, Duration::from_millis(250)).await;

    let (status, _, counts) = genuine_webhook(&client, &bridge, 960_001).await;
    assert_eq!(status, 200, "{counts}");
    assert_eq!(counts["accepted"], 1);

    let answer = slow.answer().await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    // Disconnected: the sender's next writes fail.
    tokio::time::timeout(STEP, &mut slow.writer)
        .await
        .expect("the slow sender could keep writing")
        .unwrap();

    // The listener still serves.
    let (status, _, counts) = genuine_webhook(&client, &bridge, 960_002).await;
    assert_eq!(status, 200, "{counts}");
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_requests_beyond_the_cap_get_503_until_a_slot_frees() {
    let (_dir, _env, bridge) =
        bridge_with("max_concurrent_webhooks = 2\nwebhook_read_timeout_secs = 600").await;
    let client = reqwest::Client::new();
    let first = SlowClient::start(&bridge, Duration::from_secs(1)).await;
    let second = SlowClient::start(&bridge, Duration::from_secs(1)).await;

    // Once both slow requests hold a slot, a genuine webhook is refused
    // with a hint to retry (before that it may still get in).
    let deadline = tokio::time::Instant::now() + STEP;
    let mut ticket = 961_000;
    let retry_after = loop {
        ticket += 1;
        let (status, retry_after, body) = genuine_webhook(&client, &bridge, ticket).await;
        if status == 503 {
            break retry_after;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cap never refused a request"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(retry_after.as_deref(), Some("1"));
    // Health checks are not webhooks and are not capped.
    let health = client.get(bridge.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // The slow clients go away; their slots free and webhooks get in again.
    drop(first);
    drop(second);
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        ticket += 1;
        let (status, _, body) = genuine_webhook(&client, &bridge, ticket).await;
        if status == 200 {
            assert_eq!(body["accepted"], 1);
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(tokio::time::Instant::now() < deadline, "slots never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_connection_paths_share_one_metric_series() {
    let (_dir, _env, bridge) = bridge_with("").await;
    let client = reqwest::Client::new();
    let names: Vec<String> = (0..50)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    for name in &names {
        let response = client
            .post(bridge.url(&format!("/webhooks/{name}")))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{name}");
    }
    let metrics = client
        .get(bridge.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("psa_bridge_webhooks_total{") && l.contains("unknown_connection"))
        .collect();
    assert_eq!(series.len(), 1, "{series:?}");
    assert!(
        series[0].contains("connection=\"unknown\""),
        "{}",
        series[0]
    );
    assert!(series[0].ends_with(" 50"), "{}", series[0]);
    for name in &names {
        assert!(!metrics.contains(name.as_str()), "{name} became a label");
    }
    bridge.stop().await;
}
