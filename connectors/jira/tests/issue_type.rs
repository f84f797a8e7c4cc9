//! A category written into Jira is the issue type: the simulator's edit
//! metadata offers the types sharing the issue's workflow and refuses
//! others with Jira's 400 `errors.issuetype`; the connector writes an
//! offered type, sets any project type on create, and refuses the rest
//! with a permanent error naming the type and the allowed ones.

mod common;

use std::collections::BTreeMap;

use psa_connector::{keys, Connector, ConnectorError, NewTicket, TicketUpdate};
use serde_json::{json, Value};

fn category(label: &str) -> TicketUpdate {
    let mut update = TicketUpdate::default();
    update.fields.insert(keys::CATEGORY.into(), label.into());
    update
}

#[tokio::test]
async fn editmeta_offers_same_workflow_types_and_the_sim_refuses_others() {
    let sim = common::start_sim().await;
    let issue = sim
        .user_create_issue("HELP", "Printer", "Smoke.", "Medium")
        .unwrap();
    let client = common::raw_client(&sim);
    let url = format!("{}rest/api/3/issue/{}", sim.base_url(), issue.key);
    let meta: Value = client
        .get(format!("{url}/editmeta"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = meta["fields"]["issuetype"]["allowedValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Service Request", "Incident"]);
    let r = client
        .put(&url)
        .json(&json!({"fields": {"issuetype": {"id": "10104"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["errors"]["issuetype"],
        "The issue type selected is invalid."
    );
}

#[tokio::test]
async fn an_offered_type_is_written_and_another_is_refused_permanently() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim, "HELP");
    let issue = sim
        .user_create_issue("HELP", "Printer", "Smoke.", "Medium")
        .unwrap();

    connector
        .update_ticket(&issue.id, &category("Incident"))
        .await
        .unwrap();
    let read = connector.get_ticket(&issue.id).await.unwrap();
    assert_eq!(read.category.category.as_deref(), Some("Incident"));
    // Already that type: nothing refused, nothing changed.
    connector
        .update_ticket(&issue.id, &category("Incident"))
        .await
        .unwrap();

    let err = connector
        .update_ticket(&issue.id, &category("Change"))
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(matches!(err, ConnectorError::Rejected { .. }), "{err:?}");
    let text = err.to_string();
    for part in ["\"Change\"", "allows Service Request, Incident", "Move"] {
        assert!(text.contains(part), "{text}");
    }
    let read = connector.get_ticket(&issue.id).await.unwrap();
    assert_eq!(read.category.category.as_deref(), Some("Incident"));
}

#[tokio::test]
async fn create_takes_any_project_type_and_names_the_valid_ones() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim, "HELP");
    let mut new = NewTicket {
        title: "Change the firewall".into(),
        description: "Window on Sunday.".into(),
        priority: None,
        status: None,
        marker: "m-type-1".into(),
        placement: BTreeMap::new(),
        fields: BTreeMap::new(),
    };
    new.fields.insert(keys::CATEGORY.into(), "Change".into());
    let created = connector.create_ticket(&new).await.unwrap();
    assert_eq!(created.category.category.as_deref(), Some("Change"));

    new.marker = "m-type-2".into();
    new.fields.insert(keys::CATEGORY.into(), "Epic".into());
    let err = connector.create_ticket(&new).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .contains("valid values: Service Request, Incident, Change"),
        "{err}"
    );
}
