//! The vendor-neutral ticket and comment model the engine works with.
//!
//! Picklist values (status, priority, queue/board) are carried as **labels**:
//! connectors translate labels to the tenant's ids after discovering them, so
//! mappings never hard-code vendor ids.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A UTC instant, as every vendor reports change times.
pub type Timestamp = DateTime<Utc>;

/// Who can see a comment on its own system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Visible to the customer / requester (Autotask published to all, ConnectWise discussion).
    Public,
    /// Visible to technicians only (Autotask internal, ConnectWise internal analysis).
    Internal,
}

impl std::fmt::Display for Visibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Visibility::Public => "public",
            Visibility::Internal => "internal",
        })
    }
}

/// A ticket as read from a vendor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// The vendor's primary key, as a string.
    pub id: String,
    /// The number people see (`T20261122.0001` in Autotask, the id in ConnectWise).
    pub number: String,
    pub title: String,
    /// `None` where the vendor has no readable description (ConnectWise).
    pub description: Option<String>,
    /// Status label.
    pub status: String,
    /// Priority label.
    pub priority: String,
    /// Queue (Autotask) or board (ConnectWise) label.
    pub queue: Option<String>,
    /// Whether the vendor considers the ticket closed.
    pub closed: bool,
    /// The bridge's idempotency marker, if the ticket carries one.
    pub marker: Option<String>,
    /// Further named fields (user-defined fields, company, ...), by connector-defined name.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// The vendor's change watermark.
    pub updated_at: Timestamp,
    /// Who holds the ticket: a person and/or a group (queue, team, assignment group).
    #[serde(default)]
    pub assignee: Assignee,
    /// The ticket's category labels (issue type / sub-issue type, type / subtype / item, ...).
    #[serde(default)]
    pub category: Category,
}

/// A person on a vendor system (Autotask resource, ConnectWise member,
/// ServiceNow user, Jira account).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// The vendor's id (resource id, member id, `sys_id`, `accountId`).
    pub id: String,
    pub name: Option<String>,
    /// How people are matched across systems (compared case-insensitively).
    pub email: Option<String>,
}

/// Who holds a ticket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignee {
    pub person: Option<Person>,
    /// Group label: Autotask queue, ConnectWise team, ServiceNow assignment group.
    pub group: Option<String>,
}

/// A ticket's category labels; which of them a vendor has is the connector's
/// business (Autotask: issue type / sub-issue type; ConnectWise: type /
/// subtype / item; ServiceNow: category / subcategory; Jira: issue type /
/// first component).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub category: Option<String>,
    pub subcategory: Option<String>,
    pub item: Option<String>,
}

/// Reserved [`TicketUpdate::fields`] / [`NewTicket::fields`] keys through
/// which the bridge writes owners and categories (every connector
/// understands them). An empty value clears the field.
pub mod keys {
    /// The vendor id of the person to assign (from [`crate::Connector::find_person`]).
    pub const PERSON: &str = "assignee.person";
    /// The group label to assign.
    pub const GROUP: &str = "assignee.group";
    /// Category labels.
    pub const CATEGORY: &str = "category.category";
    pub const SUBCATEGORY: &str = "category.subcategory";
    pub const ITEM: &str = "category.item";
    /// Catalog keys of [`crate::Connector::discover_picklists`] listing the
    /// labels the mapping may name.
    pub const GROUPS: &str = "assignee.group";
    pub const CATEGORIES: &str = "category";
    pub const SUBCATEGORIES: &str = "subcategory";
    pub const ITEMS: &str = "item";
}

/// A note / comment on a ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: String,
    /// Text with the bridge's marker line removed.
    pub body: String,
    pub visibility: Visibility,
    /// Display name or id of the author, where the vendor says.
    pub author: Option<String>,
    pub created_at: Timestamp,
    /// ConnectWise resolution notes; Autotask has none.
    #[serde(default)]
    pub resolution: bool,
    /// The bridge's marker when the bridge wrote this comment.
    pub marker: Option<String>,
}

/// What the bridge asks a vendor to create.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewTicket {
    pub title: String,
    pub description: String,
    pub status: Option<String>,
    pub priority: Option<String>,
    /// Idempotency marker the connector stores in its marker field.
    pub marker: String,
    /// Where the ticket goes: connector-defined keys such as `board`, `company`, `queue`, `type`.
    #[serde(default)]
    pub placement: BTreeMap<String, String>,
    /// Further named fields to set.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// A partial update: only `Some` / present fields are written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketUpdate {
    pub title: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

impl TicketUpdate {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.status.is_none()
            && self.priority.is_none()
            && self.fields.is_empty()
    }
}

/// A comment the bridge writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewComment {
    pub body: String,
    pub visibility: Visibility,
    /// Idempotency marker, embedded in the text by the connector.
    pub marker: String,
    #[serde(default)]
    pub resolution: bool,
}

/// A status as discovered on the vendor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusInfo {
    pub label: String,
    /// Whether moving to this status closes the ticket.
    pub closed: bool,
}

/// The labels a connection accepts, discovered from the vendor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub statuses: Vec<StatusInfo>,
    pub priorities: Vec<String>,
    /// Queues (Autotask) or boards (ConnectWise).
    pub queues: Vec<String>,
}

impl Catalog {
    pub fn has_status(&self, label: &str) -> bool {
        self.statuses.iter().any(|s| s.label == label)
    }
    pub fn status_labels(&self) -> Vec<&str> {
        self.statuses.iter().map(|s| s.label.as_str()).collect()
    }
}

/// A hint that a ticket changed: webhook bodies and poll results are hints,
/// the API is the truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeHint {
    pub ticket_id: String,
    /// The vendor's change watermark when known (used to skip stale poll hits).
    pub updated_at: Option<Timestamp>,
    /// Identifies one delivery so repeated deliveries are processed once.
    pub dedup_key: String,
    /// What the notice itself says about the change, so the planner can
    /// spare vendor reads (empty for poll hits and vendors that say nothing).
    #[serde(default, skip_serializing_if = "HintDetail::is_empty")]
    pub detail: HintDetail,
}

/// What a webhook says about the change beyond "this ticket changed".
///
/// The API stays the truth: the planner uses a detail only where it can
/// prove the detail is as fresh as a read would be, and reads otherwise.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HintDetail {
    /// The whole ticket as the notice carries it, exactly as `get_ticket`
    /// would return that state (ConnectWise's callback `Entity`, Jira's
    /// `issue`); its `updated_at` is the vendor's stamp of that state.
    /// `None` when the notice carries only some fields or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Box<Ticket>>,
    /// Whether the change can have added or edited a note: `Some(false)` for
    /// an event about the ticket's own fields only (Autotask `Ticket`
    /// webhook, Jira `jira:issue_updated` without a comment), `Some(true)`
    /// for a note event (Autotask `TicketNote`, Jira `comment_*`), `None`
    /// when the notice cannot tell (ConnectWise callbacks, polling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes_changed: Option<bool>,
    /// The vendor names the connection's own API user as the one who made
    /// the change: an echo of the bridge's own write.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_bridge: bool,
}

impl HintDetail {
    /// Says nothing beyond "this ticket changed".
    pub fn is_empty(&self) -> bool {
        self == &HintDetail::default()
    }
}
