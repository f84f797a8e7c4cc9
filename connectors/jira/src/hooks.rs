//! Incoming webhook verification (signature over the raw bytes, then the
//! payload's issue as the change hint, deduplicated by the delivery's
//! identifier) and registration of the admin webhook, found by URL first.

use psa_connector::{ChangeHint, WebhookError, WebhookRequest};
use serde_json::Value;

use crate::client::JiraConnector;
use crate::issues::parse_time;
use crate::webhook::{check_fresh, signature_matches, IDENTIFIER_HEADER, SIGNATURE_HEADER};

/// Events the bridge registers for.
pub const EVENTS: [&str; 4] = [
    "jira:issue_created",
    "jira:issue_updated",
    "comment_created",
    "comment_updated",
];

impl JiraConnector {
    pub(crate) async fn do_verify_webhook(
        &self,
        request: &WebhookRequest,
    ) -> Result<Vec<ChangeHint>, WebhookError> {
        let Some(secret) = self.settings.webhook_secret.as_deref() else {
            return Err(WebhookError::Unauthorized("no webhook_secret is configured for this connection, so no signature can be checked".into()));
        };
        let header = request
            .headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                WebhookError::Unauthorized(format!("missing {SIGNATURE_HEADER} header"))
            })?;
        if !signature_matches(secret, &request.body, header) {
            return Err(WebhookError::Unauthorized(
                "signature does not match the body".into(),
            ));
        }
        let payload: Value = serde_json::from_slice(&request.body)
            .map_err(|e| WebhookError::Malformed(format!("not JSON: {e}")))?;
        let event = payload
            .get("webhookEvent")
            .and_then(Value::as_str)
            .unwrap_or("");
        let Some(issue_id) = payload.pointer("/issue/id").and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        }) else {
            if event.is_empty() {
                return Err(WebhookError::Malformed(
                    "no webhookEvent and no issue".into(),
                ));
            }
            return Ok(Vec::new());
        };
        // Signed, so a replayer cannot refresh it; checked only for notices
        // that would be stored (an issue's), and only when Jira sent one.
        let sent = payload.get("timestamp").and_then(|t| {
            t.as_i64()
                .or_else(|| t.as_str().and_then(|s| s.trim().parse().ok()))
        });
        if let Some(sent) = sent {
            check_fresh(sent, chrono::Utc::now()).map_err(WebhookError::Unauthorized)?;
        }
        let delivery = request
            .headers
            .get(IDENTIFIER_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| {
                format!(
                    "{event}:{}",
                    payload
                        .get("timestamp")
                        .map(Value::to_string)
                        .unwrap_or_default()
                )
            });
        let updated = payload
            .pointer("/issue/fields/updated")
            .and_then(Value::as_str)
            .and_then(parse_time);
        Ok(vec![ChangeHint {
            ticket_id: issue_id,
            updated_at: updated,
            dedup_key: format!("jira:hook:{delivery}"),
            detail: Default::default(),
        }])
    }
}
