//! The simulator's tenant: picklists, companies, resources, UDF definitions,
//! tickets, notes and webhooks, with their JSON (camelCase, as the live API
//! answers) and field metadata.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::resources::ResourceRec;
use super::SimApiUser;

/// One picklist entry.
#[derive(Clone, Debug)]
pub(crate) struct PickValue {
    pub value: i64,
    pub label: String,
    pub active: bool,
    pub default: bool,
    pub system: bool,
}

impl PickValue {
    pub fn new(value: i64, label: &str) -> Self {
        Self {
            value,
            label: label.to_string(),
            active: true,
            default: false,
            system: false,
        }
    }
}

pub(crate) fn label_of(list: &[PickValue], value: i64) -> Option<&str> {
    list.iter()
        .find(|p| p.value == value)
        .map(|p| p.label.as_str())
}

pub(crate) fn value_of(list: &[PickValue], label: &str) -> Option<i64> {
    list.iter()
        .find(|p| p.active && p.label.eq_ignore_ascii_case(label))
        .map(|p| p.value)
}

/// Tenant configuration.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tenant {
    pub statuses: Vec<PickValue>,
    pub priorities: Vec<PickValue>,
    pub queues: Vec<PickValue>,
    pub issue_types: Vec<PickValue>,
    pub sub_issue_types: Vec<PickValue>,
    pub ticket_types: Vec<PickValue>,
    pub sources: Vec<PickValue>,
    pub note_types: Vec<PickValue>,
    pub publishes: Vec<PickValue>,
    pub companies: BTreeMap<i64, String>,
    /// Resources by id (API users included).
    pub resources: BTreeMap<i64, ResourceRec>,
    /// Ticket UDF names.
    pub udfs: Vec<String>,
}

impl Tenant {
    /// A ticket picklist by its field name.
    pub fn ticket_list(&self, field: &str) -> Option<&[PickValue]> {
        Some(match field {
            "status" => &self.statuses,
            "priority" => &self.priorities,
            "queueID" => &self.queues,
            "issueType" => &self.issue_types,
            "subIssueType" => &self.sub_issue_types,
            "ticketType" => &self.ticket_types,
            "source" => &self.sources,
            _ => return None,
        })
    }

    /// The `publish` value a person in the UI picks for a public or an
    /// internal note (the seeded labels, which are the connector's default
    /// `public_publish_label` / `internal_publish_label`).
    pub fn publish_for(&self, internal: bool) -> i64 {
        let (label, fallback) = if internal {
            (INTERNAL_PUBLISH, 2)
        } else {
            (PUBLIC_PUBLISH, 1)
        };
        value_of(&self.publishes, label).unwrap_or(fallback)
    }

    /// Whether a note with `publish` is internal: anything but the public value.
    pub fn is_internal(&self, publish: i64) -> bool {
        publish != self.publish_for(false)
    }
}

/// The `publish` label of notes every Autotask user (and the customer) sees.
pub(crate) const PUBLIC_PUBLISH: &str = "All Autotask Users";
/// The `publish` label of internal notes.
pub(crate) const INTERNAL_PUBLISH: &str = "Internal Project Team";

#[derive(Clone, Debug)]
pub(crate) struct TicketRec {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub description: Option<String>,
    pub status: i64,
    pub priority: i64,
    pub queue_id: Option<i64>,
    pub company_id: i64,
    pub contact_id: Option<i64>,
    pub assigned_resource_id: Option<i64>,
    pub assigned_resource_role_id: Option<i64>,
    pub ticket_type: Option<i64>,
    pub source: Option<i64>,
    pub issue_type: Option<i64>,
    pub sub_issue_type: Option<i64>,
    pub due: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    pub creator_resource_id: i64,
    pub last_activity: DateTime<Utc>,
    pub last_tracked: DateTime<Utc>,
    pub completed: Option<DateTime<Utc>>,
    pub udfs: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub(crate) struct NoteRec {
    pub id: i64,
    pub ticket_id: i64,
    pub title: Option<String>,
    pub description: String,
    pub note_type: i64,
    pub publish: i64,
    pub created: DateTime<Utc>,
    pub creator_resource_id: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HookKind {
    Ticket,
    Note,
}

#[derive(Clone, Debug)]
pub(crate) struct HookField {
    pub id: i64,
    pub field_id: i64,
    pub subscribed: bool,
    pub always: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct HookRec {
    pub id: i64,
    pub kind: HookKind,
    pub guid: String,
    pub name: String,
    pub url: String,
    pub deactivation_url: String,
    pub secret: String,
    pub active: bool,
    pub on_create: bool,
    pub on_update: bool,
    pub on_delete: bool,
    pub owner_resource_id: i64,
    pub notification_email: Option<String>,
    pub threshold_notification: bool,
    pub fields: Vec<HookField>,
    /// (child id, resource id)
    pub excluded: Vec<(i64, i64)>,
    /// (child id, udf field id, subscribed, display always)
    pub udf_fields: Vec<(i64, i64, bool, bool)>,
    pub sequence: u64,
    /// Consecutive failed deliveries (Autotask deactivates at 25).
    pub failures: u32,
}

impl HookRec {
    pub fn is_ready(&self) -> bool {
        self.fields.iter().any(|f| f.subscribed) || self.udf_fields.iter().any(|u| u.2)
    }
}

/// Everything the simulator stores.
#[derive(Debug, Default)]
pub(crate) struct Data {
    pub tenant: Tenant,
    pub api_users: Vec<SimApiUser>,
    pub tickets: BTreeMap<i64, TicketRec>,
    pub notes: BTreeMap<i64, NoteRec>,
    pub hooks: BTreeMap<i64, HookRec>,
    pub next_ticket: i64,
    pub next_note: i64,
    pub next_hook: i64,
    pub next_child: i64,
    pub numbers_per_day: BTreeMap<String, u32>,
    pub webhooks_enabled: bool,
    /// Whether a new note moves its ticket's lastTrackedModificationDateTime
    /// (unconfirmed for the real API; lastActivityDate always moves).
    pub notes_touch_tracked: bool,
    /// Entity fields the `{Kind}WebhookFields` field list leaves out
    /// ([`super::AutotaskSim::hide_webhook_field`]).
    pub hidden_hook_fields: Vec<(HookKind, String)>,
    /// The tenant's requests per rolling hour (`ThresholdInformation`);
    /// calls beyond it are refused with 429.
    pub request_threshold: u64,
    /// Requests other integrations made, counted in the hour (a knob).
    pub external_requests: u64,
    /// Consecutive failed deliveries after which a webhook is deactivated.
    pub hook_failure_limit: u32,
}

/// Now, truncated to the milliseconds the API shows.
pub(crate) fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

pub(crate) fn fmt_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn opt_time(t: &Option<DateTime<Utc>>) -> Value {
    t.as_ref()
        .map(|t| Value::from(fmt_time(t)))
        .unwrap_or(Value::Null)
}

/// (name, dataType, required, read-only, picklist)
pub(crate) type FieldMeta = (&'static str, &'static str, bool, bool, bool);

pub(crate) const TICKET_FIELDS: &[FieldMeta] = &[
    ("id", "long", true, true, false),
    ("ticketNumber", "string", false, true, false),
    ("title", "string", true, false, false),
    ("description", "string", false, false, false),
    ("status", "integer", true, false, true),
    ("priority", "integer", true, false, true),
    ("queueID", "integer", false, false, true),
    ("companyID", "integer", true, false, false),
    ("contactID", "integer", false, false, false),
    ("assignedResourceID", "integer", false, false, false),
    ("assignedResourceRoleID", "integer", false, false, false),
    ("ticketType", "integer", false, false, true),
    ("source", "integer", false, false, true),
    ("dueDateTime", "datetime", false, false, false),
    ("createDate", "datetime", false, true, false),
    ("creatorResourceID", "integer", false, true, false),
    ("lastActivityDate", "datetime", false, true, false),
    (
        "lastTrackedModificationDateTime",
        "datetime",
        false,
        true,
        false,
    ),
    ("completedDate", "datetime", false, true, false),
    ("issueType", "integer", false, false, true),
    ("subIssueType", "integer", false, false, true),
];

pub(crate) const NOTE_FIELDS: &[FieldMeta] = &[
    ("id", "long", true, true, false),
    ("ticketID", "integer", true, false, false),
    ("title", "string", false, false, false),
    ("description", "string", true, false, false),
    ("noteType", "integer", true, false, true),
    ("publish", "integer", true, false, true),
    ("createDateTime", "datetime", false, true, false),
    ("creatorResourceID", "integer", false, true, false),
    ("lastActivityDate", "datetime", false, true, false),
];

pub(crate) const HOOK_FIELDS: &[FieldMeta] = &[
    ("id", "long", true, true, false),
    ("name", "string", true, false, false),
    ("webhookUrl", "string", true, false, false),
    ("deactivationUrl", "string", true, false, false),
    ("secretKey", "string", true, false, false),
    ("isActive", "boolean", true, false, false),
    ("isReady", "boolean", false, true, false),
    ("isSubscribedToCreateEvents", "boolean", false, false, false),
    ("isSubscribedToUpdateEvents", "boolean", false, false, false),
    ("isSubscribedToDeleteEvents", "boolean", false, false, false),
    ("notificationEmailAddress", "string", false, false, false),
    ("ownerResourceID", "integer", false, true, false),
    (
        "sendThresholdExceededNotification",
        "boolean",
        false,
        false,
        false,
    ),
    ("webhookGUID", "string", false, true, false),
];

/// Webhook field ids: position in the entity's field list, plus one.
pub(crate) fn hook_field_id(kind: HookKind, name: &str) -> Option<i64> {
    let fields = match kind {
        HookKind::Ticket => TICKET_FIELDS,
        HookKind::Note => NOTE_FIELDS,
    };
    fields
        .iter()
        .position(|f| f.0.eq_ignore_ascii_case(name))
        .map(|i| i as i64 + 1)
}

pub(crate) fn hook_field_name(kind: HookKind, id: i64) -> Option<&'static str> {
    let fields = match kind {
        HookKind::Ticket => TICKET_FIELDS,
        HookKind::Note => NOTE_FIELDS,
    };
    usize::try_from(id - 1)
        .ok()
        .and_then(|i| fields.get(i))
        .map(|f| f.0)
}

pub(crate) fn ticket_json(t: &TicketRec, tenant: &Tenant) -> Value {
    let udfs: Vec<Value> = tenant
        .udfs
        .iter()
        .map(|name| json!({"name": name, "value": t.udfs.get(name)}))
        .collect();
    json!({
        "id": t.id,
        "ticketNumber": t.number,
        "title": t.title,
        "description": t.description,
        "status": t.status,
        "priority": t.priority,
        "queueID": t.queue_id,
        "companyID": t.company_id,
        "contactID": t.contact_id,
        "assignedResourceID": t.assigned_resource_id,
        "assignedResourceRoleID": t.assigned_resource_role_id,
        "ticketType": t.ticket_type,
        "source": t.source,
        "issueType": t.issue_type,
        "subIssueType": t.sub_issue_type,
        "dueDateTime": opt_time(&t.due),
        "createDate": fmt_time(&t.created),
        "creatorResourceID": t.creator_resource_id,
        "lastActivityDate": fmt_time(&t.last_activity),
        "lastTrackedModificationDateTime": fmt_time(&t.last_tracked),
        "completedDate": opt_time(&t.completed),
        "userDefinedFields": udfs,
    })
}

pub(crate) fn note_json(n: &NoteRec) -> Value {
    json!({
        "id": n.id,
        "ticketID": n.ticket_id,
        "title": n.title,
        "description": n.description,
        "noteType": n.note_type,
        "publish": n.publish,
        "createDateTime": fmt_time(&n.created),
        "creatorResourceID": n.creator_resource_id,
        "lastActivityDate": fmt_time(&n.created),
        "createdByContactID": null,
        "impersonatorCreatorResourceID": null,
    })
}

pub(crate) fn hook_json(h: &HookRec) -> Value {
    json!({
        "id": h.id,
        "name": h.name,
        "webhookUrl": h.url,
        "deactivationUrl": h.deactivation_url,
        // Autotask never returns the secret key.
        "secretKey": null,
        "isActive": h.active,
        "isReady": h.is_ready(),
        "isSubscribedToCreateEvents": h.on_create,
        "isSubscribedToUpdateEvents": h.on_update,
        "isSubscribedToDeleteEvents": h.on_delete,
        "notificationEmailAddress": h.notification_email,
        "ownerResourceID": h.owner_resource_id,
        "sendThresholdExceededNotification": h.threshold_notification,
        "webhookGUID": h.guid,
    })
}

/// `entityInformation/fields` for an entity.
pub(crate) fn fields_json(
    fields: &[FieldMeta],
    picklist: impl Fn(&str) -> Vec<PickValue>,
) -> Value {
    let list: Vec<Value> = fields
        .iter()
        .map(|(name, data_type, required, read_only, is_pick)| {
            let values: Vec<Value> = if *is_pick {
                picklist(name)
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        json!({
                            "value": p.value.to_string(),
                            "label": p.label,
                            "isDefaultValue": p.default,
                            "sortOrder": i,
                            "parentValue": "",
                            "isActive": p.active,
                            "isSystem": p.system,
                        })
                    })
                    .collect()
            } else {
                Vec::new()
            };
            json!({
                "name": name,
                "dataType": data_type,
                "length": if *data_type == "string" { 8000 } else { 0 },
                "isRequired": required,
                "isReadOnly": read_only,
                "isQueryable": true,
                "isReference": name.ends_with("ID") && !is_pick,
                "referenceEntityType": "",
                "isPickList": is_pick,
                "picklistValues": if *is_pick { Value::Array(values) } else { Value::Null },
                "picklistParentValueField": "",
                "isSupportedWebhookField": !read_only,
            })
        })
        .collect();
    json!({ "fields": list })
}

/// Case-insensitive key lookup in a request body.
pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}
