//! Registering the TicketWebhook and TicketNoteWebhook, convergently.
//!
//! Autotask builds a webhook in steps: the webhook, then one call per field,
//! then one per excluded resource. Any step can fail (a 503, a crash), so
//! registration never trusts a webhook it finds: it compares the fields and
//! excluded resources registered with the wanted set and adds (or corrects)
//! only what is missing, and reactivates a webhook Autotask deactivated.
//! Calling it again after any failure finishes the job without creating a
//! second webhook. When everything is in place its only write is the
//! webhook's `SecretKey` (Autotask never returns it, so it is set on every
//! run: a changed `webhook_secret` reaches the vendor). A field the
//! webhook's events must always carry that Autotask does not offer is an
//! error (retried) and the webhook is not switched on. Wrong field flags are
//! corrected with a PATCH of the field child (`…/{id}/Fields` supports PATCH
//! in the vendor's spec).

use http::Method;
use psa_connector::ConnectorError;
use serde_json::{json, Value};

use crate::client::{AutotaskConnector, MAX_RECORDS};
use crate::hooks::get_ci;
use crate::wire::ItemIdResponse;

/// Ticket fields whose change announces a ticket.
const TICKET_SUBSCRIBED: &[&str] = &[
    "status",
    "priority",
    "title",
    "queueID",
    "description",
    "assignedResourceID",
    "issueType",
    "subIssueType",
];
/// Shown in every ticket payload.
const TICKET_ALWAYS: &[&str] = &["ticketNumber"];
/// Note fields subscribed (creation events carry them).
const NOTE_SUBSCRIBED: &[&str] = &["description", "publish"];
/// Shown in every note payload: the parent ticket.
const NOTE_ALWAYS: &[&str] = &["ticketID"];

/// One webhook kind: its entity, the entity naming its field ids, and the fields.
pub(crate) struct HookSpec {
    pub(crate) entity: &'static str,
    pub(crate) fields_entity: &'static str,
    pub(crate) subscribed: &'static [&'static str],
    pub(crate) always: &'static [&'static str],
}

pub(crate) const TICKET_HOOK: HookSpec = HookSpec {
    entity: "TicketWebhooks",
    fields_entity: "TicketWebhookFields",
    subscribed: TICKET_SUBSCRIBED,
    always: TICKET_ALWAYS,
};

pub(crate) const NOTE_HOOK: HookSpec = HookSpec {
    entity: "TicketNoteWebhooks",
    fields_entity: "TicketNoteWebhookFields",
    subscribed: NOTE_SUBSCRIBED,
    always: NOTE_ALWAYS,
};

/// A field child as registered.
struct Registered {
    id: i64,
    field_id: i64,
    subscribed: bool,
    always: bool,
}

pub(crate) fn flag(item: &serde_json::Map<String, Value>, key: &str) -> bool {
    get_ci(item, key).and_then(Value::as_bool).unwrap_or(false)
}

pub(crate) fn int(item: &serde_json::Map<String, Value>, key: &str) -> Option<i64> {
    match get_ci(item, key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl AutotaskConnector {
    pub(crate) async fn register(&self, url: &str) -> Result<(), ConnectorError> {
        let secret = self.settings.webhook_secret.clone().ok_or_else(|| {
            ConnectorError::Config(
                "webhook_secret is required to register Autotask webhooks".into(),
            )
        })?;
        url::Url::parse(url)
            .map_err(|e| ConnectorError::Config(format!("webhook URL {url:?}: {e}")))?;
        self.register_one(&TICKET_HOOK, url, &secret).await?;
        self.register_one(&NOTE_HOOK, url, &secret).await
    }

    async fn register_one(
        &self,
        spec: &HookSpec,
        url: &str,
        secret: &str,
    ) -> Result<(), ConnectorError> {
        let entity = spec.entity;
        // Fields first: a kind Autotask cannot build completely is neither
        // created nor switched on.
        let wanted = self.wanted_fields(spec).await?;
        // A new webhook is created inactive and switched on only once its
        // fields are complete: a half-built webhook (a crash or a 503
        // between the calls) never sends events missing fields, such as a
        // note event without its ticketID.
        let (webhook_id, switched_on) = match self.existing_hook(entity, url).await? {
            Some((id, switched_on)) => {
                // Autotask never returns a webhook's SecretKey, so whether it
                // is the configured one cannot be read: set it on every run
                // (idempotent), or a changed webhook_secret would leave the
                // webhook signing with the old one and every event refused.
                let body = json!({ "id": id, "SecretKey": secret });
                self.call(Method::PATCH, entity, Some(&body)).await?;
                (id, switched_on)
            }
            None => {
                let body = json!({
                    "IsActive": false,
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
                tracing::info!(
                    entity,
                    id = created.item_id,
                    "Autotask webhook created (inactive until complete)"
                );
                (created.item_id, false)
            }
        };
        let mut added = self.complete_fields(entity, &wanted, webhook_id).await?
            + self.complete_exclusions(entity, webhook_id).await?;
        if !switched_on {
            let body = json!({
                "id": webhook_id,
                "IsActive": true,
                "IsSubscribedToCreateEvents": true,
                "IsSubscribedToUpdateEvents": true,
            });
            self.call(Method::PATCH, entity, Some(&body)).await?;
            added += 1;
        }
        if added == 0 {
            tracing::info!(
                entity,
                id = webhook_id,
                "Autotask webhook already registered"
            );
        } else {
            tracing::info!(
                entity,
                id = webhook_id,
                changes = added,
                "Autotask webhook registered"
            );
        }
        Ok(())
    }

    /// The webhook already pointing at `url` (the oldest, if several do),
    /// and whether it is active and subscribed to creates and updates (if
    /// not, it is switched on once its fields are complete).
    async fn existing_hook(
        &self,
        entity: &str,
        url: &str,
    ) -> Result<Option<(i64, bool)>, ConnectorError> {
        let query = json!({
            "filter": [{"op": "eq", "field": "webhookUrl", "value": url}],
            "MaxRecords": MAX_RECORDS,
        });
        let existing = self
            .query_all(&format!("{entity}/query"), Some(&query))
            .await?;
        let mut hooks: Vec<(i64, &serde_json::Map<String, Value>)> = existing
            .iter()
            .filter_map(Value::as_object)
            .filter(|w| get_ci(w, "webhookUrl").and_then(Value::as_str) == Some(url))
            .filter_map(|w| Some((int(w, "id")?, w)))
            .collect();
        hooks.sort_by_key(|h| h.0);
        let Some((id, hook)) = hooks.first().copied() else {
            return Ok(None);
        };
        if hooks.len() > 1 {
            tracing::warn!(
                entity,
                id,
                count = hooks.len(),
                "several Autotask webhooks point at this URL; completing the oldest"
            );
        }
        let wanted = [
            "isActive",
            "isSubscribedToCreateEvents",
            "isSubscribedToUpdateEvents",
        ];
        let switched_on = wanted.iter().all(|k| flag(hook, k));
        if !switched_on {
            tracing::warn!(
                entity,
                id,
                "Autotask webhook inactive or unsubscribed; completing it, then turning it on"
            );
        }
        Ok(Some((id, switched_on)))
    }

    /// Adds the wanted fields the webhook lacks and corrects those registered
    /// with the wrong flags; returns how many calls changed something.
    async fn complete_fields(
        &self,
        entity: &str,
        wanted: &[(&'static str, i64, bool)],
        webhook_id: i64,
    ) -> Result<usize, ConnectorError> {
        let path = format!("{entity}/{webhook_id}/Fields");
        let registered: Vec<Registered> = self
            .query_all(&path, None)
            .await?
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|f| {
                Some(Registered {
                    id: int(f, "id")?,
                    field_id: int(f, "fieldID")?,
                    subscribed: flag(f, "isSubscribedField"),
                    always: flag(f, "isDisplayAlwaysField"),
                })
            })
            .collect();
        let mut changes = 0;
        for &(name, field_id, subscribe) in wanted {
            match registered.iter().find(|r| r.field_id == field_id) {
                None => {
                    let body = json!({
                        "webhookID": webhook_id,
                        "FieldID": field_id,
                        "IsSubscribedField": subscribe,
                        "IsDisplayAlwaysField": !subscribe,
                    });
                    self.call(Method::POST, &path, Some(&body)).await?;
                    changes += 1;
                }
                Some(r) if (r.subscribed, r.always) != (subscribe, !subscribe) => {
                    tracing::warn!(
                        entity,
                        field = name,
                        "Autotask webhook field has the wrong flags; correcting it"
                    );
                    let body = json!({
                        "id": r.id,
                        "webhookID": webhook_id,
                        "IsSubscribedField": subscribe,
                        "IsDisplayAlwaysField": !subscribe,
                    });
                    self.call(Method::PATCH, &path, Some(&body)).await?;
                    changes += 1;
                }
                Some(_) => {}
            }
        }
        Ok(changes)
    }

    /// The wanted fields as (name, field id, subscribed), from the field
    /// list Autotask offers for this webhook kind. A display-always field
    /// the list lacks (such as a note's `ticketID`) is an error: every event
    /// without it would be unusable, so the webhook must not be switched on
    /// (registration is retried). A subscribed field it lacks is skipped with
    /// a warning, as long as one subscribed field remains.
    pub(crate) async fn wanted_fields(
        &self,
        spec: &HookSpec,
    ) -> Result<Vec<(&'static str, i64, bool)>, ConnectorError> {
        let entity = spec.entity;
        let lists = self.entity_lists(spec.fields_entity).await?;
        let field_ids = lists.get("fieldID");
        let mut wanted = Vec::new();
        let mut missing_always = Vec::new();
        let requested = spec
            .subscribed
            .iter()
            .map(|f| (*f, true))
            .chain(spec.always.iter().map(|f| (*f, false)));
        for (name, subscribe) in requested {
            let Some(field_id) = field_ids.value(name) else {
                if subscribe {
                    tracing::warn!(
                        entity,
                        field = name,
                        "Autotask offers no webhook field by this name; its changes reach the bridge by polling only"
                    );
                } else {
                    missing_always.push(name);
                }
                continue;
            };
            let field_id: i64 = field_id.parse().map_err(|_| {
                ConnectorError::InvalidResponse(format!(
                    "webhook fieldID {field_id:?} is not an integer"
                ))
            })?;
            wanted.push((name, field_id, subscribe));
        }
        if !missing_always.is_empty() {
            return Err(ConnectorError::InvalidResponse(format!(
                "{} offers no webhook field {}, which every event must carry; \
                 so the webhook is not switched on (polling covers changes meanwhile)",
                spec.fields_entity,
                missing_always.join(", ")
            )));
        }
        if !wanted.iter().any(|w| w.2) {
            return Err(ConnectorError::InvalidResponse(format!(
                "{} offers none of the fields {} to subscribe to; \
                 so the webhook is not switched on (polling covers changes meanwhile)",
                spec.fields_entity,
                spec.subscribed.join(", ")
            )));
        }
        Ok(wanted)
    }

    /// Excludes the bridge's own resource (no echoes) unless it already is.
    async fn complete_exclusions(
        &self,
        entity: &str,
        webhook_id: i64,
    ) -> Result<usize, ConnectorError> {
        let resource = self.excluded_resource_id().await?;
        let path = format!("{entity}/{webhook_id}/ExcludedResources");
        let excluded = self.query_all(&path, None).await?;
        let present = excluded
            .iter()
            .filter_map(Value::as_object)
            .any(|e| int(e, "resourceID") == Some(resource));
        if present {
            return Ok(0);
        }
        let body = json!({"webhookID": webhook_id, "ResourceID": resource});
        self.call(Method::POST, &path, Some(&body)).await?;
        Ok(1)
    }
}
