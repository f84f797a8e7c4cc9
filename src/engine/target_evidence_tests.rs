//! The audit evidence response targets are measured by
//! (`accountability::ledger`): a person's status or priority change on a
//! side is recorded with the side, the new label, the label written to the
//! other side and the vendor's change time; the bridge's own echoes are not.

use super::tests::{fixture, ticket};
use crate::store::Side;

#[test]
fn status_and_priority_changes_are_recorded_with_side_label_and_time() {
    let f = fixture();
    let a = ticket(Side::A, "New", "High");
    let b = ticket(Side::B, "New", "Priority 2 - Quick Response");
    f.agree(&a, &b);
    let b_now = ticket(Side::B, "Waiting Customer", "Priority 2 - Quick Response");
    let a_now = ticket(Side::A, "New", "Critical");
    let plan = f.plan(&a_now, &b_now, &[]);
    let line = |kind: &str| {
        plan.audit
            .iter()
            .find(|l| l.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} in {:?}", plan.audit))
    };
    let status = &line("status_changed").detail;
    assert_eq!(status["side"], "b");
    assert_eq!(status["from"], "New");
    assert_eq!(status["to"], "Waiting Customer");
    assert_eq!(status["written"], "Waiting Customer");
    assert_eq!(status["closed"], false);
    assert_eq!(
        status["at"],
        serde_json::to_value(b_now.updated_at).unwrap()
    );
    let priority = &line("priority_changed").detail;
    assert_eq!(priority["side"], "a");
    assert_eq!(priority["written"], "Priority 1 - Emergency Response");

    // Nothing changed since (the shadow took the plan's values): no evidence.
    f.agree(
        &a_now,
        &ticket(
            Side::B,
            "Waiting Customer",
            "Priority 1 - Emergency Response",
        ),
    );
    let again = f.plan(
        &a_now,
        &ticket(
            Side::B,
            "Waiting Customer",
            "Priority 1 - Emergency Response",
        ),
        &[],
    );
    assert!(
        !again
            .audit
            .iter()
            .any(|l| l.kind == "status_changed" || l.kind == "priority_changed"),
        "{:?}",
        again.audit
    );
}

/// The targets monitor's notes (`…:target:<side>:<id>`) are the bridge's
/// own even when the comment map lost them (a restored store): never
/// mirrored back as a person's note.
#[test]
fn target_notes_are_known_as_the_bridges() {
    let f = fixture();
    let note_on_b = f.link.event_marker("target", Side::A, 41);
    assert!(super::comments::written_by_bridge(
        &f.link,
        Side::B,
        &note_on_b,
        &[]
    ));
    // The same marker on the other side is not one the bridge wrote there.
    assert!(!super::comments::written_by_bridge(
        &f.link,
        Side::A,
        &note_on_b,
        &[]
    ));
}
