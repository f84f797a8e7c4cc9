//! Writing change hints to the inbox: deduplicated, audited, flushed.
//! A webhook delivery also leaves a replay key (a digest of its signed body,
//! see `super::webhook`) in the dedup tree, in the same transaction: the
//! same signed body again is answered without being stored twice.

use psa_connector::{ChangeHint, Timestamp};
use serde_json::json;

use crate::engine::Engine;
use crate::store::{AuditRecord, InboxItem, IntakeSource, StoreError, TreeName};

/// How many hints were new and how many were repeats.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Enqueued {
    pub accepted: usize,
    pub duplicates: usize,
    /// The delivery's signed body was seen before: nothing was looked at.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
}

/// Stores `hints` from `connection` in one transaction (with an optional new
/// poll cursor) and flushes before returning.
pub async fn enqueue(
    engine: &Engine,
    connection: &str,
    source: IntakeSource,
    hints: &[ChangeHint],
    cursor: Option<Timestamp>,
) -> Result<Enqueued, StoreError> {
    store_hints(engine, connection, source, hints, cursor, None).await
}

/// Stores the hints of one webhook delivery unless `replay_key` (the
/// delivery's body digest) is already in the dedup tree; a replay counts
/// every hint as a duplicate and writes nothing.
pub async fn enqueue_delivery(
    engine: &Engine,
    connection: &str,
    hints: &[ChangeHint],
    replay_key: &str,
) -> Result<Enqueued, StoreError> {
    store_hints(
        engine,
        connection,
        IntakeSource::Webhook,
        hints,
        None,
        Some(replay_key),
    )
    .await
}

async fn store_hints(
    engine: &Engine,
    connection: &str,
    source: IntakeSource,
    hints: &[ChangeHint],
    cursor: Option<Timestamp>,
    replay_key: Option<&str>,
) -> Result<Enqueued, StoreError> {
    let now = engine.clock.now();
    let mut ids = Vec::with_capacity(hints.len());
    for _ in hints {
        ids.push(engine.store.next_id()?);
    }
    let result = engine.store.transact(|tx| {
        let mut counts = Enqueued::default();
        if let Some(key) = replay_key {
            if tx
                .get::<Timestamp>(TreeName::Dedup, key.as_bytes())?
                .is_some()
            {
                counts.duplicates = hints.len();
                counts.replayed = true;
                return Ok(counts);
            }
            tx.put(TreeName::Dedup, key.as_bytes(), &now)?;
        }
        for (hint, id) in hints.iter().zip(&ids) {
            let dedup = hint.dedup_key.as_bytes();
            if tx.get::<Timestamp>(TreeName::Dedup, dedup)?.is_some() {
                counts.duplicates += 1;
                continue;
            }
            tx.put(TreeName::Dedup, dedup, &now)?;
            let item = InboxItem {
                id: *id,
                connection: connection.to_string(),
                ticket_id: hint.ticket_id.clone(),
                source,
                dedup_key: hint.dedup_key.clone(),
                received_at: now,
                updated_at: hint.updated_at,
                attempts: 0,
                next_attempt_at: None,
                detail: hint.detail.clone(),
            };
            tx.put_inbox_item(&item)?;
            let how = match source {
                IntakeSource::Webhook => "webhook",
                IntakeSource::Poll => "poll",
                IntakeSource::Backfill => "backfill",
            };
            tx.audit(
                now,
                AuditRecord {
                    kind: "intake",
                    pairing: None,
                    link: None,
                    tickets: vec![format!("{connection}:{}", hint.ticket_id)],
                    message: format!("{connection} ticket {} changed (via {how})", hint.ticket_id),
                    detail: json!({ "dedup_key": hint.dedup_key, "updated_at": hint.updated_at }),
                },
            )?;
            counts.accepted += 1;
        }
        if let Some(cursor) = cursor {
            tx.put(TreeName::Cursors, connection.as_bytes(), &cursor)?;
        }
        Ok(counts)
    })?;
    engine.store.flush().await?;
    crate::telemetry::intake(connection, source, result.accepted, result.duplicates);
    if result.accepted > 0 {
        engine.inbox_ready.notify_waiters();
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::SystemClock;
    use crate::store::Store;

    /// The same delivery (replay key) again stores nothing, even when its
    /// hints carry new delivery ids; a different body is stored.
    #[tokio::test]
    async fn a_replayed_delivery_is_counted_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(
            Store::open(&dir.path().join("s")).unwrap(),
            Default::default(),
            Vec::new(),
            Arc::new(SystemClock),
            Default::default(),
        );
        let hint = |key: &str| ChangeHint {
            ticket_id: "42".into(),
            updated_at: None,
            dedup_key: key.into(),
            detail: Default::default(),
        };
        let first = enqueue_delivery(&engine, "jira", &[hint("jira:hook:a")], "replay:jira:1")
            .await
            .unwrap();
        assert_eq!((first.accepted, first.replayed), (1, false));
        let again = enqueue_delivery(&engine, "jira", &[hint("jira:hook:b")], "replay:jira:1")
            .await
            .unwrap();
        assert_eq!(
            again,
            Enqueued {
                accepted: 0,
                duplicates: 1,
                replayed: true
            }
        );
        assert_eq!(engine.store.inbox().unwrap().len(), 1);
        let other = enqueue_delivery(&engine, "jira", &[hint("jira:hook:c")], "replay:jira:2")
            .await
            .unwrap();
        assert_eq!(other.accepted, 1);
        assert_eq!(engine.store.inbox().unwrap().len(), 2);
    }

    /// A webhook is answered 200, and a poll cursor advanced, only after
    /// what `enqueue` wrote is on disk: nothing it committed is left
    /// unflushed when it returns.
    #[tokio::test]
    async fn acknowledged_hints_and_cursors_are_flushed_before_returning() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(
            Store::open(&dir.path().join("s")).unwrap(),
            Default::default(),
            Vec::new(),
            Arc::new(SystemClock),
            Default::default(),
        );
        let hint = ChangeHint {
            ticket_id: "42".into(),
            updated_at: None,
            dedup_key: "hook:42:1".into(),
            detail: Default::default(),
        };
        let counts = enqueue(&engine, "autotask", IntakeSource::Webhook, &[hint], None)
            .await
            .unwrap();
        assert_eq!(counts.accepted, 1);
        assert!(
            !engine.store.has_unflushed_writes(),
            "acknowledged before the flush"
        );
        assert_eq!(engine.store.inbox().unwrap().len(), 1);

        let cursor = chrono::Utc::now();
        enqueue(&engine, "autotask", IntakeSource::Poll, &[], Some(cursor))
            .await
            .unwrap();
        assert!(
            !engine.store.has_unflushed_writes(),
            "cursor advanced before the flush"
        );
        assert_eq!(engine.store.cursor("autotask").unwrap(), Some(cursor));
    }
}
