//! Verifying notifications sent by the business rule of the receiver
//! contract (`crate::signature`) and turning them into change hints.
//! Registration: ServiceNow has no API for it; an instance admin pastes
//! the business rule (`docs/vendors/servicenow.md`).

use base64::Engine;
use psa_connector::{ChangeHint, WebhookError, WebhookRequest};
use serde::Deserialize;

use crate::client::ServiceNowConnector;
use crate::signature::{matches, MAX_SKEW_SECS, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::wire::{is_sys_id, parse_time};

/// Largest notice accepted (a real one is a few hundred bytes).
pub const MAX_NOTICE_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
struct Notice {
    table: String,
    sys_id: String,
    #[serde(default)]
    sys_updated_on: Option<String>,
    #[serde(default)]
    sys_mod_count: Option<String>,
    #[serde(default)]
    operation: Option<String>,
}

fn header<'a>(request: &'a WebhookRequest, name: &str) -> Result<&'a str, WebhookError> {
    request
        .headers
        .get(name)
        .ok_or_else(|| WebhookError::Unauthorized(format!("{name} header missing")))?
        .to_str()
        .map(str::trim)
        .map_err(|_| WebhookError::Unauthorized(format!("{name} is not text")))
}

impl ServiceNowConnector {
    pub(crate) fn verify(&self, request: &WebhookRequest) -> Result<Vec<ChangeHint>, WebhookError> {
        let secret = self
            .settings
            .webhook_secret
            .as_deref()
            .ok_or_else(|| WebhookError::Unauthorized("no webhook_secret configured".into()))?;
        if request.body.len() > MAX_NOTICE_BYTES {
            return Err(WebhookError::Malformed(format!(
                "notice larger than {MAX_NOTICE_BYTES} bytes"
            )));
        }
        let timestamp = header(request, TIMESTAMP_HEADER)?;
        let signature = header(request, SIGNATURE_HEADER)?;
        let sent: i64 = timestamp.parse().map_err(|_| {
            WebhookError::Unauthorized(format!("{TIMESTAMP_HEADER} is not UNIX seconds"))
        })?;
        let now = (self.clock)().timestamp();
        // `abs_diff`: any i64 a sender puts in the header, however far off,
        // is compared without overflow (no panic, no wrap-around to "near").
        let skew = now.abs_diff(sent);
        if skew > MAX_SKEW_SECS.unsigned_abs() {
            return Err(WebhookError::Unauthorized(format!(
                "{TIMESTAMP_HEADER} is {skew}s away from now (more than {MAX_SKEW_SECS}s): stale or replayed"
            )));
        }
        let given = signature.strip_prefix("sha256=").ok_or_else(|| {
            WebhookError::Unauthorized(format!("{SIGNATURE_HEADER} is not sha256=<base64>"))
        })?;
        let given = base64::engine::general_purpose::STANDARD
            .decode(given)
            .map_err(|_| WebhookError::Unauthorized(format!("{SIGNATURE_HEADER} is not base64")))?;
        if !matches(secret, timestamp, &request.body, &given) {
            return Err(WebhookError::Unauthorized(format!(
                "signature mismatch: {SIGNATURE_HEADER} does not match the timestamp and body"
            )));
        }
        let notice: Notice = serde_json::from_slice(&request.body)
            .map_err(|e| WebhookError::Malformed(format!("not a notice: {e}")))?;
        if notice.table != self.settings.table {
            tracing::debug!(table = notice.table, "ignoring a notice for another table");
            return Ok(Vec::new());
        }
        if !is_sys_id(&notice.sys_id) {
            return Err(WebhookError::Malformed("sys_id is not a sys_id".into()));
        }
        let stamp = notice.sys_updated_on.unwrap_or_default();
        Ok(vec![ChangeHint {
            updated_at: parse_time(&stamp),
            dedup_key: format!(
                "servicenow:notify:{}:{}:{stamp}:{}",
                notice.sys_id,
                notice.operation.unwrap_or_default(),
                notice.sys_mod_count.unwrap_or_default()
            ),
            ticket_id: notice.sys_id,
            // The notice says which record changed and when, nothing more:
            // no fields (no ticket), no author (no `by_bridge`), and a
            // journal entry updates the record like a field change does
            // (no `notes_changed`).
            detail: Default::default(),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::{connector, NOW, WEBHOOK_SECRET};
    use crate::signature::sign;

    fn notice(timestamp: &str) -> WebhookRequest {
        let body = br#"{"table":"incident","sys_id":"46d44a5fa9fe198100b0d7d8e6e4e2a1"}"#;
        let mut headers = http::HeaderMap::new();
        headers.insert(TIMESTAMP_HEADER, timestamp.parse().unwrap());
        headers.insert(
            SIGNATURE_HEADER,
            sign(WEBHOOK_SECRET, timestamp, body).parse().unwrap(),
        );
        WebhookRequest {
            headers,
            query: None,
            body: bytes::Bytes::from_static(body),
        }
    }

    /// Found while writing the fuzz target: `(now - sent).abs()` overflowed for timestamps
    /// near the ends of i64 (a panic with overflow checks; without them
    /// `NOW + i64::MIN` wrapped to a skew of `i64::MIN`, which is "near").
    #[test]
    fn timestamps_at_the_ends_of_i64_are_refused_without_overflow() {
        for sent in [i64::MIN, i64::MAX, NOW.wrapping_add(i64::MIN), -1] {
            match connector().verify(&notice(&sent.to_string())) {
                Err(WebhookError::Unauthorized(m)) => assert!(m.contains("stale"), "{sent}: {m}"),
                other => panic!("{sent}: {other:?}"),
            }
        }
        assert_eq!(
            connector().verify(&notice(&NOW.to_string())).unwrap().len(),
            1
        );
    }
}
