//! Changing an existing note's visibility: the connector PATCHes the note's
//! flags (internal analysis and `internalFlag` on, discussion off, resolution
//! kept), the simulator validates the note belongs to the ticket, and a
//! missing note is NotFound.

mod common;

use psa_connector::{Connector, ConnectorError, Visibility};
use psa_connectwise::SimNoteKind;

const P3: &str = "Priority 3 - Normal Response";

#[tokio::test]
async fn a_public_note_is_made_internal_and_lists_internal() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    assert!(connector.can_set_comment_visibility());
    let t = sim.user_create_ticket("VPN", "Co-Managed", "ACME", P3);
    let note = sim.user_add_note(t.id, "Fixed: bad cable", SimNoteKind::Resolution, "jsmith");
    let chatter = sim.user_add_note(t.id, "Calling them", SimNoteKind::Discussion, "jsmith");
    let (ticket, id) = (t.id.to_string(), note.to_string());
    let before = connector.list_comments(&ticket).await.unwrap();
    assert_eq!(before[0].visibility, Visibility::Public);

    connector
        .set_comment_visibility(&ticket, &id, Visibility::Internal)
        .await
        .unwrap();
    let notes = sim.notes(t.id);
    let n = notes.iter().find(|n| n.id == note).unwrap();
    assert!(n.internal && n.internal_flag && !n.discussion, "{n:?}");
    assert!(n.resolution, "the resolution flag stays: {n:?}");
    let other = notes.iter().find(|n| n.id == chatter).unwrap();
    assert!(
        other.discussion && !other.internal,
        "only that note: {other:?}"
    );
    let after = connector.list_comments(&ticket).await.unwrap();
    let listed = after.iter().find(|c| c.id == id).unwrap();
    assert_eq!(listed.visibility, Visibility::Internal);
    assert!(listed.resolution);
}

#[tokio::test]
async fn a_note_of_another_ticket_or_no_note_is_not_found() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let t1 = sim.user_create_ticket("VPN", "Co-Managed", "ACME", P3);
    let t2 = sim.user_create_ticket("Mail", "Co-Managed", "ACME", P3);
    let note = sim.user_add_note(t1.id, "Public", SimNoteKind::Discussion, "jsmith");
    for (ticket, id) in [(t2.id, note), (t1.id, note + 1000)] {
        let err = connector
            .set_comment_visibility(&ticket.to_string(), &id.to_string(), Visibility::Internal)
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectorError::NotFound(_)), "{err:?}");
    }
    assert!(sim.notes(t1.id)[0].discussion, "unchanged");
}

#[tokio::test]
async fn a_person_making_a_note_internal_is_seen() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let t = sim.user_create_ticket("VPN", "Co-Managed", "ACME", P3);
    let note = sim.user_add_note(
        t.id,
        "Oops, customer-visible",
        SimNoteKind::Discussion,
        "jsmith",
    );
    sim.user_make_note_internal(t.id, note);
    let comments = connector.list_comments(&t.id.to_string()).await.unwrap();
    assert_eq!(comments[0].visibility, Visibility::Internal);
}
