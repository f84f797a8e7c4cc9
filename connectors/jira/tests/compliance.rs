//! The shared compliance kit against the Jira simulator, on the service
//! desk project (public and internal comments) and on the software project.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use psa_connector::compliance::{self, ComplianceLabels, VendorActions};
use psa_connector::{Visibility, WebhookRequest};
use psa_jira::JiraSim;

struct Actions {
    sim: Arc<JiraSim>,
    project: &'static str,
}

#[async_trait]
impl VendorActions for Actions {
    fn labels(&self) -> ComplianceLabels {
        ComplianceLabels {
            open_status: "Open".into(),
            other_open_status: "In Progress".into(),
            closed_status: "Closed".into(),
            priority: "Medium".into(),
            other_priority: "High".into(),
            placement: BTreeMap::new(),
        }
    }

    fn control(&self) -> Arc<psa_connector::sim::SimControl> {
        self.sim.control()
    }

    async fn user_creates_ticket(&self, title: &str) -> String {
        self.sim
            .user_create_issue(self.project, title, "Paper jam, smoke.", "Medium")
            .unwrap()
            .id
    }

    async fn user_adds_comment(
        &self,
        ticket_id: &str,
        text: &str,
        visibility: Visibility,
    ) -> String {
        self.sim
            .user_add_comment(
                ticket_id,
                text,
                visibility == Visibility::Public,
                "Jane Doe",
            )
            .unwrap()
    }

    async fn signed_webhook(&self, ticket_id: &str) -> WebhookRequest {
        let (body, headers) = self.sim.signed_webhook(ticket_id, common::SECRET);
        common::webhook(body, headers)
    }
}

#[async_trait]
impl compliance::HintActions for Actions {
    async fn user_retitles(&self, ticket_id: &str, title: &str) {
        assert!(self.sim.user_set_summary(ticket_id, title));
    }

    async fn webhooks_idle(&self) {
        self.sim.wait_webhooks_idle().await;
    }
}

#[tokio::test]
async fn jira_webhook_hints_say_who_wrote_and_whether_notes_changed() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim, "HELP");
    let actions = Actions {
        sim: sim.clone(),
        project: "HELP",
    };
    let promises = compliance::HintPromises {
        ticket: false,
        own_writes: compliance::OwnWrites::Recognised,
    };
    compliance::run_hints(&connector, &actions, &promises).await;
}

#[tokio::test]
async fn jira_service_desk_passes_the_compliance_kit() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim, "HELP");
    compliance::run(
        &connector,
        &Actions {
            sim: sim.clone(),
            project: "HELP",
        },
    )
    .await;
    assert!(!sim.control().writes_by(&sim.options().email).is_empty());
}

#[tokio::test]
async fn jira_owner_issue_type_and_component_round_trip() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim, "HELP");
    let labels = compliance::OwnerLabels {
        person_email: "sam.supervisor@northwind-msp.example".into(),
        group: None,
        category: Some("Incident".into()),
        subcategory: Some("Hardware".into()),
        item: None,
    };
    let actions = Actions {
        sim: sim.clone(),
        project: "HELP",
    };
    compliance::run_owners(&connector, &actions, &labels).await;
    let lists = psa_connector::Connector::discover_picklists(&connector)
        .await
        .unwrap();
    assert_eq!(
        lists["category"],
        ["Service Request", "Incident", "Change"].map(String::from)
    );
}
