//! The shared compliance kit against the ServiceNow simulator, with Basic
//! auth and with OAuth.

mod common;

use std::collections::BTreeMap;

use async_trait::async_trait;
use psa_connector::compliance::{self, ComplianceLabels, VendorActions};
use psa_connector::{Visibility, WebhookRequest};
use psa_servicenow::{AuthMethod, ServiceNowSim};

struct Actions<'a> {
    sim: &'a ServiceNowSim,
}

#[async_trait]
impl VendorActions for Actions<'_> {
    fn labels(&self) -> ComplianceLabels {
        ComplianceLabels {
            open_status: "New".into(),
            other_open_status: "In Progress".into(),
            // Canceled closes without a data policy (Resolved needs close fields).
            closed_status: "Canceled".into(),
            priority: "3 - Moderate".into(),
            other_priority: "2 - High".into(),
            placement: BTreeMap::from([(
                "assignment_group".to_string(),
                "MSP Escalation".to_string(),
            )]),
        }
    }

    fn control(&self) -> std::sync::Arc<psa_connector::sim::SimControl> {
        self.sim.control()
    }

    async fn user_creates_ticket(&self, title: &str) -> String {
        self.sim
            .user_create_incident(title, "Smoke from tray 2")
            .sys_id
    }

    async fn user_adds_comment(
        &self,
        ticket_id: &str,
        text: &str,
        visibility: Visibility,
    ) -> String {
        self.sim
            .user_add_comment(ticket_id, text, visibility == Visibility::Internal)
    }

    async fn signed_webhook(&self, ticket_id: &str) -> WebhookRequest {
        common::notice(self.sim, ticket_id, common::HOOK_SECRET, chrono::Utc::now())
    }
}

#[async_trait]
impl compliance::HintActions for Actions<'_> {
    /// The business rule an instance admin sets up.
    async fn webhooks_to(&self, url: &str) {
        self.sim.set_notifications(Some((url, common::HOOK_SECRET)));
    }

    async fn user_retitles(&self, ticket_id: &str, title: &str) {
        self.sim
            .user_update(ticket_id, &[("short_description", title)])
            .unwrap();
    }

    async fn webhooks_idle(&self) {
        self.sim.wait_notifications_idle().await;
    }
}

/// The notice names the record and its stamp only: it carries no ticket,
/// no author and does not tell a journal entry from a field change.
#[tokio::test]
async fn servicenow_notices_carry_no_detail() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    let promises = compliance::HintPromises {
        ticket: false,
        own_writes: compliance::OwnWrites::Unrecognised,
    };
    compliance::run_hints(&connector, &Actions { sim: &sim }, &promises).await;
}

#[tokio::test]
async fn servicenow_connector_passes_the_compliance_kit() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    compliance::run(&connector, &Actions { sim: &sim }).await;
    assert!(!sim.control().writes_by(common::USER).is_empty());
    let created = sim
        .incidents()
        .into_iter()
        .find(|i| i.short_description == "Escalated: VPN down at site B")
        .expect("the kit's incident");
    assert_eq!(created.assignment_group, "MSP Escalation");
    assert_eq!(created.correlation_display, "psa-bridge");
}

#[tokio::test]
async fn servicenow_connector_passes_the_compliance_kit_with_oauth() {
    let sim = common::sim().await;
    let connector = common::connector(common::oauth_settings(&sim, AuthMethod::OauthPassword));
    compliance::run(&connector, &Actions { sim: &sim }).await;
    assert_eq!(
        sim.token_grants(),
        vec!["password"],
        "one token for the whole run"
    );
    assert!(!sim.control().writes_by(common::USER).is_empty());
}

#[tokio::test]
async fn servicenow_owner_and_category_round_trip() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    let labels = compliance::OwnerLabels {
        person_email: "sam.supervisor@northwind-msp.example".into(),
        group: Some("MSP Escalation".into()),
        category: Some("Hardware".into()),
        subcategory: Some("Printer".into()),
        item: None,
    };
    compliance::run_owners(&connector, &Actions { sim: &sim }, &labels).await;
}
