//! Webhooks on the connector side: verifying `X-Hook-Signature` over the raw
//! bytes (or, failing that, over the body re-escaped as Autotask serialises)
//! and turning payloads into change hints. Registration is in `register.rs`.

use base64::Engine;
use hmac::{Hmac, Mac};
use psa_connector::{ChangeHint, HintDetail, WebhookError, WebhookRequest};
use serde_json::{Map, Value};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::client::AutotaskConnector;
use crate::escape::reescape;

/// `sha1=<base64 HMAC-SHA1(secret, body)>`, as Autotask signs.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!(
        "sha1={}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Text of a scalar (Autotask sends ids as numbers or strings).
fn scalar(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn id_of(value: Option<&Value>, what: &str) -> Result<i64, WebhookError> {
    scalar(value)
        .and_then(|s| s.trim().parse::<i64>().ok())
        .ok_or_else(|| WebhookError::Malformed(format!("{what} is missing or not an integer")))
}

/// Whether `given` is the HMAC-SHA1 of `body` under `secret` (constant time).
fn signed_by(secret: &str, body: &[u8], given: &[u8]) -> Result<bool, WebhookError> {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes())
        .map_err(|_| WebhookError::Unauthorized("unusable webhook secret".into()))?;
    mac.update(body);
    Ok(mac.finalize().into_bytes().as_slice().ct_eq(given).into())
}

/// Checks the signature of a raw body against `secret`: over the bytes
/// received first, then over the body re-escaped as Autotask serialises it
/// (lower- and upper-case `\uXXXX`), for a body whose strings arrived
/// decoded. Either way the payload read is the one received, whose strings
/// are the same.
pub(crate) fn check_signature(secret: &str, request: &WebhookRequest) -> Result<(), WebhookError> {
    let header = request
        .headers
        .get("x-hook-signature")
        .ok_or_else(|| WebhookError::Unauthorized("X-Hook-Signature header missing".into()))?
        .to_str()
        .map_err(|_| WebhookError::Unauthorized("X-Hook-Signature is not text".into()))?;
    let given = header.trim().strip_prefix("sha1=").ok_or_else(|| {
        WebhookError::Unauthorized("X-Hook-Signature is not sha1=<base64>".into())
    })?;
    let given = base64::engine::general_purpose::STANDARD
        .decode(given)
        .map_err(|_| WebhookError::Unauthorized("X-Hook-Signature is not base64".into()))?;
    if signed_by(secret, &request.body, &given)? {
        return Ok(());
    }
    for upper in [false, true] {
        let Some(escaped) = reescape(&request.body, upper) else {
            break;
        };
        if escaped != request.body.as_ref() && signed_by(secret, &escaped, &given)? {
            tracing::debug!("webhook signature matched the Autotask-escaped form of the body");
            return Ok(());
        }
    }
    Err(WebhookError::Unauthorized(
        "signature mismatch: X-Hook-Signature matches neither the body nor its Autotask-escaped form"
            .into(),
    ))
}

/// Whether a (verified) payload is Autotask's `Deactivated` notice.
pub(crate) fn is_deactivation(body: &[u8]) -> bool {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => {
            scalar(get_ci(&map, "Action")).is_some_and(|a| a.eq_ignore_ascii_case("Deactivated"))
        }
        _ => false,
    }
}

/// Reads a verified payload into hints. `own_resource`: the resource the
/// bridge writes as, when known without a call (`PersonID` naming it makes
/// the hint `by_bridge`).
pub(crate) fn hints_from_payload(
    body: &[u8],
    own_resource: Option<i64>,
) -> Result<Vec<ChangeHint>, WebhookError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("not JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(WebhookError::Malformed(
            "payload is not a JSON object".into(),
        ));
    };
    let action = scalar(get_ci(&map, "Action"))
        .ok_or_else(|| WebhookError::Malformed("Action is missing".into()))?;
    let entity = scalar(get_ci(&map, "EntityType"))
        .ok_or_else(|| WebhookError::Malformed("EntityType is missing".into()))?;
    let id = id_of(get_ci(&map, "Id"), "Id")?;
    let guid = scalar(get_ci(&map, "Guid")).unwrap_or_default();
    let sequence = scalar(get_ci(&map, "SequenceNumber")).unwrap_or_default();
    let event_time = scalar(get_ci(&map, "EventTime")).unwrap_or_default();
    if action.eq_ignore_ascii_case("Deactivated") {
        tracing::warn!(
            guid,
            "Autotask deactivated a webhook; polling still covers changes"
        );
        return Ok(Vec::new());
    }
    // A Ticket event is about the fields its webhook subscribes to (never
    // a note's); a TicketNote event is about a note. Neither carries the
    // whole ticket (only changed and always-shown fields).
    let is_note = entity.eq_ignore_ascii_case("TicketNote");
    let ticket_id = if entity.eq_ignore_ascii_case("Ticket") {
        id
    } else if entity.eq_ignore_ascii_case("TicketNote") {
        let fields = match get_ci(&map, "Fields") {
            Some(Value::Object(f)) => f,
            _ => {
                return Err(WebhookError::Malformed(
                    "TicketNote payload without Fields".into(),
                ))
            }
        };
        id_of(get_ci(fields, "TicketID"), "Fields.TicketID")?
    } else {
        tracing::debug!(
            entity,
            "ignoring webhook for an entity the bridge does not sync"
        );
        return Ok(Vec::new());
    };
    Ok(vec![ChangeHint {
        ticket_id: ticket_id.to_string(),
        updated_at: None,
        dedup_key: format!("autotask:hook:{guid}:{entity}:{id}:{sequence}:{event_time}"),
        detail: HintDetail {
            ticket: None,
            notes_changed: Some(is_note),
            by_bridge: own_resource.is_some_and(|own| person_id(&map) == Some(own)),
        },
    }])
}

/// `PersonID` (or `PersonId`): the resource who made the change, if readable.
fn person_id(map: &Map<String, Value>) -> Option<i64> {
    scalar(get_ci(map, "PersonID")).and_then(|s| s.trim().parse::<i64>().ok())
}

impl AutotaskConnector {
    /// The resource the bridge writes as, when known without a call: the
    /// configured `webhook_excluded_resource_id` or the one already found.
    pub(crate) fn own_resource_known(&self) -> Option<i64> {
        self.settings
            .webhook_excluded_resource_id
            .or_else(|| self.excluded_resource.get().copied())
    }

    pub(crate) fn verify(&self, request: &WebhookRequest) -> Result<Vec<ChangeHint>, WebhookError> {
        let secret = self
            .settings
            .webhook_secret
            .as_deref()
            .ok_or_else(|| WebhookError::Unauthorized("no webhook_secret configured".into()))?;
        check_signature(secret, request)?;
        // Only a body naming the action is parsed a second time for it.
        let names_deactivation = request
            .body
            .windows(b"deactivated".len())
            .any(|w| w.eq_ignore_ascii_case(b"deactivated"));
        if names_deactivation && is_deactivation(&request.body) {
            self.deactivated
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        hints_from_payload(&request.body, self.own_resource_known())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detail(payload: Value, own: Option<i64>) -> HintDetail {
        let hints = hints_from_payload(payload.to_string().as_bytes(), own).unwrap();
        assert_eq!(hints.len(), 1, "{hints:?}");
        hints[0].detail.clone()
    }

    fn ticket_event(person: Value) -> Value {
        json!({"Action": "Update", "Guid": "g", "EntityType": "Ticket", "Id": 29,
               "Fields": {"TicketNumber": "T1", "Status": "5"}, "EventTime": "2026-11-27T10:00:00Z",
               "SequenceNumber": 3, "PersonID": person})
    }

    #[test]
    fn ticket_events_say_no_note_changed_and_note_events_say_one_did() {
        let d = detail(ticket_event(json!(30691780)), None);
        assert_eq!(d.notes_changed, Some(false));
        assert_eq!(d.ticket, None, "a payload carries only changed fields");
        assert!(!d.by_bridge, "own resource unknown");
        let note = json!({"Action": "Create", "Guid": "g", "EntityType": "TicketNote", "Id": 7,
                          "Fields": {"TicketID": "29", "Description": "hi"}, "PersonId": "30691780"});
        let d = detail(note.clone(), Some(30691780));
        assert_eq!(d.notes_changed, Some(true));
        assert!(
            d.by_bridge,
            "PersonId (either casing, as text) names the bridge's resource"
        );
        assert!(!detail(note, Some(5)).by_bridge);
    }

    #[test]
    fn by_bridge_only_when_person_id_is_the_own_resource() {
        assert!(detail(ticket_event(json!(30691780)), Some(30691780)).by_bridge);
        assert!(detail(ticket_event(json!(" 30691780 ")), Some(30691780)).by_bridge);
        for other in [
            json!(4),
            json!(null),
            json!("x"),
            json!({"id": 30691780}),
            json!(30691780.5),
        ] {
            assert!(
                !detail(ticket_event(other.clone()), Some(30691780)).by_bridge,
                "{other}"
            );
        }
        let mut missing = ticket_event(json!(1));
        missing.as_object_mut().unwrap().remove("PersonID");
        assert!(!detail(missing, Some(1)).by_bridge);
    }
}
