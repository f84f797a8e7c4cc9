//! Mapping files: what a pairing syncs and how. Side `a` and side `b` are the
//! pairing's two connections. See `mappings/*.toml` for documented examples.

use std::collections::BTreeMap;

use psa_connector::Visibility;
use serde::Deserialize;
use toml::Spanned;

use super::companion::Companions;
use crate::store::Side;

/// One pairing's mapping file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub trigger: Trigger,
    #[serde(default)]
    pub create: CreateRule,
    #[serde(default)]
    pub write_back: WriteBackRule,
    #[serde(default)]
    pub fields: Vec<FieldRule>,
    #[serde(default)]
    pub description: DescriptionRule,
    #[serde(default)]
    pub comments: CommentRule,
    #[serde(default)]
    pub on_close: CloseRules,
    /// Response targets (`[targets]`, [`super::targets`]).
    #[serde(default)]
    pub targets: Option<super::targets::TargetsConfig>,
    /// Which tickets of each side belong to the pairing (see [`super::scope`]).
    #[serde(default)]
    pub scope: super::scope::ScopeRule,
    /// Far-side tickets that start a link too (see [`super::reverse`]).
    #[serde(default)]
    pub reverse_trigger: Option<super::reverse::ReverseTrigger>,
    /// Owners and custody (`[owners]`, [`super::owners`]).
    pub owners: Option<super::owners::Owners>,
    /// Category rules (`[categories]`, [`super::categories`]).
    pub categories: Option<super::categories::Categories>,
}

/// Which tickets get linked: an open ticket on `side` that is in `queue`
/// and/or has `status` (at least one of them is given).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub side: Side,
    /// Queue (Autotask), board (ConnectWise), assignment group (ServiceNow)
    /// or project key (Jira) label.
    #[serde(default)]
    pub queue: Option<Spanned<String>>,
    /// Status label (Jira: the workflow's "Escalated").
    #[serde(default)]
    pub status: Option<Spanned<String>>,
}

impl Trigger {
    /// Whether a ticket in `queue` with `status` meets the trigger.
    pub fn met_by(&self, queue: Option<&str>, status: &str) -> bool {
        condition_met(&self.queue, &self.status, queue, status)
    }

    /// The trigger in words, for the audit log (`"Escalate to MSP"`, `status "Escalated"`).
    pub fn describe(&self) -> String {
        describe_condition(&self.queue, &self.status)
    }
}

/// Whether a ticket in `queue` with `status` meets a queue and/or status
/// condition (a trigger's or a reverse trigger's); an empty one meets nothing.
pub(crate) fn condition_met(
    want_queue: &Option<Spanned<String>>,
    want_status: &Option<Spanned<String>>,
    queue: Option<&str>,
    status: &str,
) -> bool {
    let queue_ok = want_queue
        .as_ref()
        .is_none_or(|q| queue == Some(q.get_ref().as_str()));
    let status_ok = want_status.as_ref().is_none_or(|s| s.get_ref() == status);
    (want_queue.is_some() || want_status.is_some()) && queue_ok && status_ok
}

/// A queue and/or status condition in words.
pub(crate) fn describe_condition(
    queue: &Option<Spanned<String>>,
    status: &Option<Spanned<String>>,
) -> String {
    match (queue, status) {
        (Some(q), Some(s)) => format!("{:?} with status {:?}", q.get_ref(), s.get_ref()),
        (Some(q), None) => format!("{:?}", q.get_ref()),
        (None, Some(s)) => format!("status {:?}", s.get_ref()),
        (None, None) => "nothing".into(),
    }
}

/// What the new far-side ticket gets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRule {
    /// Connector placement keys (ConnectWise: `board`, `company`; Autotask: `queue`, `company_id`).
    #[serde(default)]
    pub placement: BTreeMap<String, String>,
    /// Title of the new ticket; `{title}` and `{number}` are the source ticket's.
    #[serde(default = "default_title_template")]
    pub title_template: String,
}

fn default_title_template() -> String {
    "{title}".into()
}

/// How the source ticket learns where it went.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteBackRule {
    /// Note added to the source ticket; `{number}` is the new ticket's number.
    pub note: Option<String>,
    #[serde(default = "internal")]
    pub note_visibility: Visibility,
    /// Source-side field receiving the new ticket's number (e.g. `udf:MSP Ticket`).
    pub field: Option<String>,
}

impl Default for WriteBackRule {
    fn default() -> Self {
        Self {
            note: None,
            note_visibility: Visibility::Internal,
            field: None,
        }
    }
}

fn internal() -> Visibility {
    Visibility::Internal
}

/// Which way a field or note type flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Both,
    AToB,
    BToA,
    None,
}

impl Direction {
    /// Whether changes on `from` flow to the other side.
    pub fn allows(self, from: Side) -> bool {
        matches!(
            (self, from),
            (Direction::Both, _) | (Direction::AToB, Side::A) | (Direction::BToA, Side::B)
        )
    }
}

/// One pair of equivalent labels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValuePair {
    pub a: Spanned<String>,
    pub b: Spanned<String>,
    /// Status only: fields written to side a together with `a` (see
    /// [`super::companion`]), e.g. ServiceNow's `close_code` with Resolved.
    #[serde(default)]
    pub a_with: Companions,
    /// Status only: fields written to side b together with `b`.
    #[serde(default)]
    pub b_with: Companions,
}

impl ValuePair {
    fn label(&self, side: Side) -> &str {
        match side {
            Side::A => self.a.get_ref(),
            Side::B => self.b.get_ref(),
        }
    }

    pub(super) fn label_span(&self, side: Side) -> usize {
        match side {
            Side::A => self.a.span().start,
            Side::B => self.b.span().start,
        }
    }

    pub(super) fn companions(&self, side: Side) -> &Companions {
        match side {
            Side::A => &self.a_with,
            Side::B => &self.b_with,
        }
    }
}

/// One synced field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    /// `title`, `status`, `priority`, or a name of your own with `a_field`/`b_field`.
    pub name: Spanned<String>,
    /// Connector field name on side a for custom fields (e.g. `udf:Department`).
    pub a_field: Option<String>,
    pub b_field: Option<String>,
    pub direction: Direction,
    /// Whose value wins when both sides changed since the last sync.
    pub owner: Side,
    /// Label map; required for `status` and `priority`. From b to a, the first matching pair wins.
    #[serde(default)]
    pub values: Vec<ValuePair>,
    /// Truncate values written to side a / b to this many characters.
    pub max_length_a: Option<usize>,
    pub max_length_b: Option<usize>,
}

impl FieldRule {
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }

    /// Translates a value seen on `from` into the other side's value.
    pub fn translate(&self, from: Side, value: &str) -> Option<String> {
        let mapped = if self.values.is_empty() {
            value.to_string()
        } else {
            let pair = self.values.iter().find(|p| match from {
                Side::A => p.a.get_ref() == value,
                Side::B => p.b.get_ref() == value,
            })?;
            match from {
                Side::A => pair.b.get_ref().clone(),
                Side::B => pair.a.get_ref().clone(),
            }
        };
        let limit = match from {
            Side::A => self.max_length_b,
            Side::B => self.max_length_a,
        };
        Some(truncate(&mapped, limit))
    }
}

/// Cuts to `limit` characters (not bytes).
pub fn truncate(value: &str, limit: Option<usize>) -> String {
    match limit {
        Some(n) if value.chars().count() > n => value.chars().take(n).collect(),
        _ => value.to_string(),
    }
}

/// What happens to description changes after the link exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DescriptionUpdates {
    Ignore,
    InternalNote,
    PublicNote,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescriptionRule {
    /// Copy the description into the created ticket.
    #[serde(default = "yes")]
    pub on_create: bool,
    /// Later description edits on either side become a note on the other.
    #[serde(default = "default_description_updates")]
    pub updates: DescriptionUpdates,
}

impl Default for DescriptionRule {
    fn default() -> Self {
        Self {
            on_create: true,
            updates: default_description_updates(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_description_updates() -> DescriptionUpdates {
    DescriptionUpdates::InternalNote
}

/// Which notes cross. Internal notes are denied unless `internal` says otherwise,
/// and always arrive internal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentRule {
    #[serde(default = "both")]
    pub public: Direction,
    #[serde(default = "none")]
    pub internal: Direction,
    /// First line of a mirrored note; `{author}` and `{system}` are filled in.
    #[serde(default = "default_author_header")]
    pub author_header: String,
}

impl Default for CommentRule {
    fn default() -> Self {
        Self {
            public: Direction::Both,
            internal: Direction::None,
            author_header: default_author_header(),
        }
    }
}

fn both() -> Direction {
    Direction::Both
}
fn none() -> Direction {
    Direction::None
}
fn default_author_header() -> String {
    "{author} ({system}) wrote:".into()
}

/// What happens on the other side when one side closes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseRules {
    /// When side a closes.
    pub a: Option<CloseAction>,
    /// When side b closes.
    pub b: Option<CloseAction>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseAction {
    /// Status to set on the other side (unless the status mapping already set one).
    pub set_status: Option<Spanned<String>>,
    /// Note to add on the other side.
    pub note: Option<String>,
    #[serde(default = "internal")]
    pub note_visibility: Visibility,
}

impl CloseRules {
    pub fn when_closed(&self, side: Side) -> Option<&CloseAction> {
        match side {
            Side::A => self.a.as_ref(),
            Side::B => self.b.as_ref(),
        }
    }
}

impl Mapping {
    pub fn field(&self, name: &str) -> Option<&FieldRule> {
        self.fields.iter().find(|f| f.name() == name)
    }

    /// Fields to write to `side` together with `status` there: those of the
    /// first status pair whose `side` label is `status`.
    pub fn status_companions(&self, side: Side, status: &str) -> Option<&Companions> {
        self.field("status")?
            .values
            .iter()
            .find(|p| p.label(side) == status)
            .map(|p| p.companions(side))
            .filter(|c| !c.is_empty())
    }
}
