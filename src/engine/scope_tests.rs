//! Isolation through the real planner and delivery round, with fake
//! vendors: a linked ConnectWise ticket moved to another company holds its
//! link (nothing read across, planned or delivered; audited once), queued
//! operations wait, and moving it back resumes syncing and delivers them.
//! A trigger-side ticket outside the scope never escalates.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use psa_connector::{Comment, ConnectorError, Ticket, TicketUpdate, Visibility};

use super::tests::{fixture, ticket, Fixture, MAPPING};
use super::trigger::triggers;
use super::Connection;
use crate::config::Vendor;
use crate::store::{link_key, Action, InboxItem, IntakeSource, OutboxOp, Side, TreeName};
use crate::testing::{Fake, Script};

/// One vendor's tickets and notes, and what the bridge did there.
#[derive(Default)]
struct Tenant {
    tickets: Mutex<HashMap<String, Ticket>>,
    notes: Mutex<HashMap<String, Vec<Comment>>>,
    note_reads: Mutex<Vec<String>>,
    writes: Mutex<Vec<String>>,
}

struct Desk(Arc<Tenant>);

impl Script for Desk {
    fn get_ticket(&self, id: &str) -> Result<Ticket, ConnectorError> {
        self.0
            .tickets
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or_else(|| ConnectorError::NotFound(id.into()))
    }
    fn list_comments(&self, ticket: &str) -> Result<Vec<Comment>, ConnectorError> {
        self.0.note_reads.lock().unwrap().push(ticket.into());
        Ok(self
            .0
            .notes
            .lock()
            .unwrap()
            .get(ticket)
            .cloned()
            .unwrap_or_default())
    }
    fn update_ticket(&self, id: &str, _: &TicketUpdate) -> Result<(), ConnectorError> {
        self.0.writes.lock().unwrap().push(format!("update {id}"));
        Ok(())
    }
    fn add_comment(
        &self,
        ticket: &str,
        comment: &psa_connector::NewComment,
    ) -> Result<String, ConnectorError> {
        self.0
            .writes
            .lock()
            .unwrap()
            .push(format!("note {ticket}: {}", comment.body));
        Ok("900".into())
    }
}

struct World {
    f: Fixture,
    at: Arc<Tenant>,
    cw: Arc<Tenant>,
}

impl World {
    fn set(&self, tenant: &Tenant, t: Ticket) {
        tenant.tickets.lock().unwrap().insert(t.id.clone(), t);
    }
    fn cw_ticket(&self) -> Ticket {
        self.cw.tickets.lock().unwrap()["200"].clone()
    }
    async fn notice(&self, connection: &str, ticket: &str) {
        let id = self.f.engine.store.next_id().unwrap();
        let item = InboxItem {
            id,
            connection: connection.into(),
            ticket_id: ticket.into(),
            source: IntakeSource::Webhook,
            dedup_key: format!("n{id}"),
            received_at: chrono::Utc::now(),
            updated_at: None,
            attempts: 0,
            next_attempt_at: None,
            detail: Default::default(),
        };
        self.f.engine.process(&item, Vec::new()).await.unwrap();
    }
    fn kinds(&self) -> Vec<String> {
        self.f
            .engine
            .store
            .audit_entries()
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
    fn count(&self, kind: &str) -> usize {
        self.kinds().iter().filter(|k| *k == kind).count()
    }
}

/// The shipped Autotask ↔ ConnectWise pairing with its scope resolved
/// (ConnectWise side: company "ACME", from the placement), the fixture's
/// link agreed and indexed, both tickets in scope.
fn world() -> World {
    let mut f = fixture();
    crate::config::scope::resolve(
        &mut f.engine.pairings[0].mapping,
        Vendor::Autotask,
        Vendor::Connectwise,
        Path::new("m.toml"),
        MAPPING,
    )
    .unwrap();
    let (at, cw) = (Arc::new(Tenant::default()), Arc::new(Tenant::default()));
    for (name, tenant) in [("autotask", &at), ("connectwise", &cw)] {
        f.engine.connections.insert(
            name.into(),
            Connection {
                name: name.into(),
                connector: Arc::new(Fake(Desk(tenant.clone()))),
            },
        );
    }
    let a = ticket(Side::A, "New", "High");
    let mut b = ticket(Side::B, "New", "Priority 2 - Quick Response");
    b.fields.insert("company".into(), "ACME".into());
    f.agree(&a, &b);
    f.engine
        .store
        .transact(|tx| {
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
    let w = World { f, at, cw };
    w.set(&w.at, a);
    w.set(&w.cw, b);
    w
}

fn note(id: &str, body: &str) -> Comment {
    Comment {
        id: id.into(),
        body: body.into(),
        visibility: Visibility::Public,
        author: Some("someone".into()),
        created_at: chrono::Utc::now(),
        resolution: false,
        marker: None,
    }
}

fn queued_update(id: u64) -> OutboxOp {
    OutboxOp {
        pairing: "acme".into(),
        connection: "connectwise".into(),
        fields: vec!["title".into()],
        next_attempt_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        ..OutboxOp::sample(
            id,
            7,
            Side::B,
            Action::UpdateTicket {
                update: TicketUpdate {
                    title: Some("VPN down (queued)".into()),
                    ..Default::default()
                },
            },
        )
    }
}

#[tokio::test]
async fn a_ticket_moved_to_another_company_holds_its_link_until_it_is_back() {
    let w = world();
    let store = w.f.engine.store.clone();
    // A title update was queued for the ConnectWise ticket before it moved.
    store.transact(|tx| tx.put_op(&queued_update(500))).unwrap();

    // Someone moves the ConnectWise ticket to another client's company and
    // changes it; the Autotask side changes too.
    let mut moved = w.cw_ticket();
    moved.fields.insert("company".into(), "Contoso".into());
    moved.status = "In Progress".into();
    w.set(&w.cw, moved);
    w.cw.notes
        .lock()
        .unwrap()
        .insert("200".into(), vec![note("1", "Contoso's private matter")]);
    let mut a = ticket(Side::A, "New", "Critical");
    a.title = "VPN down everywhere".into();
    w.set(&w.at, a);
    w.at.notes
        .lock()
        .unwrap()
        .insert("100".into(), vec![note("2", "Any news?")]);

    w.notice("connectwise", "200").await;
    w.notice("autotask", "100").await;

    // Nothing planned, no note read on either side, the queued update held.
    let ops = store.outbox().unwrap();
    assert_eq!(ops.iter().map(|o| o.id).collect::<Vec<_>>(), vec![500]);
    assert!(w.at.note_reads.lock().unwrap().is_empty());
    assert!(w.cw.note_reads.lock().unwrap().is_empty());
    let delivered = crate::delivery::deliver_round(&w.f.engine, "connectwise").await;
    assert!(delivered.is_empty(), "held: {delivered:?}");
    assert!(w.cw.writes.lock().unwrap().is_empty());
    assert!(super::scope::held(&store, 7));

    // Audited once, naming the ticket, the key and the value only.
    assert_eq!(w.count("out_of_scope"), 1, "{:?}", w.kinds());
    let entry = store
        .audit_entries()
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "out_of_scope")
        .unwrap();
    assert_eq!(entry.pairing.as_deref(), Some("acme"));
    assert_eq!(entry.detail["ticket"], "connectwise:200");
    assert_eq!(entry.detail["field"], "company");
    assert_eq!(entry.detail["found"], "Contoso");
    assert!(entry.message.starts_with("WARNING"), "{}", entry.message);
    assert!(!entry.message.contains("private matter"));
    let hold = store.shadow(7).unwrap().out_of_scope.unwrap();
    assert_eq!((hold.side, hold.key.as_str()), (Side::B, "company"));

    // Back in the client's company: the link resumes, what changed meanwhile
    // syncs, and the held update is delivered.
    let mut back = w.cw_ticket();
    back.fields.insert("company".into(), "ACME".into());
    w.set(&w.cw, back);
    w.notice("connectwise", "200").await;
    assert_eq!(w.count("back_in_scope"), 1, "{:?}", w.kinds());
    assert_eq!(w.count("out_of_scope"), 1);
    assert!(store.shadow(7).unwrap().out_of_scope.is_none());
    assert!(!super::scope::held(&store, 7));
    let planned: Vec<String> = store
        .outbox()
        .unwrap()
        .iter()
        .map(|o| format!("{} {}", o.target, o.action.describe()))
        .collect();
    assert!(
        planned
            .iter()
            .any(|p| p.starts_with("a ") && p.contains("In Progress")),
        "{planned:?}"
    );
    assert!(
        planned.iter().any(|p| p == "b add public note"),
        "{planned:?}"
    );
    let mut delivered = Vec::new();
    for _ in 0..10 {
        delivered.extend(crate::delivery::deliver_round(&w.f.engine, "connectwise").await);
    }
    assert!(delivered.iter().any(|o| o.id == 500), "{delivered:?}");
    assert!(w
        .cw
        .writes
        .lock()
        .unwrap()
        .iter()
        .any(|w| w == "update 200"));
}

#[tokio::test]
async fn a_link_whose_trigger_side_ticket_leaves_the_scope_is_held_too() {
    let mut w = world();
    w.f.engine.pairings[0].mapping.scope.resolved.a =
        crate::config::scope::SideScope(vec![crate::config::scope::Condition {
            key: "company_id",
            source: crate::config::scope::Source::Field("companyID"),
            value: "174".into(),
        }]);
    let mut a = ticket(Side::A, "New", "Critical");
    a.fields.insert("companyID".into(), "175".into());
    w.set(&w.at, a);
    w.notice("autotask", "100").await;
    assert!(w.f.engine.store.outbox().unwrap().is_empty());
    assert_eq!(w.count("out_of_scope"), 1);
    let hold = w.f.engine.store.shadow(7).unwrap().out_of_scope.unwrap();
    assert_eq!(hold.ticket, "autotask:100");
    assert_eq!(hold.found.as_deref(), Some("175"));
}

#[test]
fn a_trigger_side_ticket_outside_the_scope_never_escalates() {
    let mut f = fixture();
    let text = format!("{MAPPING}\n[scope]\na = {{ company_id = \"174\" }}\n");
    let mut mapping: crate::config::Mapping =
        crate::config::load::parse_toml(Path::new("m.toml"), &text).unwrap();
    crate::config::scope::resolve(
        &mut mapping,
        Vendor::Autotask,
        Vendor::Connectwise,
        Path::new("m.toml"),
        &text,
    )
    .unwrap();
    f.engine.pairings[0].mapping = mapping;
    let pairing = &f.engine.pairings[0];
    let mut t = ticket(Side::A, "New", "High");
    t.queue = Some("Escalate to MSP".into());
    t.fields.insert("companyID".into(), "174".into());
    assert!(triggers(pairing, Side::A, &t));
    t.fields.insert("companyID".into(), "175".into());
    assert!(!triggers(pairing, Side::A, &t), "another company's ticket");
    t.fields.remove("companyID");
    assert!(!triggers(pairing, Side::A, &t), "no company at all");
}
