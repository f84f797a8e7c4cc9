//! Incoming webhook verification (signature over the raw bytes, then the
//! payload's issue as the change hint, deduplicated by the delivery's
//! identifier) and registration of the admin webhook, found by URL first.

use psa_connector::{ChangeHint, HintDetail, WebhookError, WebhookRequest};
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

/// What a delivery says beyond "this issue changed". Never the ticket:
/// `get_ticket` reads the bridge's marker from an issue property that
/// webhook payloads do not carry, so no payload can be proved to be the
/// whole ticket. Notes: a comment event, or an issue update carrying a
/// `comment` or of a comment event type, changed one; an issue update of
/// another type with field changes (`changelog.items`) and no `comment`
/// did not (Jira puts the comment of a transition screen in the update);
/// anything else cannot tell. `by_bridge`: the acting `user.accountId` is
/// the API user's (known once `myself` was read; until then false).
pub(crate) fn hint_detail(payload: &Value, own_account: Option<&str>) -> HintDetail {
    let event = payload
        .get("webhookEvent")
        .and_then(Value::as_str)
        .unwrap_or("");
    let type_name = payload.get("issue_event_type_name").and_then(Value::as_str);
    let has_comment = payload.get("comment").is_some_and(Value::is_object);
    let notes_changed = match event {
        "comment_created" | "comment_updated" | "comment_deleted" => Some(true),
        "jira:issue_updated" => {
            let comment_type = type_name.is_some_and(|t| t.contains("comment"));
            let fields_changed = payload
                .pointer("/changelog/items")
                .and_then(Value::as_array)
                .is_some_and(|items| !items.is_empty());
            if has_comment || comment_type {
                Some(true)
            } else if type_name.is_some() && fields_changed {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    };
    let actor = payload.pointer("/user/accountId").and_then(Value::as_str);
    let by_bridge = matches!((actor, own_account), (Some(a), Some(o)) if !a.is_empty() && a == o);
    HintDetail {
        ticket: None,
        notes_changed,
        by_bridge,
    }
}

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
        let own = self.cache.lock().await.account_id.clone();
        Ok(vec![ChangeHint {
            ticket_id: issue_id,
            updated_at: updated,
            dedup_key: format!("jira:hook:{delivery}"),
            detail: hint_detail(&payload, own.as_deref()),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ME: &str = "557058:bridge-api-user";

    fn event(kind: &str, type_name: Option<&str>, comment: bool, items: usize, by: &str) -> Value {
        let mut v = json!({"timestamp": 1, "webhookEvent": kind, "user": {"accountId": by},
                           "issue": {"id": "10001", "fields": {}}});
        if let Some(t) = type_name {
            v["issue_event_type_name"] = json!(t);
        }
        if comment {
            v["comment"] = json!({"id": "5", "body": "x"});
        }
        if items > 0 {
            v["changelog"] = json!({"id": "1", "items": vec![json!({"field": "summary"}); items]});
        }
        v
    }

    #[test]
    fn notes_changed_follows_the_event() {
        let notes = |v: Value| hint_detail(&v, None).notes_changed;
        for kind in ["comment_created", "comment_updated", "comment_deleted"] {
            assert_eq!(notes(event(kind, None, true, 0, "x")), Some(true), "{kind}");
        }
        let updated = "jira:issue_updated";
        assert_eq!(
            notes(event(updated, Some("issue_commented"), true, 0, "x")),
            Some(true)
        );
        assert_eq!(
            notes(event(updated, Some("issue_generic"), true, 1, "x")),
            Some(true)
        );
        assert_eq!(
            notes(event(updated, Some("issue_comment_deleted"), false, 0, "x")),
            Some(true)
        );
        assert_eq!(
            notes(event(updated, Some("issue_generic"), false, 2, "x")),
            Some(false)
        );
        // No changelog, or no event type: cannot tell.
        assert_eq!(
            notes(event(updated, Some("issue_generic"), false, 0, "x")),
            None
        );
        assert_eq!(notes(event(updated, None, false, 1, "x")), None);
        assert_eq!(
            notes(event(
                "jira:issue_created",
                Some("issue_created"),
                false,
                0,
                "x"
            )),
            None
        );
    }

    #[test]
    fn by_bridge_when_the_actor_is_the_api_user_and_never_a_ticket() {
        let v = event("jira:issue_updated", Some("issue_generic"), false, 1, ME);
        let d = hint_detail(&v, Some(ME));
        assert!(d.by_bridge);
        assert_eq!(d.ticket, None);
        assert!(
            !hint_detail(&v, None).by_bridge,
            "own account not known yet"
        );
        assert!(
            !hint_detail(
                &event("comment_created", None, true, 0, "557058:agent"),
                Some(ME)
            )
            .by_bridge
        );
        let mut odd = v.clone();
        odd["user"] = json!({"accountId": 5});
        assert!(!hint_detail(&odd, Some(ME)).by_bridge);
        odd.as_object_mut().unwrap().remove("user");
        assert!(!hint_detail(&odd, Some(ME)).by_bridge);
        assert!(!hint_detail(&event("jira:issue_updated", None, false, 0, ""), Some("")).by_bridge);
    }
}
