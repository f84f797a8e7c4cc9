//! What `/healthz` reports: every supervised task (running, restarting after
//! a failure, done) with its restart count, and each connection's webhook
//! registration (registering, registered, retrying with the last error).
//!
//! `start` waits (briefly, bounded) for the first registration attempts via
//! [`Health::first_registrations`]; retries go on in the background.
//!
//! The `store` entry is `failing` (with the last write error) from a failed
//! store write (disk full, read-only) until a flush succeeds again, else
//! `ok`; `restart_needed` once sled itself reported an I/O error (sled keeps
//! failing until the process restarts; `psa-bridge run` then exits with
//! code 4 as soon as the disk is writable again).
//!
//! The `config` entry says when the running configuration was loaded and
//! how the last reload (SIGHUP) went: `{"loaded_unix_ms", "last_reload":
//! {"ok", "at_unix_ms", "error"}}` (`last_reload` is null before the first;
//! a failed reload leaves the daemon on its previous configuration and does
//! not change `status`).
//!
//! HTTP status: 503 while any task is down (waiting to be restarted) or the
//! store fails to write, else 200. `status` is `failing`, `degraded` (a
//! registration is not done yet: polling still covers changes) or `ok`. Error texts are shown on the admin
//! listener only; the public listener gets states and counts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::watch;

/// Where a supervised task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Running,
    /// Failed; waiting out the backoff before the next start.
    Restarting,
    /// Finished its job (a task that is allowed to end, e.g. registration).
    Done,
    /// Stopped because the daemon is shutting down.
    Stopped,
}

/// One supervised task.
#[derive(Clone, Debug, Serialize)]
pub struct TaskHealth {
    pub state: TaskState,
    pub restarts: u32,
    pub last_failure: Option<String>,
}

/// One connection's webhook registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Registration {
    Registering,
    Registered {
        attempts: u32,
    },
    Retrying {
        attempts: u32,
        last_error: String,
    },
    /// Refused: by the vendor for good (a 4xx other than 408/429; retried
    /// slowly in case the vendor side is fixed), or a configuration problem
    /// of ours retrying cannot fix (e.g. no webhook secret; not retried).
    Failed {
        attempts: u32,
        last_error: String,
    },
}

#[derive(Default)]
struct State {
    tasks: BTreeMap<String, TaskHealth>,
    webhooks: BTreeMap<String, Registration>,
    /// The store whose write failures are reported, once the daemon has one.
    store: Option<crate::store::Store>,
    config: Option<ConfigHealth>,
    /// What `/readyz` checks, once the daemon has its connections.
    ready: Option<Arc<crate::telemetry::Readiness>>,
}

/// When the running configuration was loaded, and the last reload.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigHealth {
    pub loaded_unix_ms: i64,
    pub last_reload: Option<Reload>,
}

/// One reload attempt: applied (`ok`) or refused with its reason.
#[derive(Clone, Debug, Serialize)]
pub struct Reload {
    pub ok: bool,
    pub at_unix_ms: i64,
    pub error: Option<String>,
}

/// Shared health board; cheap to clone.
#[derive(Clone)]
pub struct Health {
    state: Arc<Mutex<State>>,
    /// Bumped whenever a registration changes state.
    changed: Arc<watch::Sender<()>>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            state: Arc::default(),
            changed: Arc::new(watch::channel(()).0),
        }
    }
}

impl Health {
    fn state(&self) -> MutexGuard<'_, State> {
        // Plain data: a panic elsewhere while holding the lock leaves it usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until no registration is still on its first attempt, or `limit`.
    pub async fn first_registrations(&self, limit: Duration) {
        let mut changed = self.changed.subscribe();
        let settled = async {
            loop {
                let registering = self
                    .state()
                    .webhooks
                    .values()
                    .any(|r| *r == Registration::Registering);
                if !registering || changed.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(limit, settled).await;
    }

    pub(crate) fn task_running(&self, name: &str) {
        let mut state = self.state();
        let task = state
            .tasks
            .entry(name.to_string())
            .or_insert_with(|| TaskHealth {
                state: TaskState::Running,
                restarts: 0,
                last_failure: None,
            });
        task.state = TaskState::Running;
    }

    pub(crate) fn task_failed(&self, name: &str, failure: String) -> u32 {
        let mut state = self.state();
        let task = state
            .tasks
            .entry(name.to_string())
            .or_insert_with(|| TaskHealth {
                state: TaskState::Restarting,
                restarts: 0,
                last_failure: None,
            });
        task.state = TaskState::Restarting;
        task.restarts += 1;
        task.last_failure = Some(failure);
        task.restarts
    }

    pub(crate) fn task_ended(&self, name: &str, end: TaskState) {
        if let Some(task) = self.state().tasks.get_mut(name) {
            task.state = end;
        }
    }

    /// Reports `store`'s write failures from now on.
    pub(crate) fn watch_store(&self, store: crate::store::Store) {
        self.state().store = Some(store);
    }

    /// Records that the configuration in force was loaded at `at_unix_ms`.
    pub(crate) fn config_loaded(&self, at_unix_ms: i64) {
        let mut state = self.state();
        let last_reload = state.config.take().and_then(|c| c.last_reload);
        state.config = Some(ConfigHealth {
            loaded_unix_ms: at_unix_ms,
            last_reload,
        });
    }

    /// Records a reload attempt (after [`Health::config_loaded`] when it applied).
    pub(crate) fn config_reload(&self, reload: Reload) {
        let mut state = self.state();
        let config = state.config.get_or_insert(ConfigHealth {
            loaded_unix_ms: 0,
            last_reload: None,
        });
        config.last_reload = Some(reload);
    }

    /// The `config` entry, if the daemon recorded one.
    pub fn config(&self) -> Option<ConfigHealth> {
        self.state().config.clone()
    }

    /// Forgets tasks and registrations of connections a reload removed.
    pub(crate) fn forget(&self, tasks: &[String], registrations: &[String]) {
        let mut state = self.state();
        for task in tasks {
            state.tasks.remove(task);
        }
        for connection in registrations {
            state.webhooks.remove(connection);
        }
        drop(state);
        self.changed.send_replace(());
    }

    /// Answers `/readyz` from `readiness` from now on.
    pub(crate) fn watch_readiness(&self, readiness: crate::telemetry::Readiness) {
        self.state().ready = Some(Arc::new(readiness));
    }

    /// What `/readyz` checks (`None` before the daemon set it up).
    pub fn readiness(&self) -> Option<Arc<crate::telemetry::Readiness>> {
        self.state().ready.clone()
    }

    /// The `/readyz` answer ([`crate::telemetry::ready`]); `detail` adds
    /// the reason texts (token holders only). 503 until the daemon set it up.
    pub fn respond_ready(&self, detail: bool) -> Response {
        match self.readiness() {
            Some(readiness) => {
                let (code, body) = readiness.check().report(detail);
                (code, Json(body)).into_response()
            }
            None => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "starting" })),
            )
                .into_response(),
        }
    }

    pub(crate) fn set_registration(&self, connection: &str, registration: Registration) {
        self.state()
            .webhooks
            .insert(connection.to_string(), registration);
        self.changed.send_replace(());
    }

    /// One task's health, if it is supervised.
    pub fn task(&self, name: &str) -> Option<TaskHealth> {
        self.state().tasks.get(name).cloned()
    }

    /// One connection's registration, if it registers webhooks.
    pub fn registration(&self, connection: &str) -> Option<Registration> {
        self.state().webhooks.get(connection).cloned()
    }

    /// The `/healthz` answer; `detail` adds error texts (admin listener only).
    pub fn report(&self, detail: bool) -> (StatusCode, Value) {
        let state = self.state();
        let down = state
            .tasks
            .values()
            .any(|t| t.state == TaskState::Restarting);
        let pending = state
            .webhooks
            .values()
            .any(|r| !matches!(r, Registration::Registered { .. }));
        let store_failure = state.store.as_ref().and_then(|s| s.write_failure());
        let down = down || store_failure.is_some();
        let status = if down {
            "failing"
        } else if pending {
            "degraded"
        } else {
            "ok"
        };
        let mut tasks = serde_json::to_value(&state.tasks).unwrap_or(Value::Null);
        let mut webhooks = serde_json::to_value(&state.webhooks).unwrap_or(Value::Null);
        if !detail {
            strip(&mut tasks, "last_failure");
            strip(&mut webhooks, "last_error");
        }
        let code = if down {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        let mut body = json!({ "status": status, "tasks": tasks, "webhooks": webhooks });
        if let Some(config) = &state.config {
            body["config"] = serde_json::to_value(config).unwrap_or(Value::Null);
            if !detail {
                if let Some(reload) = body["config"]["last_reload"].as_object_mut() {
                    reload.remove("error");
                }
            }
        }
        if let Some(store) = &state.store {
            body["store"] = match store_failure {
                None => json!({ "state": "ok" }),
                Some(_) if !detail => json!({ "state": "failing" }),
                Some(error) => json!({ "state": "failing", "last_error": error }),
            };
            body["store"]["restart_needed"] = json!(store.needs_restart());
        }
        (code, body)
    }

    /// `report` as an HTTP response.
    pub fn respond(&self, detail: bool) -> Response {
        let (code, body) = self.report(detail);
        (code, Json(body)).into_response()
    }
}

/// Removes `key` from every object in a map of objects.
fn strip(map: &mut Value, key: &str) {
    if let Value::Object(entries) = map {
        for entry in entries.values_mut() {
            if let Value::Object(fields) = entry {
                fields.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_down_task_is_503_and_registration_is_degraded() {
        let health = Health::default();
        health.task_running("planner");
        health.set_registration("autotask", Registration::Registering);
        let (code, body) = health.report(true);
        assert_eq!(code, StatusCode::OK);
        assert_eq!(body["status"], "degraded");
        assert_eq!(body["webhooks"]["autotask"]["state"], "registering");

        health.set_registration(
            "autotask",
            Registration::Retrying {
                attempts: 2,
                last_error: "HTTP 503: busy".into(),
            },
        );
        assert_eq!(health.task_failed("planner", "panicked: boom".into()), 1);
        let (code, body) = health.report(true);
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "failing");
        assert_eq!(body["tasks"]["planner"]["state"], "restarting");
        assert_eq!(body["tasks"]["planner"]["last_failure"], "panicked: boom");
        assert_eq!(body["webhooks"]["autotask"]["last_error"], "HTTP 503: busy");

        let (_, public) = health.report(false);
        assert_eq!(public["tasks"]["planner"]["restarts"], 1);
        assert!(public["tasks"]["planner"].get("last_failure").is_none());
        assert!(public["webhooks"]["autotask"].get("last_error").is_none());

        health.task_running("planner");
        health.set_registration("autotask", Registration::Registered { attempts: 3 });
        let (code, body) = health.report(true);
        assert_eq!(code, StatusCode::OK);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["tasks"]["planner"]["restarts"], 1, "restarts are kept");
    }

    /// A failed store write shows until a flush succeeds; error text on
    /// the admin listener only.
    #[tokio::test]
    async fn a_failing_store_is_503_until_a_write_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("s")).unwrap();
        let health = Health::default();
        health.task_running("planner");
        health.watch_store(store.clone());
        let (code, body) = health.report(true);
        assert_eq!(
            (code, &body["store"]["state"]),
            (StatusCode::OK, &json!("ok"))
        );

        store
            .faults()
            .set_write_failure(Some(std::io::ErrorKind::StorageFull));
        assert!(store.flush().await.is_err());
        let (code, body) = health.report(true);
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "failing");
        assert_eq!(body["store"]["state"], "failing");
        let error = body["store"]["last_error"].as_str().unwrap();
        assert!(error.contains("injected store fault"), "{error}");
        let (_, public) = health.report(false);
        assert!(public["store"].get("last_error").is_none());

        store.faults().set_write_failure(None);
        store.flush().await.unwrap();
        let (code, body) = health.report(true);
        assert_eq!((code, &body["status"]), (StatusCode::OK, &json!("ok")));
        assert_eq!(body["store"]["state"], "ok");
    }

    /// A refused reload shows with its reason (admin only) and keeps the
    /// time the running configuration was loaded.
    #[test]
    fn config_entry_shows_the_last_reload() {
        let health = Health::default();
        assert!(health.report(true).1.get("config").is_none());
        health.config_loaded(1_000);
        let (_, body) = health.report(true);
        assert_eq!(body["config"]["loaded_unix_ms"], 1_000);
        assert!(body["config"]["last_reload"].is_null());
        health.config_reload(Reload {
            ok: false,
            at_unix_ms: 2_000,
            error: Some("bad mapping".into()),
        });
        let (code, body) = health.report(true);
        assert_eq!(code, StatusCode::OK);
        assert_eq!(body["config"]["loaded_unix_ms"], 1_000);
        assert_eq!(body["config"]["last_reload"]["ok"], false);
        assert_eq!(body["config"]["last_reload"]["error"], "bad mapping");
        let (_, public) = health.report(false);
        assert_eq!(public["config"]["last_reload"]["ok"], false);
        assert!(public["config"]["last_reload"].get("error").is_none());
        health.config_loaded(3_000);
        health.config_reload(Reload {
            ok: true,
            at_unix_ms: 3_000,
            error: None,
        });
        let (_, body) = health.report(true);
        assert_eq!(body["config"]["loaded_unix_ms"], 3_000);
        assert!(body["config"]["last_reload"]["error"].is_null());
    }

    #[tokio::test]
    async fn start_up_waits_for_first_registration_attempts_only() {
        let health = Health::default();
        health.set_registration("a", Registration::Registering);
        let waiter = {
            let health = health.clone();
            tokio::spawn(async move { health.first_registrations(Duration::from_secs(3600)).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        health.set_registration(
            "a",
            Registration::Retrying {
                attempts: 1,
                last_error: "HTTP 503".into(),
            },
        );
        tokio::time::timeout(Duration::from_secs(30), waiter)
            .await
            .expect("a failed first attempt ends the wait")
            .unwrap();
        // A first attempt that never ends holds start-up for `limit` only.
        health.set_registration("b", Registration::Registering);
        tokio::time::timeout(
            Duration::from_secs(30),
            health.first_registrations(Duration::from_millis(20)),
        )
        .await
        .expect("bounded");
    }
}
