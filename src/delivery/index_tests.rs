//! The outbox indexes stay exactly what a rebuild from the records gives
//! through every delivery outcome transaction (success with a write-back
//! follow-up, retry, dead letter, re-plan, re-queue), and the due-heads
//! query keeps the queue rules: FIFO per (link, side), a dead head blocks
//! its queue.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use psa_connector::{ConnectorError, NewComment, NewTicket, Ticket, Visibility};

use super::apply::Delivered;
use super::Retried;
use crate::clock::ManualClock;
use crate::config::load::parse_toml;
use crate::config::{LoadedPairing, Mapping};
use crate::engine::Engine;
use crate::store::{
    Action, Link, OutboxCounts, OutboxOp, Side, Store, TicketRef, TreeName, WriteBack,
};

const MAPPING: &str = include_str!("../../mappings/autotask-to-connectwise.toml");

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
}

fn engine(dir: &Path) -> Engine {
    let path = Path::new("mappings/autotask-to-connectwise.toml");
    let mapping: Mapping = parse_toml(path, MAPPING).unwrap();
    let pairing = LoadedPairing {
        name: "acme".into(),
        a: "autotask".into(),
        b: "connectwise".into(),
        mapping,
        mapping_path: path.into(),
        mapping_source: MAPPING.into(),
    };
    Engine::new(
        Store::open(&dir.join("store")).unwrap(),
        HashMap::new(),
        vec![pairing],
        Arc::new(ManualClock::new(start())),
        Default::default(),
    )
}

fn link(id: u64, b: bool) -> Link {
    Link {
        id,
        pairing: "acme".into(),
        a: Some(TicketRef {
            id: format!("{id}00"),
            number: format!("T{id}00"),
        }),
        b: b.then(|| TicketRef {
            id: format!("{id}01"),
            number: format!("{id}01"),
        }),
        origin: Side::A,
        created_at: start(),
        marker: None,
    }
}

fn op(id: u64, link: u64, target: Side, action: Action, fields: &[&str]) -> OutboxOp {
    OutboxOp {
        id,
        link,
        pairing: "acme".into(),
        target,
        connection: match target {
            Side::A => "autotask",
            Side::B => "connectwise",
        }
        .into(),
        action,
        fields: fields.iter().map(|f| f.to_string()).collect(),
        planned_at: start(),
        attempts: 0,
        next_attempt_at: start(),
        last_error: None,
        dead: None,
        first_failed_at: None,
        changed_at: None,
        attempt_started_at: None,
        planned_in_session: None,
    }
}

fn update() -> Action {
    Action::UpdateTicket {
        update: psa_connector::TicketUpdate {
            status: Some("In Progress".into()),
            ..Default::default()
        },
    }
}

fn note(marker: &str) -> Action {
    Action::AddComment {
        comment: NewComment {
            body: "hello".into(),
            visibility: Visibility::Public,
            marker: marker.into(),
            resolution: false,
        },
        source: None,
    }
}

fn due(engine: &Engine, connection: &str, at: chrono::DateTime<Utc>) -> Vec<u64> {
    engine
        .store
        .due_heads(connection, at, |_, _| false)
        .unwrap()
        .iter()
        .map(|op| op.id)
        .collect()
}

fn stored(engine: &Engine, id: u64) -> OutboxOp {
    engine.store.outbox_op(id).unwrap().unwrap()
}

fn refused() -> ConnectorError {
    ConnectorError::Rejected {
        status: 400,
        message: "refused".into(),
    }
}

#[tokio::test]
async fn delivery_outcomes_keep_the_outbox_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let store = &engine.store;
    let created = NewTicket {
        title: "VPN down".into(),
        description: "Tunnel".into(),
        status: None,
        priority: None,
        marker: "psa-bridge:acme:8".into(),
        placement: BTreeMap::new(),
        fields: BTreeMap::new(),
    };
    let create = Action::CreateTicket {
        ticket: created,
        write_back: Some(WriteBack {
            note: Some("Escalated as {number}".into()),
            note_visibility: Visibility::Internal,
            field: None,
        }),
    };
    let ops = [
        op(11, 7, Side::B, update(), &["status"]),
        op(12, 7, Side::B, note("m12"), &[]),
        op(13, 7, Side::A, update(), &["status"]),
        op(14, 7, Side::B, note("m14"), &[]),
        op(20, 8, Side::B, create, &[]),
    ];
    store
        .transact(|tx| {
            tx.put(TreeName::Links, &7u64.to_be_bytes(), &link(7, true))?;
            tx.put(TreeName::Links, &8u64.to_be_bytes(), &link(8, false))?;
            for op in &ops {
                tx.put_op(op)?;
            }
            Ok(())
        })
        .unwrap();
    store.assert_outbox_index_consistent();
    assert_eq!(due(&engine, "connectwise", start()), vec![11, 20]);
    assert_eq!(due(&engine, "autotask", start()), vec![13]);

    // A retryable failure reschedules the head; the op behind it waits.
    let reset = ConnectorError::Transport("reset".into());
    let retry_at = engine.record_failure(&ops[0], &reset).await.unwrap();
    store.assert_outbox_index_consistent();
    assert_eq!(due(&engine, "connectwise", start()), vec![20]);
    let later = stored(&engine, 11).next_attempt_at;
    assert_eq!(retry_at, Some(later));
    // A stale copy (the record changed meanwhile) writes nothing and says so.
    assert_eq!(engine.record_failure(&ops[0], &reset).await.unwrap(), None);
    assert_eq!(stored(&engine, 11).next_attempt_at, later);
    assert_eq!(due(&engine, "connectwise", later), vec![11, 20]);

    // A dead letter blocks its queue, however late.
    engine
        .record_failure(&stored(&engine, 11), &refused())
        .await
        .unwrap();
    store.assert_outbox_index_consistent();
    let far = start() + Duration::days(30);
    assert_eq!(due(&engine, "connectwise", far), vec![20]);
    assert_eq!(
        store.outbox_counts().unwrap(),
        OutboxCounts {
            pending: 4,
            dead: 1
        }
    );

    // Re-planning the dead update drops it: the note behind it is the head.
    let retried = engine.retry_dead(11).await.unwrap().unwrap();
    assert!(matches!(retried, Retried::Replanned { .. }), "{retried:?}");
    store.assert_outbox_index_consistent();
    assert_eq!(due(&engine, "connectwise", start()), vec![12, 20]);

    // Success removes the head; the next op of the queue takes its place.
    engine
        .record_success(
            &stored(&engine, 12),
            Delivered::Commented {
                id: "c1".into(),
                adopted: false,
            },
        )
        .await
        .unwrap();
    store.assert_outbox_index_consistent();
    assert_eq!(due(&engine, "connectwise", start()), vec![14, 20]);

    // A dead note is re-queued as it is.
    engine
        .record_failure(&stored(&engine, 14), &refused())
        .await
        .unwrap();
    assert_eq!(due(&engine, "connectwise", far), vec![20]);
    let retried = engine.retry_dead(14).await.unwrap().unwrap();
    assert!(matches!(retried, Retried::Requeued { .. }), "{retried:?}");
    store.assert_outbox_index_consistent();
    assert_eq!(due(&engine, "connectwise", start()), vec![14, 20]);

    // A create's success queues its write-back note on the source side.
    let ticket = Ticket {
        assignee: Default::default(),
        category: Default::default(),
        id: "801".into(),
        number: "801".into(),
        title: "VPN down".into(),
        description: None,
        status: "New".into(),
        priority: "Low".into(),
        queue: None,
        closed: false,
        marker: None,
        fields: Default::default(),
        updated_at: start(),
    };
    engine
        .record_success(
            &stored(&engine, 20),
            Delivered::Created {
                ticket: Box::new(ticket),
                adopted: false,
            },
        )
        .await
        .unwrap();
    store.assert_outbox_index_consistent();
    assert_eq!(due(&engine, "connectwise", start()), vec![14]);
    let autotask = due(&engine, "autotask", start());
    assert_eq!(autotask.len(), 2, "{autotask:?}");
    assert_eq!(store.outbox_ids_for_link(8).unwrap().len(), 1);
    assert_eq!(
        store.outbox_counts().unwrap(),
        OutboxCounts {
            pending: 3,
            dead: 0
        }
    );
}
