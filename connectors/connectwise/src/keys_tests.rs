//! Unit tests for the signing-key cache and fetcher (manual clock).

use super::*;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

fn url(n: usize) -> String {
    format!("https://api-na.myconnectwise.net/k?id={n}")
}

#[test]
fn a_full_cache_evicts_only_the_least_recently_used_key() {
    let mut cache = Cache::default();
    for n in 0..MAX_CACHED_KEYS {
        cache.insert_key(&url(n), [n as u8; 32], None);
    }
    // Use key 0 so key 1 becomes the least recently used.
    assert!(cache.key(&url(0)).is_some());
    cache.insert_key(&url(9999), [1; 32], None);
    assert_eq!(cache.keys.len(), MAX_CACHED_KEYS);
    assert!(cache.key(&url(1)).is_none(), "the LRU key is evicted");
    for n in (0..MAX_CACHED_KEYS).filter(|n| *n != 1) {
        assert!(cache.key(&url(n)).is_some(), "key {n} kept");
    }
}

#[test]
fn failures_are_bounded() {
    let mut cache = Cache::default();
    let now = Instant::now();
    for n in 0..MAX_FAILED_URLS + 10 {
        cache.insert_failure(&url(n), Failure::NotFound, now);
    }
    assert_eq!(cache.failed.len(), MAX_FAILED_URLS);
    assert!(cache.failure(&url(MAX_FAILED_URLS + 9), now).is_some());
}

/// A key endpoint serving `signing_key` = the current value of `key`
/// (changed by the test: a rotation), counting requests.
async fn rotating_key_server() -> (u16, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let key = Arc::new(AtomicUsize::new(1));
    let (seen, current) = (count.clone(), key.clone());
    let app = axum::Router::new().fallback(move || {
        let (seen, current) = (seen.clone(), current.clone());
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            let key = format!("key-{}", current.load(Ordering::SeqCst));
            axum::Json(serde_json::json!({ "signing_key": key }))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, count, key)
}

#[tokio::test]
async fn a_cached_key_is_fetched_again_at_most_once_per_interval() {
    let (port, count, key) = rotating_key_server().await;
    let start = Instant::now();
    let offset_ms = Arc::new(AtomicU64::new(0));
    let clock = offset_ms.clone();
    let now: Now = Arc::new(move || start + Duration::from_millis(clock.load(Ordering::SeqCst)));
    let fetcher = KeyFetcher::with_clock("http".into(), now).unwrap();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/k?id=1")).unwrap();
    let digest = |n: usize| key_digest(&format!("key-{n}"));

    let first = fetcher.key(&url).await.unwrap();
    assert!(!first.cached);
    assert_eq!(first.digest, digest(1));
    // Same key at the endpoint: a wrong signature, not a rotation.
    assert_eq!(
        fetcher.refetch(&url, &digest(1)).await.unwrap(),
        Refetch::Unchanged
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);

    // Rotated, but fetched again just now: not before the interval.
    key.store(2, Ordering::SeqCst);
    offset_ms.store(REFETCH_INTERVAL.as_millis() as u64 - 1, Ordering::SeqCst);
    assert_eq!(
        fetcher.refetch(&url, &digest(1)).await.unwrap(),
        Refetch::TooSoon
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);

    offset_ms.store(REFETCH_INTERVAL.as_millis() as u64, Ordering::SeqCst);
    assert_eq!(
        fetcher.refetch(&url, &digest(1)).await.unwrap(),
        Refetch::Changed(digest(2))
    );
    assert_eq!(count.load(Ordering::SeqCst), 3);
    let cached = fetcher.key(&url).await.unwrap();
    assert!(cached.cached);
    assert_eq!(cached.digest, digest(2), "the new key replaced the old");
    // A caller still holding the old key gets the new one without a fetch.
    assert_eq!(
        fetcher.refetch(&url, &digest(1)).await.unwrap(),
        Refetch::Changed(digest(2))
    );
    // And the new key is not fetched again before the interval.
    key.store(3, Ordering::SeqCst);
    assert_eq!(
        fetcher.refetch(&url, &digest(2)).await.unwrap(),
        Refetch::TooSoon
    );
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

/// A key endpoint that answers 404 and counts requests.
async fn missing_key_server() -> (u16, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().fallback(move || {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            (
                http::StatusCode::NOT_FOUND,
                "no such key on keyhost-internal-7",
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, count)
}

#[tokio::test]
async fn a_failed_url_is_answered_from_memory_until_its_ttl_passes() {
    let (port, count) = missing_key_server().await;
    let start = Instant::now();
    let offset_ms = Arc::new(AtomicU64::new(0));
    let clock = offset_ms.clone();
    let now: Now = Arc::new(move || start + Duration::from_millis(clock.load(Ordering::SeqCst)));
    let fetcher = KeyFetcher::with_clock("http".into(), now).unwrap();
    let key_url = Url::parse(&format!("http://127.0.0.1:{port}/k?id=forged")).unwrap();
    for _ in 0..3 {
        match fetcher.key(&key_url).await {
            Err(WebhookError::Unauthorized(m)) => {
                assert_eq!(m, NOT_FOUND);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(count.load(Ordering::SeqCst), 1, "one fetch, then memory");
    offset_ms.store(FAILURE_TTL.as_millis() as u64 - 1, Ordering::SeqCst);
    assert!(fetcher.key(&key_url).await.is_err());
    assert_eq!(count.load(Ordering::SeqCst), 1);
    offset_ms.store(FAILURE_TTL.as_millis() as u64 + 1, Ordering::SeqCst);
    assert!(fetcher.key(&key_url).await.is_err());
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "fetched again after the TTL"
    );
}

/// A key fetch waits on the connection's limiter like the connector's
/// other calls (ConnectWise counts it): with the only slot taken it does
/// not go out; freed, it does.
#[tokio::test]
async fn a_key_fetch_waits_on_the_connections_limiter() {
    let (port, count, _) = rotating_key_server().await;
    let limiter = psa_connector::RateLimiter::new(&psa_connector::RateLimits {
        requests_per_second: 1000,
        burst: 1000,
        requests_per_hour: None,
        max_concurrent: 1,
    });
    let fetcher = KeyFetcher::new("http".into())
        .unwrap()
        .with_limiter(limiter.clone());
    let url = Url::parse(&format!("http://127.0.0.1:{port}/k?id=1")).unwrap();
    let taken = limiter.acquire().await;
    let mut fetch = Box::pin(fetcher.key(&url));
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut fetch)
            .await
            .is_err(),
        "fetched past a limiter with no slot free"
    );
    assert_eq!(count.load(Ordering::SeqCst), 0);
    drop(taken);
    let key = tokio::time::timeout(Duration::from_secs(30), fetch)
        .await
        .expect("fetched once the slot was free")
        .unwrap();
    assert!(!key.cached);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}
