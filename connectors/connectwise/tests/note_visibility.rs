//! Note visibility is default-deny: internal by any flag means internal,
//! whatever the discussion/resolution flags say, and the simulator stores and
//! returns every flag as written.

mod common;

use psa_connector::{Connector, NewComment, Visibility};
use psa_connectwise::SimNoteKind;
use serde_json::{json, Value};

const P3: &str = "Priority 3 - Normal Response";

#[tokio::test]
async fn an_internal_resolution_note_lists_internal() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let t = sim.user_create_ticket("VPN", "Co-Managed", "ACME", P3);
    sim.user_add_note(
        t.id,
        "Root cause: our bad config push",
        SimNoteKind::InternalResolution,
        "jsmith",
    );
    let comments = connector.list_comments(&t.id.to_string()).await.unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].visibility, Visibility::Internal);
    assert!(comments[0].resolution);
}

#[tokio::test]
async fn the_bridge_stores_an_internal_resolution_as_internal() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let t = sim.user_create_ticket("VPN", "Co-Managed", "ACME", P3);
    connector
        .add_comment(
            &t.id.to_string(),
            &NewComment {
                body: "Closed on our side".into(),
                visibility: Visibility::Internal,
                marker: "op-9".into(),
                resolution: true,
            },
        )
        .await
        .unwrap();
    let notes = sim.notes(t.id);
    assert_eq!(notes.len(), 1);
    let n = &notes[0];
    assert!(n.resolution && n.internal && n.internal_flag, "{n:?}");
    assert!(!n.discussion && !n.external_flag, "{n:?}");
    let comments = connector.list_comments(&t.id.to_string()).await.unwrap();
    assert_eq!(comments[0].visibility, Visibility::Internal);
    assert!(comments[0].resolution);
}

#[tokio::test]
async fn the_simulator_keeps_every_flag_as_written() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let t = sim.user_create_ticket("VPN", "Co-Managed", "ACME", P3);
    let client = common::raw_client(&sim);
    // A discussion note someone marked internal: not for the customer.
    let flags = json!({
        "detailDescriptionFlag": true,
        "internalAnalysisFlag": false,
        "resolutionFlag": false,
        "internalFlag": true,
        "externalFlag": false,
    });
    let mut body = flags.clone();
    body["text"] = json!("Heads-up for the team");
    let created: Value = common::fetch(
        client
            .post(common::api(
                &sim,
                &format!("service/tickets/{}/notes", t.id),
            ))
            .json(&body),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let read: Value = common::fetch(client.get(common::api(
        &sim,
        &format!("service/tickets/{}/notes/{id}", t.id),
    )))
    .await;
    for name in flags.as_object().unwrap().keys() {
        assert_eq!(read[name], flags[name], "{name} in {read}");
        assert_eq!(created[name], flags[name], "{name} in {created}");
    }
    let n = &sim.notes(t.id)[0];
    assert!(n.discussion && n.internal_flag && !n.external_flag && !n.internal);
    let comments = connector.list_comments(&t.id.to_string()).await.unwrap();
    assert_eq!(comments[0].visibility, Visibility::Internal);
}
