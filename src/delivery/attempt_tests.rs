//! The attempt mark of [`super::attempt`], pinned with a scripted vendor
//! through the worker's own round: the first post of a note mirror planned
//! in this run makes no marker look-up; creates, and operations planned
//! before this run (a restored backup's queue), always look; and a post
//! whose outcome is unknown (its answer lost, or the daemon killed during
//! the call) looks first after a restart, finds the note and adopts it
//! instead of posting twice.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use psa_connector::{Comment, ConnectorError, NewComment, NewTicket, Ticket, Visibility};

use super::deliver_round;
use crate::clock::ManualClock;
use crate::engine::{Connection, Engine};
use crate::store::{Action, Link, OutboxOp, Side, Store, TicketRef, TreeName};
use crate::testing::{sample_ticket, Fake, Script};

/// A vendor keeping the notes posted to it; a post can be made ambiguous
/// (applied, then answered with a timeout). Records every call by name.
#[derive(Default)]
struct Notes {
    notes: Mutex<Vec<Comment>>,
    lose_next_answer: Mutex<bool>,
    calls: Mutex<Vec<&'static str>>,
}

impl Notes {
    fn calls(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
    fn post(&self, comment: &NewComment) -> String {
        let mut notes = self.notes.lock().unwrap();
        let id = format!("c{}", notes.len() + 1);
        notes.push(Comment {
            id: id.clone(),
            body: comment.body.clone(),
            visibility: comment.visibility,
            author: None,
            created_at: chrono::Utc::now(),
            resolution: false,
            marker: Some(comment.marker.clone()),
        });
        id
    }
}

impl Script for Notes {
    fn find_by_marker(&self, _: &str) -> Result<Option<Ticket>, ConnectorError> {
        self.calls.lock().unwrap().push("find_by_marker");
        Ok(None)
    }
    fn create_ticket(&self, _: &NewTicket) -> Result<Ticket, ConnectorError> {
        self.calls.lock().unwrap().push("create_ticket");
        Ok(sample_ticket("900"))
    }
    fn list_comments(&self, _: &str) -> Result<Vec<Comment>, ConnectorError> {
        self.calls.lock().unwrap().push("list_comments");
        Ok(self.notes.lock().unwrap().clone())
    }
    fn add_comment(&self, _: &str, comment: &NewComment) -> Result<String, ConnectorError> {
        self.calls.lock().unwrap().push("add_comment");
        let id = self.post(comment);
        if std::mem::take(&mut *self.lose_next_answer.lock().unwrap()) {
            return Err(ConnectorError::Timeout);
        }
        Ok(id)
    }
}

fn engine(path: &Path, vendor: &Arc<Fake<Notes>>, clock: &ManualClock) -> Engine {
    Engine::new(
        Store::open(path).unwrap(),
        HashMap::from([(
            "stub".to_string(),
            Connection {
                name: "stub".into(),
                connector: vendor.clone(),
            },
        )]),
        Vec::new(),
        Arc::new(clock.clone()),
        Default::default(),
    )
}

fn link(b: Option<&str>) -> Link {
    Link {
        id: 1,
        pairing: "p".into(),
        a: Some(TicketRef {
            id: "1".into(),
            number: "T1".into(),
        }),
        b: b.map(|id| TicketRef {
            id: id.into(),
            number: id.into(),
        }),
        origin: Side::A,
        created_at: chrono::Utc::now(),
        marker: None,
    }
}

fn queued(engine: &Engine, link: &Link, action: Action) -> OutboxOp {
    let op = OutboxOp {
        connection: "stub".into(),
        // Due by the engine's (manual) clock, however long the set-up took.
        next_attempt_at: engine.clock.now() - chrono::Duration::minutes(1),
        // Planned in this run, as `Engine::new_op` marks it.
        planned_in_session: Some(engine.store.session()),
        ..OutboxOp::sample(100, link.id, Side::B, action)
    };
    engine
        .store
        .transact(|tx| {
            tx.put(TreeName::Links, &link.id.to_be_bytes(), link)?;
            tx.put_op(&op)
        })
        .unwrap();
    op
}

fn note() -> Action {
    Action::AddComment {
        comment: NewComment {
            body: "Users still cannot print.".into(),
            visibility: Visibility::Public,
            marker: "p:1:a:55".into(),
            resolution: false,
        },
        source: Some((Side::A, "55".into())),
    }
}

#[tokio::test]
async fn only_a_first_mirror_planned_in_this_run_skips_the_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(chrono::Utc::now());
    let vendor = Arc::new(Fake(Notes::default()));
    let engine = engine(&dir.path().join("s"), &vendor, &clock);

    queued(&engine, &link(Some("2")), note());
    assert_eq!(deliver_round(&engine, "stub").await.len(), 1);
    assert_eq!(
        vendor.0.calls(),
        ["add_comment"],
        "no look-up before a first post"
    );
    assert!(engine.store.outbox_op(100).unwrap().is_none(), "delivered");

    // A create may be planned again after a restore (the far ticket made
    // by the first run is unknown to the restored store): it always looks.
    let create = Action::CreateTicket {
        ticket: NewTicket {
            title: "t".into(),
            description: String::new(),
            status: None,
            priority: None,
            marker: "psa-bridge:p:1".into(),
            placement: Default::default(),
            fields: Default::default(),
        },
        write_back: None,
    };
    queued(&engine, &link(None), create);
    assert_eq!(deliver_round(&engine, "stub").await.len(), 1);
    assert_eq!(
        vendor.0.calls(),
        ["find_by_marker", "create_ticket"],
        "a create looks first"
    );
}

/// A restored backup's queue: the note was posted by the run that went on
/// after the backup, so the restored operation (another store session)
/// must look before posting.
#[tokio::test]
async fn a_mirror_planned_before_this_run_looks_first() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(chrono::Utc::now());
    let vendor = Arc::new(Fake(Notes::default()));
    let engine = engine(&dir.path().join("s"), &vendor, &clock);
    let op = queued(&engine, &link(Some("2")), note());
    let Action::AddComment { comment, .. } = &op.action else {
        unreachable!()
    };
    vendor.0.post(comment);
    let restored = OutboxOp {
        planned_in_session: Some(engine.store.session().wrapping_add(1)),
        ..op
    };
    engine.store.transact(|tx| tx.put_op(&restored)).unwrap();

    assert_eq!(deliver_round(&engine, "stub").await.len(), 1);
    assert_eq!(vendor.0.calls(), ["list_comments"], "looked, did not post");
    assert_eq!(vendor.0.notes.lock().unwrap().len(), 1, "posted once");
}

#[tokio::test]
async fn a_post_whose_answer_was_lost_looks_first_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let clock = ManualClock::new(chrono::Utc::now());
    let vendor = Arc::new(Fake(Notes::default()));
    let first = engine(&path, &vendor, &clock);
    queued(&first, &link(Some("2")), note());
    *vendor.0.lose_next_answer.lock().unwrap() = true;
    deliver_round(&first, "stub").await;
    assert_eq!(vendor.0.calls(), ["add_comment"]);
    let failed = first.store.outbox_op(100).unwrap().unwrap();
    assert_eq!(failed.attempts, 1);
    assert!(
        failed.attempt_started_at.is_some(),
        "the attempt is on record"
    );
    drop(first);

    // Restart, then the retry: it looks, finds the note and adopts it.
    let again = engine(&path, &vendor, &clock);
    clock.advance(chrono::Duration::hours(1));
    assert_eq!(deliver_round(&again, "stub").await.len(), 1);
    assert_eq!(vendor.0.calls(), ["list_comments"], "looked, did not post");
    assert_eq!(vendor.0.notes.lock().unwrap().len(), 1, "posted once");
    assert!(again.store.outbox_op(100).unwrap().is_none());
    let audit = again.store.audit_entries().unwrap();
    assert!(
        audit.iter().any(|e| e.message.contains("adopted note c1")),
        "{audit:?}"
    );
}

/// Killed during the call: the vendor applied the post, nothing was
/// recorded but the mark written before the call.
#[tokio::test]
async fn a_post_cut_off_by_a_crash_looks_first_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let clock = ManualClock::new(chrono::Utc::now());
    let vendor = Arc::new(Fake(Notes::default()));
    let first = engine(&path, &vendor, &clock);
    let op = queued(&first, &link(Some("2")), note());
    let (marked, look_first) = super::attempt::begin(&first, op).await.unwrap();
    assert!(!look_first);
    let Action::AddComment { comment, .. } = &marked.action else {
        unreachable!()
    };
    vendor.0.post(comment);
    drop(first);

    let again = engine(&path, &vendor, &clock);
    let stored = again.store.outbox_op(100).unwrap().unwrap();
    assert_eq!(stored.attempts, 0, "nothing was recorded but the mark");
    assert!(stored.attempt_started_at.is_some());
    assert_eq!(deliver_round(&again, "stub").await.len(), 1);
    assert_eq!(vendor.0.calls(), ["list_comments"], "looked, did not post");
    assert_eq!(vendor.0.notes.lock().unwrap().len(), 1, "posted once");
    assert!(again.store.outbox_op(100).unwrap().is_none());
}

/// The attempt mark is not flushed before the vendor call (one flush less
/// per note): only this opening of the store reads it, and a store opened
/// again after a crash has another session, so its operations look first.
#[tokio::test]
async fn the_attempt_mark_is_written_but_not_flushed_before_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(chrono::Utc::now());
    let vendor = Arc::new(Fake(Notes::default()));
    let engine = engine(&dir.path().join("s"), &vendor, &clock);
    let op = queued(&engine, &link(Some("2")), note());
    engine.store.flush().await.unwrap();

    let (marked, look_first) = super::attempt::begin(&engine, op).await.unwrap();
    assert!(!look_first, "a first post of a fresh mirror does not look");
    assert!(marked.attempt_started_at.is_some());
    assert_eq!(engine.store.outbox_op(100).unwrap(), Some(marked));
    assert!(
        engine.store.has_unflushed_writes(),
        "the mark was flushed before the call"
    );
}
