//! A stateful HTTP simulator of the ConnectWise PSA REST API (tickets, notes,
//! boards, statuses, priorities, companies, callbacks) and of its signed
//! callbacks, for tests, the demo and benchmarks. Human actions (an MSP
//! engineer in the ConnectWise UI) change state without counting as API writes
//! and fire callbacks like API changes do.

mod api_error;
mod callbacks;
mod callbacks_api;
pub mod conditions;
mod extract;
mod listing;
mod notes_api;
mod routes;
mod seed;
mod state;
mod ticket_rules;
mod tickets_api;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use psa_connector::sim::{Deliveries, SimControl};
use tokio::task::JoinHandle;

pub use seed::API_MEMBER;
pub use state::NoteFlags;
use state::{State, TicketRec};

/// Credentials and codebase the simulated tenant accepts.
#[derive(Clone, Debug)]
pub struct ConnectWiseSimOptions {
    pub company_id: String,
    pub public_key: String,
    pub private_key: String,
    pub client_id: String,
    pub codebase: String,
}

impl Default for ConnectWiseSimOptions {
    fn default() -> Self {
        Self {
            company_id: "demo".into(),
            public_key: "demo-public".into(),
            private_key: "demo-private".into(),
            client_id: "5f2d7e3c-8a41-4b6e-9c0d-1e2f3a4b5c6d".into(),
            codebase: "v2025_1/".into(),
        }
    }
}

/// A ticket as the simulator holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct SimTicket {
    pub id: i64,
    pub summary: String,
    pub initial_description: String,
    pub board: String,
    pub status: String,
    pub priority: String,
    /// Company identifier.
    pub company: String,
    pub external_xref: String,
    pub closed: bool,
    pub last_updated: DateTime<Utc>,
    /// The owner's `officeEmail`.
    pub owner: Option<String>,
    /// `type`, `subType` and `item` names (empty when unset).
    pub kind: String,
    pub sub_kind: String,
    pub item: String,
}

/// A ticket note as the simulator holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct SimNote {
    pub id: i64,
    pub text: String,
    pub discussion: bool,
    pub internal: bool,
    pub resolution: bool,
    /// `internalFlag` as stored.
    pub internal_flag: bool,
    /// `externalFlag` as stored.
    pub external_flag: bool,
    pub author: String,
    pub created: DateTime<Utc>,
}

/// The note types a person picks in the ConnectWise UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimNoteKind {
    /// Discussion: customer visible.
    Discussion,
    /// Internal analysis.
    Internal,
    Resolution,
    /// A resolution note also marked internal analysis (not customer visible).
    InternalResolution,
}

/// What the routes and the handle share.
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) options: ConnectWiseSimOptions,
    pub(crate) site_url: String,
    pub(crate) control: Arc<SimControl>,
    runtime: tokio::runtime::Handle,
    deliveries: Deliveries,
    /// The current signing key (served at `key_url`; rotated on request).
    signing_key: Mutex<String>,
    pub(crate) key_id: String,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The signing key callbacks are signed with now.
    pub(crate) fn signing_key(&self) -> String {
        self.signing_key
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A running simulator; stops when shut down or dropped.
pub struct ConnectWiseSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl ConnectWiseSim {
    pub async fn start(
        listener: tokio::net::TcpListener,
        options: ConnectWiseSimOptions,
    ) -> std::io::Result<ConnectWiseSim> {
        let addr = listener.local_addr()?;
        let mut options = options;
        options.codebase = format!("{}/", options.codebase.trim_matches('/'));
        let shared = Arc::new(Shared {
            state: Mutex::new(seed::seed()),
            options,
            site_url: format!("http://{addr}/"),
            control: SimControl::new(routes::error_body, routes::identify),
            runtime: tokio::runtime::Handle::current(),
            deliveries: Deliveries::default(),
            signing_key: Mutex::new(uuid::Uuid::new_v4().simple().to_string()),
            key_id: uuid::Uuid::new_v4().to_string(),
        });
        let app = routes::router(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "ConnectWise simulator stopped");
            }
        });
        tracing::info!(%addr, "ConnectWise simulator listening");
        Ok(ConnectWiseSim {
            shared,
            addr,
            server: Mutex::new(Some(server)),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`
    pub fn site_url(&self) -> String {
        self.shared.site_url.clone()
    }

    pub fn options(&self) -> &ConnectWiseSimOptions {
        &self.shared.options
    }

    /// Fault knobs, rate ceiling and request log; users are public keys.
    pub fn control(&self) -> Arc<SimControl> {
        self.shared.control.clone()
    }

    pub fn shutdown(&self) {
        if let Some(server) = self.server.lock().unwrap_or_else(|e| e.into_inner()).take() {
            server.abort();
        }
    }

    fn human_change(
        &self,
        ticket_id: i64,
        member: &str,
        change: impl FnOnce(&State, &mut TicketRec),
    ) {
        let mut state = self.shared.state();
        let Some(mut ticket) = state.tickets.get(&ticket_id).cloned() else {
            tracing::warn!(ticket_id, "simulated user acted on a missing ticket");
            return;
        };
        change(&state, &mut ticket);
        ticket.last_updated = state::now();
        ticket.updated_by = member.to_string();
        state.tickets.insert(ticket_id, ticket);
        self.shared.fire(&state, ticket_id, "updated", member);
    }

    /// An engineer moves a ticket to a status of its board (ignored if unknown).
    pub fn user_set_status(&self, ticket_id: i64, status: &str) {
        self.human_change(ticket_id, "jsmith", |state, t| {
            let found = state.status_by_ref(t.board_id, &serde_json::json!({"name": status}));
            match found {
                Some(s) => State::apply_status(t, s, state::now()),
                None => tracing::warn!(status, "no such status on the ticket's board"),
            }
        });
    }

    /// An engineer moves a ticket to another board (ignored if unknown or
    /// inactive); as in the UI, its status becomes the new board's status
    /// of the same name, else that board's default.
    pub fn user_set_board(&self, ticket_id: i64, board: &str) {
        self.human_change(ticket_id, "jsmith", |state, t| {
            let Some(target) = state
                .board_by_ref(&serde_json::json!({"name": board}))
                .filter(|b| !b.inactive)
            else {
                tracing::warn!(board, "no such active board");
                return;
            };
            let current = state
                .statuses
                .iter()
                .find(|s| s.id == t.status_id)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            let status = state
                .status_by_ref(target.id, &serde_json::json!({"name": current}))
                .or_else(|| state.default_status(target.id))
                .cloned();
            t.board_id = target.id;
            if let Some(status) = status {
                State::apply_status(t, &status, state::now());
            }
        });
    }

    pub fn user_set_priority(&self, ticket_id: i64, priority: &str) {
        self.human_change(ticket_id, "jsmith", |state, t| {
            match state.priority_by_ref(&serde_json::json!({"name": priority})) {
                Some(p) => t.priority_id = p.id,
                None => tracing::warn!(priority, "no such priority"),
            }
        });
    }

    /// An engineer moves a ticket to another company, by identifier
    /// (ignored if unknown): an MSP's clients are its companies.
    pub fn user_set_company(&self, ticket_id: i64, company: &str) {
        self.human_change(ticket_id, "jsmith", |state, t| {
            match state.company_by_ref(&serde_json::json!({"identifier": company})) {
                Some(c) => t.company_id = c.id,
                None => tracing::warn!(company, "no such company"),
            }
        });
    }

    /// An engineer makes member `identifier` the ticket's owner (`None`: nobody).
    pub fn user_set_owner(&self, ticket_id: i64, identifier: Option<&str>) {
        self.human_change(ticket_id, "jsmith", |state, t| {
            t.owner_id = identifier.and_then(|i| state.member_by_identifier(i).map(|m| m.id));
        });
    }

    /// An engineer sets the ticket's type and subtype (names on its board).
    pub fn user_set_type(&self, ticket_id: i64, kind: &str, sub_kind: &str) {
        self.human_change(ticket_id, "jsmith", |state, t| {
            let pick = |list: &[state::BoardType], name: &str| {
                list.iter()
                    .find(|b| b.board_id == t.board_id && b.name == name)
                    .cloned()
            };
            t.kind = pick(&state.types, kind);
            t.sub_kind = pick(&state.subtypes, sub_kind);
        });
    }

    pub fn user_set_summary(&self, ticket_id: i64, summary: &str) {
        self.human_change(ticket_id, "jsmith", |_, t| {
            t.summary = summary.chars().take(100).collect();
        });
    }

    /// An engineer adds a note; returns its id (0 when the ticket is missing).
    pub fn user_add_note(
        &self,
        ticket_id: i64,
        text: &str,
        kind: SimNoteKind,
        member: &str,
    ) -> i64 {
        let mut state = self.shared.state();
        if !state.tickets.contains_key(&ticket_id) {
            tracing::warn!(ticket_id, "simulated user noted a missing ticket");
            return 0;
        }
        let flags = match kind {
            SimNoteKind::Discussion => NoteFlags::of(true, false, false),
            SimNoteKind::Internal => NoteFlags::of(false, true, false),
            SimNoteKind::Resolution => NoteFlags::of(false, false, true),
            SimNoteKind::InternalResolution => NoteFlags::of(false, true, true),
        };
        let id = state.add_note(ticket_id, text, flags, member, state::now());
        self.shared.fire(&state, ticket_id, "updated", member);
        id
    }

    /// An engineer changes a note's type flags (discussion, internal
    /// analysis, resolution; `internalFlag`/`externalFlag` follow as in
    /// the UI). Ignored, with a warning, when the note is not the ticket's.
    pub fn user_set_note_flags(
        &self,
        ticket_id: i64,
        note_id: i64,
        discussion: bool,
        internal: bool,
        resolution: bool,
    ) {
        let mut state = self.shared.state();
        let flags = NoteFlags::of(discussion, internal, resolution);
        let Some(note) = state
            .notes
            .get_mut(&note_id)
            .filter(|n| n.ticket_id == ticket_id)
        else {
            tracing::warn!(ticket_id, note_id, "simulated user changed a missing note");
            return;
        };
        note.discussion = flags.discussion;
        note.internal = flags.internal;
        note.resolution = flags.resolution;
        note.internal_flag = flags.internal_flag;
        note.external_flag = flags.external_flag;
        state.touch_ticket(ticket_id, "jsmith", state::now());
        self.shared.fire(&state, ticket_id, "updated", "jsmith");
    }

    /// An engineer makes a note internal analysis only (resolution kept).
    pub fn user_make_note_internal(&self, ticket_id: i64, note_id: i64) {
        let resolution = self
            .shared
            .state()
            .notes
            .get(&note_id)
            .is_some_and(|n| n.resolution);
        self.user_set_note_flags(ticket_id, note_id, false, true, resolution);
    }

    /// An engineer opens a ticket (unknown labels fall back to defaults, with a warning).
    pub fn user_create_ticket(
        &self,
        summary: &str,
        board: &str,
        company: &str,
        priority: &str,
    ) -> SimTicket {
        let mut state = self.shared.state();
        let rec = ticket_rules::new_ticket_record(
            &mut state, summary, board, company, priority, "jsmith",
        );
        let id = rec.id;
        let created = sim_ticket(&state, &rec);
        state.tickets.insert(id, rec);
        self.shared.fire(&state, id, "added", "jsmith");
        created
    }

    /// Someone deletes a ticket (and its notes); no callback, as when a
    /// ticket is merged away. Later reads answer 404.
    /// An engineer deletes a ticket; ConnectWise sends a `deleted` callback
    /// (`Entity` null) to the ticket callbacks, as for a `DELETE` by API.
    pub fn user_delete_ticket(&self, ticket_id: i64) {
        let mut state = self.shared.state();
        if state.tickets.remove(&ticket_id).is_none() {
            return;
        }
        state.notes.retain(|_, n| n.ticket_id != ticket_id);
        self.shared.fire(&state, ticket_id, "deleted", "jsmith");
    }

    pub fn ticket(&self, id: i64) -> Option<SimTicket> {
        let state = self.shared.state();
        state.tickets.get(&id).map(|t| sim_ticket(&state, t))
    }

    pub fn tickets(&self) -> Vec<SimTicket> {
        let state = self.shared.state();
        state
            .tickets
            .values()
            .map(|t| sim_ticket(&state, t))
            .collect()
    }

    pub fn notes(&self, ticket_id: i64) -> Vec<SimNote> {
        let state = self.shared.state();
        state
            .notes
            .values()
            .filter(|n| n.ticket_id == ticket_id)
            .map(|n| SimNote {
                id: n.id,
                text: n.text.clone(),
                discussion: n.discussion,
                internal: n.internal,
                resolution: n.resolution,
                internal_flag: n.internal_flag,
                external_flag: n.external_flag,
                author: n.created_by.clone(),
                created: n.created,
            })
            .collect()
    }

    /// Deactivates every callback, as ConnectWise does after three days of
    /// failed deliveries.
    pub fn deactivate_callbacks(&self) {
        for cb in self.shared.state().callbacks.values_mut() {
            cb.inactive = true;
        }
    }

    /// Whether each registered callback is active, by URL.
    pub fn callbacks(&self) -> Vec<(String, bool)> {
        self.shared
            .state()
            .callbacks
            .values()
            .map(|cb| (cb.url.clone(), !cb.inactive))
            .collect()
    }

    /// How long deliveries may fail before a callback is deactivated
    /// (ConnectWise: 3 days). A test sets a short span (zero: the first
    /// failed delivery deactivates it) instead of waiting days.
    pub fn set_callback_disable_after(&self, after: std::time::Duration) {
        self.shared.state().callback_disable_after = Some(after);
    }

    /// Failed deliveries in a row per callback id.
    pub fn callback_failures(&self) -> Vec<(i64, u32)> {
        self.shared
            .state()
            .callbacks
            .values()
            .map(|cb| (cb.id, cb.failures))
            .collect()
    }

    /// Turns callback delivery off (polling-only tests) or back on.
    pub fn set_callbacks_enabled(&self, on: bool) {
        self.shared.state().callbacks_enabled = on;
    }

    /// Waits until every callback delivery spawned so far has finished.
    pub async fn wait_callbacks_idle(&self) {
        self.shared.wait_idle().await;
    }

    /// A genuine, signed callback body for a ticket as it is now, exactly as
    /// the simulator would post it: `(body, x-content-signature)`.
    pub fn signed_callback(&self, ticket_id: i64, action: &str) -> (Vec<u8>, String) {
        let state = self.shared.state();
        self.shared
            .build_callback(&state, ticket_id, action, "jsmith", 1)
    }

    /// Where callbacks say the signing key is.
    pub fn key_url(&self) -> String {
        self.shared.key_url()
    }

    /// Rotates the signing key, as ConnectWise may: same `key_url`, a new key
    /// served there and used for every callback signed from now on.
    pub fn rotate_signing_key(&self) {
        *self
            .shared
            .signing_key
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = uuid::Uuid::new_v4().simple().to_string();
    }
}

impl Drop for ConnectWiseSim {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn sim_ticket(state: &State, t: &TicketRec) -> SimTicket {
    SimTicket {
        id: t.id,
        summary: t.summary.clone(),
        initial_description: t.initial_description.clone(),
        board: state
            .board(t.board_id)
            .map(|b| b.name.clone())
            .unwrap_or_default(),
        status: state
            .status(t.status_id)
            .map(|s| s.name.clone())
            .unwrap_or_default(),
        priority: state
            .priority(t.priority_id)
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        company: state
            .company(t.company_id)
            .map(|c| c.identifier.clone())
            .unwrap_or_default(),
        external_xref: t.external_xref.clone(),
        closed: t.closed,
        last_updated: t.last_updated,
        owner: t
            .owner_id
            .and_then(|id| state.member(id))
            .map(|m| m.email.clone()),
        kind: t.kind.as_ref().map(|k| k.name.clone()).unwrap_or_default(),
        sub_kind: t
            .sub_kind
            .as_ref()
            .map(|k| k.name.clone())
            .unwrap_or_default(),
        item: t.item.as_ref().map(|k| k.name.clone()).unwrap_or_default(),
    }
}
