//! Note authors: resource ids become people's names through
//! `GET /V1.0/Resources/{id}` (looked up once per connector), with the id,
//! or "Contact <id>" for notes a contact wrote, when no name can be had.

mod common;

use psa_autotask::AutotaskSettings;
use psa_connector::{Connector, NewComment, Visibility};
use serde_json::{json, Value};

fn resource_gets(sim: &psa_autotask::AutotaskSim) -> usize {
    sim.control()
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.to_ascii_lowercase().contains("/v1.0/resources/"))
        .count()
}

fn author_of<'a>(comments: &'a [psa_connector::Comment], text: &str) -> Option<&'a str> {
    comments
        .iter()
        .find(|c| c.body.contains(text))
        .and_then(|c| c.author.as_deref())
}

#[tokio::test]
async fn human_notes_show_names_and_lookups_are_cached() {
    let sim = common::sim().await;
    let c = common::connector(common::settings(&sim));
    let t = sim.user_create_ticket("VPN down", "since 9am", "Level I Support", "High");
    sim.user_add_note(t.id, "Rebooted the firewall", true, "Tina Tech");
    sim.user_add_note(t.id, "Still down for me", false, "Tina Tech");
    sim.user_add_note(t.id, "Escalating", true, "Sam Supervisor");
    sim.user_add_note(t.id, "New person here", false, "Pat Newcomer");
    let id = t.id.to_string();

    let comments = c.list_comments(&id).await.unwrap();
    assert_eq!(
        author_of(&comments, "Rebooted the firewall"),
        Some("Tina Tech")
    );
    assert_eq!(author_of(&comments, "Still down for me"), Some("Tina Tech"));
    assert_eq!(author_of(&comments, "Escalating"), Some("Sam Supervisor"));
    assert_eq!(
        author_of(&comments, "New person here"),
        Some("Pat Newcomer"),
        "an author the seed did not know becomes a resource"
    );
    assert_eq!(resource_gets(&sim), 3, "one lookup per distinct resource");

    // Listing again, or another ticket by the same people: no new lookups.
    c.list_comments(&id).await.unwrap();
    let t2 = sim.user_create_ticket("Printer", "jammed", "Level I Support", "Low");
    sim.user_add_note(t2.id, "Cleared the jam", false, "Tina Tech");
    let comments = c.list_comments(&t2.id.to_string()).await.unwrap();
    assert_eq!(author_of(&comments, "Cleared the jam"), Some("Tina Tech"));
    assert_eq!(resource_gets(&sim), 3, "names are cached per connector");

    // The bridge's own notes are by its API user, named after its user name.
    c.add_comment(
        &id,
        &NewComment {
            body: "Mirrored reply".into(),
            visibility: Visibility::Public,
            marker: "pb-authors-1".into(),
            resolution: false,
        },
    )
    .await
    .unwrap();
    let comments = c.list_comments(&id).await.unwrap();
    assert_eq!(
        author_of(&comments, "Mirrored reply"),
        Some("bridge@example.com")
    );
    assert_eq!(resource_gets(&sim), 4);

    // A fresh connector (a new process) looks names up again.
    let fresh = common::connector(common::settings(&sim));
    fresh.list_comments(&id).await.unwrap();
    assert_eq!(resource_gets(&sim), 8);
}

#[tokio::test]
async fn simulator_serves_resources() {
    let sim = common::sim().await;
    let base = sim.api_url();
    let http = common::api_client();
    let tina: Value = common::fetch(http.get(format!("{base}V1.0/Resources/29682885"))).await;
    assert_eq!(tina["item"]["id"], 29682885);
    assert_eq!(tina["item"]["firstName"], "Tina");
    assert_eq!(tina["item"]["lastName"], "Tech");
    assert_eq!(tina["item"]["isActive"], true);
    assert!(tina["item"]["userName"].is_string());
    assert!(tina["item"]["email"].is_string());

    let unknown: Value = common::fetch(http.get(format!("{base}v1.0/resources/12345"))).await;
    assert_eq!(unknown, json!({"item": null}));

    let anonymous = reqwest::Client::new()
        .get(format!("{base}V1.0/Resources/29682885"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let found: Value = common::fetch(
        http.post(format!("{base}V1.0/Resources/query"))
            .json(&json!({"filter": [{"op": "eq", "field": "lastName", "value": "tech"}]})),
    )
    .await;
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["firstName"], "Tina");
    let count: Value = common::fetch(
        http.post(format!("{base}V1.0/Resources/query/count"))
            .json(&json!({"filter": [{"op": "exist", "field": "id"}]})),
    )
    .await;
    assert_eq!(
        count["queryCount"], 5,
        "four seeded people and the API user"
    );
}

#[tokio::test]
async fn unknown_or_unreadable_resources_fall_back_to_the_id() {
    let note = |id: i64, text: &str, creator: Value, contact: Value| {
        json!({
            "id": id, "ticketID": 7, "title": text, "description": text, "noteType": 3,
            "publish": 1, "createDateTime": format!("2026-11-25T10:00:0{id}.000Z"),
            "creatorResourceID": creator, "createdByContactID": contact,
        })
    };
    let notes = json!({
        "items": [
            note(1, "ghost", json!(555), Value::Null),
            note(2, "gone", json!(556), Value::Null),
            note(3, "garbled", json!(557), Value::Null),
            note(4, "flaky", json!(558), Value::Null),
            note(5, "pascal", json!(559), Value::Null),
            note(6, "portal", Value::Null, json!(30683012)),
            note(7, "nobody", Value::Null, Value::Null),
        ],
        "pageDetails": {"count": 7, "requestCount": 500, "nextPageUrl": null, "prevPageUrl": null},
    });
    let fields = json!({"fields": [
        {"name": "publish", "isPickList": true, "picklistValues": [
            {"value": "1", "label": "All Autotask Users", "isActive": true}]}
    ]});
    let api = common::fake(vec![
        (
            "/ticketnotes/entityinformation/fields",
            200,
            fields.to_string(),
        ),
        ("/tickets/7/notes", 200, notes.to_string()),
        ("/resources/555", 200, r#"{"item":null}"#.to_string()),
        (
            "/resources/556",
            404,
            r#"{"errors":["Resource 556 was not found."]}"#.to_string(),
        ),
        ("/resources/557", 200, r#"{"item":42}"#.to_string()),
        (
            "/resources/558",
            503,
            r#"{"errors":["Service unavailable"]}"#.to_string(),
        ),
        (
            "/resources/559",
            200,
            r#"{"item":{"Id":559,"FirstName":"Pascal","LastName":"Case","IsActive":true}}"#
                .to_string(),
        ),
    ])
    .await;
    let mut s = AutotaskSettings::new("bridge@example.com", "s", "c");
    s.api_url = Some(api);
    let c = common::connector(s);
    let comments = c.list_comments("7").await.unwrap();
    assert_eq!(author_of(&comments, "ghost"), Some("555"));
    assert_eq!(author_of(&comments, "gone"), Some("556"));
    assert_eq!(author_of(&comments, "garbled"), Some("557"));
    assert_eq!(author_of(&comments, "flaky"), Some("558"));
    assert_eq!(author_of(&comments, "pascal"), Some("Pascal Case"));
    assert_eq!(author_of(&comments, "portal"), Some("Contact 30683012"));
    assert_eq!(author_of(&comments, "nobody"), None);
}
