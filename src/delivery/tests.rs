//! Delivery worker rules pinned without vendors: a panicking delivery frees
//! its queue, an absurd `Retry-After` neither panics nor counts as an attempt,
//! a visibility change for a note that is gone is recorded, not retried.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use psa_connector::{ConnectorError, Ticket, TicketUpdate};

use crate::clock::ManualClock;
use crate::engine::{Connection, Engine};
use crate::store::{Action, Link, OutboxOp, Side, Store, TicketRef, TreeName};
use crate::testing::{sample_ticket, Fake, Script};

/// Update calls: the first panics, the second is throttled with an absurd
/// `Retry-After`, the rest succeed.
struct Flaky {
    updates: AtomicU32,
}

impl Script for Flaky {
    fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        // The read-back after an update.
        Ok(Ticket {
            status: "Done".into(),
            ..sample_ticket(id)
        })
    }
    fn update_ticket(&self, _: &str, _: &TicketUpdate) -> Result<(), ConnectorError> {
        match self.updates.fetch_add(1, Ordering::SeqCst) {
            0 => panic!("connector bug"),
            1 => Err(ConnectorError::Http {
                status: 429,
                message: "slow down".into(),
                retry_after: Some(Duration::from_secs(u64::MAX)),
            }),
            _ => Ok(()),
        }
    }
    fn can_set_comment_visibility(&self) -> bool {
        true
    }
    fn set_comment_visibility(
        &self,
        _: &str,
        comment_id: &str,
        _: psa_connector::Visibility,
    ) -> Result<(), ConnectorError> {
        Err(ConnectorError::NotFound(format!("note {comment_id}")))
    }
}

fn update_op(id: u64, link: u64) -> OutboxOp {
    let update = TicketUpdate {
        status: Some("Done".into()),
        ..Default::default()
    };
    OutboxOp {
        connection: "stub".into(),
        fields: vec!["status".into()],
        next_attempt_at: chrono::Utc::now() - chrono::Duration::seconds(1),
        ..OutboxOp::sample(id, link, Side::B, Action::UpdateTicket { update })
    }
}

async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    crate::demo::wait_for(what, Duration::from_secs(30), &mut check)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_delivery_does_not_wedge_its_queue() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(chrono::Utc::now());
    let connector = Arc::new(Fake(Flaky {
        updates: AtomicU32::new(0),
    }));
    let engine = Arc::new(Engine::new(
        Store::open(&dir.path().join("s")).unwrap(),
        HashMap::from([(
            "stub".to_string(),
            Connection {
                name: "stub".into(),
                connector: connector.clone(),
            },
        )]),
        Vec::new(),
        Arc::new(clock.clone()),
        Default::default(),
    ));
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
        created_at: chrono::Utc::now(),
        marker: None,
    };
    let op = update_op(100, 1);
    engine
        .store
        .transact(|tx| {
            tx.put(TreeName::Links, &1u64.to_be_bytes(), &link)?;
            tx.put_op(&op)
        })
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(super::run_delivery(
        engine.clone(),
        "stub".into(),
        Duration::from_millis(10),
        async {
            let _ = stopped.await;
        },
    ));

    // The panic is recorded like a transient failure: one attempt, retried later.
    let failed = until("the panic to be recorded", || {
        engine
            .store
            .outbox_op(100)
            .ok()?
            .filter(|o| o.attempts == 1)
    })
    .await;
    assert!(failed.last_error.unwrap().contains("panic"));
    assert_eq!(connector.0.updates.load(Ordering::SeqCst), 1);

    // The queue is free again: the next attempt runs (and is throttled with
    // an absurd Retry-After, which must neither panic nor count).
    clock.advance(chrono::Duration::seconds(3));
    let throttled = until("the retry after the panic", || {
        engine
            .store
            .outbox_op(100)
            .ok()?
            .filter(|o| o.last_error.as_deref().is_some_and(|e| e.contains("429")))
    })
    .await;
    assert_eq!(throttled.attempts, 1, "a 429 is not an attempt");
    assert!(throttled.next_attempt_at <= clock_now(&clock) + chrono::Duration::days(1));

    clock.advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    until("the delivery", || {
        engine.store.outbox_op(100).ok()?.is_none().then_some(())
    })
    .await;
    assert_eq!(connector.0.updates.load(Ordering::SeqCst), 3);
    let _ = stop.send(());
    worker.await.unwrap();
}

fn clock_now(clock: &ManualClock) -> chrono::DateTime<chrono::Utc> {
    use crate::clock::Clock;
    clock.now()
}

/// Making a mirror internal when the mirror no longer exists: nothing left
/// to change, so the operation completes (audited) instead of dead-lettering
/// and blocking its ticket's queue.
#[tokio::test]
async fn a_visibility_change_for_a_vanished_note_completes_with_an_audit_line() {
    let dir = tempfile::tempdir().unwrap();
    let connector = Fake(Flaky {
        updates: AtomicU32::new(0),
    });
    let engine = Engine::new(
        Store::open(&dir.path().join("s")).unwrap(),
        HashMap::new(),
        Vec::new(),
        Arc::new(ManualClock::new(chrono::Utc::now())),
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
        created_at: chrono::Utc::now(),
        marker: None,
    };
    let mut op = update_op(100, 1);
    op.action = Action::SetCommentVisibility {
        comment_id: "801".into(),
        visibility: psa_connector::Visibility::Internal,
        source: (Side::A, "55".into()),
    };
    op.fields.clear();
    engine
        .store
        .transact(|tx| {
            tx.put(TreeName::Links, &1u64.to_be_bytes(), &link)?;
            tx.put_op(&op)
        })
        .unwrap();
    let delivered = super::apply::apply(&connector, &op, Some("2"))
        .await
        .unwrap();
    assert!(matches!(
        delivered,
        super::apply::Delivered::VisibilitySet { gone: true }
    ));
    engine.record_success(&op, delivered).await.unwrap();
    assert!(engine.store.outbox_op(100).unwrap().is_none());
    let audit = engine.store.audit_entries().unwrap();
    assert!(
        audit.iter().any(|e| e
            .message
            .contains("make note 801 internal skipped: the note no longer exists")),
        "{audit:?}"
    );
}
