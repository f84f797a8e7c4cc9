//! Webhooks on the connector side: verifying `X-Hook-Signature` over the raw
//! bytes, turning payloads into change hints, and registering the
//! TicketWebhook / TicketNoteWebhook (with fields and excluded resources).

use base64::Engine;
use hmac::{Hmac, Mac};
use http::Method;
use psa_connector::{ChangeHint, ConnectorError, WebhookError, WebhookRequest};
use serde_json::{json, Map, Value};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::client::{AutotaskConnector, MAX_RECORDS};
use crate::wire::ItemIdResponse;

/// Ticket fields whose change announces a ticket.
const TICKET_SUBSCRIBED: &[&str] = &["status", "priority", "title", "queueID", "description"];
/// Shown in every ticket payload.
const TICKET_ALWAYS: &[&str] = &["ticketNumber"];
/// Note fields subscribed (creation events carry them).
const NOTE_SUBSCRIBED: &[&str] = &["description", "publish"];
/// Shown in every note payload: the parent ticket.
const NOTE_ALWAYS: &[&str] = &["ticketID"];

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

fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
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

/// Checks the signature of a raw body against `secret`.
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
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes())
        .map_err(|_| WebhookError::Unauthorized("unusable webhook secret".into()))?;
    mac.update(&request.body);
    let expected = mac.finalize().into_bytes();
    if expected.as_slice().ct_eq(&given).into() {
        Ok(())
    } else {
        Err(WebhookError::Unauthorized(
            "X-Hook-Signature does not match the body".into(),
        ))
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
        hints_from_payload(&request.body)
    }

    pub(crate) async fn register(&self, url: &str) -> Result<(), ConnectorError> {
        let secret = self.settings.webhook_secret.clone().ok_or_else(|| {
            ConnectorError::Config(
                "webhook_secret is required to register Autotask webhooks".into(),
            )
        })?;
        url::Url::parse(url)
            .map_err(|e| ConnectorError::Config(format!("webhook URL {url:?}: {e}")))?;
        self.register_one(
            "TicketWebhooks",
            "TicketWebhookFields",
            url,
            &secret,
            TICKET_SUBSCRIBED,
            TICKET_ALWAYS,
        )
        .await?;
        self.register_one(
            "TicketNoteWebhooks",
            "TicketNoteWebhookFields",
            url,
            &secret,
            NOTE_SUBSCRIBED,
            NOTE_ALWAYS,
        )
        .await
    }

    async fn register_one(
        &self,
        entity: &str,
        fields_entity: &str,
        url: &str,
        secret: &str,
        subscribed: &[&str],
        always: &[&str],
    ) -> Result<(), ConnectorError> {
        let query = json!({
            "filter": [{"op": "eq", "field": "webhookUrl", "value": url}],
            "MaxRecords": MAX_RECORDS,
        });
        let existing = self
            .query_all(&format!("{entity}/query"), Some(&query))
            .await?;
        let existing_id = existing.iter().find_map(|w| {
            let w = w.as_object()?;
            let same = get_ci(w, "webhookUrl").and_then(Value::as_str) == Some(url);
            same.then(|| get_ci(w, "id").and_then(Value::as_i64))
                .flatten()
        });
        let webhook_id = match existing_id {
            Some(id) => {
                let fields = self
                    .query_all(&format!("{entity}/{id}/Fields"), None)
                    .await?;
                let ready = fields.iter().any(|f| {
                    f.as_object()
                        .and_then(|f| get_ci(f, "isSubscribedField"))
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                });
                if ready {
                    tracing::info!(entity, id, "Autotask webhook already registered");
                    return Ok(());
                }
                id
            }
            None => {
                let body = json!({
                    "IsActive": true,
                    "IsSubscribedToCreateEvents": true,
                    "IsSubscribedToUpdateEvents": true,
                    "IsSubscribedToDeleteEvents": false,
                    "Name": "psa-bridge",
                    "SecretKey": secret,
                    "WebhookUrl": url,
                    "DeactivationUrl": url,
                    "SendThresholdExceededNotification": false,
                });
                let created: ItemIdResponse =
                    self.call(Method::POST, entity, Some(&body)).await?.json()?;
                created.item_id
            }
        };
        let lists = self.entity_lists(fields_entity).await?;
        let field_ids = lists.get("fieldID");
        let mut wanted: Vec<(&str, bool)> = subscribed.iter().map(|f| (*f, true)).collect();
        wanted.extend(always.iter().map(|f| (*f, false)));
        for (name, subscribe) in wanted {
            let Some(field_id) = field_ids.value(name) else {
                tracing::warn!(
                    entity,
                    field = name,
                    "Autotask offers no webhook field by this name"
                );
                continue;
            };
            let field_id: i64 = field_id.parse().map_err(|_| {
                ConnectorError::InvalidResponse(format!(
                    "webhook fieldID {field_id:?} is not an integer"
                ))
            })?;
            let body = json!({
                "FieldID": field_id,
                "IsSubscribedField": subscribe,
                "IsDisplayAlwaysField": !subscribe,
            });
            self.call(
                Method::POST,
                &format!("{entity}/{webhook_id}/Fields"),
                Some(&body),
            )
            .await?;
        }
        if let Some(resource) = self.settings.webhook_excluded_resource_id {
            let body = json!({"ResourceID": resource});
            self.call(
                Method::POST,
                &format!("{entity}/{webhook_id}/ExcludedResources"),
                Some(&body),
            )
            .await?;
        }
        tracing::info!(entity, id = webhook_id, "Autotask webhook registered");
        Ok(())
    }
}
