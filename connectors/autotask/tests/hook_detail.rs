//! Webhook hints name the bridge's own resource only when the connector
//! knows it without a call: configured, or found while registering.

mod common;

use bytes::Bytes;
use http::HeaderMap;
use psa_autotask::escape::to_autotask_json;
use psa_autotask::hooks::sign;
use psa_connector::{Connector, HintDetail, WebhookRequest};
use serde_json::{json, Value};

fn signed(payload: Value) -> WebhookRequest {
    let body = to_autotask_json(&payload).into_bytes();
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-hook-signature",
        sign(common::HOOK_SECRET, &body).parse().unwrap(),
    );
    WebhookRequest {
        headers,
        query: None,
        body: Bytes::from(body),
    }
}

fn ticket_event(person: i64) -> WebhookRequest {
    signed(
        json!({"Action": "Update", "Guid": "g", "EntityType": "Ticket", "Id": 29,
                  "Fields": {"Status": "5"}, "EventTime": "2026-11-27T10:00:00.000Z",
                  "SequenceNumber": 1, "PersonID": person}),
    )
}

async fn detail(connector: &dyn Connector, request: &WebhookRequest) -> HintDetail {
    let hints = connector.verify_webhook(request).await.unwrap();
    assert_eq!(hints.len(), 1);
    hints[0].detail.clone()
}

#[tokio::test]
async fn a_configured_resource_is_the_bridges_own() {
    let sim = common::sim().await;
    let mut settings = common::settings(&sim);
    settings.webhook_excluded_resource_id = Some(30691780);
    let connector = common::connector(settings);
    let own = detail(&connector, &ticket_event(30691780)).await;
    assert!(own.by_bridge);
    assert_eq!(own.notes_changed, Some(false));
    assert!(!detail(&connector, &ticket_event(29682885)).await.by_bridge);
}

#[tokio::test]
async fn a_found_resource_counts_once_found_and_never_costs_a_call() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    let before = sim.control().requests().len();
    // Unknown yet: not the bridge's, and no lookup from the webhook path.
    let resource = own_resource(&sim).await;
    let d = detail(&connector, &ticket_event(resource)).await;
    assert!(!d.by_bridge);
    assert_eq!(
        sim.control().requests().len(),
        before + 1,
        "only the test's own lookup"
    );
    connector
        .register_webhook("http://127.0.0.1:9/webhooks/at")
        .await
        .unwrap();
    assert!(detail(&connector, &ticket_event(resource)).await.by_bridge);
}

/// The API user's resource id, as the simulator has it.
async fn own_resource(sim: &psa_autotask::AutotaskSim) -> i64 {
    let url = format!("{}V1.0/Resources/query", sim.api_url());
    let q = json!({"filter": [{"op": "eq", "field": "userName", "value": "bridge@example.com"}]});
    let v: Value = common::fetch(common::api_client().post(url).json(&q)).await;
    v["items"][0]["id"].as_i64().unwrap()
}
