//! Supervision of the daemon's long-running tasks (planner, pruner, delivery
//! workers, pollers, HTTP servers, webhook registration). Each runs in its own
//! tokio task; if it panics or returns while the daemon is not stopping, the
//! `JoinError` or early return is logged, counted in
//! `psa_bridge_task_restarts_total`, shown in `/healthz`, and the task is
//! started again after an exponential, jittered backoff (`backon`).

use std::future::Future;
use std::time::{Duration, Instant};

use backon::ExponentialBackoff;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle, JoinSet};

use super::health::{Health, TaskState};

/// Resolves when the daemon is stopping; clone one into each task run.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    pub fn new(rx: watch::Receiver<bool>) -> Self {
        Self(rx)
    }

    /// A future that resolves once the daemon is stopping.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.clone();
        async move {
            // A dropped sender also means stop.
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }

    pub fn is_stopping(&self) -> bool {
        *self.0.borrow()
    }
}

/// How soon a failed task is started again.
#[derive(Clone, Copy, Debug)]
pub struct RestartPolicy {
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A task that ran this long before failing starts the backoff afresh.
    pub healthy_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            healthy_after: Duration::from_secs(300),
        }
    }
}

impl RestartPolicy {
    fn backoff(&self) -> ExponentialBackoff {
        crate::retry::delays(self.min_delay, self.max_delay)
    }
}

/// Whether a task may finish on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// Runs until the daemon stops; returning earlier is a failure.
    UntilStop,
    /// Does a job and returns (e.g. webhook registration); only panics restart it.
    UntilDone,
}

/// Starts tasks under supervision.
#[derive(Clone)]
pub struct Supervisor {
    health: Health,
    stop: Stop,
    policy: RestartPolicy,
}

/// Aborts the task it holds when dropped, so no run outlives its supervisor.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Supervisor {
    pub fn new(health: Health, stop: Stop, policy: RestartPolicy) -> Self {
        Self {
            health,
            stop,
            policy,
        }
    }

    /// Runs `make(stop)` as task `name` in `tasks`, starting it again whenever
    /// it fails, until the daemon stops.
    pub fn spawn<F, Fut>(&self, tasks: &mut JoinSet<()>, name: &str, lifetime: Lifetime, make: F)
    where
        F: FnMut(Stop) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let this = self.clone();
        let name = name.to_string();
        this.health.task_running(&name);
        // At 0 from the start, so dashboards and `increase()` see every task.
        metrics::counter!("psa_bridge_task_restarts_total", "task" => name.clone()).increment(0);
        tasks.spawn(async move { this.supervise(name, lifetime, make).await });
    }

    async fn supervise<F, Fut>(self, name: String, lifetime: Lifetime, mut make: F)
    where
        F: FnMut(Stop) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut backoff = self.policy.backoff();
        loop {
            self.health.task_running(&name);
            let started = Instant::now();
            let mut run = AbortOnDrop(tokio::spawn(make(self.stop.clone())));
            let result = (&mut run.0).await;
            let stopping = self.stop.is_stopping();
            let failure = match (result, lifetime) {
                (Ok(()), _) if stopping => {
                    self.health.task_ended(&name, TaskState::Stopped);
                    return;
                }
                (Ok(()), Lifetime::UntilDone) => {
                    self.health.task_ended(&name, TaskState::Done);
                    return;
                }
                (Ok(()), Lifetime::UntilStop) => "returned unexpectedly".to_string(),
                (Err(e), _) => describe(e),
            };
            if stopping {
                tracing::error!(task = %name, "{failure} while the daemon was stopping");
                self.health.task_ended(&name, TaskState::Stopped);
                return;
            }
            if started.elapsed() >= self.policy.healthy_after {
                backoff = self.policy.backoff();
            }
            let delay = backoff
                .next()
                .unwrap_or(self.policy.max_delay)
                .min(self.policy.max_delay);
            let restarts = self.health.task_failed(&name, failure.clone());
            metrics::counter!("psa_bridge_task_restarts_total", "task" => name.clone())
                .increment(1);
            tracing::error!(task = %name, restarts, delay_ms = delay.as_millis() as u64, "task {failure}; restarting it");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.stop.wait() => {
                    self.health.task_ended(&name, TaskState::Stopped);
                    return;
                }
            }
        }
    }
}

/// A panic's message, or why the task was cancelled.
fn describe(error: JoinError) -> String {
    if error.is_panic() {
        let payload = error.into_panic();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string());
        format!("panicked: {message}")
    } else {
        format!("was cancelled: {error}")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::daemon::health::TaskHealth;

    fn policy(delay: Duration) -> RestartPolicy {
        RestartPolicy {
            min_delay: delay,
            max_delay: delay,
            healthy_after: Duration::from_secs(3600),
        }
    }

    /// Waits until `task`'s health satisfies `check` (never a fixed sleep).
    async fn until(health: &Health, task: &str, check: impl Fn(&TaskHealth) -> bool) -> TaskHealth {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Some(t) = health.task(task).filter(|t| check(t)) {
                    return t;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the task never reached the expected state")
    }

    fn setup(delay: Duration) -> (Health, watch::Sender<bool>, Supervisor, JoinSet<()>) {
        let health = Health::default();
        let (tx, rx) = watch::channel(false);
        let sup = Supervisor::new(health.clone(), Stop::new(rx), policy(delay));
        (health, tx, sup, JoinSet::new())
    }

    #[tokio::test]
    async fn a_panicking_task_is_restarted_and_reported() {
        let (health, stop, sup, mut tasks) = setup(Duration::from_millis(10));
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        sup.spawn(&mut tasks, "planner", Lifetime::UntilStop, move |stop| {
            let run = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if run == 0 {
                    panic!("injected fault");
                }
                stop.wait().await;
            }
        });
        let task = until(&health, "planner", |t| {
            t.restarts == 1 && t.state == TaskState::Running
        })
        .await;
        assert_eq!(
            task.last_failure.as_deref(),
            Some("panicked: injected fault")
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2, "started again once");
        let (code, body) = health.report(true);
        assert_eq!(code, axum::http::StatusCode::OK);
        assert_eq!(body["tasks"]["planner"]["restarts"], 1);

        stop.send(true).unwrap();
        while let Some(joined) = tasks.join_next().await {
            joined.unwrap();
        }
        assert_eq!(health.task("planner").unwrap().state, TaskState::Stopped);
        assert_eq!(runs.load(Ordering::SeqCst), 2, "not restarted on stop");
    }

    #[tokio::test]
    async fn a_task_down_in_backoff_makes_health_503_until_stop() {
        let (health, stop, sup, mut tasks) = setup(Duration::from_secs(3600));
        sup.spawn(
            &mut tasks,
            "delivery:x",
            Lifetime::UntilStop,
            |_stop| async {
                panic!("always broken");
            },
        );
        until(&health, "delivery:x", |t| t.state == TaskState::Restarting).await;
        let (code, body) = health.report(true);
        assert_eq!(code, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "failing");
        assert_eq!(
            body["tasks"]["delivery:x"]["last_failure"],
            "panicked: always broken"
        );
        // Stopping does not wait out the hour-long backoff.
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(joined) = tasks.join_next().await {
                joined.unwrap();
            }
        })
        .await
        .expect("the supervisor stops during backoff");
    }

    #[tokio::test]
    async fn an_early_return_is_a_failure_but_a_finished_job_is_not() {
        let (health, stop, sup, mut tasks) = setup(Duration::from_millis(10));
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        sup.spawn(&mut tasks, "poller:x", Lifetime::UntilStop, move |stop| {
            let run = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if run > 0 {
                    stop.wait().await;
                }
            }
        });
        sup.spawn(&mut tasks, "register:x", Lifetime::UntilDone, |_| async {});
        let task = until(&health, "poller:x", |t| {
            t.restarts == 1 && t.state == TaskState::Running
        })
        .await;
        assert_eq!(task.last_failure.as_deref(), Some("returned unexpectedly"));
        let done = until(&health, "register:x", |t| t.state == TaskState::Done).await;
        assert_eq!(done.restarts, 0);
        stop.send(true).unwrap();
        while let Some(joined) = tasks.join_next().await {
            joined.unwrap();
        }
    }
}
