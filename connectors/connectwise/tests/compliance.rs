//! The shared compliance kit against the ConnectWise simulator.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use psa_connector::compliance::{self, ComplianceLabels, VendorActions};
use psa_connector::{Visibility, WebhookRequest};
use psa_connectwise::{ConnectWiseSim, SimNoteKind};

struct Actions {
    sim: Arc<ConnectWiseSim>,
}

#[async_trait]
impl VendorActions for Actions {
    fn labels(&self) -> ComplianceLabels {
        ComplianceLabels {
            open_status: "New".into(),
            other_open_status: "In Progress".into(),
            closed_status: ">Closed".into(),
            priority: "Priority 3 - Normal Response".into(),
            other_priority: "Priority 2 - Quick Response".into(),
            placement: BTreeMap::from([
                ("board".to_string(), "Co-Managed".to_string()),
                ("company".to_string(), "ACME".to_string()),
            ]),
        }
    }

    fn control(&self) -> std::sync::Arc<psa_connector::sim::SimControl> {
        self.sim.control()
    }

    async fn user_creates_ticket(&self, title: &str) -> String {
        self.sim
            .user_create_ticket(title, "Co-Managed", "ACME", "Priority 3 - Normal Response")
            .id
            .to_string()
    }

    async fn user_adds_comment(
        &self,
        ticket_id: &str,
        text: &str,
        visibility: Visibility,
    ) -> String {
        let kind = match visibility {
            Visibility::Public => SimNoteKind::Discussion,
            Visibility::Internal => SimNoteKind::Internal,
        };
        self.sim
            .user_add_note(ticket_id.parse().unwrap(), text, kind, "jsmith")
            .to_string()
    }

    async fn signed_webhook(&self, ticket_id: &str) -> WebhookRequest {
        let id: i64 = ticket_id.parse().unwrap();
        let (body, signature) = self.sim.signed_callback(id, "updated");
        common::webhook(body, Some(&signature), id)
    }
}

#[async_trait]
impl compliance::HintActions for Actions {
    async fn user_retitles(&self, ticket_id: &str, title: &str) {
        self.sim.user_set_summary(ticket_id.parse().unwrap(), title);
    }

    async fn webhooks_idle(&self) {
        self.sim.wait_callbacks_idle().await;
    }
}

#[tokio::test]
async fn connectwise_callback_hints_carry_the_ticket_and_who_wrote() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let promises = compliance::HintPromises {
        ticket: true,
        own_writes: compliance::OwnWrites::Recognised,
    };
    compliance::run_hints(&connector, &Actions { sim: sim.clone() }, &promises).await;
}

#[tokio::test]
async fn connectwise_passes_the_compliance_kit() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    compliance::run(&connector, &Actions { sim: sim.clone() }).await;
    // The kit's writes were counted as the API user's.
    assert!(!sim.control().writes_by("demo-public").is_empty());
}

#[tokio::test]
async fn connectwise_owner_and_category_round_trip() {
    let sim = common::start_sim().await;
    let connector = common::connector(&sim);
    let labels = compliance::OwnerLabels {
        person_email: "tina.tech@northwind-msp.example".into(),
        group: Some("Co-Managed".into()),
        category: Some("Incident".into()),
        subcategory: Some("Hardware".into()),
        item: Some("Printer".into()),
    };
    compliance::run_owners(&connector, &Actions { sim: sim.clone() }, &labels).await;
}
