//! The simulator's data: boards, per-board statuses, priorities, companies,
//! members, tickets, notes and registered callbacks, and their JSON shapes
//! (model 2025.8).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde_json::{json, Value};

#[derive(Clone, Debug)]
pub(crate) struct Board {
    pub id: i64,
    pub name: String,
    pub inactive: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Status {
    pub id: i64,
    pub board_id: i64,
    pub name: String,
    pub sort: i64,
    pub closed: bool,
    pub inactive: bool,
    pub default: bool,
}

/// A ticket type or subtype of one board (`/service/boards/{id}/types`, `/subtypes`).
#[derive(Clone, Debug)]
pub(crate) struct BoardType {
    pub id: i64,
    pub board_id: i64,
    pub name: String,
    pub inactive: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Priority {
    pub id: i64,
    pub name: String,
    pub sort: i64,
    pub default: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Company {
    pub id: i64,
    pub identifier: String,
    pub name: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub id: i64,
    pub identifier: String,
    pub name: String,
    /// `officeEmail`, how the bridge matches people across systems.
    pub email: String,
}

#[derive(Clone, Debug)]
pub(crate) struct TicketRec {
    pub id: i64,
    pub summary: String,
    pub board_id: i64,
    pub status_id: i64,
    pub priority_id: i64,
    pub company_id: i64,
    pub owner_id: Option<i64>,
    pub kind: Option<BoardType>,
    pub sub_kind: Option<BoardType>,
    pub item: Option<BoardType>,
    pub external_xref: String,
    pub initial_description: String,
    pub closed: bool,
    pub closed_date: Option<DateTime<Utc>>,
    pub custom_fields: Value,
    pub date_entered: DateTime<Utc>,
    pub entered_by: String,
    pub last_updated: DateTime<Utc>,
    pub updated_by: String,
}

/// A note's flags as ConnectWise stores them, each kept as written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoteFlags {
    /// `detailDescriptionFlag` (Discussion).
    pub discussion: bool,
    /// `internalAnalysisFlag`.
    pub internal: bool,
    /// `resolutionFlag`.
    pub resolution: bool,
    /// `internalFlag`.
    pub internal_flag: bool,
    /// `externalFlag`.
    pub external_flag: bool,
}

impl NoteFlags {
    /// Flags of a note type picked in the UI; `internalFlag`/`externalFlag`
    /// follow from internal analysis vs discussion when not given.
    pub fn of(discussion: bool, internal: bool, resolution: bool) -> Self {
        Self {
            discussion,
            internal,
            resolution,
            internal_flag: internal && !discussion,
            external_flag: discussion,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct NoteRec {
    pub id: i64,
    pub ticket_id: i64,
    pub text: String,
    pub discussion: bool,
    pub internal: bool,
    pub resolution: bool,
    pub internal_flag: bool,
    pub external_flag: bool,
    pub member_id: Option<i64>,
    pub created_by: String,
    pub created: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub(crate) struct CallbackRec {
    pub id: i64,
    pub description: String,
    pub url: String,
    pub object_id: i64,
    pub kind: String,
    pub level: String,
    pub member_id: i64,
    pub payload_version: String,
    pub inactive: bool,
    pub self_suppressed: bool,
    /// When the current run of failed deliveries began (None: the last one
    /// succeeded), and how many failed since.
    pub failing_since: Option<std::time::Instant>,
    pub failures: u32,
}

/// Everything the simulated tenant holds.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub boards: Vec<Board>,
    pub statuses: Vec<Status>,
    pub types: Vec<BoardType>,
    pub subtypes: Vec<BoardType>,
    /// Ticket items per board (`/service/boards/{id}/items`).
    pub items: Vec<BoardType>,
    pub priorities: Vec<Priority>,
    pub companies: Vec<Company>,
    pub members: Vec<Member>,
    pub tickets: BTreeMap<i64, TicketRec>,
    pub notes: BTreeMap<i64, NoteRec>,
    pub callbacks: BTreeMap<i64, CallbackRec>,
    pub next_ticket: i64,
    pub next_note: i64,
    pub next_callback: i64,
    pub callbacks_enabled: bool,
    /// The API member the configured keys belong to.
    pub api_member: String,
    /// How long deliveries may keep failing before the callback is
    /// deactivated (ConnectWise: 3 days; `None` means that).
    pub callback_disable_after: Option<std::time::Duration>,
}

/// ConnectWise keeps whole seconds.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

pub(crate) fn fmt_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The guide: `\r \n \b \f` are unsupported and come back as spaces.
pub(crate) fn flatten_text(text: &str) -> String {
    text.replace("\r\n", " ")
        .replace(['\r', '\n', '\u{8}', '\u{c}'], " ")
}

impl State {
    pub fn board(&self, id: i64) -> Option<&Board> {
        self.boards.iter().find(|b| b.id == id)
    }
    pub fn board_by_ref(&self, r: &Value) -> Option<&Board> {
        match (
            r.get("id").and_then(Value::as_i64),
            r.get("name").and_then(Value::as_str),
        ) {
            (Some(id), _) => self.board(id),
            (None, Some(name)) => self
                .boards
                .iter()
                .find(|b| b.name.eq_ignore_ascii_case(name)),
            _ => None,
        }
    }
    pub fn status(&self, id: i64) -> Option<&Status> {
        self.statuses.iter().find(|s| s.id == id)
    }
    /// A status of `board_id` by reference `{id}` or `{name}`.
    pub fn status_by_ref(&self, board_id: i64, r: &Value) -> Option<&Status> {
        let on_board = |s: &&Status| s.board_id == board_id;
        match (
            r.get("id").and_then(Value::as_i64),
            r.get("name").and_then(Value::as_str),
        ) {
            (Some(id), _) => self.statuses.iter().filter(on_board).find(|s| s.id == id),
            (None, Some(name)) => self
                .statuses
                .iter()
                .filter(on_board)
                .find(|s| s.name.eq_ignore_ascii_case(name) && !s.inactive),
            _ => None,
        }
    }
    pub fn default_status(&self, board_id: i64) -> Option<&Status> {
        let mut on_board = self
            .statuses
            .iter()
            .filter(|s| s.board_id == board_id && !s.inactive);
        self.statuses
            .iter()
            .find(|s| s.board_id == board_id && s.default)
            .or_else(|| on_board.next())
    }
    pub fn priority(&self, id: i64) -> Option<&Priority> {
        self.priorities.iter().find(|p| p.id == id)
    }
    pub fn priority_by_ref(&self, r: &Value) -> Option<&Priority> {
        match (
            r.get("id").and_then(Value::as_i64),
            r.get("name").and_then(Value::as_str),
        ) {
            (Some(id), _) => self.priority(id),
            (None, Some(name)) => self
                .priorities
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(name)),
            _ => None,
        }
    }
    pub fn default_priority(&self) -> Option<&Priority> {
        self.priorities
            .iter()
            .find(|p| p.default)
            .or(self.priorities.first())
    }
    pub fn company(&self, id: i64) -> Option<&Company> {
        self.companies.iter().find(|c| c.id == id)
    }
    pub fn company_by_ref(&self, r: &Value) -> Option<&Company> {
        match (
            r.get("id").and_then(Value::as_i64),
            r.get("identifier").and_then(Value::as_str),
        ) {
            (Some(id), _) => self.company(id),
            (None, Some(ident)) => self
                .companies
                .iter()
                .find(|c| c.identifier.eq_ignore_ascii_case(ident)),
            _ => None,
        }
    }
    pub fn member(&self, id: i64) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }
    pub fn member_by_identifier(&self, ident: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.identifier.eq_ignore_ascii_case(ident))
    }
    pub fn member_by_ref(&self, r: &Value) -> Option<&Member> {
        match (
            r.get("id").and_then(Value::as_i64),
            r.get("identifier").and_then(Value::as_str),
        ) {
            (Some(id), _) => self.member(id),
            (None, Some(ident)) => self.member_by_identifier(ident),
            _ => None,
        }
    }

    pub fn board_json(&self, b: &Board) -> Value {
        json!({"id": b.id, "name": b.name, "inactiveFlag": b.inactive,
               "_info": {"lastUpdated": "2025-01-01T00:00:00Z"}})
    }

    pub fn status_json(&self, s: &Status) -> Value {
        let board = self
            .board(s.board_id)
            .map(|b| b.name.clone())
            .unwrap_or_default();
        json!({"id": s.id, "name": s.name, "board": {"id": s.board_id, "name": board},
               "sortOrder": s.sort, "displayOnBoard": true, "inactive": s.inactive,
               "closedStatus": s.closed, "defaultFlag": s.default,
               "_info": {"lastUpdated": "2025-01-01T00:00:00Z"}})
    }

    pub fn board_type_json(&self, t: &BoardType) -> Value {
        let board = self
            .board(t.board_id)
            .map(|b| b.name.clone())
            .unwrap_or_default();
        json!({"id": t.id, "name": t.name, "board": {"id": t.board_id, "name": board},
               "inactiveFlag": t.inactive})
    }

    pub fn priority_json(&self, p: &Priority) -> Value {
        json!({"id": p.id, "name": p.name, "sort": p.sort, "defaultFlag": p.default,
               "level": p.sort.to_string(), "color": "Default"})
    }

    pub fn company_json(&self, c: &Company) -> Value {
        json!({"id": c.id, "identifier": c.identifier, "name": c.name,
               "status": {"id": 1, "name": "Active"}, "deletedFlag": false})
    }

    pub fn member_json(&self, m: &Member) -> Value {
        let (first, last) = m.name.split_once(' ').unwrap_or((m.name.as_str(), ""));
        json!({"id": m.id, "identifier": m.identifier, "firstName": first, "lastName": last,
               "officeEmail": m.email, "inactiveFlag": false})
    }

    fn member_ref(&self, id: Option<i64>) -> Value {
        match id.and_then(|id| self.member(id)) {
            Some(m) => json!({"id": m.id, "identifier": m.identifier, "name": m.name}),
            None => Value::Null,
        }
    }

    pub fn ticket_json(&self, t: &TicketRec) -> Value {
        let board = self.board(t.board_id);
        let status = self.status(t.status_id);
        let priority = self.priority(t.priority_id);
        let company = self.company(t.company_id);
        let mut v = json!({
            "id": t.id,
            "summary": t.summary,
            "recordType": "ServiceTicket",
            "board": {"id": t.board_id, "name": board.map(|b| b.name.clone())},
            "status": {"id": t.status_id, "name": status.map(|s| s.name.clone()),
                       "Sort": status.map(|s| s.sort)},
            "company": {"id": t.company_id, "identifier": company.map(|c| c.identifier.clone()),
                        "name": company.map(|c| c.name.clone())},
            "priority": {"id": t.priority_id, "name": priority.map(|p| p.name.clone()),
                         "sort": priority.map(|p| p.sort), "level": priority.map(|p| p.sort.to_string())},
            "closedFlag": t.closed,
            "dateEntered": fmt_time(t.date_entered),
            "enteredBy": t.entered_by,
            "customFields": t.custom_fields,
            "_info": {"lastUpdated": fmt_time(t.last_updated), "updatedBy": t.updated_by,
                      "dateEntered": fmt_time(t.date_entered), "enteredBy": t.entered_by},
        });
        if !t.external_xref.is_empty() {
            v["externalXRef"] = json!(t.external_xref);
        }
        if t.owner_id.is_some() {
            v["owner"] = self.member_ref(t.owner_id);
        }
        if let Some(kind) = &t.kind {
            v["type"] = json!({"id": kind.id, "name": kind.name});
        }
        if let Some(item) = &t.item {
            v["item"] = json!({"id": item.id, "name": item.name});
        }
        if let Some(kind) = &t.sub_kind {
            v["subType"] = json!({"id": kind.id, "name": kind.name});
        }
        if let Some(at) = t.closed_date {
            v["closedDate"] = json!(fmt_time(at));
        }
        v
    }

    pub fn note_json(&self, n: &NoteRec) -> Value {
        let mut v = json!({
            "id": n.id,
            "ticketId": n.ticket_id,
            "text": n.text,
            "detailDescriptionFlag": n.discussion,
            "internalAnalysisFlag": n.internal,
            "resolutionFlag": n.resolution,
            "issueFlag": false,
            "dateCreated": fmt_time(n.created),
            "createdBy": n.created_by,
            "internalFlag": n.internal_flag,
            "externalFlag": n.external_flag,
            "_info": {"lastUpdated": fmt_time(n.created), "updatedBy": n.created_by},
        });
        if n.member_id.is_some() {
            v["member"] = self.member_ref(n.member_id);
        }
        v
    }

    pub fn callback_json(&self, c: &CallbackRec) -> Value {
        json!({"id": c.id, "description": c.description, "url": c.url, "objectId": c.object_id,
               "type": c.kind, "level": c.level, "memberId": c.member_id,
               "payloadVersion": c.payload_version, "inactiveFlag": c.inactive,
               "isSoapCallbackFlag": false, "isSelfSuppressedFlag": c.self_suppressed,
               "_info": {"lastUpdated": "2025-01-01T00:00:00Z"}})
    }

    /// Sets status and the closed flag/date that follow from it.
    pub fn apply_status(t: &mut TicketRec, status: &Status, at: DateTime<Utc>) {
        t.status_id = status.id;
        if status.closed && !t.closed {
            t.closed_date = Some(at);
        }
        if !status.closed {
            t.closed_date = None;
        }
        t.closed = status.closed;
    }

    /// Adds a note by `member` (an identifier) with its flags and touches
    /// its ticket; returns the note id.
    pub fn add_note(
        &mut self,
        ticket_id: i64,
        text: &str,
        flags: NoteFlags,
        member: &str,
        created: DateTime<Utc>,
    ) -> i64 {
        let id = self.next_note;
        self.next_note += 1;
        let note = NoteRec {
            id,
            ticket_id,
            text: flatten_text(text),
            discussion: flags.discussion,
            internal: flags.internal,
            resolution: flags.resolution,
            internal_flag: flags.internal_flag,
            external_flag: flags.external_flag,
            member_id: self.member_by_identifier(member).map(|m| m.id),
            created_by: member.to_string(),
            created,
        };
        self.touch_ticket(ticket_id, member, created);
        self.notes.insert(id, note);
        id
    }

    /// A note changed: its ticket's `lastUpdated` moves.
    pub fn touch_ticket(&mut self, ticket_id: i64, member: &str, at: DateTime<Utc>) {
        if let Some(t) = self.tickets.get_mut(&ticket_id) {
            t.last_updated = at;
            t.updated_by = member.to_string();
        }
    }
}
