//! A paused pairing's operations are held, untouched, while another
//! pairing's operations on the same connection go out; resumed, they go
//! out in their order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use psa_connector::{Comment, ConnectorError, NewComment, Visibility};

use crate::clock::ManualClock;
use crate::engine::{Connection, Engine};
use crate::store::{Action, Link, OutboxOp, PausedPairing, Side, Store, TicketRef, TreeName};
use crate::testing::{Fake, Script};

/// Records every note written, as (ticket, body).
#[derive(Default)]
struct Notes(Mutex<Vec<(String, String)>>);

impl Script for Arc<Notes> {
    fn list_comments(&self, _: &str) -> Result<Vec<Comment>, ConnectorError> {
        Ok(Vec::new())
    }
    fn add_comment(&self, ticket: &str, comment: &NewComment) -> Result<String, ConnectorError> {
        let mut notes = self.0.lock().unwrap();
        notes.push((ticket.to_string(), comment.body.clone()));
        Ok(format!("n{}", notes.len()))
    }
}

fn link(id: u64, pairing: &str, far: &str) -> Link {
    Link {
        id,
        pairing: pairing.into(),
        a: Some(TicketRef {
            id: format!("a{id}"),
            number: format!("A{id}"),
        }),
        b: Some(TicketRef {
            id: far.into(),
            number: far.into(),
        }),
        origin: Side::A,
        created_at: chrono::Utc::now(),
        marker: None,
    }
}

fn note(
    id: u64,
    link: u64,
    pairing: &str,
    body: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> OutboxOp {
    let comment = NewComment {
        body: body.into(),
        visibility: Visibility::Public,
        marker: format!("m{id}"),
        resolution: false,
    };
    OutboxOp {
        pairing: pairing.into(),
        connection: "shared".into(),
        next_attempt_at: at,
        ..OutboxOp::sample(
            id,
            link,
            Side::B,
            Action::AddComment {
                comment,
                source: None,
            },
        )
    }
}

#[tokio::test]
async fn a_paused_pairing_is_held_and_the_other_delivers_on_the_same_connection() {
    let dir = tempfile::tempdir().unwrap();
    let start = chrono::Utc::now();
    let clock = ManualClock::new(start);
    let notes = Arc::new(Notes::default());
    let engine = Engine::new(
        Store::open(&dir.path().join("s")).unwrap(),
        HashMap::from([(
            "shared".to_string(),
            Connection {
                name: "shared".into(),
                connector: Arc::new(Fake(notes.clone())),
            },
        )]),
        Vec::new(),
        Arc::new(clock.clone()),
        Default::default(),
    );
    let paused = PausedPairing {
        pairing: "held".into(),
        since: start,
        reason: None,
        by: "operator".into(),
    };
    let ops = [
        note(10, 1, "held", "first", start),
        note(11, 1, "held", "second", start),
        note(12, 2, "live", "other client", start),
    ];
    engine
        .store
        .transact(|tx| {
            tx.put(TreeName::Links, &1u64.to_be_bytes(), &link(1, "held", "b1"))?;
            tx.put(TreeName::Links, &2u64.to_be_bytes(), &link(2, "live", "b2"))?;
            for op in &ops {
                tx.put_op(op)?;
            }
            tx.pause_pairing(&paused)
        })
        .unwrap();

    // Far past the retry window (three days by default): still held, untouched.
    for _ in 0..3 {
        super::deliver_round(&engine, "shared").await;
        clock.advance(chrono::Duration::days(5));
    }
    assert_eq!(
        notes.0.lock().unwrap().clone(),
        vec![("b2".to_string(), "other client".to_string())]
    );
    for op in &ops[..2] {
        assert_eq!(
            engine.store.outbox_op(op.id).unwrap().as_ref(),
            Some(op),
            "held operations are not attempted, rescheduled or dead-lettered"
        );
    }

    engine
        .store
        .transact(|tx| tx.resume_pairing("held"))
        .unwrap();
    super::deliver_round(&engine, "shared").await;
    super::deliver_round(&engine, "shared").await;
    let written: Vec<String> = notes
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| b.clone())
        .collect();
    assert_eq!(written, ["other client", "first", "second"]);
    assert!(engine.store.outbox().unwrap().is_empty());
}
