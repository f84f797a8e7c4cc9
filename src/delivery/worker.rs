//! One delivery worker per connection. Each round it reads the store's due
//! index for the head operation of every (link, side) queue that is due
//! (nothing else of the outbox is decoded), and runs
//! those heads concurrently; the connection's rate limiter (inside the HTTP
//! client) bounds requests per second and calls in flight. A 429 pauses the
//! whole connection for the vendor's `Retry-After`. A queue whose head is a
//! dead letter is blocked: nothing behind it overtakes it. A delivery task
//! that panics frees its queue, is logged and counted, and its operation is
//! rescheduled like a transient failure.
//!
//! On stop the worker starts nothing new; deliveries already in flight may
//! finish until the `abandon` signal (the daemon's shutdown deadline), and
//! whatever is still running then is cancelled and left in the outbox as it
//! is: every action is idempotent (a create or a note whose attempt began
//! looks for the bridge's marker first: `attempt`), so the next start
//! repeats it safely. [`DrainTally`] tells
//! the daemon what was finished and what was left.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::apply::apply_with;
use super::attempt;
use super::hold::Hold;
use crate::engine::Engine;
use crate::store::{Action, OutboxOp, Side};

type QueueKey = (u64, Side);

/// Deliveries one worker runs at once. Each waits on the connection's
/// limiter for every call, and the limiter serves waiters in turn: with
/// every due head started at once (a thousand queues after a restart with
/// a backlog), a delivery's second call (the post after its marker
/// look-up) queued behind every other delivery's first, so the first
/// delivery finished only after a look-up for every queue (5.5 s at 1,000
/// queues and 50 calls/s). This many keep the limiter busy; the heads due
/// longest start first (the due index's order).
pub(crate) const MAX_RUNNING: usize = 32;

/// The head operation of each ticket queue of `connection` that may run now
/// (due, not a dead letter, not already running, its pairing not paused,
/// its link not held out of scope: `engine::scope`), with its target ticket
/// id, at most `room` of them. Reads the store's due index: only those heads
/// are decoded (all of them when held ones left fewer than `room`).
fn due_heads(
    engine: &Engine,
    connection: &str,
    busy: &HashSet<QueueKey>,
    hold: &mut Hold,
    now: DateTime<Utc>,
    room: usize,
) -> Vec<(OutboxOp, Option<String>)> {
    hold.refresh(&engine.store);
    let first = due_heads_up_to(engine, connection, busy, hold, now, room);
    if first.len() >= room || !first.cut {
        return first.heads;
    }
    // Some of the oldest were held: look at every due head instead.
    let mut all = due_heads_up_to(engine, connection, busy, hold, now, usize::MAX).heads;
    all.truncate(room);
    all
}

/// Due heads, at most `limit` decoded; `cut` when the limit left some unread.
struct Heads {
    heads: Vec<(OutboxOp, Option<String>)>,
    cut: bool,
}

impl Heads {
    fn len(&self) -> usize {
        self.heads.len()
    }
}

fn due_heads_up_to(
    engine: &Engine,
    connection: &str,
    busy: &HashSet<QueueKey>,
    hold: &mut Hold,
    now: DateTime<Utc>,
    limit: usize,
) -> Heads {
    let read = std::cell::Cell::new(0usize);
    let cut = std::cell::Cell::new(false);
    let heads = match engine.store.due_heads(connection, now, |link, side| {
        if busy.contains(&(link, side)) || hold.skips(link) {
            return true;
        }
        if read.get() >= limit {
            cut.set(true);
            return true;
        }
        read.set(read.get() + 1);
        false
    }) {
        Ok(heads) => heads,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the outbox");
            return Heads {
                heads: Vec::new(),
                cut: false,
            };
        }
    };
    let heads = heads
        .into_iter()
        .filter(|op| !hold.holds(op))
        .filter(|op| !crate::engine::scope::held(&engine.store, op.link))
        .filter_map(|op| {
            let target = match engine.store.link(op.link) {
                Ok(Some(link)) => link.side(op.target).map(|r| r.id.clone()),
                _ => None,
            };
            let is_create = matches!(op.action, Action::CreateTicket { .. });
            (is_create || target.is_some()).then_some((op, target))
        })
        .collect();
    Heads {
        heads,
        cut: cut.get(),
    }
}

/// What the delivery workers did with the deliveries they had in flight
/// when the daemon stopped (shared by every worker of one daemon).
#[derive(Clone, Debug, Default)]
pub struct DrainTally(Arc<Mutex<Drained>>);

/// Counts of [`DrainTally`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    /// Deliveries that were in flight at the stop and finished (delivered
    /// or recorded as failed) before the deadline.
    pub finished: usize,
    /// Operation ids cancelled at the deadline; they stay in the outbox.
    pub abandoned: Vec<u64>,
}

impl DrainTally {
    pub fn get(&self) -> Drained {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut Drained)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// Runs the delivery worker for `connection` until `shutdown` resolves;
/// deliveries in flight then are cancelled at once (see [`run_delivery_until`]).
pub async fn run_delivery(
    engine: Arc<Engine>,
    connection: String,
    tick: Duration,
    shutdown: impl Future<Output = ()>,
) {
    run_delivery_until(
        engine,
        connection,
        tick,
        shutdown,
        async {},
        DrainTally::default(),
    )
    .await
}

/// Runs the delivery worker for `connection` until `shutdown` resolves,
/// then lets the deliveries in flight finish until `abandon` resolves,
/// cancels the rest (left in the outbox) and records both in `tally`.
pub async fn run_delivery_until(
    engine: Arc<Engine>,
    connection: String,
    tick: Duration,
    shutdown: impl Future<Output = ()>,
    abandon: impl Future<Output = ()>,
    tally: DrainTally,
) {
    tokio::pin!(shutdown);
    let Some(conn) = engine.connection(&connection).cloned() else {
        return;
    };
    let mut busy: HashSet<QueueKey> = HashSet::new();
    let mut running: JoinSet<(QueueKey, Option<DateTime<Utc>>)> = JoinSet::new();
    // Which queue and operation each task works on, to free them if it panics.
    let mut tasks: HashMap<tokio::task::Id, OutboxOp> = HashMap::new();
    let mut paused_until: Option<DateTime<Utc>> = None;
    let mut hold = Hold::default();
    loop {
        let notified = engine.outbox_ready.notified();
        let now = engine.clock.now();
        let room = MAX_RUNNING.saturating_sub(running.len());
        if paused_until.is_none_or(|t| t <= now) && room > 0 {
            let heads = due_heads(&engine, &connection, &busy, &mut hold, now, room);
            tracing::trace!(connection = %connection, due = heads.len(), busy = busy.len(), running = running.len(), "delivery round");
            for (op, target) in heads {
                let key = (op.link, op.target);
                busy.insert(key);
                let engine = engine.clone();
                let connector = conn.connector.clone();
                let span = tracing::info_span!("deliver", connection = %connection, pairing = %op.pairing, link = op.link, op = op.id, ticket = target.as_deref().unwrap_or("-"));
                let task_op = op.clone();
                let handle = running.spawn(
                    async move { (key, deliver_one(&engine, connector, op, target).await) }
                        .instrument(span),
                );
                tasks.insert(handle.id(), task_op);
            }
        }
        // One round done: due work started, or the pause respected.
        engine.delivery_rounds.bump(&connection);
        tokio::select! {
            // A stop wins over due work, so nothing starts after it.
            biased;
            _ = &mut shutdown => {
                drain(&engine, &connection, running, tasks, abandon, &tally).await;
                return;
            }
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                match done {
                    Ok((id, (key, pause))) => {
                        tasks.remove(&id);
                        busy.remove(&key);
                        if let Some(until) = pause {
                            tracing::info!(connection = %connection, until = %until, "vendor asked us to slow down; pausing deliveries");
                            paused_until = Some(paused_until.map_or(until, |p| p.max(until)));
                        }
                    }
                    Err(failed) => {
                        if let Some(op) = tasks.remove(&failed.id()) {
                            busy.remove(&(op.link, op.target));
                            task_failed(&engine, &op, &failed).await;
                        }
                    }
                }
            }
            _ = notified => {}
            _ = tokio::time::sleep(tick) => {}
        }
    }
}

/// Delivers one operation (the transient failures retried in place) and
/// records the outcome; the pause a 429 asks for, if any.
async fn deliver_one(
    engine: &Engine,
    connector: Arc<dyn psa_connector::Connector>,
    op: OutboxOp,
    target: Option<String>,
) -> Option<DateTime<Utc>> {
    // Paused after this round read the paused set (or the set cannot be
    // read): leave it untouched for a later round.
    if !matches!(engine.store.is_paused(&op.pairing), Ok(false)) {
        tracing::debug!("pairing paused just now: operation held");
        return None;
    }
    let (op, mut look_first) = attempt::begin(engine, op).await?;
    tracing::debug!(action = %op.action.describe(), attempt = op.attempts + 1, look_first, "delivering");
    let started = std::time::Instant::now();
    // A retry in place follows an attempt whose outcome is unknown: it looks.
    let result = crate::retry::deliver_in_place(|| {
        let look = std::mem::replace(&mut look_first, true);
        apply_with(connector.as_ref(), &op, target.as_deref(), look)
    })
    .await;
    crate::telemetry::delivery_finished(&op.connection, result.is_ok(), started.elapsed());
    record(engine, connector.as_ref(), &op, result).await
}

/// Records one delivery's outcome (success, retry later, dead letter, or
/// the link removed because its ticket is gone); the pause a 429 asks for,
/// if any.
async fn record(
    engine: &Engine,
    connector: &dyn psa_connector::Connector,
    op: &OutboxOp,
    result: Result<super::apply::Delivered, psa_connector::ConnectorError>,
) -> Option<DateTime<Utc>> {
    match result {
        Ok(delivered) => {
            metrics::counter!("psa_bridge_deliveries_total", "connection" => op.connection.clone(), "outcome" => "delivered").increment(1);
            crate::telemetry::propagated(op, engine.clock.now());
            if let Err(e) = engine.record_success(op, delivered).await {
                tracing::error!(error = %e, "delivered but cannot record it; the marker check will adopt it on retry");
            }
            None
        }
        Err(error) => {
            tracing::warn!(error = %error, "delivery failed");
            match engine.unlink_if_target_gone(connector, op, &error).await {
                Ok(true) => {
                    metrics::counter!("psa_bridge_deliveries_total", "connection" => op.connection.clone(), "outcome" => "unlinked").increment(1);
                    return None;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "cannot unlink the gone ticket's link; recording the failure")
                }
            }
            let retry_after = match error.retry_action() {
                psa_connector::RetryAction::Retry { after: Some(after) }
                    if error.http_status() == Some(429) =>
                {
                    Some(after)
                }
                _ => None,
            };
            let outcome = if error.is_retryable() {
                "retry"
            } else {
                "dead_letter"
            };
            metrics::counter!("psa_bridge_deliveries_total", "connection" => op.connection.clone(), "outcome" => outcome).increment(1);
            if let Err(e) = engine.record_failure(op, &error).await {
                tracing::error!(error = %e, "cannot record delivery failure");
            }
            retry_after.map(|d| crate::retry::later_std(engine.clock.now(), d))
        }
    }
}

/// One delivery round of `connection` without the worker loop, for tests
/// that drive time and faults step by step: the due heads, delivered one
/// after another, each called once (no in-place retries: a fault lasts a
/// whole round anyway) and recorded by the worker's own code. Returns the
/// operations attempted (as they were before the attempt).
#[cfg(test)]
pub(crate) async fn deliver_round(engine: &Engine, connection: &str) -> Vec<OutboxOp> {
    let Some(conn) = engine.connection(connection).cloned() else {
        return Vec::new();
    };
    let now = engine.clock.now();
    let heads = due_heads(
        engine,
        connection,
        &HashSet::new(),
        &mut Hold::default(),
        now,
        usize::MAX,
    );
    let mut attempted = Vec::new();
    for (op, target) in heads {
        attempted.push(op.clone());
        let Some((op, look_first)) = attempt::begin(engine, op).await else {
            attempted.pop();
            continue;
        };
        let result = apply_with(conn.connector.as_ref(), &op, target.as_deref(), look_first).await;
        record(engine, conn.connector.as_ref(), &op, result).await;
    }
    attempted
}

/// Waits for the deliveries in flight until `abandon` resolves, then
/// cancels the rest: their operations stay in the outbox untouched.
async fn drain(
    engine: &Engine,
    connection: &str,
    mut running: JoinSet<(QueueKey, Option<DateTime<Utc>>)>,
    mut tasks: HashMap<tokio::task::Id, OutboxOp>,
    abandon: impl Future<Output = ()>,
    tally: &DrainTally,
) {
    tokio::pin!(abandon);
    if !running.is_empty() {
        tracing::info!(connection = %connection, in_flight = running.len(), "stopping: letting the deliveries in flight finish");
    }
    loop {
        tokio::select! {
            biased;
            _ = &mut abandon => break,
            done = running.join_next_with_id() => match done {
                None => break,
                Some(Ok((id, _))) => {
                    tasks.remove(&id);
                    tally.update(|t| t.finished += 1);
                }
                Some(Err(failed)) => {
                    if let Some(op) = tasks.remove(&failed.id()) {
                        task_failed(engine, &op, &failed).await;
                        tally.update(|t| t.finished += 1);
                    }
                }
            },
        }
    }
    running.shutdown().await;
    let mut left: Vec<&OutboxOp> = tasks.values().collect();
    left.sort_by_key(|op| op.id);
    for op in &left {
        tracing::warn!(connection = %connection, pairing = %op.pairing, op = op.id, link = op.link, action = %op.action.describe(), "delivery still in flight at the shutdown deadline; left in the outbox (the next start looks for its marker before repeating it)");
    }
    tally.update(|t| t.abandoned.extend(left.iter().map(|op| op.id)));
}

/// A delivery task panicked (or was cancelled): log and count it, and
/// reschedule its operation like a transient failure so the queue moves on
/// and a panic that repeats backs off instead of spinning.
async fn task_failed(engine: &Engine, op: &OutboxOp, failed: &tokio::task::JoinError) {
    tracing::error!(connection = %op.connection, pairing = %op.pairing, op = op.id, error = %failed, "delivery task failed; its queue is freed and the operation retried later");
    metrics::counter!("psa_bridge_delivery_panics_total", "connection" => op.connection.clone())
        .increment(1);
    let error =
        psa_connector::ConnectorError::Transport(format!("the delivery task failed: {failed}"));
    // The task may have marked its attempt as started before it failed.
    let op = attempt::as_stored(engine, op);
    if let Err(e) = engine.record_failure(&op, &error).await {
        tracing::error!(error = %e, "cannot record the failed delivery task");
    }
}
