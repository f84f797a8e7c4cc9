//! The shared HTTP client against hostile vendor answers: oversized bodies,
//! garbage, throttling without Retry-After, slow servers, foreign origins.

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use http::{HeaderMap, Method};
use psa_connector::http::{HttpClient, HttpSettings, MAX_RESPONSE_BYTES};
use psa_connector::{ConnectorError, RateLimits};

async fn server() -> String {
    let app = Router::new()
        .route("/big", get(|| async { vec![b'x'; MAX_RESPONSE_BYTES + 1] }))
        .route("/garbage", get(|| async { "<html>not json</html>" }))
        .route(
            "/throttled",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    "{\"errors\":[\"slow down\"]}",
                )
            }),
        )
        .route("/broken", get(|| async { (StatusCode::BAD_GATEWAY, "") }))
        .route(
            "/invalid",
            get(|| async {
                (
                    StatusCode::BAD_REQUEST,
                    "{\"errors\":[\"Field X is required\"]}",
                )
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/")
}

fn message(_status: u16, body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["errors"][0].as_str().map(str::to_string))
        .unwrap_or_else(|| "no message".into())
}

fn client(base: &str) -> HttpClient {
    HttpClient::new(HttpSettings {
        base_url: base.parse().unwrap(),
        default_headers: HeaderMap::new(),
        limits: RateLimits {
            requests_per_second: 100,
            burst: 100,
            requests_per_hour: None,
            max_concurrent: 4,
        },
        timeout: Duration::from_millis(500),
        default_retry_after: Duration::from_secs(60),
        error_message: message,
    })
    .unwrap()
}

#[tokio::test]
async fn hostile_answers_become_clear_errors() {
    let base = server().await;
    let c = client(&base);
    let get = |path: &str| c.send(Method::GET, c.url(path).unwrap(), None);

    let big = get("big").await.unwrap_err();
    assert!(
        matches!(big, ConnectorError::InvalidResponse(ref m) if m.contains("larger than")),
        "{big:?}"
    );
    assert!(!big.is_retryable());

    let garbage = get("garbage")
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap_err();
    assert!(
        matches!(garbage, ConnectorError::InvalidResponse(ref m) if m.contains("not json")),
        "{garbage:?}"
    );

    match get("throttled").await.unwrap_err() {
        e @ ConnectorError::Http {
            status: 429,
            retry_after: Some(d),
            ..
        } => {
            assert_eq!(d, Duration::from_secs(60), "default Retry-After");
            assert!(e.is_retryable());
            assert!(e.to_string().contains("slow down"));
        }
        other => panic!("{other:?}"),
    }
    assert!(get("broken").await.unwrap_err().is_retryable());
    let invalid = get("invalid").await.unwrap_err();
    assert!(!invalid.is_retryable());
    assert!(
        invalid.to_string().contains("Field X is required"),
        "{invalid}"
    );
    assert!(matches!(
        get("slow").await.unwrap_err(),
        ConnectorError::Timeout
    ));
}

#[tokio::test]
async fn credentials_never_leave_the_configured_origin() {
    let base = server().await;
    let c = client(&base);
    assert!(c.same_origin(&format!("{base}next?page=2")).is_ok());
    for foreign in [
        "http://evil.example/next",
        "https://127.0.0.1:1/x",
        "not a url",
    ] {
        assert!(c.same_origin(foreign).is_err(), "{foreign}");
    }
}

#[tokio::test]
async fn unreachable_vendor_is_retryable() {
    let c = client("http://127.0.0.1:1/");
    let e = c
        .send(Method::GET, c.url("x").unwrap(), None)
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
}

/// Every call is counted on the client's [`psa_connector::ApiStats`]: reads
/// and writes, 429s apart from other failures, the last success, and a
/// failure (no answer, 5xx) apart from a refusal (another 4xx: the vendor
/// answered, so it is reachable).
#[tokio::test]
async fn calls_are_counted_by_kind_and_outcome() {
    let base = server().await;
    let c = client(&base);
    let shared = c.clone();
    let get = |path: &str| c.send(Method::GET, c.url(path).unwrap(), None);
    get("garbage").await.unwrap();
    get("throttled").await.unwrap_err();
    get("invalid").await.unwrap_err();
    // A write to a GET-only route: answered 405, a refused write.
    let post = shared.send(Method::POST, shared.url("garbage").unwrap(), None);
    post.await.unwrap_err();
    let s = c.stats().snapshot();
    assert_eq!((s.reads, s.writes), (3, 1), "{s:?}");
    assert_eq!((s.successes, s.http_429, s.failures), (1, 1, 2), "{s:?}");
    assert_eq!(s.last_failure_unix_ms, None, "refusals are answers: {s:?}");
    assert!(s.last_success_unix_ms.is_some());
    // A 502 is a failure (a read is sent three times in all).
    get("broken").await.unwrap_err();
    let s = c.stats().snapshot();
    assert_eq!((s.reads, s.failures), (6, 5), "{s:?}");
    assert_eq!(s.calls_last_hour, 7);
    assert!(s.last_failure_unix_ms.is_some() && s.failing_since_unix_ms.is_some());
    assert_eq!(shared.stats().snapshot(), s, "clones count together");
}
