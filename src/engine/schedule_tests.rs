//! The planner starts a notice as soon as a lane is free: a slow plan of
//! one link does not hold up notices of other tickets that arrive while it
//! runs (a planner that waited for a whole round to finish did).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use psa_connector::{
    Catalog, ChangeHint, Comment, Connector, ConnectorError, NewComment, NewTicket, Ticket,
    TicketUpdate, Timestamp, Visibility, WebhookError, WebhookRequest,
};

use super::tests::{fixture, ticket};
use super::{Connection, Engine};
use crate::store::{link_key, InboxItem, IntakeSource, Side, Store, TreeName};
use crate::testing::sample_ticket;

/// Answers at once, except that reading ticket 100 waits until `open`.
struct Gated {
    entered: AtomicBool,
    open: tokio::sync::watch::Receiver<bool>,
}

fn not_here(call: &str) -> ConnectorError {
    ConnectorError::Config(format!("{call} is not used in this test"))
}

#[async_trait]
impl Connector for Gated {
    fn vendor(&self) -> &'static str {
        "gated"
    }
    async fn discover(&self) -> Result<Catalog, ConnectorError> {
        Err(not_here("discover"))
    }
    async fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        match id {
            "100" => {
                self.entered.store(true, Ordering::SeqCst);
                let _ = self.open.clone().wait_for(|open| *open).await;
                Ok(ticket(Side::A, "In Progress", "High"))
            }
            "200" => Ok(ticket(Side::B, "In Progress", "High")),
            other => Ok(sample_ticket(other)),
        }
    }
    async fn find_by_marker(&self, _: &str) -> Result<Option<Ticket>, ConnectorError> {
        Err(not_here("find_by_marker"))
    }
    async fn create_ticket(&self, _: &NewTicket) -> Result<Ticket, ConnectorError> {
        Err(not_here("create_ticket"))
    }
    async fn update_ticket(&self, _: &str, _: &TicketUpdate) -> Result<(), ConnectorError> {
        Err(not_here("update_ticket"))
    }
    async fn list_comments(&self, _: &str) -> Result<Vec<Comment>, ConnectorError> {
        Ok(Vec::new())
    }
    async fn add_comment(&self, _: &str, _: &NewComment) -> Result<String, ConnectorError> {
        Err(not_here("add_comment"))
    }
    fn can_set_comment_visibility(&self) -> bool {
        false
    }
    async fn find_person(&self, _: &str) -> Result<Option<psa_connector::Person>, ConnectorError> {
        Ok(None)
    }
    async fn set_comment_visibility(
        &self,
        _: &str,
        _: &str,
        _: Visibility,
    ) -> Result<(), ConnectorError> {
        Err(not_here("set_comment_visibility"))
    }
    async fn changed_since(&self, _: Timestamp) -> Result<Vec<ChangeHint>, ConnectorError> {
        Err(not_here("changed_since"))
    }
    async fn verify_webhook(&self, _: &WebhookRequest) -> Result<Vec<ChangeHint>, WebhookError> {
        Err(WebhookError::Malformed("not used in this test".into()))
    }
    async fn register_webhook(&self, _: &str) -> Result<(), ConnectorError> {
        Err(not_here("register_webhook"))
    }
}

fn notice(id: u64, ticket: &str) -> InboxItem {
    InboxItem {
        id,
        connection: "autotask".into(),
        ticket_id: ticket.into(),
        source: IntakeSource::Webhook,
        dedup_key: format!("n{id}"),
        received_at: chrono::Utc::now(),
        updated_at: None,
        attempts: 0,
        next_attempt_at: None,
        detail: Default::default(),
    }
}

fn store_notice(engine: &Engine, item: &InboxItem) {
    engine.store.transact(|tx| tx.put_inbox_item(item)).unwrap();
    engine.inbox_ready.notify_waiters();
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_plan_does_not_hold_up_notices_that_arrive_meanwhile() {
    let mut f = fixture();
    f.agree(
        &ticket(Side::A, "In Progress", "High"),
        &ticket(Side::B, "In Progress", "High"),
    );
    let (open, gate) = tokio::sync::watch::channel(false);
    let gated = Arc::new(Gated {
        entered: AtomicBool::new(false),
        open: gate,
    });
    for name in ["autotask", "connectwise"] {
        f.engine.connections.insert(
            name.into(),
            Connection {
                name: name.into(),
                connector: gated.clone(),
            },
        );
    }
    let link = f.link.id;
    f.engine
        .store
        .transact(|tx| {
            tx.put(
                TreeName::LinkIndex,
                &link_key("acme", Side::A, "100"),
                &link,
            )
        })
        .unwrap();
    // The planner needs the engine in an Arc; the fixture keeps its folder.
    let spare = tempfile::tempdir().unwrap();
    let placeholder = Engine::new(
        Store::open(&spare.path().join("s")).unwrap(),
        Default::default(),
        Vec::new(),
        f.engine.clock.clone(),
        Default::default(),
    );
    let engine = Arc::new(std::mem::replace(&mut f.engine, placeholder));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let planner = tokio::spawn(super::run_planner(
        engine.clone(),
        Duration::from_millis(10),
        async move {
            let _ = stopped.await;
        },
    ));

    // The linked ticket's plan starts and waits on its read.
    store_notice(&engine, &notice(1, "100"));
    wait_until("the slow read", || gated.entered.load(Ordering::SeqCst)).await;
    // Another ticket's notice arrives meanwhile: planned while the slow
    // plan still waits (an unlinked ticket on the trigger side, not in the
    // trigger queue: read once, nothing to do).
    store_notice(&engine, &notice(2, "300"));
    wait_until("the other notice to be planned", || {
        engine
            .store
            .inbox()
            .unwrap()
            .iter()
            .all(|item| item.id != 2)
    })
    .await;
    assert_eq!(engine.store.count(TreeName::Inbox), 1, "the slow one waits");

    open.send(true).unwrap();
    wait_until("the slow notice to be planned", || {
        engine.store.count(TreeName::Inbox) == 0
    })
    .await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), planner)
        .await
        .expect("the planner did not stop")
        .unwrap();
}
