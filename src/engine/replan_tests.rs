//! The planner's re-plan loop: a plan whose base changed before its commit
//! (a delivery recorded something for the link) is planned again at once,
//! up to [`super::plan_run::MAX_REPLANS`] times; after that the notice goes
//! through the ordinary retry schedule and is kept, never dropped.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use psa_connector::{Comment, ConnectorError, Ticket};

use super::plan_run::{plan_notice, MAX_REPLANS};
use super::tests::{fixture, ticket, Fixture};
use super::Connection;
use crate::store::{link_key, InboxItem, IntakeSource, Side, Store, TreeName};
use crate::testing::{Fake, Script};

/// Reads the fixture's tickets; while `conflicts` lasts, each comment read
/// records a new shadow for the link, as a delivery finishing meanwhile would.
struct Churn {
    store: Store,
    link: u64,
    conflicts: AtomicU32,
    source_reads: AtomicU32,
}

impl Script for Churn {
    fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        let side = if id == "100" { Side::A } else { Side::B };
        if side == Side::A {
            self.source_reads.fetch_add(1, Ordering::SeqCst);
        }
        Ok(ticket(side, "In Progress", "High"))
    }
    fn list_comments(&self, _: &str) -> Result<Vec<Comment>, ConnectorError> {
        let left = self.conflicts.load(Ordering::SeqCst);
        if left > 0 {
            self.conflicts.store(left - 1, Ordering::SeqCst);
            let mut shadow = self.store.shadow(self.link).unwrap();
            let n = shadow.b.values.len();
            shadow.b.values.insert(format!("delivered-{n}"), "x".into());
            let key = self.link.to_be_bytes();
            self.store
                .transact(|tx| tx.put(TreeName::Shadows, &key, &shadow))
                .unwrap();
        }
        Ok(Vec::new())
    }
}

/// The fixture's link indexed and agreed, both connections answering from
/// one [`Churn`], and the notice stored in the inbox.
fn setup(conflicts: u32) -> (Fixture, Arc<Fake<Churn>>, InboxItem) {
    let mut f = fixture();
    f.agree(
        &ticket(Side::A, "In Progress", "High"),
        &ticket(Side::B, "In Progress", "High"),
    );
    let churn = Arc::new(Fake(Churn {
        store: f.engine.store.clone(),
        link: f.link.id,
        conflicts: AtomicU32::new(conflicts),
        source_reads: AtomicU32::new(0),
    }));
    for name in ["autotask", "connectwise"] {
        f.engine.connections.insert(
            name.into(),
            Connection {
                name: name.into(),
                connector: churn.clone(),
            },
        );
    }
    let notice = InboxItem {
        id: 1,
        connection: "autotask".into(),
        ticket_id: "100".into(),
        source: IntakeSource::Webhook,
        dedup_key: "n1".into(),
        received_at: chrono::Utc::now(),
        updated_at: None,
        attempts: 0,
        next_attempt_at: None,
        detail: Default::default(),
    };
    let link = f.link.id;
    f.engine
        .store
        .transact(|tx| {
            tx.put(
                TreeName::LinkIndex,
                &link_key("acme", Side::A, "100"),
                &link,
            )?;
            tx.put_inbox_item(&notice)
        })
        .unwrap();
    (f, churn, notice)
}

#[tokio::test]
async fn a_plan_overtaken_once_is_planned_again_at_once() {
    let (f, churn, notice) = setup(1);
    plan_notice(&f.engine, &notice, &[]).await;
    assert_eq!(
        churn.0.source_reads.load(Ordering::SeqCst),
        2,
        "planned twice"
    );
    assert!(
        f.engine.store.inbox().unwrap().is_empty(),
        "the notice was planned"
    );
}

#[tokio::test]
async fn a_plan_overtaken_every_time_is_rescheduled_not_dropped() {
    let (f, churn, notice) = setup(u32::MAX);
    plan_notice(&f.engine, &notice, &[]).await;
    assert_eq!(
        churn.0.source_reads.load(Ordering::SeqCst),
        MAX_REPLANS,
        "planned again up to the limit"
    );
    let inbox = f.engine.store.inbox().unwrap();
    assert_eq!(inbox.len(), 1, "the notice is kept");
    assert_eq!(inbox[0].attempts, 1, "{:?}", inbox[0]);
    assert!(inbox[0].next_attempt_at.is_some(), "{:?}", inbox[0]);
}

/// The source ticket of a re-planned dead update is gone: the notice is
/// dropped and so is the re-plan record, instead of staying forever (and
/// keeping its fields "in flight" for good).
#[tokio::test]
async fn a_replan_whose_ticket_is_gone_is_dropped_with_its_notice() {
    struct Gone;
    impl Script for Gone {
        fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
            Err(ConnectorError::NotFound(format!("ticket {id}")))
        }
    }
    let (mut f, _, notice) = setup(0);
    let gone = Arc::new(Fake(Gone));
    for name in ["autotask", "connectwise"] {
        f.engine.connections.insert(
            name.into(),
            Connection {
                name: name.into(),
                connector: gone.clone(),
            },
        );
    }
    let dead_update = crate::store::OutboxOp {
        fields: vec!["status".into()],
        ..crate::store::OutboxOp::sample(
            40,
            f.link.id,
            Side::B,
            crate::store::Action::UpdateTicket {
                update: Default::default(),
            },
        )
    };
    let key = crate::store::replan_key(f.link.id, 40);
    f.engine
        .store
        .transact(|tx| tx.put(TreeName::Replans, &key, &dead_update))
        .unwrap();
    plan_notice(&f.engine, &notice, &[]).await;
    assert!(f.engine.store.inbox().unwrap().is_empty(), "notice dropped");
    assert!(
        f.engine.store.replans().unwrap().is_empty(),
        "re-plan left behind"
    );
}
