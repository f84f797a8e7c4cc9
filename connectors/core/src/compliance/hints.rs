//! The compliance kit's check of what webhook hints say beyond "this ticket
//! changed" (`HintDetail`), on the webhooks the simulator really sends:
//! a person creates a ticket, retitles it and adds a note; then the
//! connector writes. Every hint that carries `detail.ticket` must equal
//! `get_ticket` of that ticket at that moment, field for field; `by_bridge`
//! must be false for a person's change and, where the connector recognises
//! its own writes, true for the echo of each of them; the hints of a note
//! never all say `notes_changed: Some(false)`.

use async_trait::async_trait;
use axum::http::StatusCode;
use chrono::Utc;

use crate::connector::{Connector, WebhookRequest};
use crate::model::{ChangeHint, NewComment, TicketUpdate, Visibility};

use super::VendorActions;

/// What the kit expects of the webhooks for the connector's own writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnWrites {
    /// The vendor notifies them and the connector says `by_bridge`.
    Recognised,
    /// The vendor notifies them; the payload cannot tell who wrote, so the
    /// connector never says `by_bridge`.
    Unrecognised,
    /// The vendor sends nothing for the API user's writes (Autotask
    /// excludes the bridge's resource from its webhooks).
    NotSent,
}

/// What a connector promises about its hints' detail.
#[derive(Clone, Copy, Debug)]
pub struct HintPromises {
    /// Hints carry the whole ticket when they can (at least one in the run
    /// must, so the check is not vacuous).
    pub ticket: bool,
    pub own_writes: OwnWrites,
}

/// Drives the simulator's webhooks for [`run_hints`].
#[async_trait]
pub trait HintActions: VendorActions {
    /// Makes the simulator send its webhooks to `url` where the connector's
    /// `register_webhook` cannot (an admin's step on the real vendor).
    async fn webhooks_to(&self, url: &str) {
        let _ = url;
    }
    /// A person changes the ticket's title through the simulator.
    async fn user_retitles(&self, ticket_id: &str, title: &str);
    /// Waits until every webhook the simulator started has been answered.
    async fn webhooks_idle(&self);
}

/// A receiver answering 200 to everything; its base URL and its task.
async fn receiver() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the kit's webhook receiver");
    let addr = listener.local_addr().expect("receiver address");
    let app = axum::Router::new().fallback(|| async { StatusCode::OK });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/"), task)
}

/// Checks the hints of every webhook delivered to `base` since `seen`, for
/// a change by the bridge (`own`) or a person; returns the hints about
/// `ticket_id` and how many carried the ticket.
async fn check_new(
    connector: &dyn Connector,
    vendor: &dyn HintActions,
    base: &str,
    seen: &mut usize,
    ticket_id: &str,
    step: &str,
) -> (Vec<ChangeHint>, usize) {
    vendor.webhooks_idle().await;
    let all = vendor.control().webhook_deliveries();
    let fresh: Vec<_> = all[(*seen).min(all.len())..].to_vec();
    *seen = all.len();
    let mut about = Vec::new();
    let mut carried = 0;
    for delivery in fresh.iter().filter(|d| d.url.starts_with(base)) {
        let mut headers = http::HeaderMap::new();
        for (name, value) in &delivery.headers {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                headers.append(n, v);
            }
        }
        let request = WebhookRequest {
            headers,
            query: url::Url::parse(&delivery.url)
                .ok()
                .and_then(|u| u.query().map(str::to_string)),
            body: delivery.body.clone().into(),
        };
        let hints = connector
            .verify_webhook(&request)
            .await
            .unwrap_or_else(|e| panic!("{step}: a genuine webhook was refused: {e}"));
        for hint in hints.into_iter().filter(|h| h.ticket_id == ticket_id) {
            if let Some(ticket) = &hint.detail.ticket {
                let read = connector
                    .get_ticket(ticket_id)
                    .await
                    .expect("get_ticket after a webhook");
                assert_eq!(
                    **ticket, read,
                    "{step}: a hint's detail.ticket must be exactly what get_ticket returns"
                );
                assert_eq!(
                    hint.updated_at,
                    Some(read.updated_at),
                    "{step}: a hint with the ticket carries its stamp"
                );
                carried += 1;
            }
            about.push(hint);
        }
    }
    (about, carried)
}

/// After a note was added, the hints together must not say "no note
/// changed": at least one says it did or cannot tell.
fn notes_not_denied(hints: &[ChangeHint], step: &str) {
    assert!(
        hints.iter().any(|h| h.detail.notes_changed != Some(false)),
        "{step}: every hint says no note changed: {hints:?}"
    );
}

/// Runs the check; panics on the first broken promise.
pub async fn run_hints(
    connector: &dyn Connector,
    vendor: &dyn HintActions,
    promises: &HintPromises,
) {
    let (base, server) = receiver().await;
    let url = format!("{base}webhooks/compliance");
    connector
        .register_webhook(&url)
        .await
        .expect("register_webhook");
    vendor.webhooks_to(&url).await;
    let mut seen = vendor.control().webhook_deliveries().len();
    let mut carried = 0;

    // A person's changes: never the bridge's.
    let id = vendor.user_creates_ticket("Hint check").await;
    let (_, n) = check_new(connector, vendor, &base, &mut seen, &id, "person creates").await;
    carried += n;
    // Read once, as the planner would (fills lookups a detail may rely on).
    connector.get_ticket(&id).await.expect("get_ticket");
    for step in ["person retitles", "person adds a note"] {
        if step == "person retitles" {
            vendor.user_retitles(&id, "Hint check: retitled").await;
        } else {
            vendor
                .user_adds_comment(&id, "A person's note", Visibility::Public)
                .await;
        }
        let (hints, n) = check_new(connector, vendor, &base, &mut seen, &id, step).await;
        carried += n;
        assert!(!hints.is_empty(), "{step}: no webhook hint arrived");
        for hint in &hints {
            assert!(
                !hint.detail.by_bridge,
                "{step}: a person's change is not the bridge's: {hint:?}"
            );
        }
        if step == "person adds a note" {
            notes_not_denied(&hints, step);
        }
    }

    // The connector's own writes. A running daemon polls, which is where
    // some connectors learn who they are.
    connector
        .changed_since(Utc::now() - chrono::Duration::hours(1))
        .await
        .expect("changed_since");
    for step in ["bridge retitles", "bridge adds a note"] {
        if step == "bridge retitles" {
            connector
                .update_ticket(
                    &id,
                    &TicketUpdate {
                        title: Some("Hint check: by the bridge".into()),
                        ..Default::default()
                    },
                )
                .await
                .expect("update_ticket");
        } else {
            connector
                .add_comment(
                    &id,
                    &NewComment {
                        body: "The bridge's note".into(),
                        visibility: Visibility::Public,
                        marker: format!("psa-bridge:hints:{}", Utc::now().timestamp_micros()),
                        resolution: false,
                    },
                )
                .await
                .expect("add_comment");
        }
        let (hints, n) = check_new(connector, vendor, &base, &mut seen, &id, step).await;
        carried += n;
        if step == "bridge adds a note" && !hints.is_empty() {
            notes_not_denied(&hints, step);
        }
        match promises.own_writes {
            OwnWrites::Recognised => {
                assert!(!hints.is_empty(), "{step}: no webhook hint arrived");
                for hint in &hints {
                    assert!(
                        hint.detail.by_bridge,
                        "{step}: the echo of the bridge's own write must say by_bridge: {hint:?}"
                    );
                }
            }
            OwnWrites::Unrecognised => {
                assert!(!hints.is_empty(), "{step}: no webhook hint arrived");
                for hint in &hints {
                    assert!(!hint.detail.by_bridge, "{step}: {hint:?}");
                }
            }
            OwnWrites::NotSent => {
                assert!(
                    hints.is_empty(),
                    "{step}: the vendor excludes the bridge's own writes, yet sent {hints:?}"
                );
            }
        }
    }
    if promises.ticket {
        assert!(carried > 0, "no hint carried the ticket");
    } else {
        assert_eq!(carried, 0, "a connector that promises no ticket sent one");
    }
    server.abort();
}
