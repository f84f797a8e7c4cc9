//! The simulator middleware's fault knobs beyond plain errors: connection
//! resets before anything is applied, timeouts after the write was applied,
//! 5xx of several kinds, and bursts of 429 with `Retry-After`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use http::Method;
use psa_connector::sim::AmbiguousReply;
use psa_connector::ConnectorError;

mod common;

use common::{client, client_with_timeout, server};

#[tokio::test]
async fn a_reset_connection_applies_nothing_and_is_retryable() {
    let s = server().await;
    let c = client(&s.base);
    s.control.set_reset_rate(1.0);
    let err = c
        .send(Method::POST, c.url("items").unwrap(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(s.applied.load(Ordering::SeqCst), 0, "nothing was applied");
    assert!(s.control.writes_by("api-user").is_empty());
    s.control.set_reset_rate(0.0);
    c.send(Method::POST, c.url("items").unwrap(), None)
        .await
        .unwrap();
    assert_eq!(s.applied.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_timed_out_write_was_applied_though_the_client_never_heard() {
    let s = server().await;
    let c = client_with_timeout(&s.base, Duration::from_millis(300));
    s.control.set_timeout_rate(1.0);
    s.control.set_hang(Duration::from_secs(30));
    let err = c
        .send(Method::POST, c.url("items").unwrap(), None)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(s.applied.load(Ordering::SeqCst), 1, "the write was applied");
    let ambiguous = s.control.ambiguous_writes();
    assert_eq!(ambiguous.len(), 1);
    assert_eq!(ambiguous[0].ambiguous, Some(AmbiguousReply::TimedOut));
    assert!(ambiguous[0].applied());
    assert_eq!(s.control.writes_by("api-user").len(), 1);
    // A timed-out read is not a write.
    assert!(c
        .send(Method::GET, c.url("items").unwrap(), None)
        .await
        .is_err());
    assert_eq!(s.control.ambiguous_writes().len(), 1);
}

#[tokio::test]
async fn injected_server_errors_are_gateway_kinds_and_retryable() {
    let s = server().await;
    let c = client(&s.base);
    s.control.set_error_rate(1.0);
    let mut seen = std::collections::BTreeSet::new();
    // Writes: sent once each (a read would be tried again at once).
    for _ in 0..60 {
        match c.send(Method::POST, c.url("items").unwrap(), None).await {
            Err(e @ ConnectorError::Http { status, .. }) => {
                assert!(e.is_retryable(), "{e:?}");
                seen.insert(status);
            }
            other => panic!("expected a 5xx, got {other:?}"),
        }
    }
    assert!(seen.iter().all(|s| [502, 503, 504].contains(s)), "{seen:?}");
    assert!(seen.len() > 1, "more than one kind in 60 tries: {seen:?}");
}

#[tokio::test]
async fn a_throttling_burst_answers_429_with_retry_after_then_ends() {
    let s = server().await;
    let raw = reqwest::Client::new();
    let url = format!("{}items", s.base);
    s.control.throttle_for(Duration::from_secs(60), 7);
    let throttled = raw.post(&url).send().await.unwrap();
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "7");
    assert_eq!(s.applied.load(Ordering::SeqCst), 0);
    // A burst that has run its length is over.
    s.control.throttle_for(Duration::from_millis(100), 7);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let after = raw.post(&url).send().await.unwrap();
    assert_eq!(after.status(), 201);
}

/// A read that fails transiently is sent again at once (twice at most); a
/// write, a 429 or a 500 is not.
#[tokio::test]
async fn only_transient_read_failures_are_sent_again_at_once() {
    let s = server().await;
    let c = client(&s.base);
    let gets = |s: &common::Server| {
        s.control
            .requests()
            .iter()
            .filter(|r| r.method == "GET")
            .count()
    };
    s.control.fail_next_reads(&[503, 502]);
    c.send(Method::GET, c.url("items").unwrap(), None)
        .await
        .unwrap();
    assert_eq!(gets(&s), 3, "two failures, then the answer");

    s.control.fail_next_reads(&[504, 504, 504, 504]);
    let err = c
        .send(Method::GET, c.url("items").unwrap(), None)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(gets(&s), 6, "three tries, then the error is the caller's");
    s.control.fail_next_reads(&[]);
    c.send(Method::GET, c.url("items").unwrap(), None)
        .await
        .unwrap();
    assert_eq!(gets(&s), 8, "the fourth queued 504, then the answer");

    for status in [429, 500] {
        s.control.fail_next_reads(&[status]);
        let before = gets(&s);
        assert!(c
            .send(Method::GET, c.url("items").unwrap(), None)
            .await
            .is_err());
        assert_eq!(gets(&s), before + 1, "{status} is not repeated here");
    }

    s.control.fail_next_writes(&[503]);
    assert!(c
        .send(Method::POST, c.url("items").unwrap(), None)
        .await
        .is_err());
    assert_eq!(s.applied.load(Ordering::SeqCst), 0);
    let posts = s
        .control
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "a write is sent once");
}
