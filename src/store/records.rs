//! The records kept in the store, one type per tree.

use std::collections::BTreeMap;

use psa_connector::{HintDetail, NewComment, NewTicket, TicketUpdate, Timestamp, Visibility};
use serde::{Deserialize, Serialize};

/// One side of a pairing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Side::A => "a",
            Side::B => "b",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a change notice arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntakeSource {
    Webhook,
    Poll,
    /// Queued by `psa-bridge backfill` for a ticket that met the trigger
    /// before the bridge saw it.
    Backfill,
}

/// A durable change notice waiting to be planned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InboxItem {
    pub id: u64,
    pub connection: String,
    pub ticket_id: String,
    pub source: IntakeSource,
    pub dedup_key: String,
    pub received_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub next_attempt_at: Option<Timestamp>,
    /// What the webhook said about the change beyond its ticket (see
    /// `psa_connector::HintDetail`); empty for polls and re-plans.
    #[serde(default, skip_serializing_if = "HintDetail::is_empty")]
    pub detail: HintDetail,
}

/// The newest vendor change stamp the bridge planned a ticket from, and when
/// (by the bridge's clock) it started reading the ticket for that plan.
///
/// Vendor stamps can have whole-second resolution (ConnectWise): a change
/// made later in the same second carries the same stamp, so a poll hit with
/// an equal stamp is only known to be covered when the read began after that
/// second had passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredVersion")]
pub struct TicketVersion {
    pub at: Timestamp,
    pub read_at: Option<Timestamp>,
}

/// Stored form of [`TicketVersion`]; older stores hold the bare stamp.
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredVersion {
    Full {
        at: Timestamp,
        read_at: Option<Timestamp>,
    },
    Bare(Timestamp),
}

impl From<StoredVersion> for TicketVersion {
    fn from(stored: StoredVersion) -> Self {
        match stored {
            StoredVersion::Full { at, read_at } => TicketVersion { at, read_at },
            StoredVersion::Bare(at) => TicketVersion { at, read_at: None },
        }
    }
}

/// A ticket as referenced from the bridge: vendor id and the number people see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRef {
    pub id: String,
    pub number: String,
}

/// Two tickets the bridge keeps in sync.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub id: u64,
    pub pairing: String,
    pub a: Option<TicketRef>,
    pub b: Option<TicketRef>,
    /// The side whose trigger created the link.
    pub origin: Side,
    pub created_at: Timestamp,
    /// The far ticket's marker, derived from the source ticket when the link
    /// was made ([`super::ticket_marker_for`]), so the ticket and the notes the
    /// bridge wrote for it are recognised from vendor data alone (a restored
    /// backup, a lost link). `None` in links written before: their markers
    /// are derived from the link id, as they were written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

impl Link {
    pub fn side(&self, side: Side) -> Option<&TicketRef> {
        match side {
            Side::A => self.a.as_ref(),
            Side::B => self.b.as_ref(),
        }
    }
    pub fn set_side(&mut self, side: Side, r: TicketRef) {
        match side {
            Side::A => self.a = Some(r),
            Side::B => self.b = Some(r),
        }
    }
    /// A new link of `pairing` for `source` (on `origin`), with the
    /// deterministic marker [`super::ticket_marker_for`] of that ticket.
    pub fn new(
        id: u64,
        pairing: &str,
        origin: Side,
        source: TicketRef,
        created_at: Timestamp,
    ) -> Link {
        let marker = super::ticket_marker_for(pairing, origin, &source.id);
        let mut link = Link {
            id,
            pairing: pairing.to_string(),
            a: None,
            b: None,
            origin,
            created_at,
            marker: Some(marker),
        };
        link.set_side(origin, source);
        link
    }
}

/// The last state of one side that the bridge knows both sides agreed on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SideState {
    /// Mapped field values as seen on this side (`title`, `status`, `priority`, custom names).
    pub values: BTreeMap<String, String>,
    pub description: Option<String>,
    pub closed: bool,
}

/// Shadow of a link: the agreed state of both sides.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Shadow {
    pub a: SideState,
    pub b: SideState,
    /// Set while one of the link's tickets is outside its pairing's scope
    /// (moved to another client's company): the link is not synced and its
    /// queued operations are held (`engine::scope`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_scope: Option<ScopeHold>,
}

/// Why a link is held: which side's ticket left the scope, by which key,
/// with which value (nothing else of that ticket is kept).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScopeHold {
    pub side: Side,
    /// `connection:id` of the ticket.
    pub ticket: String,
    pub key: String,
    pub expected: String,
    pub found: Option<String>,
    pub since: Timestamp,
}

impl Shadow {
    pub fn side(&self, side: Side) -> &SideState {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }
    pub fn side_mut(&mut self, side: Side) -> &mut SideState {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }
}

/// What happens after a created ticket is linked: tell the source where it went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WriteBack {
    /// Note text; `{number}` becomes the new ticket's number.
    pub note: Option<String>,
    pub note_visibility: Visibility,
    /// Field on the source side that receives the new ticket's number.
    pub field: Option<String>,
}

/// The vendor call an outbox operation makes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    CreateTicket {
        ticket: NewTicket,
        write_back: Option<WriteBack>,
    },
    UpdateTicket {
        update: TicketUpdate,
    },
    AddComment {
        comment: NewComment,
        /// The comment this mirrors: (side, comment id).
        source: Option<(Side, String)>,
    },
    /// Changes who can see an existing note: a mirror whose source became
    /// internal after it crossed.
    SetCommentVisibility {
        comment_id: String,
        visibility: Visibility,
        /// The comment whose mirror this is: (side, comment id).
        source: (Side, String),
    },
}

impl Action {
    pub fn describe(&self) -> String {
        match self {
            Action::CreateTicket { ticket, .. } => format!("create ticket {:?}", ticket.title),
            Action::UpdateTicket { update } => {
                let mut parts = Vec::new();
                if let Some(t) = &update.title {
                    parts.push(format!("title={t:?}"));
                }
                if let Some(s) = &update.status {
                    parts.push(format!("status={s:?}"));
                }
                if let Some(p) = &update.priority {
                    parts.push(format!("priority={p:?}"));
                }
                for (k, v) in &update.fields {
                    parts.push(format!("{k}={v:?}"));
                }
                format!("update {}", parts.join(", "))
            }
            Action::AddComment { comment, .. } => format!("add {} note", comment.visibility),
            Action::SetCommentVisibility {
                comment_id,
                visibility,
                ..
            } => format!("make note {comment_id} {visibility}"),
        }
    }
}

/// Why an operation stopped being retried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub at: Timestamp,
    pub status: Option<u16>,
    /// The vendor's own message.
    pub message: String,
}

/// A planned vendor call, durable until delivered or dead-lettered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxOp {
    pub id: u64,
    pub link: u64,
    pub pairing: String,
    pub target: Side,
    pub connection: String,
    pub action: Action,
    /// Mapped fields this op writes (their far-side values are in flight).
    pub fields: Vec<String>,
    pub planned_at: Timestamp,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub dead: Option<DeadLetter>,
    /// When the current run of failures began (retried until
    /// `daemon.retry_for_hours` after it); `None` while nothing failed.
    #[serde(default)]
    pub first_failed_at: Option<Timestamp>,
    /// When the vendor change this operation carries across happened: the
    /// planned notice's vendor stamp (`ChangeHint::updated_at`), or its
    /// arrival when the hint had none or a later one. Feeds the propagation
    /// latency metric on delivery (a create's write-back follow-ups inherit
    /// it); `None` in records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<Timestamp>,
    /// When a delivery attempt of a create or a note last began, written
    /// and flushed before the vendor call: set, the outcome of an earlier
    /// attempt may be unknown (a lost answer, a crash), so the next attempt
    /// looks for the bridge's marker first (`delivery::apply`); `None` on
    /// the first attempt, which has nothing to look for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_started_at: Option<Timestamp>,
    /// The store session ([`super::Store::session`]) of the plan that made
    /// the operation, set only when that plan read the target side's notes
    /// (a known link). Only a note mirror planned so in this very run may
    /// skip the marker look-up on its first attempt; one from a restored
    /// backup or an earlier run (`None` or another session) may have been
    /// posted already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_in_session: Option<u64>,
}

/// A change notice that could not be planned for a permanent reason (an
/// unreadable record, a refused read): kept with the reason until an operator
/// retries it (`outbox retry ID`), instead of being dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadNotice {
    pub item: InboxItem,
    pub dead: DeadLetter,
}

#[cfg(test)]
impl OutboxOp {
    /// A due, never-tried operation of pairing `p` on connection `c`, for
    /// tests; override fields with struct update syntax.
    pub fn sample(id: u64, link: u64, target: Side, action: Action) -> Self {
        let now = chrono::Utc::now();
        OutboxOp {
            id,
            link,
            pairing: "p".into(),
            target,
            connection: "c".into(),
            action,
            fields: Vec::new(),
            planned_at: now,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            dead: None,
            first_failed_at: None,
            changed_at: None,
            attempt_started_at: None,
            planned_in_session: None,
        }
    }
}

/// What the bridge did with one comment it saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CommentEntry {
    /// Mirrored by outbox op `op`; `target_id` once delivered.
    Mirrored {
        op: u64,
        target_id: Option<String>,
        /// The source's visibility the mirror was made for: what it crossed
        /// with, or `Internal` once a later change to internal was handled
        /// (the mirror made internal, or that impossible and audited).
        /// `None` in records written before the bridge kept it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        visibility: Option<Visibility>,
    },
    /// Not mirrored (visibility rule, direction).
    Withheld { reason: String },
    /// Written by the bridge (the far copy of a mirrored comment).
    Bridge,
}

/// One entry of the hash-chained audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: Timestamp,
    pub kind: String,
    pub pairing: Option<String>,
    pub link: Option<u64>,
    /// `connection:id` and `connection:number` keys of the tickets concerned.
    pub tickets: Vec<String>,
    /// What happened, in plain words.
    pub message: String,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
    /// Hash format ([`super::audit`]): 1 (absent) hashes the content
    /// JSON with the previous hash; 2 hashes the previous hash with the
    /// content's own digest, so a bundle's stub can carry the digest and
    /// its hash be recomputed.
    #[serde(
        default = "super::audit::v1",
        skip_serializing_if = "super::audit::is_v1"
    )]
    pub v: u8,
}
