//! Simulated TicketWebhooks / TicketNoteWebhooks: registration, with Fields,
//! ExcludedResources and UdfFields children (the events a change raises are
//! in `events.rs`).

use serde_json::{json, Map, Value};

use super::state::{
    fields_json, get_ci, hook_field_id, hook_field_name, hook_json, Data, HookField, HookKind,
    HookRec, PickValue, NOTE_FIELDS, TICKET_FIELDS,
};
use super::ApiError;

fn bool_of(body: &Map<String, Value>, key: &str, default: bool) -> Result<bool, ApiError> {
    match get_ci(body, key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(ApiError::invalid(format!(
            "Could not convert {other} to a boolean. Path '{key}'."
        ))),
    }
}

fn str_of(body: &Map<String, Value>, key: &str) -> Option<String> {
    get_ci(body, key)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn int_of(body: &Map<String, Value>, key: &str) -> Option<i64> {
    match get_ci(body, key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A child body may name its webhook (`webhookID`, as public clients send
/// it); when it does, it must be the webhook in the URL.
fn check_parent(body: &Map<String, Value>, hook_id: i64) -> Result<(), ApiError> {
    match get_ci(body, "webhookID") {
        None | Some(Value::Null) => Ok(()),
        Some(given) => match int_of(body, "webhookID") {
            Some(id) if id == hook_id => Ok(()),
            _ => Err(ApiError::invalid(format!(
                "The webhookID {given} in the body does not match the parent id {hook_id} in the URL."
            ))),
        },
    }
}

/// `{Kind}WebhookFields/entityInformation/fields`: the fieldID picklist names
/// the entity's fields (but those `hidden` for `kind`).
pub(crate) fn hook_fields_entity(kind: HookKind, hidden: &[(HookKind, String)]) -> Value {
    let fields: &[super::state::FieldMeta] = &[
        ("id", "long", true, true, false),
        ("webhookID", "integer", true, false, false),
        ("fieldID", "integer", true, false, true),
        ("isSubscribedField", "boolean", true, false, false),
        ("isDisplayAlwaysField", "boolean", true, false, false),
    ];
    let entity = match kind {
        HookKind::Ticket => TICKET_FIELDS,
        HookKind::Note => NOTE_FIELDS,
    };
    fields_json(fields, |_| {
        entity
            .iter()
            .filter(|f| {
                !hidden
                    .iter()
                    .any(|(k, name)| *k == kind && name.eq_ignore_ascii_case(f.0))
            })
            .filter_map(|f| hook_field_id(kind, f.0).map(|id| PickValue::new(id, f.0)))
            .collect()
    })
}

impl Data {
    pub(crate) fn create_hook(
        &mut self,
        kind: HookKind,
        body: &Map<String, Value>,
        owner: i64,
    ) -> Result<i64, ApiError> {
        let mut missing = Vec::new();
        for key in [
            "Name",
            "WebhookUrl",
            "DeactivationUrl",
            "SecretKey",
            "IsActive",
        ] {
            if get_ci(body, key).is_none_or(Value::is_null) {
                missing.push(key);
            }
        }
        if !missing.is_empty() {
            return Err(ApiError::invalid(format!(
                "Missing required field(s): {}.",
                missing.join(", ")
            )));
        }
        let secret = str_of(body, "SecretKey").unwrap_or_default();
        if secret.is_empty() || secret.chars().count() > 64 {
            return Err(ApiError::invalid(
                "SecretKey must be between 1 and 64 characters.",
            ));
        }
        let url = str_of(body, "WebhookUrl").unwrap_or_default();
        let deactivation_url = str_of(body, "DeactivationUrl").unwrap_or_default();
        for (key, value) in [("WebhookUrl", &url), ("DeactivationUrl", &deactivation_url)] {
            if url::Url::parse(value).is_err() {
                return Err(ApiError::invalid(format!("{key} is not a valid URL.")));
            }
        }
        self.next_hook += 1;
        let id = self.next_hook;
        self.hooks.insert(
            id,
            HookRec {
                id,
                kind,
                guid: uuid::Uuid::new_v4().to_string(),
                name: str_of(body, "Name").unwrap_or_default(),
                url,
                deactivation_url,
                secret,
                active: bool_of(body, "IsActive", true)?,
                on_create: bool_of(body, "IsSubscribedToCreateEvents", false)?,
                on_update: bool_of(body, "IsSubscribedToUpdateEvents", false)?,
                on_delete: bool_of(body, "IsSubscribedToDeleteEvents", false)?,
                owner_resource_id: owner,
                notification_email: str_of(body, "NotificationEmailAddress"),
                threshold_notification: bool_of(body, "SendThresholdExceededNotification", false)?,
                fields: Vec::new(),
                excluded: Vec::new(),
                udf_fields: Vec::new(),
                sequence: 0,
                failures: 0,
            },
        );
        Ok(id)
    }

    /// The webhook `id`, or Autotask's refusal for `action` on a missing record.
    fn hook_mut(
        &mut self,
        kind: HookKind,
        id: i64,
        action: &str,
    ) -> Result<&mut HookRec, ApiError> {
        self.hooks
            .get_mut(&id)
            .filter(|h| h.kind == kind)
            .ok_or_else(|| ApiError::no_record(action))
    }

    /// `PATCH /{Kind}Webhooks`: IsActive, the subscriptions, the URL and the
    /// SecretKey (1 to 64 characters, as on creation; never returned by a read).
    pub(crate) fn update_hook(
        &mut self,
        kind: HookKind,
        body: &Map<String, Value>,
    ) -> Result<i64, ApiError> {
        let id = int_of(body, "id")
            .ok_or_else(|| ApiError::invalid("The id of the entity to update is required."))?;
        let secret = match get_ci(body, "SecretKey") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 64 => Some(s.clone()),
            Some(_) => {
                return Err(ApiError::invalid(
                    "SecretKey must be between 1 and 64 characters.",
                ))
            }
        };
        let hook = self.hook_mut(kind, id, "update")?;
        if let Some(secret) = secret {
            hook.secret = secret;
        }
        hook.active = bool_of(body, "IsActive", hook.active)?;
        hook.on_create = bool_of(body, "IsSubscribedToCreateEvents", hook.on_create)?;
        hook.on_update = bool_of(body, "IsSubscribedToUpdateEvents", hook.on_update)?;
        hook.on_delete = bool_of(body, "IsSubscribedToDeleteEvents", hook.on_delete)?;
        if let Some(url) = str_of(body, "WebhookUrl") {
            hook.url = url;
        }
        Ok(id)
    }

    pub(crate) fn delete_hook(&mut self, kind: HookKind, id: i64) -> Result<i64, ApiError> {
        self.hook_mut(kind, id, "delete")?;
        self.hooks.remove(&id);
        Ok(id)
    }

    pub(crate) fn add_hook_child(
        &mut self,
        kind: HookKind,
        hook_id: i64,
        child: &str,
        body: &Map<String, Value>,
    ) -> Result<i64, ApiError> {
        check_parent(body, hook_id)?;
        self.next_child += 1;
        let child_id = self.next_child;
        let udf_count = self.tenant.udfs.len() as i64;
        let resources_known = |r: i64| self.tenant.resources.contains_key(&r);
        let resource = int_of(body, "ResourceID");
        let resource_ok = resource.is_some_and(resources_known);
        let hook = self.hook_mut(kind, hook_id, "create")?;
        match child {
            "fields" => {
                let field_id = int_of(body, "FieldID")
                    .filter(|f| hook_field_name(kind, *f).is_some())
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "FieldID is missing or not a valid field of this webhook's entity.",
                        )
                    })?;
                if hook.fields.iter().any(|f| f.field_id == field_id) {
                    return Err(ApiError::invalid(format!(
                        "Field {field_id} is already part of this webhook."
                    )));
                }
                hook.fields.push(HookField {
                    id: child_id,
                    field_id,
                    subscribed: bool_of(body, "IsSubscribedField", false)?,
                    always: bool_of(body, "IsDisplayAlwaysField", false)?,
                });
            }
            "excludedresources" => {
                let resource = resource.filter(|_| resource_ok).ok_or_else(|| {
                    ApiError::invalid("ResourceID is missing or not a valid Resource.")
                })?;
                hook.excluded.push((child_id, resource));
            }
            _ => {
                let udf = int_of(body, "UdfFieldID")
                    .filter(|u| (1..=udf_count).contains(u))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "UdfFieldID is missing or not a valid user-defined field.",
                        )
                    })?;
                hook.udf_fields.push((
                    child_id,
                    udf,
                    bool_of(body, "IsSubscribedField", false)?,
                    bool_of(body, "IsDisplayAlwaysField", false)?,
                ));
            }
        }
        Ok(child_id)
    }

    /// `PATCH /{Kind}Webhooks/{id}/Fields`: a field's flags, by the child's `id`.
    pub(crate) fn update_hook_field(
        &mut self,
        kind: HookKind,
        hook_id: i64,
        body: &Map<String, Value>,
    ) -> Result<i64, ApiError> {
        check_parent(body, hook_id)?;
        let child = int_of(body, "id")
            .ok_or_else(|| ApiError::invalid("The id of the entity to update is required."))?;
        let hook = self.hook_mut(kind, hook_id, "update")?;
        let field = hook
            .fields
            .iter_mut()
            .find(|f| f.id == child)
            .ok_or_else(|| ApiError::no_record("update"))?;
        field.subscribed = bool_of(body, "IsSubscribedField", field.subscribed)?;
        field.always = bool_of(body, "IsDisplayAlwaysField", field.always)?;
        Ok(child)
    }

    pub(crate) fn hook_children(&self, kind: HookKind, hook_id: i64, child: &str) -> Vec<Value> {
        let Some(hook) = self.hooks.get(&hook_id).filter(|h| h.kind == kind) else {
            return Vec::new();
        };
        match child {
            "fields" => hook
                .fields
                .iter()
                .map(|f| json!({"id": f.id, "webhookID": hook.id, "fieldID": f.field_id, "isSubscribedField": f.subscribed, "isDisplayAlwaysField": f.always}))
                .collect(),
            "excludedresources" => hook
                .excluded
                .iter()
                .map(|(id, r)| json!({"id": id, "webhookID": hook.id, "resourceID": r}))
                .collect(),
            _ => hook
                .udf_fields
                .iter()
                .map(|(id, u, s, a)| json!({"id": id, "webhookID": hook.id, "udfFieldID": u, "isSubscribedField": s, "isDisplayAlwaysField": a}))
                .collect(),
        }
    }

    pub(crate) fn hooks_json(&self, kind: HookKind) -> Vec<Value> {
        self.hooks
            .values()
            .filter(|h| h.kind == kind)
            .map(hook_json)
            .collect()
    }
}
