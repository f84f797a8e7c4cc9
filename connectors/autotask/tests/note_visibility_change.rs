//! Changing an existing note's visibility: `PATCH Tickets/{id}/Notes` with
//! the note id and the internal `publish` value; the simulator refuses a note
//! of another ticket with Autotask's "No matching records found" (HTTP 500),
//! which the connector reports as NotFound.

mod common;

use psa_connector::{Connector, ConnectorError, Visibility};

#[tokio::test]
async fn a_public_note_is_made_internal_and_lists_internal() {
    let sim = common::sim().await;
    let c = common::connector(common::settings(&sim));
    assert!(c.can_set_comment_visibility());
    let t = sim.user_create_ticket("VPN down", "since 9am", "Level I Support", "High");
    let note = sim.user_add_note(t.id, "Rebooted the firewall", false, "Tina Tech");
    let other = sim.user_add_note(t.id, "Still down for me", false, "Tina Tech");
    let (ticket, id) = (t.id.to_string(), note.to_string());
    let before = c.list_comments(&ticket).await.unwrap();
    assert!(before.iter().all(|n| n.visibility == Visibility::Public));

    c.set_comment_visibility(&ticket, &id, Visibility::Internal)
        .await
        .unwrap();
    let notes = sim.notes(t.id);
    assert!(notes.iter().find(|n| n.id == note).unwrap().internal);
    assert!(!notes.iter().find(|n| n.id == other).unwrap().internal);
    let after = c.list_comments(&ticket).await.unwrap();
    assert_eq!(
        after.iter().find(|n| n.id == id).unwrap().visibility,
        Visibility::Internal
    );
    let patches: Vec<_> = sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 1, "{patches:?}");
    assert!(patches[0]
        .path
        .ends_with(&format!("/Tickets/{ticket}/Notes")));
}

#[tokio::test]
async fn a_note_of_another_ticket_or_no_note_is_not_found() {
    let sim = common::sim().await;
    let c = common::connector(common::settings(&sim));
    let t1 = sim.user_create_ticket("VPN down", "x", "Level I Support", "High");
    let t2 = sim.user_create_ticket("Mail down", "y", "Level I Support", "High");
    let note = sim.user_add_note(t1.id, "Public note", false, "Tina Tech");
    for (ticket, id) in [(t2.id, note), (t1.id, note + 1000)] {
        let err = c
            .set_comment_visibility(&ticket.to_string(), &id.to_string(), Visibility::Internal)
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectorError::NotFound(_)), "{err:?}");
    }
    assert!(!sim.notes(t1.id)[0].internal, "unchanged");
}

#[tokio::test]
async fn a_person_making_a_note_internal_is_seen() {
    let sim = common::sim().await;
    let c = common::connector(common::settings(&sim));
    let t = sim.user_create_ticket("VPN down", "x", "Level I Support", "High");
    let note = sim.user_add_note(t.id, "Oops, public", false, "Tina Tech");
    sim.user_set_note_internal(t.id, note, true);
    let comments = c.list_comments(&t.id.to_string()).await.unwrap();
    assert_eq!(comments[0].visibility, Visibility::Internal);
}
