//! The planner's scheduler: up to [`PLANNING_LANES`] notice groups plan at
//! once, and a group starts as soon as a lane is free (no round waits for
//! its slowest plan before the next notices start).
//!
//! Order is kept as [`super::lanes`] describes it: a group never plans
//! while a running plan holds one of its links or its ticket, and a group
//! that has to wait blocks every later group sharing a link or the ticket
//! with it, so groups of one link start in arrival order, one at a time.
//!
//! The inbox is read (one scan, [`due_batch`]) only when none of the groups
//! read last time can start and something may have changed since (a notice
//! arrived, a plan finished, the tick passed), not once per plan; a read
//! leaves out the notices of running plans, so no notice is planned twice.
//! While the store cannot write, a finished plan does not count as a change:
//! the failed notices stay due, and are tried again at the tick, not in a loop.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::StreamExt;

use super::lanes::{Group, Lanes, TicketKey};
use super::plan_run::plan_notice;
use super::Engine;
use crate::store::StoreError;

/// How many groups (independent links or tickets) are planned at once.
/// Planning waits on vendor reads and the store's flush (shared by
/// concurrent plans, `store::group_flush`), not on the CPU, so lanes beyond
/// the cores still pay; the connection's rate limiter bounds the reads.
pub const PLANNING_LANES: usize = 16;

/// Runs the planner until `shutdown` resolves; plans already running then
/// finish (their results are committed), nothing new starts.
pub(super) async fn run(engine: Arc<Engine>, tick: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut lanes = Lanes::default();
    let mut running = FuturesUnordered::new();
    let mut unowned_checked = None;
    // Whether the inbox may hold notices the last read did not see.
    let mut stale = true;
    loop {
        // A stopping daemon plans nothing new, even while notices keep coming.
        if futures::poll!(shutdown.as_mut()).is_ready() {
            while running.next().await.is_some() {}
            return;
        }
        let notified = engine.inbox_ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if running.len() < PLANNING_LANES {
            engine.unowned_tick(&mut unowned_checked).await;
            if stale && lanes.first_startable().is_none() {
                stale = false;
                match due_batch(&engine, &lanes.running_ids) {
                    Ok(groups) => lanes.refill(groups, |item| {
                        engine.links_of(&item.connection, &item.ticket_id)
                    }),
                    Err(e) => tracing::error!(error = %e, "cannot read the inbox"),
                }
            }
            while running.len() < PLANNING_LANES {
                let Some(w) = lanes.start_next() else { break };
                let engine = &engine;
                running.push(async move {
                    plan_notice(engine, &w.group.0, &w.group.1).await;
                    w
                });
            }
        }
        if running.is_empty() {
            // Idle (or only notices that cannot start): wait for news.
            tokio::select! {
                _ = &mut shutdown => return,
                _ = &mut notified => {}
                _ = tokio::time::sleep(tick) => {}
            }
            stale = true;
            continue;
        }
        tokio::select! {
            biased;
            _ = &mut shutdown => {
                while running.next().await.is_some() {}
                return;
            }
            Some(done) = running.next() => {
                lanes.finish(&done);
                // While the store cannot write, the notices that failed
                // stay due: read them again at the tick, not at once.
                stale |= engine.store.write_failure().is_none();
            }
            _ = &mut notified => stale = true,
        }
    }
}

/// Every ticket with a due notice, oldest first, each with the ids of the
/// other notices for the same ticket (one plan reads the current state for
/// all of them). Notices in `running` (being planned) are left out.
pub(super) fn due_batch(engine: &Engine, running: &HashSet<u64>) -> Result<Vec<Group>, StoreError> {
    let now = engine.clock.now();
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<TicketKey, usize> = HashMap::new();
    let mut waiting = Vec::new();
    for item in engine.store.inbox()? {
        if running.contains(&item.id) {
            continue;
        }
        let key = (item.connection.clone(), item.ticket_id.clone());
        if let Some(&at) = index.get(&key) {
            groups[at].1.push(item.id);
        } else if item.next_attempt_at.is_none_or(|t| t <= now) {
            index.insert(key, groups.len());
            groups.push((item, Vec::new()));
        } else {
            waiting.push(item);
        }
    }
    // Notices waiting for a retry ride along with a due notice for the same ticket.
    for item in waiting {
        if let Some(&at) = index.get(&(item.connection.clone(), item.ticket_id.clone())) {
            groups[at].1.push(item.id);
        }
    }
    Ok(groups)
}
