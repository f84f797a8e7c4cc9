//! Unit tests of the planning rules on the shipped Autotask ↔ ConnectWise
//! mapping, without vendors or timing: `plan_link` on given tickets, shadows
//! and outbox contents.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use psa_connector::Ticket;

use super::reconcile::Sides;
use super::{observe, Engine, Plan};
use crate::clock::ManualClock;
use crate::config::load::parse_toml;
use crate::config::{LoadedPairing, Mapping};
use crate::store::{Action, Link, OutboxOp, Shadow, Side, Store, TicketRef, TreeName};

pub(super) const MAPPING: &str = include_str!("../../mappings/autotask-to-connectwise.toml");

pub(super) struct Fixture {
    pub engine: Engine,
    pub link: Link,
    _dir: tempfile::TempDir,
}

pub(super) fn fixture() -> Fixture {
    fixture_with(MAPPING)
}

/// A fixture whose pairing uses `mapping_text` instead of the shipped mapping.
pub(super) fn fixture_with(mapping_text: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = Path::new("mappings/autotask-to-connectwise.toml");
    let mapping: Mapping = parse_toml(path, mapping_text).unwrap();
    mapping.validate(path, mapping_text).unwrap();
    let pairing = LoadedPairing {
        name: "acme".into(),
        a: "autotask".into(),
        b: "connectwise".into(),
        mapping,
        mapping_path: path.into(),
        mapping_source: mapping_text.into(),
    };
    let start = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
    let engine = Engine::new(
        Store::open(&dir.path().join("store")).unwrap(),
        HashMap::new(),
        vec![pairing],
        Arc::new(ManualClock::new(start)),
        Default::default(),
    );
    let link = Link {
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
        created_at: start,
        marker: None,
    };
    Fixture {
        engine,
        link,
        _dir: dir,
    }
}

/// An Autotask-side (a) or ConnectWise-side (b) ticket in the given state.
pub(super) fn ticket(side: Side, status: &str, priority: &str) -> Ticket {
    let closed = matches!(status, "Complete" | ">Closed" | "Resolved");
    Ticket {
        assignee: Default::default(),
        category: Default::default(),
        id: if side == Side::A { "100" } else { "200" }.into(),
        number: if side == Side::A { "T100" } else { "200" }.into(),
        title: "VPN down".into(),
        description: (side == Side::A).then(|| "Tunnel is down".to_string()),
        status: status.into(),
        priority: priority.into(),
        queue: None,
        closed,
        marker: None,
        fields: Default::default(),
        updated_at: Utc::now(),
    }
}

impl Fixture {
    pub fn pairing(&self) -> &LoadedPairing {
        &self.engine.pairings[0]
    }

    /// Stores the link and a shadow in which both sides agree on `a` and `b`.
    pub fn agree(&self, a: &Ticket, b: &Ticket) -> Shadow {
        let mapping = &self.pairing().mapping;
        let shadow = Shadow {
            a: observe(mapping, Side::A, a),
            b: observe(mapping, Side::B, b),
            out_of_scope: None,
        };
        let key = self.link.id.to_be_bytes();
        self.engine
            .store
            .transact(|tx| {
                tx.put(TreeName::Links, &key, &self.link)?;
                tx.put(TreeName::Shadows, &key, &shadow)
            })
            .unwrap();
        shadow
    }

    pub fn plan(&self, a: &Ticket, b: &Ticket, outbox: &[OutboxOp]) -> Plan {
        let sides = Sides {
            a: Some(a.clone()),
            b: Some(b.clone()),
        };
        self.engine
            .plan_link(self.pairing(), self.link.clone(), &sides, outbox)
            .unwrap()
    }
}

pub(super) fn updates(plan: &Plan, target: Side) -> Vec<&Action> {
    plan.ops
        .iter()
        .filter(|op| op.target == target && matches!(op.action, Action::UpdateTicket { .. }))
        .map(|op| &op.action)
        .collect()
}

fn comment_markers(plan: &Plan) -> Vec<String> {
    plan.ops
        .iter()
        .filter_map(|op| match &op.action {
            Action::AddComment { comment, .. } => Some(comment.marker.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_change_on_one_side_is_mapped_to_the_other() {
    let f = fixture();
    let a = ticket(Side::A, "New", "High");
    let b = ticket(Side::B, "New", "Priority 2 - Quick Response");
    f.agree(&a, &b);
    let a_now = ticket(Side::A, "New", "Critical");
    let plan = f.plan(&a_now, &b, &[]);
    let ops = updates(&plan, Side::B);
    assert_eq!(ops.len(), 1, "{:?}", plan.ops);
    let Action::UpdateTicket { update } = ops[0] else {
        unreachable!()
    };
    assert_eq!(
        update.priority.as_deref(),
        Some("Priority 1 - Emergency Response")
    );
    assert_eq!(
        plan.shadow.b.values.get("priority").map(String::as_str),
        Some("Priority 1 - Emergency Response")
    );
    assert!(updates(&plan, Side::A).is_empty());
}

#[test]
fn the_echo_of_a_bridge_write_plans_nothing() {
    let f = fixture();
    let a = ticket(Side::A, "New", "Critical");
    let b = ticket(Side::B, "New", "Priority 1 - Emergency Response");
    f.agree(&a, &b);
    let plan = f.plan(&a, &b, &[]);
    assert!(plan.ops.is_empty(), "{:?}", plan.ops);
}

#[test]
fn two_description_edits_in_one_second_get_distinct_markers() {
    let f = fixture();
    let a = ticket(Side::A, "New", "High");
    let b = ticket(Side::B, "New", "Priority 2 - Quick Response");
    f.agree(&a, &b);
    let mut first = a.clone();
    first.description = Some("Tunnel is down; also DNS".into());
    let plan1 = f.plan(&first, &b, &[]);
    // The first plan is committed: its shadow is the new agreed state.
    let key = f.link.id.to_be_bytes();
    f.engine
        .store
        .transact(|tx| tx.put(TreeName::Shadows, &key, &plan1.shadow))
        .unwrap();
    let mut second = first.clone();
    second.description = Some("Tunnel is down; also DNS and DHCP".into());
    // Same clock reading: the manual clock has not moved.
    let plan2 = f.plan(&second, &b, &[]);
    let (m1, m2) = (comment_markers(&plan1), comment_markers(&plan2));
    assert_eq!((m1.len(), m2.len()), (1, 1), "{m1:?} {m2:?}");
    assert_ne!(m1[0], m2[0], "markers must be unique per note");
}

#[test]
fn the_echo_of_a_bridge_close_does_not_apply_the_close_rule() {
    let f = fixture();
    // Autotask completed; the bridge wrote ">Closed" to ConnectWise, whose
    // ticket was still open when the shadow was recorded.
    let a = ticket(Side::A, "Complete", "High");
    let mut b_before = ticket(Side::B, ">Closed", "Priority 2 - Quick Response");
    b_before.closed = false;
    f.agree(&a, &b_before);
    let b_now = ticket(Side::B, ">Closed", "Priority 2 - Quick Response");
    let plan = f.plan(&a, &b_now, &[]);
    assert!(comment_markers(&plan).is_empty(), "{:?}", plan.ops);
    assert!(plan.shadow.b.closed);
}

#[test]
fn a_side_closing_on_its_own_applies_the_close_rule() {
    let f = fixture();
    let a = ticket(Side::A, "In Progress", "High");
    let b = ticket(Side::B, "In Progress", "Priority 2 - Quick Response");
    f.agree(&a, &b);
    let b_now = ticket(Side::B, ">Closed", "Priority 2 - Quick Response");
    let plan = f.plan(&a, &b_now, &[]);
    assert_eq!(comment_markers(&plan).len(), 1, "{:?}", plan.ops);
    let Action::UpdateTicket { update } = updates(&plan, Side::A)[0] else {
        unreachable!()
    };
    assert_eq!(update.status.as_deref(), Some("Complete"));
}

/// A field with a write still in the outbox is not a change on that side:
/// its stale value is not sent back.
#[test]
fn fields_in_flight_are_not_changes() {
    let f = fixture();
    let a = ticket(Side::A, "New", "High");
    let b = ticket(Side::B, "New", "Priority 2 - Quick Response");
    let mut shadow = f.agree(&a, &b);
    // The bridge planned priority Critical → P1 for b; b still shows P2.
    shadow.a.values.insert("priority".into(), "Critical".into());
    shadow
        .b
        .values
        .insert("priority".into(), "Priority 1 - Emergency Response".into());
    let key = f.link.id.to_be_bytes();
    f.engine
        .store
        .transact(|tx| tx.put(TreeName::Shadows, &key, &shadow))
        .unwrap();
    let a_now = ticket(Side::A, "New", "Critical");
    let in_flight = OutboxOp {
        pairing: "acme".into(),
        connection: "connectwise".into(),
        fields: vec!["priority".into()],
        ..OutboxOp::sample(
            1,
            f.link.id,
            Side::B,
            Action::UpdateTicket {
                update: Default::default(),
            },
        )
    };
    let plan = f.plan(&a_now, &b, &[in_flight]);
    assert!(plan.ops.is_empty(), "stale value bounced: {:?}", plan.ops);
    // Without the operation in flight, P2 on b is a change and flows to a.
    let plan = f.plan(&a_now, &b, &[]);
    let Action::UpdateTicket { update } = updates(&plan, Side::A)[0] else {
        unreachable!()
    };
    assert_eq!(update.priority.as_deref(), Some("High"));
}

/// Both sides changed a field to values that do not correspond: the owner
/// (ConnectWise for status) wins and the discarded value is audited.
#[test]
fn conflicts_go_to_the_owner_and_are_audited() {
    let f = fixture();
    let a = ticket(Side::A, "New", "High");
    let b = ticket(Side::B, "New", "Priority 2 - Quick Response");
    f.agree(&a, &b);
    let a_now = ticket(Side::A, "Waiting Customer", "High");
    let b_now = ticket(Side::B, "In Progress", "Priority 2 - Quick Response");
    let plan = f.plan(&a_now, &b_now, &[]);
    let Action::UpdateTicket { update } = updates(&plan, Side::A)[0] else {
        unreachable!()
    };
    assert_eq!(update.status.as_deref(), Some("In Progress"));
    assert!(updates(&plan, Side::B).is_empty());
    assert!(
        plan.audit
            .iter()
            .any(|l| l.kind == "conflict" && l.message.contains("Waiting Customer")),
        "{:?}",
        plan.audit
    );
}

/// A value without a counterpart in the mapping is not synced, and says so.
#[test]
fn unmapped_values_are_audited_not_sent() {
    let f = fixture();
    let a = ticket(Side::A, "New", "High");
    let b = ticket(Side::B, "New", "Priority 2 - Quick Response");
    f.agree(&a, &b);
    let a_now = ticket(Side::A, "New", "Someday");
    let plan = f.plan(&a_now, &b, &[]);
    assert!(plan.ops.is_empty(), "{:?}", plan.ops);
    assert!(plan.audit.iter().any(|l| l.kind == "unmapped"));
}

pub(super) fn public_note(id: &str, body: &str, marker: Option<&str>) -> psa_connector::Comment {
    psa_connector::Comment {
        id: id.into(),
        body: body.into(),
        visibility: psa_connector::Visibility::Public,
        author: Some("Dana".into()),
        created_at: Utc::now(),
        resolution: false,
        marker: marker.map(str::to_string),
    }
}

fn comment_op(f: &Fixture, target: Side, marker: &str) -> OutboxOp {
    let action = Action::AddComment {
        comment: psa_connector::NewComment {
            body: "hi".into(),
            visibility: psa_connector::Visibility::Public,
            marker: marker.into(),
            resolution: false,
        },
        source: Some((target.other(), "55".into())),
    };
    OutboxOp {
        pairing: "acme".into(),
        connection: "connectwise".into(),
        ..OutboxOp::sample(3, f.link.id, target, action)
    }
}

pub(super) fn empty_plan(f: &Fixture) -> Plan {
    Plan {
        link: f.link.clone(),
        new_link: false,
        base_shadow: Shadow::default(),
        shadow: Shadow::default(),
        ops: Vec::new(),
        comments: Vec::new(),
        audit: Vec::new(),
    }
}

/// The bridge's own note, posted but not yet recorded, is recognised by the
/// operation that posts it; the same marker quoted in a customer's reply is
/// not the bridge's, and that reply is mirrored.
#[test]
fn only_markers_this_link_is_writing_count_as_the_bridges() {
    let f = fixture();
    let marker = "acme:7:a:55";
    let own = public_note("900", "Dana (autotask) wrote:\nReboot done", Some(marker));
    let mut plan = empty_plan(&f);
    let in_flight = [comment_op(&f, Side::B, marker)];
    f.engine
        .plan_comments(
            f.pairing(),
            Side::B,
            std::slice::from_ref(&own),
            &in_flight,
            &mut plan,
        )
        .unwrap();
    assert!(
        plan.ops.is_empty(),
        "own note mirrored back: {:?}",
        plan.ops
    );
    assert!(matches!(
        plan.comments.as_slice(),
        [(Side::B, id, crate::store::CommentEntry::Bridge)] if id == "900"
    ));

    let reply = public_note("950", "Thanks, works now!", Some(marker));
    let mut plan = empty_plan(&f);
    f.engine
        .plan_comments(f.pairing(), Side::B, &[reply], &[], &mut plan)
        .unwrap();
    assert_eq!(plan.ops.len(), 1, "the customer's reply must cross");
    assert_eq!(plan.ops[0].target, Side::A);
    assert!(plan.audit.iter().any(|l| l.kind == "foreign_marker"));
}

/// The created ticket's first note (ConnectWise's initial description) and
/// the write-back note carry the link's own once-only markers.
#[test]
fn the_links_once_only_markers_are_the_bridges() {
    let f = fixture();
    let first = public_note("901", "Tunnel is down", Some(&f.link.marker()));
    let mut plan = empty_plan(&f);
    f.engine
        .plan_comments(f.pairing(), Side::B, &[first], &[], &mut plan)
        .unwrap();
    assert!(plan.ops.is_empty(), "{:?}", plan.ops);
    let write_back = public_note(
        "902",
        "Escalated",
        Some(&format!("{}:writeback", f.link.marker())),
    );
    let mut plan = empty_plan(&f);
    f.engine
        .plan_comments(f.pairing(), Side::A, &[write_back], &[], &mut plan)
        .unwrap();
    assert!(plan.ops.is_empty(), "{:?}", plan.ops);
}

#[test]
fn trigger_rules() {
    use super::trigger::triggers;
    let f = fixture();
    let mut t = ticket(Side::A, "New", "High");
    t.queue = Some("Escalate to MSP".into());
    assert!(triggers(f.pairing(), Side::A, &t));
    assert!(!triggers(f.pairing(), Side::B, &t), "only the trigger side");
    let mut elsewhere = t.clone();
    elsewhere.queue = Some("Service Desk".into());
    assert!(!triggers(f.pairing(), Side::A, &elsewhere));
    let mut closed = t.clone();
    closed.closed = true;
    assert!(!triggers(f.pairing(), Side::A, &closed));
    // A ticket the bridge created for another pairing is never escalated again.
    let mut created = t.clone();
    created.marker = Some("psa-bridge:other:12".into());
    assert!(!triggers(f.pairing(), Side::A, &created));
}

/// A disk that fails a read or write (full, quota, I/O) or a raced plan
/// leaves the notice to be planned again; only a record that cannot be
/// decoded makes a dead notice.
#[test]
fn store_failures_of_the_disk_are_retried_and_corrupt_records_are_not() {
    use crate::store::StoreError;
    let disk_full = StoreError::Sled(sled::Error::Io(std::io::Error::from(
        std::io::ErrorKind::StorageFull,
    )));
    assert!(super::store_error_is_transient(&disk_full));
    assert!(super::EngineError::Store(disk_full).is_retryable());
    assert!(super::store_error_is_transient(&StoreError::Conflict(
        "raced".into()
    )));
    let corrupt = StoreError::Corrupt {
        tree: "links",
        key: "7".into(),
        reason: "bad json".into(),
    };
    assert!(!super::store_error_is_transient(&corrupt));
    assert!(!super::EngineError::Store(corrupt).is_retryable());
}
