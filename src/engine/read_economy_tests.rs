//! The planner spares vendor reads (issue 11) and every guard forces them:
//! a carried ticket stands in for the source read unless it is stale; notes
//! are not listed when the notices say none changed; the far ticket and its
//! notes come from the known-tickets tree while knowledge is complete, and
//! are read when a notice for the far ticket waits, on the first plan of a
//! store session (restart, restore) and for a dead update's re-plan.
//! Vendor calls are counted by the fake connector.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{Duration, TimeZone, Utc};
use psa_connector::{Comment, ConnectorError, HintDetail, Ticket, TicketUpdate};

use super::tests::{public_note, ticket, MAPPING};
use super::{observe, Connection, Engine};
use crate::clock::ManualClock;
use crate::config::load::parse_toml;
use crate::config::{LoadedPairing, Mapping};
use crate::delivery::Delivered;
use crate::store::known::KnownTickets;
use crate::store::{
    link_key, Action, InboxItem, IntakeSource, Link, OutboxOp, Shadow, Side, Store, TicketRef,
    TicketVersion, TreeName,
};
use crate::testing::{Fake, Script};

/// Both vendors' tickets and notes, with a count of every read.
#[derive(Default)]
struct Vendor {
    tickets: HashMap<String, Ticket>,
    notes: HashMap<String, Vec<Comment>>,
    gets: HashMap<String, u32>,
    lists: HashMap<String, u32>,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vendor>>);

impl Script for Shared {
    fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        let mut v = self.0.lock().unwrap();
        *v.gets.entry(id.into()).or_default() += 1;
        v.tickets
            .get(id)
            .cloned()
            .ok_or_else(|| ConnectorError::NotFound(id.into()))
    }
    fn list_comments(&self, id: &str) -> Result<Vec<Comment>, ConnectorError> {
        let mut v = self.0.lock().unwrap();
        *v.lists.entry(id.into()).or_default() += 1;
        Ok(v.notes.get(id).cloned().unwrap_or_default())
    }
    /// The notes endpoint answers 404 (whether or not the ticket exists).
    fn add_comment(
        &self,
        id: &str,
        _: &psa_connector::NewComment,
    ) -> Result<String, ConnectorError> {
        Err(ConnectorError::NotFound(format!("notes of ticket {id}")))
    }
}

impl Shared {
    /// (get_ticket, list_comments) calls for `id` since the last call.
    fn take(&self, id: &str) -> (u32, u32) {
        let mut v = self.0.lock().unwrap();
        (
            v.gets.remove(id).unwrap_or(0),
            v.lists.remove(id).unwrap_or(0),
        )
    }
    fn reset(&self) {
        let mut v = self.0.lock().unwrap();
        v.gets.clear();
        v.lists.clear();
    }
    fn set(&self, t: Ticket) {
        self.0.lock().unwrap().tickets.insert(t.id.clone(), t);
    }
    fn get(&self, id: &str) -> Ticket {
        self.0.lock().unwrap().tickets[id].clone()
    }
}

fn at(s: i64) -> psa_connector::Timestamp {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap() + Duration::seconds(s)
}

struct Setup {
    engine: Engine,
    vendor: Shared,
    dir: tempfile::TempDir,
    next: u64,
}

fn link() -> Link {
    Link {
        id: 7,
        pairing: "acme".into(),
        a: Some(TicketRef {
            id: "100".into(),
            number: "T100".into(),
        }),
        b: Some(TicketRef {
            id: "200".into(),
            number: "200".into(),
        }),
        origin: Side::A,
        created_at: at(0),
        marker: None,
    }
}

fn engine_on(dir: &Path, store: Store, vendor: &Shared) -> Engine {
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
    let _ = dir;
    let connector = Arc::new(Fake(vendor.clone()));
    let connections = ["autotask", "connectwise"]
        .into_iter()
        .map(|name| {
            let c = Connection {
                name: name.into(),
                connector: connector.clone(),
            };
            (name.to_string(), c)
        })
        .collect();
    Engine::new(
        store,
        connections,
        vec![pairing],
        Arc::new(ManualClock::new(at(100))),
        Default::default(),
    )
}

/// A linked pair (Autotask 100 ↔ ConnectWise 200) that agrees, no notes.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let vendor = Shared::default();
    let mut a = ticket(Side::A, "In Progress", "High");
    let mut b = ticket(Side::B, "In Progress", "Priority 2 - Quick Response");
    a.updated_at = at(1);
    b.updated_at = at(1);
    vendor.set(a.clone());
    vendor.set(b.clone());
    let engine = engine_on(
        dir.path(),
        Store::open(&dir.path().join("store")).unwrap(),
        &vendor,
    );
    let mapping = &engine.pairings[0].mapping;
    let shadow = Shadow {
        a: observe(mapping, Side::A, &a),
        b: observe(mapping, Side::B, &b),
        out_of_scope: None,
    };
    let link = link();
    engine
        .store
        .transact(|tx| {
            tx.put(TreeName::Links, &7u64.to_be_bytes(), &link)?;
            tx.put(TreeName::Shadows, &7u64.to_be_bytes(), &shadow)?;
            tx.put(
                TreeName::LinkIndex,
                &link_key("acme", Side::A, "100"),
                &7u64,
            )?;
            tx.put(
                TreeName::LinkIndex,
                &link_key("acme", Side::B, "200"),
                &7u64,
            )
        })
        .unwrap();
    Setup {
        engine,
        vendor,
        dir,
        next: 1_000,
    }
}

impl Setup {
    fn notice(&mut self, connection: &str, id: &str, detail: HintDetail) -> InboxItem {
        self.next += 1;
        InboxItem {
            id: self.next,
            connection: connection.into(),
            ticket_id: id.into(),
            source: IntakeSource::Webhook,
            dedup_key: format!("n{}", self.next),
            received_at: at(50),
            updated_at: detail.ticket.as_ref().map(|t| t.updated_at),
            attempts: 0,
            next_attempt_at: None,
            detail,
        }
    }

    /// Plans one notice for Autotask ticket 100 (the group is the notice).
    async fn plan_a(&mut self, detail: HintDetail) {
        let item = self.notice("autotask", "100", detail);
        self.engine.process(&item, Vec::new()).await.unwrap();
    }

    /// A first plan of the session: reads everything, makes knowledge complete.
    async fn warm(&mut self) {
        self.plan_a(HintDetail::default()).await;
        self.vendor.reset();
    }

    fn ops(&self) -> Vec<OutboxOp> {
        self.engine.store.outbox().unwrap()
    }

    /// Closes the store and opens it again (a restart: a new session).
    fn reopen(&mut self) {
        let path = self.dir.path().join("store");
        let placeholder = Store::open(&self.dir.path().join("placeholder")).unwrap();
        let old = std::mem::replace(&mut self.engine.store, placeholder);
        drop(old);
        self.engine = engine_on(
            self.dir.path(),
            crate::store::reopen::reopen(&path),
            &self.vendor,
        );
    }
}

fn fields_only() -> HintDetail {
    HintDetail {
        notes_changed: Some(false),
        ..Default::default()
    }
}

fn carrying(t: &Ticket) -> HintDetail {
    HintDetail {
        ticket: Some(Box::new(t.clone())),
        notes_changed: Some(false),
        ..Default::default()
    }
}

fn title_update(op: &OutboxOp) -> Option<&str> {
    match &op.action {
        Action::UpdateTicket { update } => update.title.as_deref(),
        _ => None,
    }
}

/// The first plan of a session reads all four; it leaves the link's
/// knowledge complete for this session.
#[tokio::test]
async fn the_first_plan_reads_everything_and_records_the_session() {
    let mut s = setup();
    s.plan_a(fields_only()).await;
    assert_eq!(s.vendor.take("100"), (1, 1));
    assert_eq!(s.vendor.take("200"), (1, 1));
    let known = s.engine.store.known(7).unwrap().unwrap();
    assert_eq!(known.session, Some(s.engine.store.session()));
    assert_eq!(known.b.as_ref(), Some(&s.vendor.get("200")));
}

/// (a) A carried ticket newer than what was planned is planned from without
/// a GET; the far side comes from the known ticket; no notes are listed.
#[tokio::test]
async fn a_carried_ticket_spares_every_read() {
    let mut s = setup();
    s.warm().await;
    let mut a = s.vendor.get("100");
    a.title = "VPN down at HQ".into();
    a.updated_at = at(20);
    s.vendor.set(a.clone());
    s.plan_a(carrying(&a)).await;
    assert_eq!(
        s.vendor.take("100"),
        (0, 0),
        "source: carried, notes unchanged"
    );
    assert_eq!(s.vendor.take("200"), (0, 0), "far side: known and current");
    let ops = s.ops();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert_eq!(title_update(&ops[0]), Some("VPN down at HQ"));
    // The version planned from is the carried stamp; when the vendor took
    // that state is unknown, so an equal-stamp poll hit is re-checked.
    assert_eq!(
        s.engine.store.version("autotask", "100").unwrap(),
        Some(TicketVersion {
            at: at(20),
            read_at: None
        })
    );
}

/// (a) A carried ticket not newer than the version last planned from (a
/// late webhook of an earlier state) is not trusted: the ticket is read.
#[tokio::test]
async fn a_stale_carried_ticket_is_read_instead() {
    let mut s = setup();
    s.warm().await;
    let mut newer = s.vendor.get("100");
    newer.title = "Second".into();
    newer.updated_at = at(30);
    s.vendor.set(newer.clone());
    s.plan_a(fields_only()).await; // reads: version at(30)
    s.vendor.reset();
    let before = s.ops().len();
    let mut late = newer.clone();
    late.title = "First".into();
    late.updated_at = at(30);
    s.plan_a(carrying(&late)).await;
    assert_eq!(s.vendor.take("100").0, 1, "equal to the version: read");
    let mut older = late.clone();
    older.updated_at = at(25);
    s.plan_a(carrying(&older)).await;
    assert_eq!(s.vendor.take("100").0, 1, "older than the version: read");
    assert!(
        s.ops()[before..]
            .iter()
            .all(|op| title_update(op) != Some("First")),
        "the stale title is never written"
    );
}

/// (a) Two webhooks of the same second in one group, carrying different
/// states, arrived in the wrong order (a note's callback sent before the
/// close came after it: the demo's extra write): the ticket is read, and
/// the later arrival's older state is never planned.
#[tokio::test]
async fn two_states_of_one_second_in_one_group_are_read_instead() {
    let mut s = setup();
    s.warm().await;
    let mut earlier = s.vendor.get("100");
    earlier.title = "Earlier state".into();
    earlier.updated_at = at(40);
    let mut current = earlier.clone();
    current.title = "Current state".into();
    s.vendor.set(current.clone());
    let first = s.notice("autotask", "100", carrying(&current));
    let late = s.notice("autotask", "100", carrying(&earlier));
    s.engine
        .store
        .transact(|tx| tx.put_inbox_item(&late))
        .unwrap();
    s.engine.process(&first, vec![late.id]).await.unwrap();
    assert_eq!(s.vendor.take("100").0, 1, "one read settles the order");
    let titles: Vec<_> = s
        .ops()
        .iter()
        .filter_map(title_update)
        .map(str::to_string)
        .collect();
    assert_eq!(titles, vec!["Current state".to_string()]);
}

/// (b) Notes are listed on the source side only when a notice may have
/// changed one; an all-echo group lists none either.
#[tokio::test]
async fn notes_are_listed_only_when_a_notice_may_have_changed_one() {
    let mut s = setup();
    s.warm().await;
    s.plan_a(fields_only()).await;
    assert_eq!(s.vendor.take("100"), (1, 0), "fields only: no list");
    s.plan_a(HintDetail::default()).await;
    assert_eq!(s.vendor.take("100"), (1, 1), "cannot tell: listed");
    s.plan_a(HintDetail {
        by_bridge: true,
        ..Default::default()
    })
    .await;
    assert_eq!(
        s.vendor.take("100"),
        (1, 0),
        "the bridge's own echo: no list"
    );
    // A group where one notice is a note event lists them.
    let note_event = s.notice(
        "autotask",
        "100",
        HintDetail {
            notes_changed: Some(true),
            ..Default::default()
        },
    );
    s.engine
        .store
        .transact(|tx| tx.put_inbox_item(&note_event))
        .unwrap();
    let head = s.notice("autotask", "100", fields_only());
    s.engine.process(&head, vec![note_event.id]).await.unwrap();
    assert_eq!(s.vendor.take("100"), (1, 1), "a note event in the group");
    assert_eq!(s.vendor.take("200"), (0, 0));
}

/// (c) A notice for the far ticket still waiting in the inbox forces the
/// far read, so that change is planned from, not overwritten.
#[tokio::test]
async fn a_pending_far_notice_forces_the_far_read() {
    let mut s = setup();
    s.warm().await;
    // A person changes the ConnectWise title; its notice waits.
    let mut b = s.vendor.get("200");
    b.title = "Changed in ConnectWise".into();
    b.updated_at = at(40);
    s.vendor.set(b);
    let far = s.notice("connectwise", "200", HintDetail::default());
    s.engine
        .store
        .transact(|tx| tx.put_inbox_item(&far))
        .unwrap();
    s.plan_a(fields_only()).await;
    assert_eq!(s.vendor.take("200"), (1, 1), "far ticket and notes read");
    let ops = s.ops();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert_eq!(ops[0].target, Side::A, "the far change crosses, not back");
    assert_eq!(title_update(&ops[0]), Some("Changed in ConnectWise"));
}

/// (c, 4) After a restart (a new store session) the first plan reads the
/// far side and both note lists again, whatever the notice says.
#[tokio::test]
async fn the_first_plan_after_reopening_reads_everything() {
    let mut s = setup();
    s.warm().await;
    s.plan_a(fields_only()).await;
    assert_eq!(s.vendor.take("200"), (0, 0), "complete in this session");
    s.vendor.reset();
    s.reopen();
    s.plan_a(fields_only()).await;
    assert_eq!(s.vendor.take("100"), (1, 1));
    assert_eq!(s.vendor.take("200"), (1, 1));
    s.plan_a(fields_only()).await;
    assert_eq!(s.vendor.take("200"), (0, 0), "complete again");
}

/// (d) A store restored from a backup (comment map without the mirror it
/// wrote since, new session) still recovers the mirror by its marker, even
/// when the notice says no note changed: no duplicate is posted.
#[tokio::test]
async fn a_restored_store_recovers_mirrors_without_duplicates() {
    let mut s = setup();
    s.warm().await;
    {
        let mut v = s.vendor.0.lock().unwrap();
        v.notes
            .insert("100".into(), vec![public_note("55", "Reboot done", None)]);
        v.notes.insert(
            "200".into(),
            vec![public_note(
                "900",
                "Dana (autotask) wrote:\nReboot done",
                Some("acme:7:a:55"),
            )],
        );
    }
    s.reopen();
    s.plan_a(fields_only()).await;
    assert!(s.ops().is_empty(), "nothing posted again: {:?}", s.ops());
    let kinds: Vec<String> = s
        .engine
        .store
        .audit_entries()
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.iter().any(|k| k == "mirror_recovered"), "{kinds:?}");
}

/// A dead update being re-planned asks for a plan from both sides' current
/// state: nothing is taken from the notice or the known tickets.
#[tokio::test]
async fn a_replan_reads_everything() {
    let mut s = setup();
    s.warm().await;
    let update = TicketUpdate {
        title: Some("x".into()),
        ..Default::default()
    };
    let dead = OutboxOp {
        pairing: "acme".into(),
        connection: "connectwise".into(),
        fields: vec!["title".into()],
        ..OutboxOp::sample(60, 7, Side::B, Action::UpdateTicket { update })
    };
    s.engine
        .store
        .transact(|tx| tx.put(TreeName::Replans, &crate::store::replan_key(7, 60), &dead))
        .unwrap();
    let a = s.vendor.get("100");
    s.plan_a(carrying(&a)).await;
    assert_eq!(s.vendor.take("100"), (1, 1));
    assert_eq!(s.vendor.take("200"), (1, 1));
}

/// A delivered update stores the ticket the vendor kept as the known far
/// ticket, so the next plan does not mistake the old value for a change.
#[tokio::test]
async fn a_delivered_update_keeps_the_known_ticket_current() {
    let mut s = setup();
    s.warm().await;
    let mut a = s.vendor.get("100");
    a.title = "New title".into();
    a.updated_at = at(20);
    s.vendor.set(a.clone());
    s.plan_a(carrying(&a)).await;
    let op = s.ops().remove(0);
    // The delivery: the vendor stores the title.
    let mut b = s.vendor.get("200");
    b.title = "New title".into();
    b.updated_at = at(21);
    s.vendor.set(b.clone());
    s.engine
        .record_success(&op, Delivered::Updated(Box::new(b.clone())))
        .await
        .unwrap();
    let known: KnownTickets = s.engine.store.known(7).unwrap().unwrap();
    assert_eq!(known.b.as_ref(), Some(&b));
    assert_eq!(known.session, Some(s.engine.store.session()));
    // The next change of side a: far side from the known ticket, and no
    // write of the old title anywhere.
    let mut a2 = a.clone();
    a2.priority = "Critical".into();
    a2.updated_at = at(22);
    s.vendor.set(a2.clone());
    s.vendor.reset();
    s.plan_a(carrying(&a2)).await;
    assert_eq!(s.vendor.take("200"), (0, 0));
    let ops = s.ops();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert_eq!(ops[0].target, Side::B);
    assert_eq!(title_update(&ops[0]), None, "{ops:?}");
}

/// A plan's view of the tickets is not stored over a delivery's newer one
/// written while it planned: the delivery's record stays.
#[tokio::test]
async fn a_plan_never_stores_its_view_over_a_newer_delivery() {
    let s = setup();
    let store = &s.engine.store;
    let seen = store.known(7).unwrap();
    store
        .transact(|tx| {
            crate::store::known::after_delivery(tx, 7, Side::B, Some(&s.vendor.get("200")))
        })
        .unwrap();
    let write = crate::store::known::KnownWrite {
        link: 7,
        seen,
        new: KnownTickets {
            session: Some(store.session()),
            ..Default::default()
        },
    };
    store
        .transact(|tx| crate::store::known::put_after_plan(tx, &write))
        .unwrap();
    let kept = store.known(7).unwrap().unwrap();
    assert_eq!(kept.b.as_ref(), Some(&s.vendor.get("200")));
    assert_eq!(kept.session, None);
}

/// A carried ticket no newer than the ticket the bridge's last delivered
/// update left is not planned from (that write is neither in the carried
/// state nor in flight any more): the ticket is read.
#[tokio::test]
async fn a_carried_ticket_older_than_the_bridges_last_write_is_read_instead() {
    let mut s = setup();
    s.warm().await;
    // The bridge wrote ticket 100; the vendor stamped it at(30).
    let mut written = s.vendor.get("100");
    written.title = "Written by the bridge".into();
    written.updated_at = at(30);
    s.vendor.set(written.clone());
    s.engine
        .store
        .transact(|tx| crate::store::known::after_delivery(tx, 7, Side::A, Some(&written)))
        .unwrap();
    // A person's earlier change arrives late, carrying its older state.
    let mut earlier = written.clone();
    earlier.title = "Before the bridge wrote".into();
    earlier.updated_at = at(29);
    s.plan_a(carrying(&earlier)).await;
    assert_eq!(
        s.vendor.take("100").0,
        1,
        "read, not planned from the notice"
    );
    assert!(s
        .ops()
        .iter()
        .all(|op| title_update(op) != Some("Before the bridge wrote")));
    // The echo of the bridge's next write carries exactly the ticket its
    // delivery read back (same stamp): used.
    let mut again = s.vendor.get("100");
    again.priority = "Critical".into();
    again.updated_at = at(31);
    s.vendor.set(again.clone());
    s.engine
        .store
        .transact(|tx| crate::store::known::after_delivery(tx, 7, Side::A, Some(&again)))
        .unwrap();
    let mut echo = carrying(&again);
    echo.by_bridge = true;
    s.plan_a(echo).await;
    assert_eq!(
        s.vendor.take("100"),
        (0, 0),
        "the echo is planned from itself"
    );
}

/// A notice for a linked ticket that is gone (the vendor answers 404 to the
/// notice's own read, as after ConnectWise's `deleted` callback) removes
/// the link, its shadow and its known tickets; the notice is dropped.
#[tokio::test]
async fn a_notice_for_a_deleted_linked_ticket_unlinks() {
    let mut s = setup();
    s.warm().await;
    s.vendor.0.lock().unwrap().tickets.remove("200");
    let item = s.notice("connectwise", "200", HintDetail::default());
    s.engine.process(&item, Vec::new()).await.unwrap();
    let store = &s.engine.store;
    assert_eq!(store.link(7).unwrap(), None);
    assert_eq!(store.known(7).unwrap(), None);
    assert!(store.inbox().unwrap().is_empty());
    let audit = store.audit_entries().unwrap();
    assert_eq!(
        audit.iter().filter(|e| e.kind == "unlinked").count(),
        1,
        "{audit:#?}"
    );
}

/// A note post to ticket 200 of link 7 answered 404.
async fn deliver_note_into_a_404(s: &Setup) {
    let op = OutboxOp {
        connection: "connectwise".into(),
        next_attempt_at: at(0),
        ..OutboxOp::sample(
            9,
            7,
            Side::B,
            Action::AddComment {
                comment: psa_connector::NewComment {
                    body: "Rebooted".into(),
                    visibility: psa_connector::Visibility::Public,
                    marker: "m9".into(),
                    resolution: false,
                },
                source: None,
            },
        )
    };
    s.engine.store.transact(|tx| tx.put_op(&op)).unwrap();
    crate::delivery::deliver_round(&s.engine, "connectwise").await;
}

/// A delivery's 404 unlinks only when a read confirms the ticket is gone:
/// a 404 from the notes endpoint of a ticket that exists leaves the link
/// and makes the operation a dead letter, as before.
#[tokio::test]
async fn a_delivery_404_unlinks_only_when_the_ticket_is_gone() {
    let s = setup();
    deliver_note_into_a_404(&s).await;
    let store = &s.engine.store;
    assert!(store.link(7).unwrap().is_some(), "the ticket exists");
    let ops = store.outbox().unwrap();
    assert_eq!(ops.len(), 1);
    assert!(ops[0].dead.is_some(), "{ops:?}");

    let s = setup();
    s.vendor.0.lock().unwrap().tickets.remove("200");
    deliver_note_into_a_404(&s).await;
    let store = &s.engine.store;
    assert_eq!(store.link(7).unwrap(), None);
    assert!(store.outbox().unwrap().is_empty(), "removed with the link");
    let audit = store.audit_entries().unwrap();
    assert_eq!(audit.iter().filter(|e| e.kind == "unlinked").count(), 1);
}
