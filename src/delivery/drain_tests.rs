//! A stopping delivery worker: deliveries in flight may finish until the
//! deadline, the rest are cancelled and left in the outbox untouched, and
//! nothing new starts after the stop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use psa_connector::{
    Catalog, ChangeHint, Comment, Connector, ConnectorError, NewComment, NewTicket, Ticket,
    TicketUpdate, Timestamp, WebhookError, WebhookRequest,
};
use tokio::sync::{oneshot, Notify};

use crate::clock::ManualClock;
use crate::engine::{Connection, Engine};
use crate::store::{Action, Link, OutboxOp, Side, Store, TicketRef, TreeName};
use crate::testing::sample_ticket;

/// Updates of ticket "fast" wait for `release`; updates of "stuck" never end.
#[derive(Default)]
struct Gated {
    started: AtomicU32,
    release: Notify,
}

fn unused() -> ConnectorError {
    ConnectorError::Config("not used in this test".into())
}

#[async_trait]
impl Connector for Gated {
    fn vendor(&self) -> &'static str {
        "fake"
    }
    async fn discover(&self) -> Result<Catalog, ConnectorError> {
        Err(unused())
    }
    async fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        Ok(sample_ticket(id))
    }
    async fn find_by_marker(&self, _: &str) -> Result<Option<Ticket>, ConnectorError> {
        Err(unused())
    }
    async fn create_ticket(&self, _: &NewTicket) -> Result<Ticket, ConnectorError> {
        Err(unused())
    }
    async fn update_ticket(&self, id: &str, _: &TicketUpdate) -> Result<(), ConnectorError> {
        let release = self.release.notified();
        self.started.fetch_add(1, Ordering::SeqCst);
        match id {
            "fast" => release.await,
            _ => std::future::pending::<()>().await,
        }
        Ok(())
    }
    async fn list_comments(&self, _: &str) -> Result<Vec<Comment>, ConnectorError> {
        Err(unused())
    }
    async fn add_comment(&self, _: &str, _: &NewComment) -> Result<String, ConnectorError> {
        Err(unused())
    }
    async fn changed_since(&self, _: Timestamp) -> Result<Vec<ChangeHint>, ConnectorError> {
        Err(unused())
    }
    async fn verify_webhook(&self, _: &WebhookRequest) -> Result<Vec<ChangeHint>, WebhookError> {
        Err(WebhookError::Malformed("not used".into()))
    }
    async fn register_webhook(&self, _: &str) -> Result<(), ConnectorError> {
        Err(unused())
    }
}

/// Link `id` whose B side is ticket `b`, with one due status update to it.
fn link_and_op(engine: &Engine, id: u64, b: &str, now: chrono::DateTime<chrono::Utc>) {
    let link = Link {
        id,
        pairing: "p".into(),
        a: Some(TicketRef {
            id: format!("a{id}"),
            number: format!("A{id}"),
        }),
        b: Some(TicketRef {
            id: b.into(),
            number: b.into(),
        }),
        origin: Side::A,
        created_at: now,
        marker: None,
    };
    let update = TicketUpdate {
        status: Some("Done".into()),
        ..Default::default()
    };
    let op = OutboxOp {
        connection: "stub".into(),
        fields: vec!["status".into()],
        next_attempt_at: now - chrono::Duration::seconds(1),
        ..OutboxOp::sample(id * 100, id, Side::B, Action::UpdateTicket { update })
    };
    engine
        .store
        .transact(|tx| {
            tx.put(TreeName::Links, &id.to_be_bytes(), &link)?;
            tx.put_op(&op)
        })
        .unwrap();
}

/// An engine with one connection, "stub", served by `connector`.
fn stub_engine(dir: &std::path::Path, connector: Arc<Gated>, clock: ManualClock) -> Arc<Engine> {
    Arc::new(Engine::new(
        Store::open(&dir.join("s")).unwrap(),
        HashMap::from([(
            "stub".to_string(),
            Connection {
                name: "stub".into(),
                connector,
            },
        )]),
        Vec::new(),
        Arc::new(clock),
        Default::default(),
    ))
}

async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    crate::demo::wait_for(what, Duration::from_secs(30), &mut check)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_finishes_what_it_can_and_leaves_the_rest_in_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let clock = ManualClock::new(now);
    let connector = Arc::new(Gated::default());
    let engine = stub_engine(dir.path(), connector.clone(), clock.clone());
    link_and_op(&engine, 1, "fast", now);
    link_and_op(&engine, 2, "stuck", now);
    let (stop, stopped) = oneshot::channel::<()>();
    let (abandon, abandoned) = oneshot::channel::<()>();
    let tally = super::DrainTally::default();
    let mut worker = tokio::spawn(super::run_delivery_until(
        engine.clone(),
        "stub".into(),
        Duration::from_millis(10),
        async {
            let _ = stopped.await;
        },
        async {
            let _ = abandoned.await;
        },
        tally.clone(),
    ));
    until("both deliveries in flight", || {
        (connector.started.load(Ordering::SeqCst) == 2).then_some(())
    })
    .await;

    // Stopped: a new due operation is not started, the two in flight go on.
    stop.send(()).unwrap();
    link_and_op(&engine, 3, "fast", now);
    engine.outbox_ready.notify_waiters();
    connector.release.notify_waiters();
    until("the released delivery recorded after the stop", || {
        engine.store.outbox_op(100).ok()?.is_none().then_some(())
    })
    .await;
    until("the finished delivery counted", || {
        (tally.get().finished == 1).then_some(())
    })
    .await;
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut worker)
            .await
            .is_err(),
        "the worker returned with a delivery still in flight before the deadline"
    );

    // The deadline: the stuck delivery is cancelled and left as it was.
    abandon.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("the worker did not return at the deadline")
        .unwrap();
    assert_eq!(
        tally.get(),
        super::Drained {
            finished: 1,
            abandoned: vec![200],
        }
    );
    let left = engine
        .store
        .outbox_op(200)
        .unwrap()
        .expect("left in the outbox");
    assert_eq!(left.attempts, 0, "an abandoned delivery is not a failure");
    assert!(left.last_error.is_none());
    assert!(engine.store.outbox_op(300).unwrap().is_some());
    assert_eq!(
        connector.started.load(Ordering::SeqCst),
        2,
        "a delivery started after the stop"
    );
}

/// With more due queues than [`super::worker::MAX_RUNNING`], only that many
/// deliveries run at once (before the bound, every due head started at
/// once, and a delivery's second call waited behind every other's first:
/// 5.5 s to the first delivery after a restart with 1,000 queues at 50
/// calls/s); the rest start as those finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_runs_a_bounded_number_of_deliveries_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let connector = Arc::new(Gated::default());
    let engine = stub_engine(dir.path(), connector.clone(), ManualClock::new(now));
    let max = super::worker::MAX_RUNNING as u64;
    for id in 1..=max + 8 {
        link_and_op(&engine, id, "fast", now);
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = tokio::spawn(super::run_delivery_until(
        engine.clone(),
        "stub".into(),
        Duration::from_millis(10),
        async {
            let _ = stopped.await;
        },
        async {},
        super::DrainTally::default(),
    ));
    until("the first deliveries in flight", || {
        (connector.started.load(Ordering::SeqCst) as u64 == max).then_some(())
    })
    .await;
    // A few more rounds (ticks) with every delivery still in flight.
    let rounds = engine.delivery_rounds.get("stub");
    until("three more rounds", || {
        (engine.delivery_rounds.get("stub") >= rounds + 3).then_some(())
    })
    .await;
    assert_eq!(
        connector.started.load(Ordering::SeqCst) as u64,
        max,
        "more deliveries started than the bound"
    );
    // Finishing them lets the rest start.
    connector.release.notify_waiters();
    until("the rest started", || {
        (connector.started.load(Ordering::SeqCst) as u64 == max + 8).then_some(())
    })
    .await;
    connector.release.notify_waiters();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("the worker stops")
        .unwrap();
}
