//! Unit tests of [`super::visibility`]: a note that turns internal after it
//! crossed public gets its mirror made internal once, or an audit line saying
//! why not; nothing else moves.

use std::sync::Arc;

use psa_connector::{Comment, Visibility};

use super::commit::Outcome;
use super::tests::{empty_plan, fixture, public_note, Fixture};
use super::{Connection, Plan};
use crate::store::{comment_key, Action, CommentEntry, Shadow, Side, TreeName};
use crate::testing::{Fake, Script};

/// A connector that only answers whether it can change a note's visibility.
struct Notes {
    can: bool,
}

impl Script for Notes {
    fn can_set_comment_visibility(&self) -> bool {
        self.can
    }
}

/// The fixture with the Autotask side (a) able or not to change visibility,
/// the link stored, and ConnectWise note 55 recorded as mirrored to
/// Autotask note `target` with `crossed`.
fn setup(can: bool, target: Option<&str>, crossed: Option<Visibility>) -> Fixture {
    let mut f = fixture();
    f.engine.connections.insert(
        "autotask".into(),
        Connection {
            name: "autotask".into(),
            connector: Arc::new(Fake(Notes { can })),
        },
    );
    let entry = CommentEntry::Mirrored {
        op: 5,
        target_id: target.map(str::to_string),
        visibility: crossed,
    };
    let key = f.link.id.to_be_bytes();
    f.engine
        .store
        .transact(|tx| {
            tx.put(TreeName::Links, &key, &f.link)?;
            tx.put(TreeName::Shadows, &key, &Shadow::default())?;
            tx.put(TreeName::Comments, &comment_key(7, Side::B, "55"), &entry)
        })
        .unwrap();
    f
}

fn note_55(visibility: Visibility) -> Comment {
    let mut note = public_note("55", "Reboot done", None);
    note.visibility = visibility;
    note
}

fn plan_for(f: &Fixture, note: Comment) -> Plan {
    let mut plan = empty_plan(f);
    f.engine
        .plan_comments(f.pairing(), Side::B, &[note], &[], &mut plan)
        .unwrap();
    plan
}

fn recorded(f: &Fixture) -> CommentEntry {
    f.engine
        .store
        .comment_entry(7, Side::B, "55")
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_note_made_internal_after_crossing_gets_its_mirror_made_internal_once() {
    let f = setup(true, Some("801"), Some(Visibility::Public));
    let plan = plan_for(&f, note_55(Visibility::Internal));
    assert_eq!(plan.ops.len(), 1, "{:?}", plan.ops);
    assert_eq!(plan.ops[0].target, Side::A);
    assert_eq!(
        plan.ops[0].action,
        Action::SetCommentVisibility {
            comment_id: "801".into(),
            visibility: Visibility::Internal,
            source: (Side::B, "55".into()),
        }
    );
    assert!(
        plan.audit.iter().any(|l| l.kind == "note_became_internal"
            && l.message
                .contains("making its autotask mirror 801 internal")),
        "{:?}",
        plan.audit
    );
    f.engine
        .commit(Outcome {
            inbox_ids: Vec::new(),
            version: None,
            plans: vec![plan],
            note: None,
            replans_done: Vec::new(),
            changed_at: None,
        })
        .await
        .unwrap();
    assert_eq!(
        recorded(&f),
        CommentEntry::Mirrored {
            op: 5,
            target_id: Some("801".into()),
            visibility: Some(Visibility::Internal),
        },
        "the entry keeps its op and far id and records the change"
    );
    let again = plan_for(&f, note_55(Visibility::Internal));
    assert!(again.ops.is_empty(), "planned twice: {:?}", again.ops);
    assert!(again.audit.is_empty(), "{:?}", again.audit);
}

#[test]
fn a_mirror_that_cannot_be_changed_is_audited_and_left_public() {
    let f = setup(false, Some("801"), Some(Visibility::Public));
    let plan = plan_for(&f, note_55(Visibility::Internal));
    assert!(plan.ops.is_empty(), "{:?}", plan.ops);
    assert!(
        plan.audit.iter().any(|l| l.kind == "note_became_internal"
            && l.message.contains("stays public")
            && l.message.contains("cannot change")),
        "{:?}",
        plan.audit
    );
    assert!(matches!(
        plan.comments.as_slice(),
        [(Side::B, id, CommentEntry::Mirrored { visibility: Some(Visibility::Internal), .. })] if id == "55"
    ));
}

#[test]
fn internal_to_public_is_not_mirrored() {
    let f = setup(true, Some("801"), Some(Visibility::Internal));
    let plan = plan_for(&f, note_55(Visibility::Public));
    assert!(plan.ops.is_empty(), "{:?}", plan.ops);
    assert!(plan.comments.is_empty() && plan.audit.is_empty());
}

/// An undelivered mirror waits for the plan after its delivery; an entry
/// from before the visibility was kept learns a public baseline, and an
/// internal note behind such an entry is left alone (it may have crossed
/// internal).
#[test]
fn undelivered_mirrors_wait_and_old_entries_learn_a_baseline() {
    let f = setup(true, None, Some(Visibility::Public));
    let plan = plan_for(&f, note_55(Visibility::Internal));
    assert!(plan.ops.is_empty() && plan.comments.is_empty());

    let f = setup(true, Some("801"), None);
    let plan = plan_for(&f, note_55(Visibility::Internal));
    assert!(plan.ops.is_empty() && plan.comments.is_empty());
    let plan = plan_for(&f, note_55(Visibility::Public));
    assert!(plan.ops.is_empty() && plan.audit.is_empty());
    assert!(matches!(
        plan.comments.as_slice(),
        [(
            Side::B,
            _,
            CommentEntry::Mirrored {
                visibility: Some(Visibility::Public),
                op: 5,
                ..
            }
        )]
    ));

    let old: CommentEntry =
        serde_json::from_str(r#"{"state":"mirrored","op":3,"target_id":"9"}"#).unwrap();
    assert_eq!(
        old,
        CommentEntry::Mirrored {
            op: 3,
            target_id: Some("9".into()),
            visibility: None
        }
    );
}

#[test]
fn a_new_mirror_records_the_visibility_it_crosses_with() {
    let f = setup(true, None, None);
    let mut plan = empty_plan(&f);
    let note = public_note("60", "New note", None);
    f.engine
        .plan_comments(f.pairing(), Side::B, &[note], &[], &mut plan)
        .unwrap();
    assert!(matches!(
        plan.comments.as_slice(),
        [(Side::B, id, CommentEntry::Mirrored { visibility: Some(Visibility::Public), .. })] if id == "60"
    ));
}
