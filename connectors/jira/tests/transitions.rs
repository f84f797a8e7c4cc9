//! Status changes through the simulated workflow: a status two transitions
//! away, a transition that requires a field, and no path at all.

mod common;

use std::collections::BTreeMap;

use psa_connector::{Connector, ConnectorError, TicketUpdate};

fn status(s: &str) -> TicketUpdate {
    TicketUpdate {
        status: Some(s.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_status_two_transitions_away_is_reached_step_by_step() {
    let sim = common::start_sim().await;
    let c = common::connector(&sim, "HELP");
    let issue = sim
        .user_create_issue("HELP", "VPN down", "", "Medium")
        .unwrap();
    // Open offers only "Start work" (→ In Progress); Waiting for customer is one more step.
    c.update_ticket(&issue.id, &status("Waiting for customer"))
        .await
        .unwrap();
    assert_eq!(
        sim.issue(&issue.key).unwrap().status,
        "Waiting for customer"
    );
    let posts: Vec<_> = sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/transitions"))
        .collect();
    assert_eq!(posts.len(), 2, "two transitions walked: {posts:?}");
}

#[tokio::test]
async fn a_transition_requiring_a_field_takes_it_from_the_update() {
    let sim = common::start_sim().await;
    let c = common::connector(&sim, "HELP");
    let issue = sim
        .user_create_issue("HELP", "Printer", "", "Medium")
        .unwrap();
    // Resolve needs a resolution and has no default: refused, permanently, naming the field.
    let err = c
        .update_ticket(&issue.id, &status("Resolved"))
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("resolution") && text.contains("Resolve"),
        "{text}"
    );
    // The mapping's companion field goes with the status.
    let with = TicketUpdate {
        status: Some("Resolved".into()),
        fields: BTreeMap::from([("resolution".to_string(), "Fixed".to_string())]),
        ..Default::default()
    };
    c.update_ticket(&issue.id, &with).await.unwrap();
    let now = sim.issue(&issue.key).unwrap();
    assert_eq!(
        (now.status.as_str(), now.resolution.as_deref()),
        ("Resolved", Some("Fixed"))
    );
    let t = c.get_ticket(&issue.id).await.unwrap();
    assert!(t.closed);
    assert_eq!(
        t.fields.get("resolution").map(String::as_str),
        Some("Fixed")
    );
    // A value the screen does not offer is refused with the allowed ones.
    let other = sim
        .user_create_issue("HELP", "Scanner", "", "Medium")
        .unwrap();
    let bad = TicketUpdate {
        status: Some("Resolved".into()),
        fields: BTreeMap::from([("resolution".to_string(), "Magic".to_string())]),
        ..Default::default()
    };
    let err = c
        .update_ticket(&other.id, &bad)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Won't Do") && err.contains("Magic"), "{err}");
}

#[tokio::test]
async fn no_path_is_a_permanent_error_listing_what_is_on_offer() {
    let sim = common::start_sim().await;
    let c = common::connector(&sim, "DEV");
    // Escalate is only offered for urgent issues: a Medium one cannot reach Escalated.
    let issue = sim
        .user_create_issue("DEV", "Flaky build", "", "Medium")
        .unwrap();
    let err = c
        .update_ticket(&issue.id, &status("Escalated"))
        .await
        .unwrap_err();
    let ConnectorError::Rejected { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(!err.is_retryable());
    assert!(
        message.contains("\"Open\"") && message.contains("\"Escalated\""),
        "{message}"
    );
    assert!(message.contains("Start work → In Progress"), "{message}");
    assert_eq!(
        sim.issue(&issue.key).unwrap().status,
        "Open",
        "nothing walked"
    );
    // An urgent issue gets there directly.
    sim.user_set_priority(&issue.key, "High");
    c.update_ticket(&issue.id, &status("Escalated"))
        .await
        .unwrap();
    assert_eq!(sim.issue(&issue.key).unwrap().status, "Escalated");
}
