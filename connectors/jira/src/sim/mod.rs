//! A stateful simulator of Jira Cloud REST v3 and Jira Service Management
//! for tests, the demo and benchmarks: two projects (a service desk `HELP`
//! and a software project `DEV`) sharing a workflow with conditions and
//! required fields, `search/jql` token paging, ADF bodies, JSM comment
//! visibility, issue properties, issue types with edit metadata (a type change only
//! within one workflow), the field catalogue, admin webhooks signed
//! with `X-Hub-Signature` and retried on failure, Jira's error envelope, and
//! the shared fault knobs ([`psa_connector::sim`]). Human actions (`user_*`)
//! act as a person in the Jira UI: they bypass the API and are not counted
//! as API writes, but fire webhooks like any change.

mod api_error;
mod comments_api;
mod edit_meta;
mod human;
mod issue_rules;
mod issues_api;
pub(crate) mod jql;
mod jql_eval;
mod routes;
mod search_api;
mod shapes;
mod state;
mod webhooks;
mod workflow;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use psa_connector::sim::SimControl;
use tokio::task::JoinHandle;

use state::State;
pub use state::SITE_TIME_ZONE;

/// Credentials the simulated site accepts (Basic `email:api_token`).
#[derive(Clone, Debug)]
pub struct JiraSimOptions {
    pub email: String,
    pub api_token: String,
}

impl Default for JiraSimOptions {
    fn default() -> Self {
        Self {
            email: "bridge@example.com".into(),
            api_token: "demo-api-token".into(),
        }
    }
}

/// An issue as the simulator holds it (description and comments as text).
#[derive(Clone, Debug, PartialEq)]
pub struct SimIssue {
    pub id: String,
    pub key: String,
    pub project: String,
    pub summary: String,
    /// The description as ADF.
    pub description: Option<serde_json::Value>,
    pub status: String,
    pub priority: String,
    pub resolution: Option<String>,
    /// Custom field values by field id (`customfield_10050` is "MSP Ticket").
    pub custom: std::collections::BTreeMap<String, serde_json::Value>,
    /// The `psa-bridge` issue property's `marker`, if set.
    pub marker: Option<String>,
    pub updated: DateTime<Utc>,
}

/// A comment as the simulator holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct SimComment {
    pub id: String,
    /// The body as ADF.
    pub body: serde_json::Value,
    /// The body as text.
    pub text: String,
    /// Visible to the customer (JSM); software projects' comments are
    /// stored public but have no customer.
    pub public: bool,
    pub author: String,
}

/// One request and its answer, recorded when
/// [`JiraSim::record_exchanges`] is on (spec validation in tests).
#[derive(Clone, Debug)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    /// The request body, when it was JSON.
    pub request: Option<serde_json::Value>,
    pub status: u16,
    /// The answer's body, when it was JSON.
    pub response: Option<serde_json::Value>,
}

/// What the routes and the handle share.
pub(crate) struct Shared {
    pub(crate) exchanges: Mutex<Option<Vec<Exchange>>>,
    state: Mutex<State>,
    pub(crate) options: JiraSimOptions,
    pub(crate) base_url: String,
    pub(crate) control: Arc<SimControl>,
    runtime: tokio::runtime::Handle,
    deliveries: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running simulator; stops when shut down or dropped.
pub struct JiraSim {
    pub(crate) shared: Arc<Shared>,
    addr: SocketAddr,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl JiraSim {
    pub async fn start(
        listener: tokio::net::TcpListener,
        options: JiraSimOptions,
    ) -> std::io::Result<JiraSim> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::seed(&options.email)),
            options,
            base_url: format!("http://{addr}/"),
            control: SimControl::new(api_error::error_body, routes::identify),
            runtime: tokio::runtime::Handle::current(),
            deliveries: Mutex::new(Vec::new()),
            exchanges: Mutex::new(None),
        });
        let app = routes::router(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "Jira simulator stopped");
            }
        });
        tracing::info!(%addr, "Jira simulator listening");
        Ok(JiraSim {
            shared,
            addr,
            server: Mutex::new(Some(server)),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`, the site URL.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn options(&self) -> &JiraSimOptions {
        &self.shared.options
    }

    /// Fault knobs, rate ceiling and request log; users are e-mail addresses.
    pub fn control(&self) -> Arc<SimControl> {
        self.shared.control.clone()
    }

    pub fn shutdown(&self) {
        if let Some(server) = self.server.lock().unwrap_or_else(|e| e.into_inner()).take() {
            server.abort();
        }
    }

    /// Turns webhook delivery off (polling-only tests) or back on.
    pub fn set_webhooks_enabled(&self, on: bool) {
        self.shared.state().webhooks_enabled = on;
    }

    /// Switches every admin webhook off (`enabled: false`), as an
    /// administrator can in Jira's settings (Jira itself does not).
    pub fn disable_webhooks(&self) {
        for hook in self.shared.state().webhooks.values_mut() {
            hook.enabled = false;
        }
    }

    /// Whether each admin webhook is enabled, by URL.
    pub fn webhooks_enabled_by_url(&self) -> Vec<(String, bool)> {
        self.shared
            .state()
            .webhooks
            .values()
            .map(|w| (w.url.clone(), w.enabled))
            .collect()
    }

    /// Registered webhooks: `(url, events, jql filter, has a secret)`.
    pub fn webhooks(&self) -> Vec<(String, Vec<String>, String, bool)> {
        self.shared
            .state()
            .webhooks
            .values()
            .map(|w| {
                (
                    w.url.clone(),
                    w.events.clone(),
                    w.jql.clone(),
                    w.secret.is_some(),
                )
            })
            .collect()
    }

    /// Starts (or stops, dropping them) recording every request and answer
    /// with their JSON bodies.
    pub fn record_exchanges(&self, on: bool) {
        *self
            .shared
            .exchanges
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = on.then(Vec::new);
    }

    /// The exchanges recorded so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared
            .exchanges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default()
    }

    /// Waits until every webhook delivery (with its retries) has finished.
    pub async fn wait_webhooks_idle(&self) {
        self.shared.wait_idle().await;
    }
}

impl Drop for JiraSim {
    fn drop(&mut self) {
        self.shutdown();
    }
}
