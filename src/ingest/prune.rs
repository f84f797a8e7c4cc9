//! Hourly housekeeping: forgetting old delivery keys (the dedup tree only
//! needs to outlive the vendors' redelivery windows; ConnectWise gives up
//! after 3 days, so keys older than [`DEDUP_RETENTION`] go) and logging the
//! audit chain's head hash as an external anchor.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use psa_connector::Timestamp;

use crate::engine::Engine;
use crate::store::{Store, StoreError, TreeName};

/// How long a delivery key is remembered.
pub const DEDUP_RETENTION: chrono::Duration = chrono::Duration::days(7);

/// Removes delivery keys first seen before `cutoff`; returns how many.
pub fn prune_dedup(store: &Store, cutoff: Timestamp) -> Result<usize, StoreError> {
    let old: Vec<Vec<u8>> = store
        .scan::<Timestamp>(TreeName::Dedup, b"")?
        .into_iter()
        .filter(|(_, seen)| *seen < cutoff)
        .map(|(key, _)| key)
        .collect();
    for key in &old {
        store.tree(TreeName::Dedup).remove(key)?;
    }
    Ok(old.len())
}

/// Prunes every hour until `shutdown` resolves.
pub async fn run_pruner(engine: Arc<Engine>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        // An hourly external anchor for the audit chain: a rewrite of the
        // whole chain would not reproduce the heads already in the logs.
        if let Ok(Some(last)) = engine.store.last_audit_entry() {
            tracing::info!(entries = last.seq, head = %last.hash, "audit chain head");
        }
        match prune_dedup(&engine.store, engine.clock.now() - DEDUP_RETENTION) {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "forgot old webhook delivery keys"),
            Err(e) => tracing::warn!(error = %e, "cannot prune delivery keys"),
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_keys_older_than_the_cutoff() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s")).unwrap();
        let now = chrono::Utc::now();
        store
            .transact(|tx| {
                tx.put(TreeName::Dedup, b"old", &(now - chrono::Duration::days(8)))?;
                tx.put(TreeName::Dedup, b"new", &now)
            })
            .unwrap();
        assert_eq!(prune_dedup(&store, now - DEDUP_RETENTION).unwrap(), 1);
        assert!(!store.seen_delivery("old").unwrap());
        assert!(store.seen_delivery("new").unwrap());
    }
}
