//! The detail a callback carries (`HintDetail`): the entity as the ticket
//! `get_ticket` returns, who made the change, and hostile entities that
//! leave the detail empty without failing the callback.

mod common;

use std::collections::BTreeMap;

use psa_connector::{Connector, HintDetail, NewTicket, TicketUpdate};
use psa_connectwise::{key_digest, sign, ConnectWiseSim};
use serde_json::{json, Value};

/// A genuine callback for `id` re-signed after `edit` changed its body.
async fn key_of(sim: &ConnectWiseSim) -> String {
    // The key served at key_url (the simulator's current signing key).
    let url = sim.key_url();
    let v: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    v["signing_key"].as_str().unwrap().to_string()
}

async fn edited_callback(
    sim: &ConnectWiseSim,
    id: i64,
    edit: impl FnOnce(&mut Value),
) -> psa_connector::WebhookRequest {
    let (body, _) = sim.signed_callback(id, "updated");
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    edit(&mut v);
    let body = serde_json::to_vec(&v).unwrap();
    let signature = sign(&key_digest(&key_of(sim).await), &body);
    common::webhook(body, Some(&signature), id)
}

async fn detail_of(
    connector: &dyn Connector,
    request: &psa_connector::WebhookRequest,
    id: i64,
) -> HintDetail {
    let hints = connector
        .verify_webhook(request)
        .await
        .expect("the callback is accepted");
    assert_eq!(hints.len(), 1, "{hints:?}");
    assert_eq!(hints[0].ticket_id, id.to_string());
    hints[0].detail.clone()
}

#[tokio::test]
async fn the_entity_is_the_ticket_get_ticket_returns() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    connector.discover().await.unwrap();
    let t = sim.user_create_ticket(
        "Printer jams",
        "Co-Managed",
        "ACME",
        "Priority 3 - Normal Response",
    );
    sim.user_set_owner(t.id, Some("ttech"));
    let (body, sig) = sim.signed_callback(t.id, "updated");
    let request = common::webhook(body, Some(&sig), t.id);
    // The owner was never looked up: no call from a webhook, no ticket.
    let detail = detail_of(&connector, &request, t.id).await;
    assert_eq!(detail.ticket, None, "owner unknown to the people cache");
    assert_eq!(detail.notes_changed, None);
    assert!(!detail.by_bridge, "a person's change");
    // Once the owner is known, the entity is the ticket, field for field.
    let read = connector.get_ticket(&t.id.to_string()).await.unwrap();
    let detail = detail_of(&connector, &request, t.id).await;
    assert_eq!(detail.ticket.as_deref(), Some(&read));
    assert!(read.assignee.person.as_ref().unwrap().email.is_some());
    // A closed status (cached from discovery) reads as closed in both.
    sim.user_set_status(t.id, ">Closed");
    let (body, sig) = sim.signed_callback(t.id, "updated");
    let detail = detail_of(&connector, &common::webhook(body, Some(&sig), t.id), t.id).await;
    let read = connector.get_ticket(&t.id.to_string()).await.unwrap();
    assert!(read.closed);
    assert_eq!(detail.ticket.as_deref(), Some(&read));
    // A delete carries no entity.
    let (body, sig) = sim.signed_callback(t.id, "deleted");
    let detail = detail_of(&connector, &common::webhook(body, Some(&sig), t.id), t.id).await;
    assert!(detail.is_empty(), "{detail:?}");
}

#[tokio::test]
async fn the_bridges_own_writes_are_recognised_by_member() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let t = sim.user_create_ticket("VPN", "Co-Managed", "ACME", "Priority 3 - Normal Response");
    sim.user_set_owner(t.id, None);
    let id = t.id.to_string();
    // Before any write the connector cannot know its member: never "ours".
    let as_api = |v: &mut Value| {
        v["MemberId"] = json!(psa_connectwise::sim::API_MEMBER);
    };
    connector.get_ticket(&id).await.unwrap();
    let request = edited_callback(&sim, t.id, as_api).await;
    assert!(!detail_of(&connector, &request, t.id).await.by_bridge);
    // The bridge writes: the answer names its member; the callback of that
    // write is its own, a person's later change is not.
    connector
        .update_ticket(
            &id,
            &TicketUpdate {
                title: Some("VPN down".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (body, _) = sim.signed_callback(t.id, "updated");
    let mut echo: Value = serde_json::from_slice(&body).unwrap();
    echo["MemberId"] = json!(psa_connectwise::sim::API_MEMBER);
    let request = edited_callback(&sim, t.id, |v| *v = echo.clone()).await;
    let detail = detail_of(&connector, &request, t.id).await;
    assert!(detail.by_bridge, "{detail:?}");
    assert_eq!(
        detail.ticket.as_deref(),
        Some(&connector.get_ticket(&id).await.unwrap())
    );
    sim.user_set_summary(t.id, "VPN down at site B");
    let (body, sig) = sim.signed_callback(t.id, "updated");
    let detail = detail_of(&connector, &common::webhook(body, Some(&sig), t.id), t.id).await;
    assert!(!detail.by_bridge, "jsmith's change");
    // MemberId says the API member but the entity says a person changed
    // it last: in doubt, not ours. No MemberId at all: not ours.
    let request = edited_callback(&sim, t.id, as_api).await;
    assert!(!detail_of(&connector, &request, t.id).await.by_bridge);
    let request = edited_callback(&sim, t.id, |v| {
        v.as_object_mut().unwrap().remove("MemberId");
    })
    .await;
    let detail = detail_of(&connector, &request, t.id).await;
    assert!(!detail.by_bridge);
    assert!(detail.ticket.is_some(), "the entity is still whole");
}

#[tokio::test]
async fn a_created_ticket_teaches_the_member_too() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let created = connector
        .create_ticket(&NewTicket {
            title: "Escalated".into(),
            description: String::new(),
            status: None,
            priority: None,
            marker: "psa-bridge:p:a:1".into(),
            placement: BTreeMap::from([
                ("board".into(), "Co-Managed".into()),
                ("company".into(), "ACME".into()),
            ]),
            fields: BTreeMap::new(),
        })
        .await
        .unwrap();
    let n: i64 = created.id.parse().unwrap();
    let (body, _) = sim.signed_callback(n, "added");
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    v["MemberId"] = json!(psa_connectwise::sim::API_MEMBER);
    let request = edited_callback(&sim, n, |b| *b = v.clone()).await;
    assert!(detail_of(&connector, &request, n).await.by_bridge);
}

/// One hostile change to a genuine callback body.
type Edit = Box<dyn FnOnce(&mut Value) + Send>;

#[tokio::test]
async fn hostile_entities_leave_the_detail_empty_and_the_callback_accepted() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let t = sim.user_create_ticket("x", "Co-Managed", "ACME", "Priority 3 - Normal Response");
    sim.user_set_owner(t.id, None);
    let good = edited_callback(&sim, t.id, |_| {}).await;
    assert!(detail_of(&connector, &good, t.id).await.ticket.is_some());
    let entity_of =
        |v: &Value| -> Value { serde_json::from_str(v["Entity"].as_str().unwrap()).unwrap() };
    let huge = "x".repeat(512 * 1024);
    let cases: Vec<(&str, Edit)> = vec![
        ("not JSON", Box::new(|v| v["Entity"] = json!("{not json"))),
        ("a JSON array", Box::new(|v| v["Entity"] = json!("[1,2]"))),
        (
            "another ticket",
            Box::new(move |v| {
                let mut e = entity_of(v);
                e["id"] = json!(t.id + 1);
                v["Entity"] = json!(e.to_string());
            }),
        ),
        (
            "wrong types",
            Box::new(move |v| {
                let mut e = entity_of(v);
                e["summary"] = json!(17);
                e["board"] = json!("Co-Managed");
                v["Entity"] = json!(e.to_string());
            }),
        ),
        (
            "an id that is a string",
            Box::new(move |v| {
                let mut e = entity_of(v);
                e["id"] = json!(t.id.to_string());
                v["Entity"] = json!(e.to_string());
            }),
        ),
        (
            "no lastUpdated",
            Box::new(move |v| {
                let mut e = entity_of(v);
                e["_info"] = json!({"updatedBy": "jsmith"});
                v["Entity"] = json!(e.to_string());
            }),
        ),
        (
            "huge",
            Box::new(move |v| {
                let mut e = entity_of(v);
                e["summary"] = json!(huge);
                e["id"] = json!(-1);
                v["Entity"] = json!(e.to_string());
            }),
        ),
        (
            "no MemberId, updatedBy a number",
            Box::new(move |v| {
                v.as_object_mut().unwrap().remove("MemberId");
                let mut e = entity_of(v);
                e["_info"]["updatedBy"] = json!(5);
                e["id"] = json!(0);
                v["Entity"] = json!(e.to_string());
            }),
        ),
    ];
    for (what, edit) in cases {
        let request = edited_callback(&sim, t.id, edit).await;
        let detail = detail_of(&connector, &request, t.id).await;
        assert_eq!(detail, HintDetail::default(), "{what}");
    }
}
