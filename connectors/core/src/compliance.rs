//! The compliance kit: one behavioural check every connector must pass against
//! its simulator. Vendor crates call [`run`] from a test with their connector
//! and a [`VendorActions`] driving the simulator as a human user would.
//!
//! Failures panic with a message naming the broken promise (this is test code).

mod ambiguous;
mod hints;
mod owners;

pub use hints::{run_hints, HintActions, HintPromises, OwnWrites};
pub use owners::{run_owners, OwnerLabels};

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;

use crate::connector::{Connector, WebhookRequest};
use crate::error::{ConnectorError, WebhookError};
use crate::model::{NewComment, NewTicket, TicketUpdate, Visibility};
use crate::sim::SimControl;

/// Labels and placement the kit may use on this simulator.
pub struct ComplianceLabels {
    pub open_status: String,
    pub other_open_status: String,
    pub closed_status: String,
    pub priority: String,
    pub other_priority: String,
    /// Placement for `create_ticket` (board/company, queue, ...).
    pub placement: BTreeMap<String, String>,
}

/// Acts on the vendor side as a person (not through the connector under test).
#[async_trait]
pub trait VendorActions: Send + Sync {
    fn labels(&self) -> ComplianceLabels;
    /// The simulator's fault knobs (the kit answers writes ambiguously).
    fn control(&self) -> Arc<SimControl>;
    /// Creates a ticket as a human would; returns its id.
    async fn user_creates_ticket(&self, title: &str) -> String;
    /// Adds a note as a human would; returns its id.
    async fn user_adds_comment(
        &self,
        ticket_id: &str,
        text: &str,
        visibility: Visibility,
    ) -> String;
    /// A genuine, correctly signed webhook announcing a change of `ticket_id`.
    async fn signed_webhook(&self, ticket_id: &str) -> WebhookRequest;
}

/// Runs every check; panics on the first broken promise.
pub async fn run(connector: &dyn Connector, vendor: &dyn VendorActions) {
    let labels = vendor.labels();
    let before = Utc::now() - chrono::Duration::seconds(2);

    let catalog = connector.discover().await.expect("discover");
    for s in [
        &labels.open_status,
        &labels.other_open_status,
        &labels.closed_status,
    ] {
        assert!(
            catalog.has_status(s),
            "discover misses status {s:?}: {catalog:?}"
        );
    }
    assert!(
        catalog
            .statuses
            .iter()
            .any(|s| s.label == labels.closed_status && s.closed),
        "closed status not flagged closed"
    );
    assert!(
        catalog.priorities.contains(&labels.priority),
        "discover misses priority"
    );

    // Reading what a person created.
    let human_id = vendor.user_creates_ticket("Printer on fire").await;
    let t = connector.get_ticket(&human_id).await.expect("get_ticket");
    assert_eq!(t.id, human_id);
    assert_eq!(t.title, "Printer on fire");
    assert!(!t.closed);
    assert!(
        t.marker.is_none(),
        "a human ticket carries no bridge marker"
    );
    let missing = connector.get_ticket("987654321").await;
    assert!(
        matches!(missing, Err(ConnectorError::NotFound(_))),
        "missing ticket must be NotFound, got {missing:?}"
    );

    // Idempotent create.
    let marker = format!("psa-bridge:compliance:{}", Utc::now().timestamp_micros());
    assert!(connector
        .find_by_marker(&marker)
        .await
        .expect("find")
        .is_none());
    let created = connector
        .create_ticket(&NewTicket {
            title: "Escalated: VPN down".into(),
            description: "Site B cannot reach HQ.\nSince 9:00.".into(),
            status: Some(labels.open_status.clone()),
            priority: Some(labels.priority.clone()),
            marker: marker.clone(),
            placement: labels.placement.clone(),
            fields: BTreeMap::new(),
        })
        .await
        .expect("create_ticket");
    assert_eq!(created.marker.as_deref(), Some(marker.as_str()));
    let found = connector
        .find_by_marker(&marker)
        .await
        .expect("find")
        .expect("found by marker");
    assert_eq!(found.id, created.id);
    assert_eq!(found.status, labels.open_status);
    assert_eq!(found.priority, labels.priority);

    // Partial updates by label.
    connector
        .update_ticket(
            &created.id,
            &TicketUpdate {
                title: Some("Escalated: VPN down at site B".into()),
                status: Some(labels.other_open_status.clone()),
                priority: Some(labels.other_priority.clone()),
                fields: BTreeMap::new(),
            },
        )
        .await
        .expect("update_ticket");
    let t = connector
        .get_ticket(&created.id)
        .await
        .expect("get after update");
    assert_eq!(t.title, "Escalated: VPN down at site B");
    assert_eq!(t.status, labels.other_open_status);
    assert_eq!(t.priority, labels.other_priority);
    let bad = connector
        .update_ticket(
            &created.id,
            &TicketUpdate {
                status: Some("No Such Status".into()),
                ..Default::default()
            },
        )
        .await;
    match bad {
        Err(e @ ConnectorError::UnknownValue { .. }) => assert!(!e.is_retryable()),
        other => panic!("unknown status must be UnknownValue, got {other:?}"),
    }

    // Comments keep visibility and markers.
    connector
        .add_comment(
            &created.id,
            &NewComment {
                body: "Public reply".into(),
                visibility: Visibility::Public,
                marker: format!("{marker}-c1"),
                resolution: false,
            },
        )
        .await
        .expect("add public comment");
    connector
        .add_comment(
            &created.id,
            &NewComment {
                body: "Internal only".into(),
                visibility: Visibility::Internal,
                marker: format!("{marker}-c2"),
                resolution: false,
            },
        )
        .await
        .expect("add internal comment");
    vendor
        .user_adds_comment(&created.id, "Human note", Visibility::Internal)
        .await;
    let comments = connector
        .list_comments(&created.id)
        .await
        .expect("list_comments");
    let by_marker = |m: &str| comments.iter().find(|c| c.marker.as_deref() == Some(m));
    let c1 = by_marker(&format!("{marker}-c1")).expect("public comment listed with marker");
    assert_eq!(c1.visibility, Visibility::Public);
    assert_eq!(
        c1.body.trim(),
        "Public reply",
        "marker must be stripped from the body"
    );
    let c2 = by_marker(&format!("{marker}-c2")).expect("internal comment listed with marker");
    assert_eq!(c2.visibility, Visibility::Internal);
    let human = comments
        .iter()
        .find(|c| c.body.contains("Human note"))
        .expect("human note");
    assert!(human.marker.is_none());
    assert_eq!(human.visibility, Visibility::Internal);

    // Writes applied by the vendor whose answer is lost are found on retry.
    ambiguous::check(connector, vendor, &labels).await;

    // Closing.
    connector
        .update_ticket(
            &created.id,
            &TicketUpdate {
                status: Some(labels.closed_status.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("close");
    assert!(
        connector
            .get_ticket(&created.id)
            .await
            .expect("get closed")
            .closed
    );

    // Polling sees both tickets; nothing from the future.
    let hints = connector
        .changed_since(before)
        .await
        .expect("changed_since");
    for id in [&human_id, &created.id] {
        assert!(
            hints.iter().any(|h| &h.ticket_id == id),
            "changed_since misses {id}"
        );
    }
    let future = connector
        .changed_since(Utc::now() + chrono::Duration::hours(1))
        .await
        .expect("changed_since future");
    assert!(
        future.is_empty(),
        "changed_since(future) returned {future:?}"
    );

    // Webhooks: genuine accepted, tampered and unsigned refused.
    let genuine = vendor.signed_webhook(&human_id).await;
    let hints = connector
        .verify_webhook(&genuine)
        .await
        .expect("genuine webhook");
    assert!(hints.iter().any(|h| h.ticket_id == human_id));
    assert!(hints.iter().all(|h| !h.dedup_key.is_empty()));
    let mut tampered = genuine.clone();
    tampered.body = tamper_ticket_id(&genuine.body, &human_id).into();
    match connector.verify_webhook(&tampered).await {
        Err(WebhookError::Unauthorized(reason)) => {
            let reason = reason.to_ascii_lowercase();
            assert!(
                reason.contains("signature") && reason.contains("match"),
                "a tampered payload must be refused for a signature mismatch, got {reason:?}"
            );
        }
        other => panic!("a tampered payload must be Unauthorized, got {other:?}"),
    }
    let mut unsigned = genuine.clone();
    unsigned.headers.clear();
    assert!(matches!(
        connector.verify_webhook(&unsigned).await,
        Err(WebhookError::Unauthorized(_))
    ));
}

/// The body with the ticket id changed where it appears as a JSON number
/// value (`"ID":1001` / `"Id": 1001`), or else as a whole JSON string value
/// (`"sys_id":"9d38…"`, for vendors whose ids are strings): a change to what
/// the payload says, outside any URL or key reference, so only the
/// signature can catch it.
fn tamper_ticket_id(body: &[u8], ticket_id: &str) -> Vec<u8> {
    if let Some(out) = tamper_number(body, ticket_id) {
        return out;
    }
    let quoted = format!("\"{ticket_id}\"");
    if let Some(out) = tamper_number(body, &quoted) {
        return out;
    }
    panic!(
        "the signed webhook for ticket {ticket_id} carries no JSON number or string equal to the ticket id"
    );
}

/// The body with the last character before the end of `id` changed where
/// `id` follows a colon as a whole value; `None` when it never does.
fn tamper_number(body: &[u8], ticket_id: &str) -> Option<Vec<u8>> {
    let id = ticket_id.as_bytes();
    let mut out = body.to_vec();
    let mut i = 0;
    while i < body.len() {
        if body[i] == b':' {
            let mut start = i + 1;
            while start < body.len() && body[start] == b' ' {
                start += 1;
            }
            let end = start + id.len();
            let bounded = body.get(end).is_none_or(|b| !b.is_ascii_digit());
            if !id.is_empty() && body.get(start..end) == Some(id) && bounded {
                // The last character of the id (before a closing quote).
                let last = if id.ends_with(b"\"") {
                    end - 2
                } else {
                    end - 1
                };
                out[last] = if out[last] == b'9' {
                    b'8'
                } else {
                    out[last] + 1
                };
                return Some(out);
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::tamper_ticket_id;

    #[test]
    fn tampering_changes_the_id_value_only() {
        let body = br#"{"ID":1001,"x":"10019","Metadata":{"key_url":"https://h/k?id=1001"}}"#;
        assert_eq!(
            tamper_ticket_id(body, "1001"),
            br#"{"ID":1002,"x":"10019","Metadata":{"key_url":"https://h/k?id=1001"}}"#.to_vec()
        );
        assert_eq!(
            tamper_ticket_id(br#"{"Id": 29}"#, "29"),
            br#"{"Id": 28}"#.to_vec()
        );
        // String ids (ServiceNow sys_ids) as a whole string value only.
        assert_eq!(
            tamper_ticket_id(br#"{"x":"a1b2c3x","sys_id":"a1b2c3"}"#, "a1b2c3"),
            br#"{"x":"a1b2c3x","sys_id":"a1b2c4"}"#.to_vec()
        );
        // Jira: ids are strings; a URL or key holding the id is left alone.
        assert_eq!(
            tamper_ticket_id(br#"{"self":"https://h/10201","id":"10201"}"#, "10201"),
            br#"{"self":"https://h/10201","id":"10202"}"#.to_vec()
        );
    }
}
