//! ServiceNow's rules through the connector: states guarded by data
//! policies (a missing field is a permanent error naming it, and nothing is
//! written), priority written as impact + urgency and read back as the
//! instance computes it, reference fields by name (cached), and comments
//! surviving byte for byte.

mod common;

use std::collections::BTreeMap;

use psa_connector::{Connector, ConnectorError, NewComment, TicketUpdate, Visibility};
use psa_servicenow::ImpactUrgency;

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn resolve_without_close_code_fails_permanently_naming_it() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    let inc = sim.user_create_incident("Resolve me", "");
    let writes_before = sim.control().writes_by(common::USER).len();
    let err = connector
        .update_ticket(
            &inc.sys_id,
            &TicketUpdate {
                status: Some("Resolved".into()),
                fields: fields(&[("close_notes", "Replaced the PSU")]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("close_code"), "{text}");
    assert!(
        !text.contains("close_notes"),
        "close_notes was supplied: {text}"
    );
    assert_eq!(
        sim.control().writes_by(common::USER).len(),
        writes_before,
        "nothing is sent"
    );
    assert_eq!(sim.incident(&inc.sys_id).unwrap().state, "New");

    // With the mapping fixed, the same operation lands.
    let stored = connector
        .update_ticket_stored(
            &inc.sys_id,
            &TicketUpdate {
                status: Some("Resolved".into()),
                fields: fields(&[
                    ("close_code", "Solved (Permanently)"),
                    ("close_notes", "Replaced the PSU"),
                ]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(stored.status, "Resolved");
    assert!(stored.closed);
    assert_eq!(stored.fields["close_code"], "Solved (Permanently)");
    let now = sim.incident(&inc.sys_id).unwrap();
    assert_eq!(now.state, "Resolved");
    assert_eq!(now.close_notes, "Replaced the PSU");
}

#[tokio::test]
async fn on_hold_needs_a_hold_reason_and_writes_it_by_label() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    let inc = sim.user_create_incident("Hold me", "");
    let hold = TicketUpdate {
        status: Some("On Hold".into()),
        ..Default::default()
    };
    let err = connector
        .update_ticket(&inc.sys_id, &hold)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("hold_reason"), "{err}");
    let hold = TicketUpdate {
        fields: fields(&[("hold_reason", "Awaiting Vendor")]),
        ..hold
    };
    connector.update_ticket(&inc.sys_id, &hold).await.unwrap();
    let now = sim.incident(&inc.sys_id).unwrap();
    assert_eq!(now.state, "On Hold");
    assert_eq!(now.hold_reason, "Awaiting Vendor");
    assert_eq!(
        sim.record("incident", &inc.sys_id).unwrap()["hold_reason"],
        "4"
    );
    // A state the instance does not have.
    let err = connector
        .update_ticket(
            &inc.sys_id,
            &TicketUpdate {
                status: Some("Parked".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::UnknownValue { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_instance_data_policy_refusal_is_permanent_with_its_message() {
    let sim = common::sim().await;
    let mut settings = common::settings(&sim);
    // A connection whose guards forgot the policy: the instance's 403 comes through.
    settings.state_requirements.clear();
    let connector = common::connector(settings);
    let inc = sim.user_create_incident("Policy", "");
    let err = connector
        .update_ticket(
            &inc.sys_id,
            &TicketUpdate {
                status: Some("Resolved".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    match &err {
        ConnectorError::Rejected {
            status: 403,
            message,
        } => {
            assert!(message.contains("Data Policy Exception"), "{message}")
        }
        other => panic!("expected a 403 refusal, got {other:?}"),
    }
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn priority_two_is_written_as_impact_and_urgency_and_computed_back() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    let inc = sim.user_create_incident("Priority", "");
    let stored = connector
        .update_ticket_stored(
            &inc.sys_id,
            &TicketUpdate {
                priority: Some("2 - High".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(stored.priority, "2 - High");
    let now = sim.incident(&inc.sys_id).unwrap();
    assert_eq!(
        (now.impact.as_str(), now.urgency.as_str()),
        ("1 - High", "2 - Medium")
    );
    assert_eq!(now.priority, "2 - High");
    let writes = sim.control().writes_by(common::USER);
    assert_eq!(writes.len(), 1);

    // A connection whose instance uses another pair for priority 2.
    let mut settings = common::settings(&sim);
    settings.priority_matrix.insert(
        "2".into(),
        ImpactUrgency {
            impact: 2,
            urgency: 1,
        },
    );
    let connector = common::connector(settings);
    let other = sim.user_create_incident("Priority 2 again", "");
    let stored = connector
        .update_ticket_stored(
            &other.sys_id,
            &TicketUpdate {
                priority: Some("2 - High".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(stored.priority, "2 - High");
    let now = sim.incident(&other.sys_id).unwrap();
    assert_eq!(
        (now.impact.as_str(), now.urgency.as_str()),
        ("2 - Medium", "1 - High")
    );
}

#[tokio::test]
async fn references_are_resolved_by_name_once() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    let inc = sim.user_create_incident("Refs", "");
    for _ in 0..2 {
        connector
            .update_ticket(
                &inc.sys_id,
                &TicketUpdate {
                    fields: fields(&[
                        ("assignment_group", "Network"),
                        ("caller_id", "Abel Tuter"),
                        ("company", "ACME Corp"),
                    ]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let ticket = connector.get_ticket(&inc.sys_id).await.unwrap();
    assert_eq!(ticket.queue.as_deref(), Some("Network"));
    assert_eq!(ticket.fields["caller_id"], "Abel Tuter");
    assert_eq!(ticket.fields["company"], "ACME Corp");
    let rec = sim.record("incident", &inc.sys_id).unwrap();
    assert_eq!(
        rec["assignment_group"],
        sim.sys_id_of("sys_user_group", "Network").unwrap()
    );
    let group_reads = sim
        .control()
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/sys_user_group"))
        .count();
    assert_eq!(group_reads, 1, "the group's sys_id is cached");
    let err = connector
        .update_ticket(
            &inc.sys_id,
            &TicketUpdate {
                fields: fields(&[("assignment_group", "No Such Group")]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::UnknownValue {
                kind: "assignment_group",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn comments_survive_byte_for_byte() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    let inc = sim.user_create_incident("Long comment", "");
    let mut text =
        String::from("Line one\nLine two\r\n\tindented — 日本語のテキスト, Ελληνικά, עברית, 🚀\n");
    while text.chars().count() < 10_000 {
        text.push_str("Ünïcödé ряд 行 ");
    }
    let text: String = text
        .chars()
        .take(10_000)
        .collect::<String>()
        .trim_end()
        .to_string()
        + ".";
    assert_eq!(text.chars().count(), 10_000);
    let id = connector
        .add_comment(
            &inc.sys_id,
            &NewComment {
                body: text.clone(),
                visibility: Visibility::Public,
                marker: "op-long".into(),
                resolution: false,
            },
        )
        .await
        .unwrap();
    let human = sim.user_add_comment(&inc.sys_id, &text, true);
    let comments = connector.list_comments(&inc.sys_id).await.unwrap();
    let ours = comments.iter().find(|c| c.id == id).expect("listed by id");
    assert_eq!(ours.body.as_bytes(), text.as_bytes());
    assert_eq!(ours.marker.as_deref(), Some("op-long"));
    assert_eq!(ours.visibility, Visibility::Public);
    let theirs = comments
        .iter()
        .find(|c| c.id == human)
        .expect("human work note");
    assert_eq!(theirs.body.as_bytes(), text.as_bytes());
    assert_eq!(theirs.visibility, Visibility::Internal);
    assert_eq!(theirs.marker, None);
    assert_eq!(theirs.author.as_deref(), Some("ivy.internal"));
}

#[tokio::test]
async fn discovery_lists_states_labels_groups_and_close_codes() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    let catalog = connector.discover().await.unwrap();
    assert_eq!(
        catalog.status_labels(),
        vec![
            "New",
            "In Progress",
            "On Hold",
            "Resolved",
            "Closed",
            "Canceled"
        ]
    );
    assert!(catalog
        .statuses
        .iter()
        .any(|s| s.label == "Closed" && s.closed));
    assert!(catalog
        .statuses
        .iter()
        .any(|s| s.label == "In Progress" && !s.closed));
    assert_eq!(catalog.priorities[1], "2 - High");
    assert!(catalog.queues.contains(&"MSP Escalation".to_string()));
    let lists = connector.discover_picklists().await.unwrap();
    assert_eq!(lists["impact"], vec!["1 - High", "2 - Medium", "3 - Low"]);
    assert_eq!(lists["urgency"].len(), 3);
    assert!(lists["close_code"].contains(&"Solved (Permanently)".to_string()));
    assert!(lists["hold_reason"].contains(&"Awaiting Vendor".to_string()));
}

#[tokio::test]
async fn another_task_table_works_the_same_way() {
    let sim = common::sim().await;
    let mut settings = common::settings(&sim);
    settings.table = "u_msp_escalation".into();
    let connector = common::connector(settings);
    assert!(connector.discover().await.unwrap().has_status("On Hold"));
    let created = connector
        .create_ticket(&psa_connector::NewTicket {
            title: "Escalated: disk full".into(),
            description: "On the file server".into(),
            status: Some("In Progress".into()),
            priority: Some("2 - High".into()),
            marker: "link-42".into(),
            placement: fields(&[("assignment_group", "MSP Escalation")]),
            fields: BTreeMap::new(),
        })
        .await
        .unwrap();
    assert_eq!(created.status, "In Progress");
    assert_eq!(created.priority, "2 - High");
    assert!(created.number.starts_with("TASK"), "{}", created.number);
    let found = connector.find_by_marker("link-42").await.unwrap().unwrap();
    assert_eq!(found.id, created.id);
    let rec = sim.record("u_msp_escalation", &created.id).unwrap();
    assert_eq!(rec["correlation_id"], "link-42");
    assert!(sim.record("incident", &created.id).is_none());
    connector
        .add_comment(
            &created.id,
            &NewComment {
                body: "On it".into(),
                visibility: Visibility::Internal,
                marker: "op-9".into(),
                resolution: false,
            },
        )
        .await
        .unwrap();
    let comments = connector.list_comments(&created.id).await.unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].visibility, Visibility::Internal);
    // Polling covers only the configured table.
    let incident = sim.user_create_incident("not ours", "");
    let hints = connector
        .changed_since(chrono::Utc::now() - chrono::Duration::minutes(1))
        .await
        .unwrap();
    assert!(hints.iter().any(|h| h.ticket_id == created.id));
    assert!(!hints.iter().any(|h| h.ticket_id == incident.sys_id));
}
