//! Running plans: one notice group planned, again (up to [`MAX_REPLANS`]
//! times) when a concurrent delivery changed its link, and what becomes of
//! a notice whose planning fails: back on the shared retry schedule
//! ([`crate::retry`]) or, when retrying cannot help, kept as a dead notice
//! (never dropped). `engine::schedule` decides when each group runs; the
//! planning itself is `Engine::process` (`super::worker`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use super::{Engine, EngineError};
use crate::retry::Decision;
use crate::store::{AuditRecord, DeadLetter, DeadNotice, InboxItem, StoreError};

/// How often one notice is planned again after concurrent changes before it
/// goes through the ordinary retry schedule.
pub(super) const MAX_REPLANS: u32 = 5;

/// Runs the planner until `shutdown` resolves (see `engine::schedule`).
pub async fn run_planner(engine: Arc<Engine>, tick: Duration, shutdown: impl Future<Output = ()>) {
    super::schedule::run(engine, tick, shutdown).await
}

/// Plans one notice group, planning again (up to [`MAX_REPLANS`] times) when
/// a concurrent delivery changed the link, and records failures.
pub(super) async fn plan_notice(engine: &Engine, item: &InboxItem, same_ticket: &[u64]) {
    let span = tracing::info_span!("plan", connection = %item.connection, ticket = %item.ticket_id);
    let started = std::time::Instant::now();
    for attempt in 1.. {
        match engine
            .process(item, same_ticket.to_vec())
            .instrument(span.clone())
            .await
        {
            Ok(_) => {
                crate::telemetry::planned(&item.connection, true, started.elapsed());
                return;
            }
            // A delivery changed the link while we planned: plan again from the new state.
            Err(EngineError::Store(StoreError::Conflict(reason))) if attempt < MAX_REPLANS => {
                tracing::debug!(%reason, attempt, "planning again");
            }
            Err(e) => {
                crate::telemetry::planned(&item.connection, false, started.elapsed());
                handle_failure(engine, item, same_ticket, e).await;
                return;
            }
        }
    }
}

/// One planning round without the loop, for tests that drive time and
/// faults step by step: every due notice group planned one after another.
/// Returns how many groups were planned.
#[cfg(test)]
pub(crate) async fn plan_round(engine: &Engine) -> Result<usize, crate::store::StoreError> {
    let batch = super::schedule::due_batch(engine, &Default::default())?;
    for (item, same_ticket) in &batch {
        plan_notice(engine, item, same_ticket).await;
    }
    Ok(batch.len())
}

/// Reschedules a notice that could not be planned, or keeps it as a dead
/// letter when retrying cannot help (it is never dropped: the poll cursor has
/// moved on). Other notices for the same ticket are folded into it: one later
/// plan covers them.
async fn handle_failure(
    engine: &Engine,
    item: &InboxItem,
    same_ticket: &[u64],
    error: EngineError,
) {
    let now = engine.clock.now();
    let drop_redundant = |tx: &mut crate::store::Tx<'_>| -> Result<(), crate::store::TxError> {
        for id in same_ticket {
            tx.remove_inbox_item(*id)?;
        }
        Ok(())
    };
    let decision = match &error {
        // Notices are retried for as long as it takes (no retry period):
        // keeping one costs nothing, losing one stops a ticket syncing.
        EngineError::Vendor { source, .. } => engine.retry.decide(source, item.attempts, None, now),
        EngineError::Store(e) if super::store_error_is_transient(e) => Decision::Retry {
            at: crate::retry::later(
                now,
                engine.retry.delay(item.attempts.saturating_add(1), None),
            ),
            counted: true,
        },
        EngineError::Store(_) => Decision::GiveUp {
            reason: "the store refused it".into(),
        },
    };
    let result = match decision {
        Decision::Retry { at, counted } => {
            tracing::warn!(connection = %item.connection, ticket = %item.ticket_id, error = %error, "planning failed; will retry");
            let mut retry = item.clone();
            if counted {
                retry.attempts = retry.attempts.saturating_add(1);
            }
            if !same_ticket.is_empty() {
                // The folded notices' details are dropped with them: the
                // retried notice no longer speaks for them (read everything).
                retry.detail = Default::default();
            }
            retry.next_attempt_at = Some(at);
            engine.store.transact(|tx| {
                drop_redundant(tx)?;
                tx.put_inbox_item(&retry)
            })
        }
        Decision::GiveUp { reason } => {
            tracing::error!(connection = %item.connection, ticket = %item.ticket_id, error = %error, "planning failed permanently; notice kept as a dead letter");
            let status = match &error {
                EngineError::Vendor { source, .. } => source.http_status(),
                EngineError::Store(_) => None,
            };
            let dead = DeadNotice {
                item: item.clone(),
                dead: DeadLetter {
                    at: now,
                    status,
                    message: error.to_string(),
                },
            };
            let message = format!(
                "notice for {} ticket {} kept as dead letter {} ({reason}): {error}; after fixing the cause: psa-bridge outbox retry {}",
                item.connection, item.ticket_id, item.id, item.id
            );
            let tickets = vec![format!("{}:{}", item.connection, item.ticket_id)];
            engine
                .store
                .transact(|tx| {
                    drop_redundant(tx)?;
                    tx.remove_inbox_item(item.id)?;
                    tx.put_dead_notice(&dead)?;
                    tx.audit(
                        now,
                        AuditRecord {
                            kind: "plan_failed",
                            pairing: None,
                            link: None,
                            tickets: tickets.clone(),
                            message: message.clone(),
                            detail: serde_json::json!({ "notice": item.id, "status": status }),
                        },
                    )
                })
                .inspect(|_| crate::telemetry::dead_notice(&item.connection))
        }
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot record planning failure");
    }
    if let Err(e) = engine.store.flush().await {
        tracing::error!(error = %e, "flush failed");
    }
}
