//! Graceful shutdown within a bound (`daemon.shutdown_timeout_secs`):
//!
//! 1. the webhook intake drains: new webhooks get 503 + `Retry-After` while
//!    the listeners keep accepting connections ([`super::drain`]);
//! 2. the planner, pruner, pollers and registration stop taking work; the
//!    delivery workers start nothing new and let their in-flight deliveries
//!    finish until the workers' deadline (the bound minus a reserve for the
//!    steps below), then abandon them: those operations stay in the outbox,
//!    and because every delivery looks for the bridge's marker before it
//!    writes, the next start repeats them safely;
//! 3. webhook requests admitted before the stop finish their enqueue and
//!    flush and get their 200; then the listeners close;
//! 4. the store is flushed a last time.
//!
//! Each step is bounded; whatever still runs at its deadline is cancelled.
//! Everything the daemon acknowledged was flushed when it was acknowledged,
//! so cancelling loses nothing.

use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{timeout_at, Instant};

use super::{address_file, Daemon};

/// What a shutdown did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// From the call to the end of the final flush.
    pub elapsed: Duration,
    /// Something was still running at its deadline and was cancelled.
    pub deadline_hit: bool,
    /// Deliveries in flight at the stop that finished before the deadline.
    pub finished: usize,
    /// Operations in flight at the deadline, left in the outbox.
    pub abandoned: Vec<u64>,
    /// Webhook requests admitted before the stop and still unanswered at
    /// their deadline (their notice is stored only if they got past the
    /// flush; the vendor saw no 200 and sends again).
    pub webhooks_cut: usize,
    /// The final flush failed (the error is logged).
    pub flush_failed: bool,
}

use super::reload::join_until;

/// Cancels whatever is left in `tasks` and waits for the cancellations.
async fn cancel(tasks: &mut JoinSet<()>) {
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

impl Daemon {
    /// Stops the daemon within `bound` (see the module documentation).
    pub async fn shutdown_within(mut self, bound: Duration) -> ShutdownReport {
        let started = Instant::now();
        let deadline = started + bound;
        // Time kept for the steps after the deliveries' deadline.
        let reserve = (bound / 5).min(Duration::from_secs(2));
        let mut report = ShutdownReport::default();
        tracing::info!(
            bound_ms = bound.as_millis() as u64,
            "stopping: new webhooks are answered 503, in-flight deliveries may finish"
        );

        self.intake.start_draining();
        let _ = self.stop.send(true);
        // A reload in progress finishes first (it is bounded by the same timeout).
        let reloader = self.reloader.clone();
        let mut running = match timeout_at(deadline - reserve, reloader.running.lock()).await {
            Ok(running) => Some(running),
            Err(_) => {
                tracing::warn!("a configuration reload still runs at the shutdown deadline");
                report.deadline_hit = true;
                None
            }
        };
        let mut workers = match &mut running {
            Some(running) => {
                running.closed = true;
                running.generation.stop();
                std::mem::take(&mut running.generation.tasks)
            }
            None => JoinSet::new(),
        };
        let workers = &mut workers;
        let joined = join_until(&mut self.tasks, deadline - reserve).await;
        if !(joined && join_until(workers, deadline - reserve).await) {
            report.deadline_hit = true;
            if let Some(running) = &running {
                running.generation.abandon();
            }
            // Abandoned deliveries return at their next await point.
            let joined = join_until(&mut self.tasks, deadline - reserve / 2).await;
            if !(joined && join_until(workers, deadline - reserve / 2).await) {
                tracing::warn!("tasks still running at the shutdown deadline; cancelling them");
                cancel(&mut self.tasks).await;
                cancel(workers).await;
            }
        }
        let drained = running
            .as_ref()
            .map(|r| r.generation.tally.get())
            .unwrap_or_default();
        drop(running);

        // The listeners have been answering 503 meanwhile; requests admitted
        // before the stop finish their enqueue before they close.
        if timeout_at(deadline - reserve / 2, self.intake.idle())
            .await
            .is_err()
        {
            report.deadline_hit = true;
            report.webhooks_cut = self.intake.in_flight();
        }
        let _ = self.stop_http.send(true);
        if !join_until(&mut self.http_tasks, deadline - reserve / 4).await {
            report.deadline_hit = true;
            cancel(&mut self.http_tasks).await;
        }

        if let Err(e) = self.engine.store.flush().await {
            report.flush_failed = true;
            tracing::error!(error = %e, "final flush failed");
        }
        let _ = std::fs::remove_file(address_file(&self.store_path));
        report.finished = drained.finished;
        report.abandoned = drained.abandoned;
        report.elapsed = started.elapsed();
        report.log(bound);
        report
    }
}

impl ShutdownReport {
    /// The one line that says what the shutdown finished and what it left.
    fn log(&self, bound: Duration) {
        let elapsed_ms = self.elapsed.as_millis() as u64;
        let bound_ms = bound.as_millis() as u64;
        if self.deadline_hit {
            tracing::warn!(
                elapsed_ms,
                bound_ms,
                finished = self.finished,
                abandoned = self.abandoned.len(),
                abandoned_ops = ?self.abandoned,
                webhooks_cut = self.webhooks_cut,
                "stopped at the shutdown deadline: {} in-flight deliveries finished, {} left in the outbox for the next start (it looks for their markers before repeating them)",
                self.finished,
                self.abandoned.len()
            );
        } else {
            tracing::info!(
                elapsed_ms,
                bound_ms,
                finished = self.finished,
                abandoned = 0,
                "stopped cleanly: {} in-flight deliveries finished, none left in flight",
                self.finished
            );
        }
    }
}
