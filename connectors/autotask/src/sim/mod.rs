//! A stateful HTTP simulator of the Autotask REST API (zone discovery,
//! tickets, notes, resources, picklists, UDFs, queries with paging, ticket
//! and note webhooks) following `docs/vendors/autotask.md`, behind the shared
//! [`SimControl`] middleware (fault knobs, 429 ceiling, request log).
//!
//! Human actions (`user_*`) change the tenant as a person in the Autotask UI
//! would: they are not API calls, but they fire webhooks.

mod events;
mod filter;
mod hook_routes;
mod hooks;
mod human;
mod notes;
mod query;
mod resources;
mod routes;
mod seed;
mod state;
mod tickets;
mod webhook_faults;

pub use webhook_faults::SimWebhook;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::{HeaderMap, Method};
use chrono::{DateTime, Utc};
use psa_connector::sim::{middleware, send_webhook, send_webhook_status, Deliveries, SimControl};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use events::Outgoing;
use resources::ResourceRec;
use state::{label_of, Data, HookKind, TicketRec};

/// One API user the simulator accepts.
#[derive(Clone, Debug)]
pub struct SimApiUser {
    pub username: String,
    pub secret: String,
    pub integration_code: String,
    /// The API user's resource id (creator of what it writes).
    pub resource_id: i64,
}

/// Autotask's answer when an integration runs more than 3 calls at once.
pub const THREAD_LIMIT_MESSAGE: &str =
    "The Autotask API thread threshold of 3 threads has been exceeded";

/// How to start a simulator.
#[derive(Clone, Debug)]
pub struct AutotaskSimOptions {
    pub api_users: Vec<SimApiUser>,
    /// Seed picklists, queues, companies, resources and UDFs.
    pub seed: bool,
}

impl Default for AutotaskSimOptions {
    fn default() -> Self {
        Self {
            api_users: vec![SimApiUser {
                username: "bridge@example.com".into(),
                secret: "demo-secret".into(),
                integration_code: "DEMOCODE".into(),
                resource_id: 29682940,
            }],
            seed: true,
        }
    }
}

/// A ticket as the simulator holds it (labels, not ids).
#[derive(Clone, Debug, PartialEq)]
pub struct SimTicket {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub description: String,
    pub status: String,
    pub priority: String,
    pub queue: String,
    /// The assigned resource's e-mail address.
    pub assignee: Option<String>,
    pub issue_type: String,
    pub sub_issue_type: String,
    pub udfs: BTreeMap<String, String>,
    pub last_modified: DateTime<Utc>,
}

/// A note as the simulator holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct SimNote {
    pub id: i64,
    pub text: String,
    pub internal: bool,
    /// Resource name (API users are resources named after their user name).
    pub author: String,
    pub created: DateTime<Utc>,
}

/// An API error answer: status and message for `{"errors":[…]}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    /// Validation failures: Autotask answers them with 500.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: 500,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
        }
    }
    /// A record the request addresses does not exist: Autotask answers 500
    /// "No matching records found…" (not 404) for updates, deletes and
    /// children of a missing parent. `action` is "update", "create", "delete".
    pub fn no_record(action: &str) -> Self {
        Self::invalid(format!(
            "No matching records found. The logged in Resource may not have the required permissions to {action} the data."
        ))
    }
    /// A URL no route serves (ASP.NET's own 404).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            message: message.into(),
        }
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: 401,
            message: message.into(),
        }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: 403,
            message: message.into(),
        }
    }
    pub fn method(method: &Method) -> Self {
        Self {
            status: 405,
            message: format!("The requested resource does not support http method '{method}'."),
        }
    }
}

/// State shared by the server and the handle.
pub(crate) struct Shared {
    data: Arc<Mutex<Data>>,
    control: Arc<SimControl>,
    origin: String,
    tasks: Deliveries,
    runtime: tokio::runtime::Handle,
    /// [`AutotaskSim::fail_writes_after`]: successful writes still to let
    /// through, then the statuses to queue on `fail_next_writes`.
    write_faults: Mutex<Option<(usize, Vec<u16>)>>,
    /// Calls refused because the tenant was at its request threshold.
    threshold_refusals: std::sync::atomic::AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a successful write towards [`AutotaskSim::fail_writes_after`].
    fn count_write(&self) {
        let mut faults = self.write_faults.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((left, statuses)) = faults.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.control.fail_next_writes(statuses);
                *faults = None;
            }
        }
    }

    /// Sends each event in a tracked task; the answer counts towards the
    /// webhook's consecutive failures ([`webhook_faults`]).
    fn deliver(&self, events: Vec<Outgoing>) {
        for e in events {
            let (control, data) = (self.control.clone(), self.data.clone());
            self.tasks.track(self.runtime.spawn(async move {
                let status = send_webhook_status(control.clone(), e.url, e.headers, e.body).await;
                let notice = webhook_faults::count_delivery(&data, e.hook_id, status);
                if let Some(n) = notice {
                    // The notice's own answer does not count.
                    send_webhook(control, n.url, n.headers, n.body).await;
                }
            }));
        }
    }
}

fn error_body(_status: u16, message: &str) -> Value {
    json!({ "errors": [message] })
}

fn identify(headers: &HeaderMap) -> Option<String> {
    headers
        .get("username")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A running simulator; stops when dropped.
pub struct AutotaskSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl AutotaskSim {
    /// Serves on `listener` until dropped or shut down.
    pub async fn start(
        listener: tokio::net::TcpListener,
        options: AutotaskSimOptions,
    ) -> std::io::Result<AutotaskSim> {
        let addr = listener.local_addr()?;
        let mut data = Data {
            webhooks_enabled: true,
            notes_touch_tracked: true,
            next_ticket: 1000,
            next_note: 30_000,
            next_hook: 100,
            next_child: 500,
            request_threshold: 10_000,
            hook_failure_limit: 25,
            ..Data::default()
        };
        if options.seed {
            data.tenant = seed::tenant();
        }
        for user in &options.api_users {
            data.tenant
                .resources
                .insert(user.resource_id, ResourceRec::api_user(&user.username));
        }
        data.api_users = options.api_users;
        let control = SimControl::new(error_body, identify);
        // Autotask allows 3 concurrent calls per integration and endpoint; the
        // simulator applies it per API user, which is stricter.
        control.set_concurrency_limit(Some(3), THREAD_LIMIT_MESSAGE);
        let shared = Arc::new(Shared {
            data: Arc::new(Mutex::new(data)),
            control: control.clone(),
            origin: format!("http://{addr}"),
            tasks: Deliveries::default(),
            runtime: tokio::runtime::Handle::current(),
            write_faults: Mutex::new(None),
            threshold_refusals: Default::default(),
        });
        let router = axum::Router::new()
            .fallback(routes::dispatch)
            .with_state(shared.clone())
            .layer(axum::middleware::from_fn_with_state(control, middleware));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!(error = %e, "autotask simulator stopped");
            }
        });
        Ok(AutotaskSim {
            shared,
            addr,
            server,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The discovery root to configure as `zone_discovery_url`.
    pub fn zone_discovery_url(&self) -> String {
        format!("{}/atservicesrest/", self.shared.origin)
    }

    /// The zone REST root to configure as `api_url`.
    pub fn api_url(&self) -> String {
        format!("{}/ATServicesRest/", self.shared.origin)
    }

    pub fn control(&self) -> Arc<SimControl> {
        self.shared.control.clone()
    }

    pub fn shutdown(&self) {
        self.server.abort();
    }

    fn sim_ticket(data: &Data, t: &TicketRec) -> SimTicket {
        let tn = &data.tenant;
        SimTicket {
            id: t.id,
            number: t.number.clone(),
            title: t.title.clone(),
            description: t.description.clone().unwrap_or_default(),
            status: label_of(&tn.statuses, t.status)
                .unwrap_or_default()
                .to_string(),
            priority: label_of(&tn.priorities, t.priority)
                .unwrap_or_default()
                .to_string(),
            queue: t
                .queue_id
                .and_then(|q| label_of(&tn.queues, q))
                .unwrap_or_default()
                .to_string(),
            assignee: t
                .assigned_resource_id
                .and_then(|r| tn.resources.get(&r))
                .map(|r| r.email.clone()),
            issue_type: t
                .issue_type
                .and_then(|v| label_of(&tn.issue_types, v))
                .unwrap_or_default()
                .to_string(),
            sub_issue_type: t
                .sub_issue_type
                .and_then(|v| label_of(&tn.sub_issue_types, v))
                .unwrap_or_default()
                .to_string(),
            udfs: t.udfs.clone(),
            last_modified: t.last_tracked,
        }
    }

    pub fn ticket(&self, id: i64) -> Option<SimTicket> {
        let data = self.shared.lock();
        data.tickets.get(&id).map(|t| Self::sim_ticket(&data, t))
    }

    pub fn tickets(&self) -> Vec<SimTicket> {
        let data = self.shared.lock();
        data.tickets
            .values()
            .map(|t| Self::sim_ticket(&data, t))
            .collect()
    }

    pub fn notes(&self, ticket_id: i64) -> Vec<SimNote> {
        let data = self.shared.lock();
        data.notes
            .values()
            .filter(|n| n.ticket_id == ticket_id)
            .map(|n| SimNote {
                id: n.id,
                text: n.description.clone(),
                internal: data.tenant.is_internal(n.publish),
                author: data
                    .tenant
                    .resources
                    .get(&n.creator_resource_id)
                    .map(ResourceRec::display_name)
                    .unwrap_or_else(|| n.creator_resource_id.to_string()),
                created: n.created,
            })
            .collect()
    }

    /// Lets `ok` more writes succeed, then makes the next writes fail with
    /// `statuses` (through the shared `fail_next_writes` knob): a fault in
    /// the middle of a multi-call operation such as webhook registration.
    /// With `ok == 0` the faults are queued at once.
    pub fn fail_writes_after(&self, ok: usize, statuses: &[u16]) {
        if ok == 0 {
            self.shared.control.fail_next_writes(statuses);
            return;
        }
        *self
            .shared
            .write_faults
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some((ok, statuses.to_vec()));
    }

    /// Whether adding a note moves the ticket's
    /// lastTrackedModificationDateTime (default on; whether the real API does
    /// is unconfirmed). lastActivityDate moves either way.
    pub fn set_notes_touch_tracked(&self, on: bool) {
        self.shared.lock().notes_touch_tracked = on;
    }

    /// Leaves `field` out of the webhook field list (`{Kind}WebhookFields/
    /// entityInformation/fields`) of `entity` ("Ticket" or "TicketNote"), as
    /// a tenant that does not offer it would; `false` offers it again.
    pub fn hide_webhook_field(&self, entity: &str, field: &str, hidden: bool) {
        let kind = if entity.eq_ignore_ascii_case("TicketNote") {
            HookKind::Note
        } else {
            HookKind::Ticket
        };
        let mut data = self.shared.lock();
        data.hidden_hook_fields
            .retain(|(k, f)| !(*k == kind && f.eq_ignore_ascii_case(field)));
        if hidden {
            data.hidden_hook_fields.push((kind, field.to_string()));
        }
    }

    /// When off, no webhooks are sent (polling-only tests).
    pub fn set_webhooks_enabled(&self, on: bool) {
        self.shared.lock().webhooks_enabled = on;
    }

    /// Waits until every webhook delivery started so far has finished.
    pub async fn wait_webhooks_idle(&self) {
        self.shared.tasks.wait_idle().await;
    }
}

impl Drop for AutotaskSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}
