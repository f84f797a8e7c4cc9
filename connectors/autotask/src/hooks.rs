//! Webhooks on the connector side: verifying `X-Hook-Signature` over the raw
//! bytes (or, failing that, over the body re-escaped as Autotask serialises)
//! and turning payloads into change hints. Registration is in `register.rs`.

use base64::Engine;
use hmac::{Hmac, Mac};
use psa_connector::{ChangeHint, WebhookError, WebhookRequest};
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

/// Reads a verified payload into hints.
pub(crate) fn hints_from_payload(body: &[u8]) -> Result<Vec<ChangeHint>, WebhookError> {
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
        detail: Default::default(),
    }])
}

impl AutotaskConnector {
    pub(crate) fn verify(&self, request: &WebhookRequest) -> Result<Vec<ChangeHint>, WebhookError> {
        let secret = self
            .settings
            .webhook_secret
            .as_deref()
            .ok_or_else(|| WebhookError::Unauthorized("no webhook_secret configured".into()))?;
        check_signature(secret, request)?;
        if is_deactivation(&request.body) {
            self.deactivated
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        hints_from_payload(&request.body)
    }
}
