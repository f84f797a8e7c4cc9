//! Callback delivery: builds ConnectWise's callback payload for a ticket
//! change, signs it (`base64(HMAC-SHA256(SHA256(signing_key), body))` in
//! `x-content-signature`), posts it to every registered ticket callback in a
//! tracked task, and serves the signing key at `key_url`.

use std::sync::Arc;

use serde::Serialize;

use super::state::State;
use super::Shared;
use crate::webhook::{key_digest, sign, SIGNATURE_HEADER};

#[derive(Serialize)]
#[allow(non_snake_case)]
struct Metadata {
    key_url: String,
}

/// Payload version 3.0.0 as ConnectWise posts it (field order kept).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct Payload {
    MessageId: String,
    FromUrl: String,
    CompanyId: String,
    MemberId: String,
    Action: String,
    Type: &'static str,
    ID: i64,
    ProductInstanceId: Option<String>,
    PartnerId: Option<String>,
    CallbackObjectRecId: i64,
    Entity: Option<String>,
    Metadata: Metadata,
}

impl Shared {
    /// The URL the signing key is served at.
    pub(crate) fn key_url(&self) -> String {
        format!(
            "{}system/callbackkey/index.rails?companyName={}&id={}",
            self.site_url,
            urlencoding::encode(&self.options.company_id),
            self.key_id
        )
    }

    /// A signed callback body for one ticket as it is now.
    pub(crate) fn build_callback(
        &self,
        state: &State,
        ticket_id: i64,
        action: &str,
        member: &str,
        callback_id: i64,
    ) -> (Vec<u8>, String) {
        let entity = if action == "deleted" {
            None
        } else {
            state
                .tickets
                .get(&ticket_id)
                .map(|t| state.ticket_json(t).to_string())
        };
        let payload = Payload {
            MessageId: uuid::Uuid::new_v4().to_string(),
            FromUrl: self.site_url.clone(),
            CompanyId: self.options.company_id.clone(),
            MemberId: member.to_string(),
            Action: action.to_string(),
            Type: "ticket",
            ID: ticket_id,
            ProductInstanceId: None,
            PartnerId: None,
            CallbackObjectRecId: callback_id,
            Entity: entity,
            Metadata: Metadata {
                key_url: self.key_url(),
            },
        };
        let body = serde_json::to_vec(&payload).unwrap_or_default();
        let signature = sign(&key_digest(&self.signing_key()), &body);
        (body, signature)
    }

    /// Sends `action` for `ticket_id` to every active ticket callback.
    pub(crate) fn fire(
        self: &Arc<Self>,
        state: &State,
        ticket_id: i64,
        action: &str,
        member: &str,
    ) {
        if !state.callbacks_enabled {
            return;
        }
        let changed_by_api = member.eq_ignore_ascii_case(&state.api_member);
        for cb in state.callbacks.values() {
            if cb.inactive || !cb.kind.eq_ignore_ascii_case("ticket") {
                continue;
            }
            let own_member = state
                .member(cb.member_id)
                .is_some_and(|m| m.identifier.eq_ignore_ascii_case(member));
            if cb.self_suppressed && (own_member || changed_by_api && cb.member_id == 0) {
                continue;
            }
            let (body, signature) = self.build_callback(state, ticket_id, action, member, cb.id);
            let url = format!("{}{}", cb.url, ticket_id);
            let headers = vec![
                ("content-type".to_string(), "application/json".to_string()),
                (SIGNATURE_HEADER.to_string(), signature),
            ];
            let (shared, id) = (self.clone(), cb.id);
            let task = self.runtime.spawn(async move {
                let status = deliver_with_retries(&shared, url, headers, body).await;
                shared.count_delivery(id, status);
            });
            self.deliveries.track(task);
        }
    }

    /// Counts a delivery's answer (0: none): a callback whose deliveries
    /// have failed for `callback_disable_after` (3 days) is deactivated,
    /// as ConnectWise does. A success ends the run of failures.
    fn count_delivery(&self, callback_id: i64, status: u16) {
        let mut state = self.state();
        let limit = state
            .callback_disable_after
            .unwrap_or(std::time::Duration::from_secs(3 * 24 * 3600));
        let Some(cb) = state.callbacks.get_mut(&callback_id) else {
            return;
        };
        if (200..300).contains(&status) {
            cb.failing_since = None;
            cb.failures = 0;
            return;
        }
        cb.failures = cb.failures.saturating_add(1);
        let since = *cb.failing_since.get_or_insert_with(std::time::Instant::now);
        if !cb.inactive && since.elapsed() >= limit {
            tracing::warn!(
                callback = callback_id,
                failures = cb.failures,
                "simulated ConnectWise deactivates a failing callback"
            );
            cb.inactive = true;
        }
    }

    /// Waits for every delivery spawned so far (and those they lead to).
    pub(crate) async fn wait_idle(&self) {
        self.deliveries.wait_idle().await;
    }
}

/// The answers after which ConnectWise sends a callback again, and the waits
/// before its two retries (docs/vendors/connectwise.md: "404/409/419/429 are
/// retried twice (2 s, 4 s)"); any other answer, or none, ends the delivery.
const RETRIED: [u16; 4] = [404, 409, 419, 429];
const RETRY_WAITS: [std::time::Duration; 2] = [
    std::time::Duration::from_secs(2),
    std::time::Duration::from_secs(4),
];

/// Posts one callback as ConnectWise does, retrying the answers it retries;
/// returns the last answer's status (0: none).
async fn deliver_with_retries(
    shared: &Shared,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> u16 {
    let mut waits = RETRY_WAITS.iter();
    loop {
        let status = psa_connector::sim::send_webhook_status(
            shared.control.clone(),
            url.clone(),
            headers.clone(),
            body.clone(),
        )
        .await;
        match waits.next() {
            Some(wait) if RETRIED.contains(&status) => tokio::time::sleep(*wait).await,
            _ => return status,
        }
    }
}
