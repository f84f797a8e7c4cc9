//! Markers recognised from vendor data alone: what a store that lost recent
//! knowledge (restored from a backup, a link found again) re-adopts instead
//! of writing twice, and what it must still treat as a person's note.

use psa_connector::{Comment, Visibility};

use super::tests::{empty_plan, fixture, public_note, ticket, Fixture};
use super::Plan;
use crate::store::{
    marker_id, ticket_marker_for, Action, CommentEntry, Link, Side, TicketRef, TreeName,
};

/// The fixture's link as a link made by this version: marker from the
/// source ticket (Autotask 100 on side a).
fn new_format(f: &mut Fixture) {
    let mut link = Link::new(
        f.link.id,
        "acme",
        Side::A,
        f.link.a.clone().unwrap(),
        f.link.created_at,
    );
    link.b = f.link.b.clone();
    f.link = link;
}

fn plan_both(f: &Fixture, a: &[Comment], b: &[Comment]) -> Plan {
    let mut plan = empty_plan(f);
    f.engine
        .plan_side_notes(f.pairing(), Side::A, a, Some(b), &[], &mut plan)
        .unwrap();
    f.engine
        .plan_side_notes(f.pairing(), Side::B, b, Some(a), &[], &mut plan)
        .unwrap();
    plan
}

/// The audit kinds of the plan, without the `note_planned` of each mirror.
fn kinds(plan: &Plan) -> Vec<&'static str> {
    plan.audit
        .iter()
        .map(|l| l.kind)
        .filter(|k| *k != "note_planned")
        .collect()
}

/// A link stored before links kept their marker reads back without one and
/// keeps the markers it wrote with: ticket, write-back and mirror markers
/// from the link id.
#[test]
fn legacy_links_keep_their_markers() {
    let old = r#"{"id":7,"pairing":"acme","a":{"id":"100","number":"T100"},"b":null,"origin":"a","created_at":"2026-11-26T12:00:00Z"}"#;
    let link: Link = serde_json::from_str(old).unwrap();
    assert_eq!(link.marker, None);
    assert_eq!(link.marker(), "psa-bridge:acme:7");
    assert_eq!(
        super::trigger::write_back_marker(&link.marker()),
        "psa-bridge:acme:7:writeback"
    );
    assert_eq!(link.mirror_marker(Side::A, "55"), "acme:7:a:55");
    // Written again, it stays in the old form (no marker field).
    assert!(!serde_json::to_string(&link).unwrap().contains("marker"));

    let f = fixture();
    assert_eq!(f.link.marker, None, "the fixture is a legacy link");
    let plan = plan_both(&f, &[public_note("55", "Reboot done", None)], &[]);
    let Action::AddComment { comment, .. } = &plan.ops[0].action else {
        panic!("{:?}", plan.ops)
    };
    assert_eq!(comment.marker, "acme:7:a:55");
}

/// New links: the ticket marker names the pairing and the source ticket,
/// not the link id; ids a marker cannot hold as they are are hashed.
#[test]
fn new_markers_come_from_the_source_ticket() {
    let r = TicketRef {
        id: "100".into(),
        number: "T100".into(),
    };
    let first = Link::new(7, "acme", Side::A, r.clone(), chrono::Utc::now());
    let again = Link::new(912, "acme", Side::A, r, chrono::Utc::now());
    assert_eq!(first.marker(), "psa-bridge:acme:a:100");
    assert_eq!(first.marker(), again.marker());
    assert_eq!(first.mirror_marker(Side::B, "55"), "acme:a:100:b:55");
    assert_eq!(
        first.mirror_marker(Side::B, "55"),
        again.mirror_marker(Side::B, "55")
    );
    let stored: Link = serde_json::from_str(&serde_json::to_string(&first).unwrap()).unwrap();
    assert_eq!(stored, first);

    let sys_id = "9d385017c611228701d22104cc95c371";
    assert_eq!(marker_id(sys_id), sys_id);
    for odd in ["a:b", "two words", "ü", "", &"9".repeat(41), "_x"] {
        let id = marker_id(odd);
        assert!(id.starts_with('_') && id.len() == 33, "{odd:?} → {id}");
        assert_eq!(id, marker_id(odd), "deterministic");
    }
    assert_ne!(marker_id("a:b"), marker_id("a;b"));
    // Every new marker survives the comment trailer's character check, and
    // a ServiceNow-origin marker fits ConnectWise's 100-character field with
    // a 40-character pairing name.
    let long = ticket_marker_for(&"p".repeat(40), Side::B, sys_id);
    assert!(long.len() <= 100, "{}", long.len());
    let note = Link::new(
        1,
        "acme",
        Side::B,
        TicketRef {
            id: "a b".into(),
            number: "x".into(),
        },
        chrono::Utc::now(),
    )
    .mirror_marker(Side::A, "c/1");
    let text = psa_connector::marker::embed("hi", &note);
    assert_eq!(psa_connector::marker::extract(&text).1, Some(note));
}

/// A ticket whose link was lost is escalated again with the marker of its
/// first escalation, so the create finds the far ticket made then.
#[test]
fn escalating_again_uses_the_first_escalations_marker() {
    let f = fixture();
    let mut t = ticket(Side::A, "New", "High");
    t.queue = Some("Escalate to MSP".into());
    let markers: Vec<String> = [10, 20]
        .into_iter()
        .map(|link_id| {
            let plan = f
                .engine
                .plan_escalation(f.pairing(), Side::A, "autotask", &t, link_id);
            assert_eq!(plan.link.marker.as_deref(), Some("psa-bridge:acme:a:100"));
            match &plan.ops[0].action {
                Action::CreateTicket { ticket, .. } => ticket.marker.clone(),
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert_eq!(markers[0], markers[1]);
    assert_eq!(markers[0], "psa-bridge:acme:a:100");
    // The write-back note (a once-only marker) follows the ticket marker, so
    // the one posted the first time is found again too.
    let write_back = crate::store::WriteBack {
        note: Some("Escalated as {number}".into()),
        note_visibility: Visibility::Internal,
        field: None,
    };
    let ops = super::write_back_ops(&write_back, Side::A, &markers[1], "T9");
    let Action::AddComment { comment, .. } = &ops[0].action else {
        panic!("{ops:?}")
    };
    assert_eq!(comment.marker, "psa-bridge:acme:a:100:writeback");
}

/// The comment map lost a note and its mirror (restored store): the mirror
/// on the far side is recognised by its exact trailer and both are recorded
/// as a pair, in both directions; nothing is posted or mirrored back.
#[test]
fn a_mirror_the_store_lost_is_recovered_not_posted_again() {
    let mut f = fixture();
    new_format(&mut f);
    let a = [
        public_note("55", "Reboot done", None),
        public_note("56", "Dana wrote: On site", Some("acme:a:100:b:901")),
    ];
    let b = [
        public_note("900", "Dana wrote: Reboot done", Some("acme:a:100:a:55")),
        public_note("901", "On site", None),
    ];
    let plan = plan_both(&f, &a, &b);
    assert!(plan.ops.is_empty(), "{:?}", plan.ops);
    assert_eq!(kinds(&plan), ["mirror_recovered", "mirror_recovered"]);
    let entry = |side: Side, id: &str| {
        plan.comments
            .iter()
            .find(|(s, c, _)| *s == side && c == id)
            .map(|(_, _, e)| e.clone())
    };
    let mirrored = |target: &str| CommentEntry::Mirrored {
        op: 0,
        target_id: Some(target.into()),
        visibility: Some(Visibility::Public),
    };
    assert_eq!(entry(Side::A, "55"), Some(mirrored("900")));
    assert_eq!(entry(Side::B, "900"), Some(CommentEntry::Bridge));
    assert_eq!(entry(Side::B, "901"), Some(mirrored("56")));
    assert_eq!(entry(Side::A, "56"), Some(CommentEntry::Bridge));

    // A legacy link recovers its own (link-id) mirror markers the same way.
    let f = fixture();
    let plan = plan_both(
        &f,
        &[public_note("55", "Reboot done", None)],
        &[public_note("900", "Reboot done", Some("acme:7:a:55"))],
    );
    assert!(plan.ops.is_empty(), "{:?}", plan.ops);
}

/// Recovery never crosses links or pairings, needs the source note on the
/// other side, and counts only the oldest copy: anything else carrying a
/// marker is a person's note, mirrored (audited `foreign_marker`).
#[test]
fn markers_of_other_links_or_copies_are_not_adopted() {
    let mut f = fixture();
    new_format(&mut f);
    let source = public_note("55", "Reboot done", None);
    for foreign in [
        "acme:a:101:a:55",  // another link of the pairing (source ticket 101)
        "other:a:100:a:55", // the same ids in another pairing
        "acme:7:a:55",      // the legacy marker of link 7
        "acme:a:100:a:54",  // this link, a note the other side does not have
    ] {
        let plan = plan_both(
            &f,
            std::slice::from_ref(&source),
            &[public_note("900", "Reboot done", Some(foreign))],
        );
        assert!(kinds(&plan).contains(&"foreign_marker"), "{foreign}");
        assert!(!kinds(&plan).contains(&"mirror_recovered"), "{foreign}");
        // Both notes cross: the source to b, the marked note to a.
        let targets: Vec<Side> = plan.ops.iter().map(|o| o.target).collect();
        assert_eq!(targets, [Side::B, Side::A], "{foreign}");
    }

    // Two notes with this link's mirror marker: the oldest is the mirror,
    // the later one a person's copy.
    let mut copy = public_note("950", "Reboot done", Some("acme:a:100:a:55"));
    let mirror = public_note("900", "Reboot done", Some("acme:a:100:a:55"));
    copy.created_at = mirror.created_at + chrono::Duration::minutes(5);
    let plan = plan_both(&f, std::slice::from_ref(&source), &[copy, mirror]);
    assert_eq!(kinds(&plan), ["mirror_recovered", "foreign_marker"]);
    assert_eq!(plan.ops.len(), 1);
    assert!(matches!(
        &plan.ops[0].action,
        Action::AddComment { source: Some((Side::B, id)), .. } if id == "950"
    ));

    // A source already mirrored in the comment map: a second marked note
    // is a person's copy, not a second mirror.
    let key = crate::store::comment_key(f.link.id, Side::A, "55");
    let known = CommentEntry::Mirrored {
        op: 3,
        target_id: Some("900".into()),
        visibility: Some(Visibility::Public),
    };
    f.engine
        .store
        .transact(|tx| tx.put(TreeName::Comments, &key, &known))
        .unwrap();
    let plan = plan_both(
        &f,
        std::slice::from_ref(&source),
        &[public_note("950", "Reboot done", Some("acme:a:100:a:55"))],
    );
    assert_eq!(kinds(&plan), ["foreign_marker"]);
    assert_eq!(plan.ops.len(), 1);
}

/// While the far ticket is not known yet (escalation), a note carrying this
/// link's mirror marker of a far-side note is left for a plan that reads
/// both sides, rather than taken for a person's note and mirrored back.
#[test]
fn a_mirror_marker_waits_until_both_sides_are_read() {
    let mut f = fixture();
    new_format(&mut f);
    let mut plan = empty_plan(&f);
    let notes = [public_note("56", "On site", Some("acme:a:100:b:901"))];
    f.engine
        .plan_side_notes(f.pairing(), Side::A, &notes, None, &[], &mut plan)
        .unwrap();
    assert!(plan.ops.is_empty() && plan.comments.is_empty() && plan.audit.is_empty());
    // Another link's marker is still a person's note at once.
    let notes = [public_note("57", "On site", Some("acme:a:101:b:901"))];
    f.engine
        .plan_side_notes(f.pairing(), Side::A, &notes, None, &[], &mut plan)
        .unwrap();
    assert_eq!(kinds(&plan), ["foreign_marker"]);
}

/// The close rule's and description edits' notes carry a fresh id, so they
/// cannot be paired with a source; their link-specific prefix on the side
/// they are written to is enough to keep them from being mirrored back when
/// the comment map lost them. Another link's are people's notes.
#[test]
fn close_and_description_notes_the_store_lost_are_not_mirrored_back() {
    for legacy in [true, false] {
        let mut f = fixture();
        if !legacy {
            new_format(&mut f);
        }
        let close_from_a = f.link.event_marker("close", Side::A, 4711);
        let desc_from_b = f.link.event_marker("desc", Side::B, 4712);
        let plan = plan_both(
            &f,
            &[public_note("60", "Description updated", Some(&desc_from_b))],
            &[public_note(
                "910",
                "Resolved on the client side",
                Some(&close_from_a),
            )],
        );
        assert!(plan.ops.is_empty(), "{:?}", plan.ops);
        assert!(plan
            .comments
            .iter()
            .all(|(_, _, e)| *e == CommentEntry::Bridge));
        // The same markers on the side the change was made on, or another
        // link's, are not the bridge's notes there.
        let mut other = f.link.clone();
        other.id = 8;
        other.marker = other.marker.map(|m| m.replace(":100", ":101"));
        let plan = plan_both(
            &f,
            &[public_note("61", "x", Some(&close_from_a))],
            &[public_note(
                "911",
                "y",
                Some(&other.event_marker("close", Side::A, 1)),
            )],
        );
        assert_eq!(
            kinds(&plan),
            ["foreign_marker", "foreign_marker"],
            "{legacy}"
        );
    }
}
