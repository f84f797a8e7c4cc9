//! A stopping planner takes no new work, even with notices waiting.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use psa_connector::{ConnectorError, Ticket};

use crate::clock::ManualClock;
use crate::engine::{Connection, Engine};
use crate::store::{InboxItem, IntakeSource, Store, TreeName};
use crate::testing::{sample_ticket, Fake, Script};

#[derive(Default)]
struct Counting(AtomicU32);

impl Script for Counting {
    fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(sample_ticket(id))
    }
}

#[tokio::test]
async fn a_stopped_planner_leaves_waiting_notices_in_the_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let connector = Arc::new(Fake(Counting::default()));
    let engine = Arc::new(Engine::new(
        Store::open(&dir.path().join("s")).unwrap(),
        HashMap::from([(
            "autotask".to_string(),
            Connection {
                name: "autotask".into(),
                connector: connector.clone(),
            },
        )]),
        Vec::new(),
        Arc::new(ManualClock::new(chrono::Utc::now())),
        Default::default(),
    ));
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
    engine
        .store
        .transact(|tx| tx.put_inbox_item(&notice))
        .unwrap();
    // Already stopping when the planner looks.
    tokio::time::timeout(
        Duration::from_secs(30),
        super::run_planner(engine.clone(), Duration::from_millis(10), async {}),
    )
    .await
    .expect("the planner did not return");
    assert_eq!(
        engine.store.count(TreeName::Inbox),
        1,
        "the notice was taken"
    );
    assert_eq!(
        connector.0 .0.load(Ordering::SeqCst),
        0,
        "a ticket was read"
    );
}
