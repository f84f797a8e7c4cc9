//! One poller per connection: asks the vendor for tickets changed since the
//! durable cursor minus an overlap window, skips what was already planned at
//! that version (e.g. delivered by webhook), stores the rest, then advances
//! the cursor in the same transaction.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use super::enqueue;
use crate::engine::Engine;
use crate::store::IntakeSource;

/// Polls `connection` every `interval` until `shutdown` resolves.
pub async fn run_poller(
    engine: Arc<Engine>,
    connection: String,
    interval: Duration,
    overlap: Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let span = tracing::info_span!("poll", connection = %connection);
        if let Err(e) = poll_once(&engine, &connection, overlap)
            .instrument(span)
            .await
        {
            tracing::warn!(connection = %connection, error = %e, "poll failed; will try again");
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// One poll round. Returns how many notices were stored.
pub async fn poll_once(
    engine: &Engine,
    connection: &str,
    overlap: Duration,
) -> Result<usize, String> {
    let conn = engine
        .connection(connection)
        .ok_or_else(|| format!("unknown connection {connection}"))?;
    let overlap = chrono::Duration::from_std(overlap).unwrap_or(chrono::Duration::minutes(2));
    let cursor = engine.store.cursor(connection).map_err(|e| e.to_string())?;
    let since = cursor.unwrap_or_else(|| engine.clock.now()) - overlap;
    let hints = conn
        .connector
        .changed_since(since)
        .await
        .map_err(|e| e.to_string())?;
    let mut fresh = Vec::new();
    let mut newest = cursor;
    for hint in hints {
        if let Some(at) = hint.updated_at {
            newest = Some(newest.map_or(at, |n| n.max(at)));
            let known = engine
                .store
                .version(connection, &hint.ticket_id)
                .map_err(|e| e.to_string())?;
            if known.is_some_and(|v| v >= at) {
                continue;
            }
        }
        fresh.push(hint);
    }
    let new_cursor = newest.or_else(|| Some(engine.clock.now() - overlap));
    let counts = enqueue(engine, connection, IntakeSource::Poll, &fresh, new_cursor)
        .await
        .map_err(|e| e.to_string())?;
    Ok(counts.accepted)
}
