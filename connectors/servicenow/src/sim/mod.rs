//! A stateful HTTP simulator of a ServiceNow instance's Table API, following
//! `docs/vendors/servicenow.md`: records per table with string values, the
//! `{"result":…}` envelopes and the `status: failure` error body, reference
//! fields, `sysparm_*` parameters, encoded queries, `X-Total-Count` and
//! `Link` paging, priority from impact × urgency, the On Hold / Resolved data
//! policies, the `sys_journal_field` journal, Basic auth and OAuth tokens,
//! a rate-limit rule, the shared fault knobs ([`SimControl`]) and signed
//! outbound notifications (the business rule of the receiver contract).
//!
//! Human actions (`user_*`) change the instance as a person in the UI would:
//! they are not API calls, but they fire notifications.

mod auth;
mod human;
mod limits;
mod notify;
mod query;
mod render;
mod seed;
mod state;
mod table_api;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use psa_connector::sim::{middleware, send_webhook, Deliveries, SimControl};
use serde_json::Value;
use tokio::task::JoinHandle;

pub use auth::{SimOAuthClient, SimUser};
pub use human::{SimIncident, SimJournalEntry};
pub use state::{format_time, Rec};

use state::Data;

/// Header names and values of a notice.
pub type NoticeHeaders = Vec<(String, String)>;

/// How to start a simulator.
#[derive(Clone, Debug)]
pub struct ServiceNowSimOptions {
    /// API users (Basic auth and the OAuth `password` grant).
    pub users: Vec<SimUser>,
    /// OAuth applications.
    pub oauth_clients: Vec<SimOAuthClient>,
    /// Access token lifetime (`expires_in`); 1799 s on a real instance.
    pub token_lifetime: Duration,
    /// Priority by `[impact - 1][urgency - 1]`.
    pub priority_matrix: [[u8; 3]; 3],
    /// Seed choice lists, groups, users and companies.
    pub seed: bool,
}

/// The platform's default priority matrix.
pub const DEFAULT_PRIORITY_MATRIX: [[u8; 3]; 3] = [[1, 2, 3], [2, 3, 4], [3, 4, 5]];

impl Default for ServiceNowSimOptions {
    fn default() -> Self {
        Self {
            users: vec![SimUser {
                user_name: "bridge.integration".into(),
                password: "demo-password".into(),
                name: "PSA Bridge".into(),
            }],
            oauth_clients: vec![SimOAuthClient {
                client_id: "demo-client".into(),
                client_secret: "demo-client-secret".into(),
                acts_as: "bridge.integration".into(),
            }],
            token_lifetime: Duration::from_secs(1799),
            priority_matrix: DEFAULT_PRIORITY_MATRIX,
            seed: true,
        }
    }
}

/// State shared by the server and the handle.
pub(crate) struct Shared {
    data: Mutex<Data>,
    control: Arc<SimControl>,
    origin: String,
    tasks: Deliveries,
    runtime: tokio::runtime::Handle,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends the notice for a changed record when notifications are on.
    fn announce(&self, table: &str, sys_id: &str, operation: &str) {
        let notice = {
            let data = self.lock();
            match (&data.notify, data.get(table, sys_id)) {
                (Some((url, secret)), Some(rec)) if table == data.notify_table => Some(
                    notify::notice(url, secret, table, rec, operation, Utc::now()),
                ),
                _ => None,
            }
        };
        let Some(notice) = notice else {
            return;
        };
        self.tasks.track(self.runtime.spawn(send_webhook(
            self.control.clone(),
            notice.url,
            notice.headers,
            notice.body,
        )));
    }
}

fn error_body(_status: u16, message: &str) -> Value {
    table_api::error_json(message, message)
}

/// `POST /oauth_token.do`: outside the API's fault knobs and request log.
async fn token_endpoint(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (status, value) = shared
        .lock()
        .auth
        .token_endpoint(content_type.as_deref(), &body);
    let status = axum::http::StatusCode::from_u16(status)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(value)).into_response()
}

/// A running simulator; stops when dropped.
pub struct ServiceNowSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl ServiceNowSim {
    /// Serves on `listener` until dropped or shut down.
    pub async fn start(
        listener: tokio::net::TcpListener,
        options: ServiceNowSimOptions,
    ) -> std::io::Result<ServiceNowSim> {
        let addr = listener.local_addr()?;
        let auth = auth::AuthState::new(
            options.users.clone(),
            options.oauth_clients.clone(),
            options.token_lifetime,
        );
        let mut data = Data::new(options.priority_matrix, auth);
        if options.seed {
            seed::seed(&mut data, &options.users);
        }
        let control = SimControl::new(error_body, auth::identify);
        let shared = Arc::new(Shared {
            data: Mutex::new(data),
            control: control.clone(),
            origin: format!("http://{addr}"),
            tasks: Deliveries::default(),
            runtime: tokio::runtime::Handle::current(),
        });
        let api = axum::Router::new()
            .fallback(table_api::dispatch)
            .with_state(shared.clone())
            .layer(axum::middleware::from_fn_with_state(control, middleware));
        let router = axum::Router::new()
            .route("/oauth_token.do", axum::routing::post(token_endpoint))
            .with_state(shared.clone())
            .fallback_service(api);
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!(error = %e, "servicenow simulator stopped");
            }
        });
        Ok(ServiceNowSim {
            shared,
            addr,
            server,
        })
    }

    /// Starts on `127.0.0.1:0`.
    pub async fn start_local(options: ServiceNowSimOptions) -> std::io::Result<ServiceNowSim> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::start(listener, options).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The instance URL to configure as `instance_url`.
    pub fn instance_url(&self) -> String {
        self.shared.origin.clone()
    }

    pub fn control(&self) -> Arc<SimControl> {
        self.shared.control.clone()
    }

    pub fn shutdown(&self) {
        self.server.abort();
    }

    /// Makes every OAuth access token issued so far expire now.
    pub fn expire_tokens(&self) {
        self.shared.lock().auth.expire_tokens();
    }

    /// The grant type of every OAuth token issued, in order.
    pub fn token_grants(&self) -> Vec<String> {
        self.shared.lock().auth.grants.clone()
    }

    /// A rate-limit rule: at most `limit` API requests per `window`
    /// (`None` removes it).
    pub fn set_rate_limit_rule(&self, rule: Option<(u32, Duration)>) {
        self.shared.lock().rate_rule = rule.map(|(limit, window)| {
            limits::RateRule::new(limit, window, "d2c5f0a1c3a1221005f3ee28d3c4bc2d")
        });
    }

    /// Announce every change of `table` records (default `incident`) to
    /// `url`, signed with `secret`; `None` stops notifications.
    pub fn set_notifications(&self, target: Option<(&str, &str)>) {
        self.shared.lock().notify = target.map(|(u, s)| (u.to_string(), s.to_string()));
    }

    /// The table notifications are sent for.
    pub fn set_notification_table(&self, table: &str) {
        self.shared.lock().notify_table = table.to_string();
    }

    /// Waits until every notification started so far has been answered.
    pub async fn wait_notifications_idle(&self) {
        self.shared.tasks.wait_idle().await;
    }

    /// The notice the business rule would send now for a record of `table`
    /// (headers, body), signed with `secret` at `at`: what a genuine
    /// notification looks like, for tests that deliver it themselves.
    pub fn signed_notice(
        &self,
        table: &str,
        sys_id: &str,
        secret: &str,
        at: chrono::DateTime<Utc>,
    ) -> Option<(NoticeHeaders, Vec<u8>)> {
        let data = self.shared.lock();
        let rec = data.get(table, sys_id)?;
        let n = notify::notice("", secret, table, rec, "update", at);
        Some((n.headers, n.body))
    }

    /// One record of any table, as stored (all values strings).
    pub fn record(&self, table: &str, sys_id: &str) -> Option<Rec> {
        self.shared.lock().get(table, sys_id).cloned()
    }

    /// The sys_id of a reference row by name (`sys_user_group`, `sys_user`, `core_company`).
    pub fn sys_id_of(&self, table: &str, name: &str) -> Option<String> {
        self.shared.lock().find_by_name(table, name)
    }
}

impl Drop for ServiceNowSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}
