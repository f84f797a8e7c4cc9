//! Autotask's error answers: the simulator refuses like the API (HTTP 500 and
//! `{"errors":[…]}` for a missing record or a validation failure, never
//! 404/400), and the connector reads the body to tell a permanent refusal
//! from a retryable server fault.

mod common;

use psa_autotask::AutotaskSettings;
use psa_connector::{Connector, ConnectorError, NewComment, RetryAction, TicketUpdate, Visibility};
use serde_json::{json, Value};

async fn refused(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    body["errors"][0].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_simulator_refuses_with_500_and_errors() {
    let sim = common::sim().await;
    let http = common::api_client();
    let base = format!("{}V1.0/", sim.api_url());
    let t = sim.user_create_ticket("t", "d", "Level I Support", "Low");

    let missing = http
        .patch(format!("{base}Tickets"))
        .json(&json!({"id": 424242, "title": "x"}))
        .send()
        .await
        .unwrap();
    let message = refused(missing).await;
    assert!(
        message.starts_with("No matching records found."),
        "{message}"
    );

    let note = http
        .post(format!("{base}Tickets/424242/Notes"))
        .json(&json!({"description": "n", "noteType": 1, "publish": 1}))
        .send()
        .await
        .unwrap();
    let message = refused(note).await;
    assert!(
        message.starts_with("No matching records found."),
        "{message}"
    );

    let picklist = http
        .patch(format!("{base}Tickets"))
        .json(&json!({"id": t.id, "status": 7777}))
        .send()
        .await
        .unwrap();
    assert!(refused(picklist).await.contains("status"));

    let required = http
        .post(format!("{base}Tickets"))
        .json(&json!({"title": "no company", "status": 1, "priority": 2, "queueID": 29682833}))
        .send()
        .await
        .unwrap();
    assert!(refused(required).await.contains("companyID"));
}

#[tokio::test]
async fn missing_tickets_are_not_found_and_not_retried() {
    let sim = common::sim().await;
    let c = common::connector(common::settings(&sim));
    let update = TicketUpdate {
        title: Some("x".into()),
        ..Default::default()
    };
    let e = c.update_ticket("424242", &update).await.unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound(_)), "{e:?}");
    assert_eq!(e.retry_action(), RetryAction::DontRetry);
    let comment = NewComment {
        body: "hello".into(),
        visibility: Visibility::Public,
        marker: "psa-bridge:test:1".into(),
        resolution: false,
    };
    let e = c.add_comment("424242", &comment).await.unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound(_)), "{e:?}");
    let patches = sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(patches, 1, "one call, no retry inside the connector");
}

/// An Autotask whose every ticket update fails with HTTP 500 and `body`.
async fn update_against(body: &str) -> ConnectorError {
    let api = common::fake(vec![("/tickets", 500, body.to_string())]).await;
    let mut s = AutotaskSettings::new("bridge@example.com", "s", "c");
    s.api_url = Some(api);
    let update = TicketUpdate {
        title: Some("x".into()),
        ..Default::default()
    };
    common::connector(s)
        .update_ticket("7", &update)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn validation_500s_are_permanent_server_faults_are_retried() {
    for permanent in [
        r#"{"errors":["Value does not exist for the required field status."]}"#,
        r#"{"errors":["Missing Required Field: title"]}"#,
        r#"{"errors":["The logged in Resource does not have the adequate permissions to update this entity."]}"#,
    ] {
        let e = update_against(permanent).await;
        assert!(
            matches!(e, ConnectorError::Rejected { status: 500, .. }),
            "{permanent}: {e:?}"
        );
        assert_eq!(e.retry_action(), RetryAction::DontRetry, "{permanent}");
    }
    let e = update_against(r#"{"errors":["No matching records found. The logged in Resource may not have the required permissions to update the data."]}"#).await;
    assert!(matches!(e, ConnectorError::NotFound(_)), "{e:?}");
    for transient in [
        r#"{"errors":["An error has occurred."]}"#,
        r#"{"errors":["The Autotask API thread threshold of 3 threads has been exceeded"]}"#,
        "<html><body>Server Error in '/' Application.</body></html>",
        "",
    ] {
        let e = update_against(transient).await;
        assert!(
            matches!(e, ConnectorError::Http { status: 500, .. }),
            "{transient}: {e:?}"
        );
        assert!(e.is_retryable(), "{transient}");
    }
}

/// A read of a missing record answers `{"item": null}` (NotFound); a read
/// answered "No matching records found…" at HTTP 500 is a permission
/// problem: permanent, never NotFound (which would unlink the ticket).
#[tokio::test]
async fn a_no_matching_records_read_is_permanent_not_not_found() {
    let sim = common::sim().await;
    let raw: Value =
        common::fetch(common::api_client().get(format!("{}V1.0/Tickets/424242", sim.api_url())))
            .await;
    assert_eq!(
        raw,
        json!({"item": null}),
        "Autotask's answer for a missing record"
    );
    let e = common::connector(common::settings(&sim))
        .get_ticket("424242")
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound(_)), "{e:?}");

    let body = r#"{"errors":["No matching records found. The logged in Resource may not have the required permissions to read the data."]}"#;
    let api = common::fake(vec![("/tickets/7", 500, body.to_string())]).await;
    let mut s = AutotaskSettings::new("bridge@example.com", "s", "c");
    s.api_url = Some(api);
    let e = common::connector(s).get_ticket("7").await.unwrap_err();
    assert!(
        matches!(e, ConnectorError::Rejected { status: 500, .. }),
        "a permission refusal on a read, not a deleted ticket: {e:?}"
    );
    assert_eq!(e.retry_action(), RetryAction::DontRetry);
}
