//! What Autotask has registered for the bridge's URL (`webhook_status`),
//! removing it (`remove_webhook`), and the API user's resource id the
//! webhooks exclude.
//!
//! Status reads every TicketWebhook and TicketNoteWebhook with their Fields
//! and ExcludedResources and reports, per kind, what `register` would
//! repair: a kind missing, a webhook Autotask deactivated (after 25
//! consecutive failed deliveries) or never switched on, a wanted field
//! missing or with the wrong flags, the bridge's resource not excluded, a
//! second webhook for the same URL, or a `psa-bridge` webhook pointing at
//! another URL.

use std::sync::atomic::Ordering;

use http::Method;
use psa_connector::{ConnectorError, VendorHook, WebhookStatus};
use serde_json::{json, Map, Value};

use crate::client::{AutotaskConnector, MAX_RECORDS};
use crate::hooks::get_ci;
use crate::register::{flag, int, HookSpec, NOTE_HOOK, TICKET_HOOK};

/// A listed record: its id and fields.
type Record<'a> = (i64, &'a Map<String, Value>);

/// The objects of a listing, or a clear error naming what was malformed.
fn objects<'a>(items: &'a [Value], what: &str) -> Result<Vec<Record<'a>>, ConnectorError> {
    items
        .iter()
        .map(|item| {
            let object = item.as_object().ok_or_else(|| {
                ConnectorError::InvalidResponse(format!("{what}: an item is not an object: {item}"))
            })?;
            let id = int(object, "id").ok_or_else(|| {
                ConnectorError::InvalidResponse(format!(
                    "{what}: an item has no integer id: {item}"
                ))
            })?;
            Ok((id, object))
        })
        .collect()
}

/// Names the endpoint in an unreadable answer's error.
fn naming(what: &str) -> impl FnOnce(ConnectorError) -> ConnectorError + '_ {
    move |e| match e {
        ConnectorError::InvalidResponse(m) => {
            ConnectorError::InvalidResponse(format!("{what}: {m}"))
        }
        other => other,
    }
}

fn text(object: &Map<String, Value>, key: &str) -> String {
    get_ci(object, key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl AutotaskConnector {
    /// The resource the webhooks exclude: `webhook_excluded_resource_id`,
    /// else the API user's own resource, found by its user name.
    pub(crate) async fn excluded_resource_id(&self) -> Result<i64, ConnectorError> {
        if let Some(id) = self.settings.webhook_excluded_resource_id {
            return Ok(id);
        }
        self.excluded_resource
            .get_or_try_init(|| async {
                let query = json!({
                    "filter": [{"op": "eq", "field": "userName", "value": self.settings.username}],
                    "MaxRecords": MAX_RECORDS,
                });
                let found = self
                    .query_all("Resources/query", Some(&query))
                    .await
                    .map_err(naming("Resources/query"))?;
                let found = objects(&found, "Resources/query")?;
                let user = &self.settings.username;
                let ids: Vec<i64> = found
                    .iter()
                    .filter(|(_, r)| text(r, "userName").eq_ignore_ascii_case(user))
                    .map(|(id, _)| *id)
                    .collect();
                match ids.as_slice() {
                    [id] => Ok(*id),
                    [] => Err(ConnectorError::Config(
                        "no Autotask resource has the API user's user name, so the webhooks cannot \
                         exclude the bridge's own changes; set webhook_excluded_resource_id"
                            .into(),
                    )),
                    _ => Err(ConnectorError::Config(format!(
                        "{} Autotask resources have the API user's user name; set webhook_excluded_resource_id",
                        ids.len()
                    ))),
                }
            })
            .await
            .copied()
    }

    pub(crate) async fn hook_status(&self, url: &str) -> Result<WebhookStatus, ConnectorError> {
        let mut status = WebhookStatus {
            url: url.to_string(),
            supported: true,
            ..WebhookStatus::default()
        };
        let resource = self.excluded_resource_id().await?;
        for spec in [&TICKET_HOOK, &NOTE_HOOK] {
            self.kind_status(spec, url, resource, &mut status).await?;
        }
        if self.deactivated.load(Ordering::Relaxed) && status.healthy() {
            // The notice is stale: the hook was switched on again since.
            self.deactivated.store(false, Ordering::Relaxed);
        }
        Ok(status)
    }

    async fn kind_status(
        &self,
        spec: &HookSpec,
        url: &str,
        resource: i64,
        status: &mut WebhookStatus,
    ) -> Result<(), ConnectorError> {
        let entity = spec.entity;
        let kind = if entity == TICKET_HOOK.entity {
            "ticket"
        } else {
            "note"
        };
        let all =
            json!({"filter": [{"op": "gt", "field": "id", "value": 0}], "MaxRecords": MAX_RECORDS});
        let what = format!("{entity}/query");
        let listed = self
            .query_all(&what, Some(&all))
            .await
            .map_err(naming(&what))?;
        let hooks = objects(&listed, &what)?;
        let lists = self.entity_lists(spec.fields_entity).await?;
        let field_ids = lists.get("fieldID");
        let wanted = self.wanted_fields(spec).await?;
        let mut mine = 0;
        for (id, hook) in &hooks {
            let hook_url = text(hook, "webhookUrl");
            if hook_url != url {
                if text(hook, "name") == "psa-bridge" {
                    status.problems.push(format!(
                        "{entity} {id} is named psa-bridge but points at {hook_url}"
                    ));
                }
                continue;
            }
            mine += 1;
            let fields_path = format!("{entity}/{id}/Fields");
            let fields = self
                .query_all(&fields_path, None)
                .await
                .map_err(naming(&fields_path))?;
            let fields = objects(&fields, &fields_path)?;
            let excluded_path = format!("{entity}/{id}/ExcludedResources");
            let excluded = self
                .query_all(&excluded_path, None)
                .await
                .map_err(naming(&excluded_path))?;
            let excluded = objects(&excluded, &excluded_path)?;
            let mut events = Vec::new();
            for (key, event) in [
                ("isSubscribedToCreateEvents", "create"),
                ("isSubscribedToUpdateEvents", "update"),
                ("isSubscribedToDeleteEvents", "delete"),
            ] {
                if flag(hook, key) {
                    events.push(event.to_string());
                }
            }
            let active = flag(hook, "isActive");
            if !active {
                status.problems.push(format!("{entity} {id} is inactive"));
            }
            for event in ["create", "update"] {
                if !events.iter().any(|e| e == event) {
                    status
                        .problems
                        .push(format!("{entity} {id} is not subscribed to {event} events"));
                }
            }
            let mut names = Vec::new();
            for (_, f) in &fields {
                let field_id = int(f, "fieldID").unwrap_or_default().to_string();
                let name = field_ids.label(&field_id).unwrap_or(&field_id).to_string();
                names.push(name);
            }
            for (name, field_id, subscribe) in &wanted {
                let found = fields
                    .iter()
                    .find(|(_, f)| int(f, "fieldID") == Some(*field_id));
                match found {
                    None => status
                        .problems
                        .push(format!("{entity} {id} lacks the field {name}")),
                    Some((_, f))
                        if (
                            flag(f, "isSubscribedField"),
                            flag(f, "isDisplayAlwaysField"),
                        ) != (*subscribe, !*subscribe) =>
                    {
                        status.problems.push(format!(
                            "{entity} {id} has the field {name} with the wrong flags"
                        ))
                    }
                    Some(_) => {}
                }
            }
            let excluded: Vec<i64> = excluded
                .iter()
                .filter_map(|(_, e)| int(e, "resourceID"))
                .collect();
            if !excluded.contains(&resource) {
                status.problems.push(format!(
                    "{entity} {id} does not exclude the bridge's resource {resource} (its own changes would echo)"
                ));
            }
            status.hooks.push(VendorHook {
                kind: kind.to_string(),
                id: id.to_string(),
                url: hook_url,
                active,
                events,
                fields: names,
                excluded_resources: excluded.iter().map(i64::to_string).collect(),
            });
        }
        match mine {
            0 => status
                .problems
                .push(format!("no {entity} webhook points at {url}")),
            1 => {}
            n => status.problems.push(format!(
                "{n} {entity} webhooks point at {url}; one is enough"
            )),
        }
        Ok(())
    }

    /// Deletes every ticket and note webhook pointing at `url`.
    pub(crate) async fn remove_hooks(&self, url: &str) -> Result<usize, ConnectorError> {
        let mut removed = 0;
        for spec in [&TICKET_HOOK, &NOTE_HOOK] {
            let entity = spec.entity;
            let query = json!({
                "filter": [{"op": "eq", "field": "webhookUrl", "value": url}],
                "MaxRecords": MAX_RECORDS,
            });
            let listed = self
                .query_all(&format!("{entity}/query"), Some(&query))
                .await?;
            for (id, hook) in objects(&listed, &format!("{entity}/query"))? {
                if text(hook, "webhookUrl") != url {
                    continue;
                }
                self.call(Method::DELETE, &format!("{entity}/{id}"), None)
                    .await?;
                tracing::info!(entity, id, "Autotask webhook removed");
                removed += 1;
            }
        }
        Ok(removed)
    }
}
