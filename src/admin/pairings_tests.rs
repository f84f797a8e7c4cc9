//! Pausing and resuming: unknown names list the configured pairings, a
//! second pause or a resume of a running pairing is refused, both steps are
//! audited, and the paused time does not count against the retry window.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use psa_connector::ConnectorError;

use super::OPERATOR;
use crate::admin::actions::OperatorError;
use crate::clock::ManualClock;
use crate::config::load::parse_toml;
use crate::config::{LoadedPairing, Mapping};
use crate::engine::Engine;
use crate::store::{Action, OutboxOp, Side, Store};

const MAPPING: &str = include_str!("../../mappings/autotask-to-connectwise.toml");

fn engine(dir: &Path, clock: &ManualClock) -> Engine {
    let path = Path::new("mappings/autotask-to-connectwise.toml");
    let pairing = |name: &str| LoadedPairing {
        name: name.into(),
        a: "autotask".into(),
        b: "connectwise".into(),
        mapping: parse_toml::<Mapping>(path, MAPPING).unwrap(),
        mapping_path: path.into(),
        mapping_source: MAPPING.into(),
    };
    Engine::new(
        Store::open(&dir.join("store")).unwrap(),
        HashMap::new(),
        vec![pairing("acme"), pairing("globex")],
        Arc::new(clock.clone()),
        Default::default(),
    )
}

#[tokio::test]
async fn pause_and_resume_are_checked_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap());
    let engine = engine(dir.path(), &clock);

    let unknown = engine.pause_pairing("initech", None).await.unwrap_err();
    assert!(matches!(unknown, OperatorError::NotFound(_)), "{unknown}");
    assert!(
        unknown.to_string().contains("acme, globex"),
        "names the configured pairings: {unknown}"
    );
    let unknown = engine.resume_pairing("initech", None).await.unwrap_err();
    assert!(unknown.to_string().contains("acme, globex"), "{unknown}");
    let running = engine.resume_pairing("acme", None).await.unwrap_err();
    assert!(matches!(running, OperatorError::Conflict(_)), "{running}");

    for hostile in ["line\x1b[2Jclear".to_string(), "x".repeat(501)] {
        let refused = engine
            .pause_pairing("acme", Some(&hostile))
            .await
            .unwrap_err();
        assert!(matches!(refused, OperatorError::Invalid(_)), "{refused}");
    }
    assert!(!engine.store.is_paused("acme").unwrap(), "nothing written");
    let paused = engine
        .pause_pairing("acme", Some("  client migrating  "))
        .await
        .unwrap();
    assert!(paused.paused);
    assert_eq!(paused.reason.as_deref(), Some("client migrating"));
    assert!(engine.store.is_paused("acme").unwrap());
    assert!(!engine.store.is_paused("globex").unwrap());
    let again = engine.pause_pairing("acme", None).await.unwrap_err();
    assert!(
        matches!(again, OperatorError::Conflict(_))
            && again.to_string().contains("client migrating"),
        "{again}"
    );

    clock.advance(chrono::Duration::hours(2));
    let resumed = engine.resume_pairing("acme", None).await.unwrap();
    assert!(!resumed.paused);
    assert!(!engine.store.is_paused("acme").unwrap());

    let audit = engine.store.audit_entries().unwrap();
    let kinds: Vec<(&str, Option<&str>)> = audit
        .iter()
        .map(|e| (e.kind.as_str(), e.pairing.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("pairing_paused", Some("acme")),
            ("pairing_resumed", Some("acme"))
        ]
    );
    assert_eq!(audit[0].detail["by"], OPERATOR);
    assert_eq!(audit[0].detail["reason"], "client migrating");
    assert!(audit[1].message.contains("2h 0m"), "{}", audit[1].message);
    assert!(matches!(
        engine.store.verify_audit().unwrap(),
        crate::store::VerifyReport::Intact { .. }
    ));
}

/// An operation failing for two days when the pairing was paused, resumed
/// five days later (past the three-day window), fails once more: it is
/// retried, not dead-lettered, because the paused days do not count.
#[tokio::test]
async fn paused_time_does_not_count_against_the_retry_window() {
    let dir = tempfile::tempdir().unwrap();
    let start = Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap();
    let clock = ManualClock::new(start);
    let engine = engine(dir.path(), &clock);
    let update = Action::UpdateTicket {
        update: Default::default(),
    };
    let op = OutboxOp {
        pairing: "acme".into(),
        connection: "connectwise".into(),
        attempts: 20,
        first_failed_at: Some(start - chrono::Duration::days(2)),
        ..OutboxOp::sample(5, 1, Side::B, update)
    };
    let other = OutboxOp {
        pairing: "globex".into(),
        ..op.clone()
    };
    let other = OutboxOp {
        id: 6,
        link: 2,
        ..other
    };
    engine
        .store
        .transact(|tx| {
            tx.put_op(&op)?;
            tx.put_op(&other)
        })
        .unwrap();
    engine.pause_pairing("acme", None).await.unwrap();
    clock.advance(chrono::Duration::days(5));
    engine.resume_pairing("acme", None).await.unwrap();

    let stored = engine.store.outbox_op(5).unwrap().unwrap();
    assert_eq!(
        stored.first_failed_at,
        Some(start + chrono::Duration::days(3)),
        "moved by the five paused days"
    );
    let transient = ConnectorError::Transport("connection reset".into());
    engine.record_failure(&stored, &transient).await.unwrap();
    assert!(engine.store.outbox_op(5).unwrap().unwrap().dead.is_none());
    // The other pairing's operation was not paused: its window is as it was.
    assert_eq!(
        engine.store.outbox_op(6).unwrap().unwrap().first_failed_at,
        other.first_failed_at
    );
    engine.record_failure(&other, &transient).await.unwrap();
    assert!(engine.store.outbox_op(6).unwrap().unwrap().dead.is_some());
}
