//! The planner's in-flight snapshot reads the outbox of the ticket's links
//! only (other links' records are never decoded), and a link that appears
//! after the snapshot was taken makes it plan again instead of planning
//! without that link's operations in flight.

use std::sync::Arc;
use std::sync::Mutex;

use psa_connector::{Comment, ConnectorError, Ticket, TicketUpdate};

use super::tests::{fixture, ticket};
use super::{Connection, EngineError};
use crate::store::{
    link_key, Action, InboxItem, IntakeSource, Link, OutboxOp, Side, Store, StoreError, TreeName,
};
use crate::testing::{Fake, Script};

/// Reads answer the fixture's tickets; the first read may first store a
/// link (a delivery recording a created ticket while the planner reads).
struct Reads {
    link_on_read: Mutex<Option<(Store, Link)>>,
}

impl Script for Reads {
    fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        let pending = self.link_on_read.lock().unwrap().take();
        if let Some((store, link)) = pending {
            store
                .transact(|tx| {
                    tx.put(TreeName::Links, &link.id.to_be_bytes(), &link)?;
                    tx.put(
                        TreeName::LinkIndex,
                        &link_key("acme", Side::A, "100"),
                        &link.id,
                    )
                })
                .unwrap();
        }
        let side = if id == "100" { Side::A } else { Side::B };
        Ok(ticket(side, "In Progress", "High"))
    }
    fn list_comments(&self, _: &str) -> Result<Vec<Comment>, ConnectorError> {
        Ok(Vec::new())
    }
}

fn connect(f: &mut super::tests::Fixture, link_on_read: Option<Link>) {
    let reads = Arc::new(Fake(Reads {
        link_on_read: Mutex::new(link_on_read.map(|l| (f.engine.store.clone(), l))),
    }));
    for name in ["autotask", "connectwise"] {
        f.engine.connections.insert(
            name.into(),
            Connection {
                name: name.into(),
                connector: reads.clone(),
            },
        );
    }
}

fn notice() -> InboxItem {
    InboxItem {
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
    }
}

fn update_op(id: u64, link: u64) -> OutboxOp {
    let update = TicketUpdate {
        status: Some("In Progress".into()),
        ..Default::default()
    };
    OutboxOp {
        pairing: "acme".into(),
        connection: "connectwise".into(),
        fields: vec!["status".into()],
        ..OutboxOp::sample(id, link, Side::B, Action::UpdateTicket { update })
    }
}

#[tokio::test]
async fn planning_decodes_only_the_tickets_links_operations() {
    let mut f = fixture();
    connect(&mut f, None);
    let a = ticket(Side::A, "In Progress", "High");
    let b = ticket(Side::B, "In Progress", "High");
    f.agree(&a, &b);
    let store = f.engine.store.clone();
    store
        .transact(|tx| {
            tx.put(
                TreeName::LinkIndex,
                &link_key("acme", Side::A, "100"),
                &7u64,
            )?;
            tx.put_op(&update_op(50, 7))?;
            tx.put_op(&update_op(51, 9))
        })
        .unwrap();
    // Another link's record is unreadable: the old whole-outbox snapshot
    // failed on it; this ticket's plan never touches it.
    store
        .tree(TreeName::Outbox)
        .insert(51u64.to_be_bytes(), &b"garbage"[..])
        .unwrap();
    assert!(store.outbox().is_err());
    f.engine.process(&notice(), Vec::new()).await.unwrap();
    assert!(store.outbox_op(50).unwrap().is_some());
}

#[tokio::test]
async fn a_link_recorded_during_the_read_makes_the_planner_plan_again() {
    let mut f = fixture();
    let link = f.link.clone();
    connect(&mut f, Some(link));
    // Before the read the ticket has no link (the snapshot covers none);
    // during it a delivery records one.
    let error = f.engine.process(&notice(), Vec::new()).await.unwrap_err();
    assert!(
        matches!(error, EngineError::Store(StoreError::Conflict(_))),
        "{error:?}"
    );
    // Planned again, the snapshot covers the link.
    f.engine.process(&notice(), Vec::new()).await.unwrap();
}
