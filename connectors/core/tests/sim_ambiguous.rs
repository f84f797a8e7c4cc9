//! The simulator middleware's ambiguity knob: a write is applied by the
//! handler, then answered 503 or with a dropped connection; reads and failed
//! writes are never affected.

use std::sync::atomic::Ordering;
use std::time::Duration;

use http::Method;
use psa_connector::sim::AmbiguousReply;
use psa_connector::ConnectorError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

use common::{client, server};

#[tokio::test]
async fn an_applied_write_answered_503_is_retryable_and_counted() {
    let s = server().await;
    let c = client(&s.base);
    s.control
        .ambiguous_next_writes(AmbiguousReply::Unavailable, 1);
    // Reads and refused writes do not use up the knob.
    c.send(Method::GET, c.url("items").unwrap(), None)
        .await
        .unwrap();
    let refused = c.send(Method::POST, c.url("refused").unwrap(), None).await;
    assert!(matches!(
        refused,
        Err(ConnectorError::Http { status: 400, .. })
    ));
    assert_eq!(s.control.pending_ambiguous_writes(), 1);

    let err = c
        .send(Method::POST, c.url("items").unwrap(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Http { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(s.applied.load(Ordering::SeqCst), 1, "the write was applied");
    assert_eq!(s.control.pending_ambiguous_writes(), 0);

    // The next write is answered normally.
    let ok = c
        .send(Method::POST, c.url("items").unwrap(), None)
        .await
        .unwrap();
    assert_eq!(ok.status, 201);
    assert_eq!(s.applied.load(Ordering::SeqCst), 2);
    let ambiguous = s.control.ambiguous_writes();
    assert_eq!(ambiguous.len(), 1);
    assert_eq!(ambiguous[0].status, 503);
    assert_eq!(ambiguous[0].ambiguous, Some(AmbiguousReply::Unavailable));
    // Both applied writes count as the user's writes; the refused one does not.
    assert_eq!(s.control.writes_by("api-user").len(), 2);
}

#[tokio::test]
async fn an_applied_write_can_lose_its_connection_without_an_answer() {
    let s = server().await;
    let c = client(&s.base);
    s.control.ambiguous_next_writes(AmbiguousReply::Dropped, 2);

    let err = c
        .send(Method::POST, c.url("items").unwrap(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(s.applied.load(Ordering::SeqCst), 1);

    // On the wire: the request is read and applied, then the connection ends
    // with not one byte of answer.
    let addr = s.base.trim_start_matches("http://").trim_end_matches('/');
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"POST /items HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer))
        .await
        .expect("the connection is closed")
        .ok();
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    assert_eq!(s.applied.load(Ordering::SeqCst), 2);
    let records = s.control.ambiguous_writes();
    assert_eq!(records.len(), 2);
    assert!(records
        .iter()
        .all(|r| r.status == 0 && r.ambiguous == Some(AmbiguousReply::Dropped) && r.applied()));
}

#[tokio::test]
async fn the_ambiguity_rate_applies_every_write_it_garbles() {
    let s = server().await;
    let c = client(&s.base);
    s.control.set_ambiguous_rate(1.0);
    for _ in 0..8 {
        let err = c
            .send(Method::POST, c.url("items").unwrap(), None)
            .await
            .unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
    }
    assert_eq!(s.applied.load(Ordering::SeqCst), 8);
    assert_eq!(s.control.ambiguous_writes().len(), 8);
    s.control.set_ambiguous_rate(0.0);
    c.send(Method::POST, c.url("items").unwrap(), None)
        .await
        .unwrap();
    assert_eq!(s.control.ambiguous_writes().len(), 8);
}

#[tokio::test]
async fn ambiguity_can_target_one_path() {
    let s = server().await;
    let c = client(&s.base);
    s.control
        .ambiguous_next_writes_to(AmbiguousReply::Unavailable, 1, "/elsewhere");
    c.send(Method::POST, c.url("items").unwrap(), None)
        .await
        .unwrap();
    assert_eq!(s.control.pending_ambiguous_writes(), 1);
    s.control
        .ambiguous_next_writes_to(AmbiguousReply::Unavailable, 1, "/items");
    let err = c
        .send(Method::POST, c.url("items").unwrap(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Http { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(s.control.pending_ambiguous_writes(), 1);
}
