//! The shared compliance kit against the Autotask simulator, through zone discovery.

mod common;

use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;
use http::HeaderMap;
use psa_autotask::escape::to_autotask_json;
use psa_autotask::hooks::sign;
use psa_autotask::AutotaskSim;
use psa_connector::compliance::{self, ComplianceLabels, VendorActions};
use psa_connector::{Visibility, WebhookRequest};
use serde_json::json;

struct Actions<'a> {
    sim: &'a AutotaskSim,
}

#[async_trait]
impl VendorActions for Actions<'_> {
    fn labels(&self) -> ComplianceLabels {
        ComplianceLabels {
            open_status: "New".into(),
            other_open_status: "In Progress".into(),
            closed_status: "Complete".into(),
            priority: "Medium".into(),
            other_priority: "High".into(),
            placement: BTreeMap::from([
                ("queue".to_string(), "Escalate to MSP".to_string()),
                ("company_id".to_string(), "174".to_string()),
            ]),
        }
    }

    fn control(&self) -> std::sync::Arc<psa_connector::sim::SimControl> {
        self.sim.control()
    }

    async fn user_creates_ticket(&self, title: &str) -> String {
        self.sim
            .user_create_ticket(title, "Smoke from tray 2", "Level I Support", "Medium")
            .id
            .to_string()
    }

    async fn user_adds_comment(
        &self,
        ticket_id: &str,
        text: &str,
        visibility: Visibility,
    ) -> String {
        let id = ticket_id.parse().unwrap();
        self.sim
            .user_add_note(id, text, visibility == Visibility::Internal, "Tina Tech")
            .to_string()
    }

    async fn signed_webhook(&self, ticket_id: &str) -> WebhookRequest {
        let id: i64 = ticket_id.parse().unwrap();
        let ticket = self.sim.ticket(id).unwrap();
        let payload = json!({
            "Action": "Update",
            "Guid": "0b3c5a3e-6d2f-4a61-9a51-6c1a7e0c9f11",
            "EntityType": "Ticket",
            "Id": id,
            "Fields": {"TicketNumber": ticket.number, "Title": ticket.title, "Status": "8"},
            "EventTime": "2026-11-25T10:15:00.000Z",
            "SequenceNumber": 7,
            "PersonID": 29682885,
        });
        let body = to_autotask_json(&payload).into_bytes();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-hook-signature",
            sign(common::HOOK_SECRET, &body).parse().unwrap(),
        );
        headers.insert("content-type", "application/json".parse().unwrap());
        WebhookRequest {
            headers,
            query: None,
            body: Bytes::from(body),
        }
    }
}

#[async_trait]
impl compliance::HintActions for Actions<'_> {
    async fn user_retitles(&self, ticket_id: &str, title: &str) {
        let id: i64 = ticket_id.parse().unwrap();
        let description = self.sim.ticket(id).unwrap().description;
        self.sim.user_set_text(id, title, &description);
    }

    async fn webhooks_idle(&self) {
        self.sim.wait_webhooks_idle().await;
    }
}

#[tokio::test]
async fn autotask_webhook_hints_say_what_changed() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    let promises = compliance::HintPromises {
        ticket: false,
        own_writes: compliance::OwnWrites::NotSent,
    };
    compliance::run_hints(&connector, &Actions { sim: &sim }, &promises).await;
}

#[tokio::test]
async fn autotask_connector_passes_the_compliance_kit() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    compliance::run(&connector, &Actions { sim: &sim }).await;
    // The bridge's writes are counted against its API user.
    assert!(!sim.control().writes_by("bridge@example.com").is_empty());
}

#[tokio::test]
async fn autotask_owner_and_category_round_trip() {
    let sim = common::sim().await;
    let connector = common::connector(common::settings(&sim));
    let labels = compliance::OwnerLabels {
        person_email: "sam.supervisor@northwind-msp.example".into(),
        group: Some("Level II Support".into()),
        category: Some("Hardware".into()),
        subcategory: Some("Printer".into()),
        item: None,
    };
    compliance::run_owners(&connector, &Actions { sim: &sim }, &labels).await;
}
