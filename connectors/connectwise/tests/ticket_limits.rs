//! Real-tenant limits the simulator enforces and the connector respects:
//! `externalXRef` holds 100 characters (the bridge's longest marker fits; a
//! longer one is a configuration error before any write), and ticket
//! `type`/`subType` must belong to the ticket's board.

mod common;

use std::collections::BTreeMap;

use psa_connector::{Connector, ConnectorError, NewTicket};
use psa_connectwise::EXTERNAL_XREF_MAX_CHARS;
use serde_json::{json, Value};

fn new_ticket(marker: &str, placement: &[(&str, &str)]) -> NewTicket {
    let mut place = BTreeMap::from([
        ("board".to_string(), "Co-Managed".to_string()),
        ("company".to_string(), "ACME".to_string()),
    ]);
    for (k, v) in placement {
        place.insert(k.to_string(), v.to_string());
    }
    NewTicket {
        title: "Escalated".into(),
        description: String::new(),
        status: None,
        priority: None,
        marker: marker.into(),
        placement: place,
        fields: BTreeMap::new(),
    }
}

/// The marker the bridge writes: `psa-bridge:<pairing>:<link id>`.
fn bridge_marker(pairing: &str, link: u64) -> String {
    format!("psa-bridge:{pairing}:{link}")
}

#[tokio::test]
async fn the_simulator_limits_external_xref_to_100_characters() {
    let sim = common::start_sim().await;
    let client = common::raw_client(&sim);
    let post = |xref: String| {
        client
            .post(common::api(&sim, "service/tickets"))
            .json(&json!({"summary": "s", "board": {"name": "Co-Managed"},
                          "company": {"identifier": "ACME"}, "externalXRef": xref}))
            .send()
    };
    let too_long = post("x".repeat(101)).await.unwrap();
    assert_eq!(too_long.status(), 400);
    let body: Value = too_long.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "externalXRef", "{body}");
    let fits = post("x".repeat(100)).await.unwrap();
    assert_eq!(fits.status(), 201);
    let id = fits.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let patch = client
        .patch(common::api(&sim, &format!("service/tickets/{id}")))
        .json(&json!([{"op": "replace", "path": "externalXRef", "value": "y".repeat(101)}]))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 400);
    assert_eq!(sim.ticket(id).unwrap().external_xref, "x".repeat(100));
}

#[tokio::test]
async fn the_longest_bridge_marker_fits() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let marker = bridge_marker(&"p".repeat(68), u64::MAX);
    assert_eq!(marker.chars().count(), EXTERNAL_XREF_MAX_CHARS);
    let created = connector
        .create_ticket(&new_ticket(&marker, &[]))
        .await
        .unwrap();
    let found = connector.find_by_marker(&marker).await.unwrap().unwrap();
    assert_eq!(found.id, created.id);
    assert_eq!(found.marker.as_deref(), Some(marker.as_str()));
}

#[tokio::test]
async fn a_marker_too_long_for_external_xref_is_a_config_error_before_any_write() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let marker = bridge_marker(&"p".repeat(69), u64::MAX);
    let before = sim.tickets().len();
    for result in [
        connector
            .create_ticket(&new_ticket(&marker, &[]))
            .await
            .map(|_| ()),
        connector.find_by_marker(&marker).await.map(|_| ()),
    ] {
        match result {
            Err(e @ ConnectorError::Config(_)) => {
                assert!(!e.is_retryable());
                let text = e.to_string();
                assert!(text.contains("pairing") && text.contains("100"), "{text}");
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }
    assert_eq!(sim.tickets().len(), before);
    assert!(sim.control().writes_by("demo-public").is_empty());
}

#[tokio::test]
async fn type_and_subtype_must_belong_to_the_board() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let client = common::raw_client(&sim);
    let types: Value = common::fetch(client.get(common::api(&sim, "service/boards/1/types"))).await;
    let names: Vec<&str> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Incident", "Service Request", "Problem"]);

    let ok = connector
        .create_ticket(&new_ticket(
            "m-type",
            &[("type", "Incident"), ("subtype", "Network")],
        ))
        .await
        .unwrap();
    let raw: Value =
        common::fetch(client.get(common::api(&sim, &format!("service/tickets/{}", ok.id)))).await;
    assert_eq!(raw["type"]["name"], "Incident");
    assert_eq!(raw["subType"]["name"], "Network");

    // "Request" is a Help Desk type; "Plumbing" is no subtype at all.
    for (placement, field) in [
        (("type", "Request"), "(type)"),
        (("subtype", "Plumbing"), "(subType)"),
    ] {
        let err = connector
            .create_ticket(&new_ticket("m-bad", &[placement]))
            .await
            .unwrap_err();
        assert_eq!(err.http_status(), Some(400), "{err}");
        assert!(!err.is_retryable());
        assert!(err.to_string().contains(field), "{err}");
    }
    let patch = client
        .patch(common::api(&sim, &format!("service/tickets/{}", ok.id)))
        .json(&json!([{"op": "replace", "path": "type", "value": {"name": "Request"}}]))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 400);
}
