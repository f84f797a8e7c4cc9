//! The public listener against clients that are not vendors: slow senders are
//! cut off (body and headers), idle connections do not linger, a flood of
//! requests or connections is capped, and made-up paths cannot create metric
//! series.

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

    /// Whether the server has answered (a slow request answered before its
    /// body arrived was refused, e.g. 429 when it came in after another
    /// request took the last slot) or closed the connection.
    fn answered(&mut self) -> bool {
        let mut buf = [0u8; 1];
        !matches!(self.read.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
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
async fn webhook_requests_beyond_the_cap_wait_then_get_429_until_a_slot_frees() {
    let (_dir, _env, bridge) =
        bridge_with("max_concurrent_webhooks = 2\nwebhook_read_timeout_secs = 600").await;
    let client = reqwest::Client::new();
    let mut first = SlowClient::start(&bridge, Duration::from_secs(1)).await;
    let mut second = SlowClient::start(&bridge, Duration::from_secs(1)).await;

    // Once both slow requests hold a slot, a genuine webhook is refused
    // with a hint to retry (before that it may still get in).
    let deadline = tokio::time::Instant::now() + STEP;
    let mut ticket = 961_000;
    let retry_after = loop {
        ticket += 1;
        let (status, retry_after, body) = genuine_webhook(&client, &bridge, ticket).await;
        if status == 429 {
            break retry_after;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cap never refused a request"
        );
        // A genuine webhook handled before a slow client's head was read
        // took that client's slot and got it refused: it comes back.
        for slow in [&mut first, &mut second] {
            if slow.answered() {
                *slow = SlowClient::start(&bridge, Duration::from_secs(1)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(retry_after.as_deref(), Some("1"));
    // Health checks are not webhooks and are not capped.
    let health = client.get(bridge.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // A webhook sent while both slots are held waits for one: the slow
    // clients go away meanwhile, and it is handled, not refused.
    ticket += 1;
    let release = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(first);
        drop(second);
    };
    let (waiting, ()) = tokio::time::timeout(STEP, async {
        tokio::join!(genuine_webhook(&client, &bridge, ticket), release)
    })
    .await
    .expect("the waiting webhook was answered");
    let (status, _, body) = waiting;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 1);
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

/// Reads until the server closes `stream`; fails if it is still open after
/// `STEP`. Returns what was received.
async fn until_closed(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(STEP, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the server kept {what} open; got {:?}",
        String::from_utf8_lossy(&received)
    );
    received
}

/// Sends `GET /healthz` on a keep-alive connection and reads the whole
/// answer, leaving the connection open and idle.
async fn keep_alive_health(stream: &mut TcpStream) {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: bridge\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(STEP, async {
        loop {
            let text = String::from_utf8_lossy(&received).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().unwrap())
                    })
                    .expect("a content-length");
                if received.len() >= end + 4 + length {
                    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
                    return;
                }
            }
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before answering: {text:?}");
            received.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("no answer to /healthz");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_idle_connections_are_cut_off_while_webhooks_still_work() {
    let (_dir, _env, bridge) = bridge_with("header_read_timeout_secs = 1").await;
    let client = reqwest::Client::new();

    // Slowloris on the header phase: one byte per 200 ms, never finishing
    // the head (the body timeout never starts).
    let socket = TcpStream::connect(bridge.addr).await.unwrap();
    let (mut read, mut write) = socket.into_split();
    let writer = tokio::spawn(async move {
        let head = b"POST /webhooks/x HTTP/1.1\r\nHost: a\r\n".iter();
        for byte in head.chain(std::iter::repeat(&b'a')) {
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    // Connections that never send anything, or go idle after a request.
    let mut silent = TcpStream::connect(bridge.addr).await.unwrap();
    let mut idle = TcpStream::connect(bridge.addr).await.unwrap();
    keep_alive_health(&mut idle).await;

    // A genuine webhook on another connection is answered meanwhile.
    let (status, _, counts) = genuine_webhook(&client, &bridge, 962_001).await;
    assert_eq!(status, 200, "{counts}");
    assert_eq!(counts["accepted"], 1);

    // The slow client is disconnected: its reads end and its writes fail.
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(STEP, async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the slow-header client was never cut off");
    tokio::time::timeout(STEP, writer)
        .await
        .expect("the slow-header client could keep writing")
        .unwrap();
    until_closed(&mut silent, "a connection that sent nothing").await;
    until_closed(&mut idle, "an idle keep-alive connection").await;

    // The listener still serves.
    let (status, _, counts) = genuine_webhook(&client, &bridge, 962_002).await;
    assert_eq!(status, 200, "{counts}");
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_closed_until_holders_leave() {
    let (_dir, _env, bridge) =
        bridge_with("max_connections = 4\nheader_read_timeout_secs = 600").await;
    // Four idle keep-alive connections, each proven to be served.
    let mut holders = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(bridge.addr).await.unwrap();
        keep_alive_health(&mut stream).await;
        holders.push(stream);
    }
    // A fifth is closed as soon as it is accepted, without an answer.
    let mut fifth = TcpStream::connect(bridge.addr).await.unwrap();
    let _ = fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: bridge\r\n\r\n")
        .await;
    let answer = until_closed(&mut fifth, "a connection over the cap").await;
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    // So is a webhook while the holders stay.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let refused = client
        .post(bridge.url("/webhooks/autotask"))
        .body("{}")
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
    // The admin listener has its own cap and still answers.
    let health = client
        .get(bridge.admin_url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // The holders leave; a webhook gets in again.
    drop(holders);
    let deadline = tokio::time::Instant::now() + STEP;
    let mut ticket = 963_000;
    loop {
        ticket += 1;
        // A probe first: a connection refused by the cap fails the request.
        if client.get(bridge.url("/healthz")).send().await.is_ok() {
            let (status, _, body) = genuine_webhook(&client, &bridge, ticket).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["accepted"], 1);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cap never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bridge.stop().await;
}

/// An unknown connection name is answered 404 at once, without waiting
/// for (or reading) the body: a body that never finishes gets no 408.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_connections_get_404_without_the_body_being_read() {
    let (_dir, _env, bridge) = bridge_with("webhook_read_timeout_secs = 600").await;
    let socket = TcpStream::connect(bridge.addr).await.unwrap();
    let (mut read, mut write) = socket.into_split();
    write
        .write_all(
            b"POST /webhooks/nobody HTTP/1.1\r\nhost: bridge\r\n\
              content-type: application/json\r\ncontent-length: 100000\r\n\r\n{",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let read_head = tokio::time::timeout(STEP, async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read_head.is_ok(), "no answer while the body was pending");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer:?}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer:?}"
    );
    drop(write);
    bridge.stop().await;
}
