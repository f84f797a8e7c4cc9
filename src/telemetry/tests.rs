//! Telemetry rules with fake times and a local recorder: which time a
//! change counts from, propagation measured on the engine's clock at
//! delivery, histogram buckets, readiness budgets and verdicts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use psa_connector::{ApiStatsSnapshot, ConnectorError, Ticket, TicketUpdate};

use super::ready::{budget, judge, Reach, Verdict};
use super::*;
use crate::clock::ManualClock;
use crate::engine::Connection;
use crate::store::{Action, Link, Side, Store, TicketRef, TreeName};
use crate::testing::{sample_ticket, Fake, Script};

fn at(secs: i64) -> Timestamp {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

fn item(updated_at: Option<Timestamp>, received_at: Timestamp) -> InboxItem {
    InboxItem {
        id: 1,
        connection: "autotask".into(),
        ticket_id: "42".into(),
        source: IntakeSource::Webhook,
        dedup_key: "k".into(),
        received_at,
        updated_at,
        attempts: 0,
        next_attempt_at: None,
        detail: Default::default(),
    }
}

#[test]
fn a_change_counts_from_the_vendor_stamp_else_its_arrival() {
    assert_eq!(
        change_time(&item(Some(at(0)), at(5))),
        at(0),
        "vendor stamp"
    );
    assert_eq!(change_time(&item(None, at(5))), at(5), "no stamp: arrival");
    assert_eq!(
        change_time(&item(Some(at(9)), at(5))),
        at(5),
        "a stamp after the arrival (vendor clock ahead) is not believed"
    );
}

#[test]
fn propagation_is_whole_milliseconds_and_never_negative() {
    let t0 = at(0);
    assert_eq!(
        propagation_seconds(t0, t0 + chrono::Duration::milliseconds(1500)),
        1.5
    );
    assert_eq!(propagation_seconds(at(10), at(0)), 0.0);
}

/// Writes succeed; the read-back shows the written status.
struct Accepting;

impl Script for Accepting {
    fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        Ok(Ticket {
            status: "Done".into(),
            ..sample_ticket(id)
        })
    }
    fn update_ticket(&self, _: &str, _: &TicketUpdate) -> Result<(), ConnectorError> {
        Ok(())
    }
}

/// The value of the rendered sample `series` (name with labels), if present.
fn sample(rendered: &str, series: &str) -> Option<f64> {
    rendered
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// A delivered operation records change → write on the engine's clock, in
/// the propagation histogram's buckets; one without a change time (a record
/// written before it was kept) records nothing.
#[tokio::test]
async fn delivery_records_propagation_on_the_engine_clock() {
    let recorder = prometheus_builder().build_recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);

    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(0));
    let engine = Engine::new(
        Store::open(&dir.path().join("s")).unwrap(),
        HashMap::from([(
            "stub".to_string(),
            Connection {
                name: "stub".into(),
                connector: Arc::new(Fake(Accepting)),
            },
        )]),
        Vec::new(),
        Arc::new(clock.clone()),
        Default::default(),
    );
    let link = Link {
        id: 1,
        pairing: "p".into(),
        a: Some(TicketRef {
            id: "1".into(),
            number: "T1".into(),
        }),
        b: Some(TicketRef {
            id: "2".into(),
            number: "2".into(),
        }),
        origin: Side::A,
        created_at: at(0),
        marker: None,
    };
    let update = |id, link, changed_at| OutboxOp {
        connection: "stub".into(),
        fields: vec!["status".into()],
        next_attempt_at: at(0),
        planned_at: at(0),
        changed_at,
        ..OutboxOp::sample(
            id,
            link,
            Side::B,
            Action::UpdateTicket {
                update: TicketUpdate {
                    status: Some("Done".into()),
                    ..Default::default()
                },
            },
        )
    };
    let other = Link {
        id: 2,
        ..link.clone()
    };
    engine
        .store
        .transact(|tx| {
            tx.put(TreeName::Links, &1u64.to_be_bytes(), &link)?;
            tx.put(TreeName::Links, &2u64.to_be_bytes(), &other)?;
            tx.put_op(&update(100, 1, Some(at(0))))?;
            tx.put_op(&update(101, 2, None))
        })
        .unwrap();
    clock.advance(chrono::Duration::seconds(90));
    let delivered = crate::delivery::deliver_round(&engine, "stub").await;
    assert_eq!(delivered.len(), 2);

    let text = handle.render();
    let series = r#"{pairing="p",connection="stub"}"#;
    let count = format!("{PROPAGATION_SECONDS}_count{series}");
    let sum = format!("{PROPAGATION_SECONDS}_sum{series}");
    assert_eq!(sample(&text, &count), Some(1.0), "{text}");
    assert_eq!(sample(&text, &sum), Some(90.0), "{text}");
    let bucket = |le: &str| {
        let name =
            format!(r#"{PROPAGATION_SECONDS}_bucket{{pairing="p",connection="stub",le="{le}"}}"#);
        sample(&text, &name)
    };
    assert_eq!(bucket("60"), Some(0.0), "{text}");
    assert_eq!(bucket("120"), Some(1.0), "{text}");
}

/// The histograms are rendered with their buckets (the exporter's default
/// is a summary, which cannot be aggregated across instances).
#[test]
fn histograms_have_their_buckets() {
    let recorder = prometheus_builder().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        planned("autotask", true, Duration::from_millis(30));
        delivery_finished("autotask", false, Duration::from_secs(3));
    });
    let text = handle.render();
    for line in [
        r#"psa_bridge_plan_duration_seconds_bucket{connection="autotask",outcome="planned",le="0.025"} 0"#,
        r#"psa_bridge_plan_duration_seconds_bucket{connection="autotask",outcome="planned",le="0.05"} 1"#,
        r#"psa_bridge_delivery_duration_seconds_bucket{connection="autotask",outcome="failed",le="2.5"} 0"#,
        r#"psa_bridge_delivery_duration_seconds_bucket{connection="autotask",outcome="failed",le="5"} 1"#,
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    for buckets in [CALL_BUCKETS, PROPAGATION_BUCKETS] {
        assert!(buckets.windows(2).all(|w| w[0] < w[1]), "ascending");
    }
}

#[test]
fn intake_counts_by_connection_source_and_outcome() {
    let recorder = prometheus_builder().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        intake("connectwise", IntakeSource::Poll, 3, 1);
        intake("connectwise", IntakeSource::Webhook, 2, 0);
    });
    let text = handle.render();
    let series = |source: &str, outcome: &str| {
        format!(r#"{INTAKE}{{connection="connectwise",source="{source}",outcome="{outcome}"}}"#)
    };
    assert_eq!(sample(&text, &series("poll", "accepted")), Some(3.0));
    assert_eq!(sample(&text, &series("poll", "duplicate")), Some(1.0));
    assert_eq!(sample(&text, &series("webhook", "accepted")), Some(2.0));
}

#[test]
fn a_connection_is_unreachable_once_failing_past_its_budget() {
    let budget = budget(true, 60, 30);
    assert_eq!(budget, Duration::from_secs(90));
    assert_eq!(
        super::ready::budget(false, 60, 30),
        Duration::from_secs(90),
        "webhook-only: a minute plus the timeout"
    );
    let t0 = 1_800_000_000_000u64;
    let failing = ApiStatsSnapshot {
        failing_since_unix_ms: Some(t0),
        ..Default::default()
    };
    assert_eq!(
        judge(&ApiStatsSnapshot::default(), t0, budget),
        Reach::Reachable
    );
    assert_eq!(
        judge(&failing, t0 + 90_000, budget),
        Reach::Reachable,
        "within"
    );
    let reach = judge(&failing, t0 + 90_001, budget);
    assert!(matches!(reach, Reach::Unreachable { .. }), "{reach:?}");
    assert_eq!(
        reach.reason().unwrap(),
        "vendor calls have been failing for 90 s with no success (budget 90 s)"
    );
}

#[test]
fn readyz_shows_reasons_only_to_token_holders() {
    let unreachable = Reach::Unreachable {
        failing_for: Duration::from_secs(200),
        budget: Duration::from_secs(90),
    };
    let verdict = Verdict {
        store: None,
        connections: vec![
            ("autotask".into(), Reach::Reachable),
            ("connectwise".into(), unreachable),
        ],
    };
    let (code, body) = verdict.report(true);
    assert_eq!(code, axum::http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["connections"]["autotask"]["state"], "reachable");
    assert_eq!(body["connections"]["connectwise"]["state"], "unreachable");
    assert!(body["connections"]["connectwise"]["reason"]
        .as_str()
        .unwrap()
        .contains("200 s"));
    let (_, public) = verdict.report(false);
    assert!(public["connections"]["connectwise"].get("reason").is_none());

    let store_down = Verdict {
        store: Some("the last store write failed: disk full".into()),
        connections: vec![("autotask".into(), Reach::Reachable)],
    };
    let (code, body) = store_down.report(true);
    assert_eq!(code, axum::http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["store"]["state"], "failing");
    assert!(store_down.report(false).1["store"].get("reason").is_none());

    let fine = Verdict {
        store: None,
        connections: vec![("autotask".into(), Reach::Reachable)],
    };
    assert_eq!(fine.report(false).0, axum::http::StatusCode::OK);
    assert_eq!(fine.report(false).1["status"], "ready");
}

/// Stores written before operations kept their change time still decode,
/// and an operation without one is written without the key.
#[test]
fn outbox_records_without_a_change_time_stay_compatible() {
    let op = OutboxOp::sample(
        1,
        1,
        Side::A,
        Action::UpdateTicket {
            update: Default::default(),
        },
    );
    let json = serde_json::to_value(&op).unwrap();
    assert!(json.get("changed_at").is_none(), "{json}");
    let back: OutboxOp = serde_json::from_value(json).unwrap();
    assert_eq!(back.changed_at, None);
    let stamped = OutboxOp {
        changed_at: Some(at(0)),
        ..op
    };
    let back: OutboxOp = serde_json::from_str(&serde_json::to_string(&stamped).unwrap()).unwrap();
    assert_eq!(back.changed_at, Some(at(0)));
}

/// A failed store write makes the daemon unready until a flush succeeds.
#[tokio::test]
async fn a_store_that_cannot_write_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        Store::open(&dir.path().join("s")).unwrap(),
        HashMap::from([(
            "stub".to_string(),
            Connection {
                name: "stub".into(),
                connector: Arc::new(Fake(Accepting)),
            },
        )]),
        Vec::new(),
        Arc::new(ManualClock::new(at(0))),
        Default::default(),
    );
    let readiness = Readiness::with_budgets(&engine, |_| Duration::from_secs(60));
    let verdict = readiness.check();
    assert!(verdict.ready(), "{verdict:?}");
    assert_eq!(
        verdict.connections,
        vec![("stub".to_string(), Reach::Reachable)]
    );

    engine
        .store
        .faults()
        .set_write_failure(Some(std::io::ErrorKind::StorageFull));
    assert!(engine.store.flush().await.is_err());
    let verdict = readiness.check();
    assert!(!verdict.ready());
    let (code, body) = verdict.report(true);
    assert_eq!(code, axum::http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["store"]["state"], "failing");
    assert!(
        body["store"]["reason"]
            .as_str()
            .unwrap()
            .contains("injected store fault"),
        "{body}"
    );

    engine.store.faults().set_write_failure(None);
    engine.store.flush().await.unwrap();
    assert!(readiness.check().ready());
}
