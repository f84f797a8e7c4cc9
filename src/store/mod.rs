//! The durable store on sled 0.34: one tree per kind of record, and
//! [`Store::transact`] to write records that belong together atomically
//! across trees. Anything acknowledged to the outside is flushed first
//! ([`Store::flush`]).

mod audit;
mod faults;
#[cfg(test)]
mod faults_tests;
mod format;
#[cfg(test)]
mod format_tests;
mod group_flush;
mod keys;
pub mod known;
mod markers;
mod notices;
mod outbox;
mod paging;
mod paused;
mod perms;
pub mod records;
#[cfg(test)]
pub(crate) mod reopen;
mod tx;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;

pub use audit::{
    chain_hash, content_digest, entry_hash, is_v1, v1, VerifyReport, GENESIS, HASH_VERSION,
};
pub use faults::{Faults, FAULT_FILE_ENV};
pub use format::{FORMAT_VERSION, PRODUCT};
pub use keys::*;
pub use markers::{marker_id, ticket_marker_for};
pub use outbox::OutboxCounts;
pub use paging::{unlink_hold_key, Page};
pub use paused::{paused_key, PausedPairing};
pub use perms::owner_only_umask;
pub use records::*;
pub use tx::{AuditRecord, Tx, TxError};

/// The trees, in the order they are passed to sled transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeName {
    Inbox = 0,
    Outbox,
    Links,
    LinkIndex,
    Shadows,
    Comments,
    Cursors,
    Versions,
    Dedup,
    Audit,
    Meta,
    /// Notices that failed permanently ([`DeadNotice`]), by inbox id.
    DeadNotices,
    /// Dead field updates an operator asked to re-plan: link id + op id →
    /// the op. Their fields count as in flight until the link is planned again.
    Replans,
    /// Outbox index: one record per (connection, link, side) queue holding
    /// its op ids in order (the first is the head). See `store::outbox`.
    OutboxQueues,
    /// Outbox index: the head of every queue that is not a dead letter, by
    /// connection, next attempt time and op id.
    OutboxDue,
    /// Outbox index: link id + op id, so one link's operations share a prefix.
    OutboxLinks,
    /// Outbox index: the ids of dead letters, so counts come from tree
    /// lengths (no counter record every outbox transaction would contend on).
    OutboxDead,
    /// Last known whole tickets per link ([`known::KnownTickets`]), by link id.
    KnownTickets,
    /// Index of `inbox` and `dead_notices` by ticket (`store::notices`).
    NoticeTickets,
}

impl TreeName {
    /// The outbox and its index trees (written only through `Tx::put_op`).
    pub(crate) fn is_outbox(self) -> bool {
        matches!(
            self,
            TreeName::Outbox
                | TreeName::OutboxQueues
                | TreeName::OutboxDue
                | TreeName::OutboxLinks
                | TreeName::OutboxDead
        )
    }
}

const TREE_NAMES: [&str; 19] = [
    "inbox",
    "outbox",
    "links",
    "link_index",
    "shadows",
    "comments",
    "cursors",
    "versions",
    "dedup",
    "audit",
    "meta",
    "dead_notices",
    "replans",
    "outbox_queues",
    "outbox_due",
    "outbox_links",
    "outbox_dead",
    "known_tickets",
    "notice_tickets",
];

/// A store failure. Disk and corruption errors are not retryable by the
/// caller. `CorruptStore`, `Foreign`, `NewerFormat` and `Unreadable` come
/// from [`Store::open`] only: the directory cannot be used as it is, and
/// nothing of ours was written to it (sled's crash recovery, inside its
/// open, may have rewritten a garbled log segment).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store at {path}: {source}")]
    Open { path: String, source: sled::Error },
    #[error("store at {path} is damaged ({reason}); restore it from a backup, or move it away to start with an empty store")]
    CorruptStore { path: String, reason: String },
    #[error("{path} is not a psa-bridge store ({reason}); point store_path at a psa-bridge store or an empty or missing directory")]
    Foreign { path: String, reason: String },
    #[error("store at {path} was written by a newer psa-bridge (format {found}, this build reads up to {supported}); use that version or restore a backup")]
    NewerFormat {
        path: String,
        found: u64,
        supported: u64,
    },
    #[error("store at {path} cannot be read ({reason}); check its owner and permissions")]
    Unreadable { path: String, reason: String },
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store record {key} in {tree} is unreadable: {reason}")]
    Corrupt {
        tree: &'static str,
        key: String,
        reason: String,
    },
    #[error("store transaction aborted: {0}")]
    Aborted(String),
    /// What a plan was based on changed before it could be written; plan again.
    #[error("concurrent change: {0}")]
    Conflict(String),
}

impl StoreError {
    /// Whether [`Store::open`] refused the directory as it is (damaged,
    /// foreign, newer, unreadable): starting again will not help.
    pub fn is_unusable_store(&self) -> bool {
        matches!(
            self,
            StoreError::CorruptStore { .. }
                | StoreError::Foreign { .. }
                | StoreError::NewerFormat { .. }
                | StoreError::Unreadable { .. }
        )
    }
}

/// Handle to the open store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    durability: Arc<Durability>,
}

/// Committed transactions and how many of them the last flush covered, so
/// tests can check that a step flushed what it wrote before it answered;
/// the last write failure; the test-only fault switch.
#[derive(Default)]
struct Durability {
    /// This opening of the store, random: operations planned since carry
    /// it (`OutboxOp::planned_in_session`), so a restored backup's or an
    /// earlier run's operations are told apart from this run's.
    session: u64,
    committed: AtomicU64,
    flushed: AtomicU64,
    /// One disk flush at a time, shared by concurrent callers.
    flush_gate: group_flush::FlushGate,
    health: faults::WriteHealth,
    faults: Faults,
}

/// Default of `daemon.store_cache_mb`: sled's own default is 1 GiB, which
/// a bridge for a handful of clients never needs; the sync benchmark ran
/// as fast with 16 MiB as with 64, and the drain benchmark's peak memory
/// fell by about 45 MB (docs/performance.md).
pub const DEFAULT_CACHE_MB: u64 = 16;

impl Store {
    /// Opens (or creates) the store at `path`. Refuses, before writing
    /// anything, a directory that is damaged, not a psa-bridge store, of a
    /// newer format or unreadable (see [`StoreError::is_unusable_store`]).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(path, DEFAULT_CACHE_MB)
    }

    /// This opening of the store (random, differs from every earlier one).
    pub fn session(&self) -> u64 {
        self.durability.session
    }

    /// [`Store::open`] with a page cache of `cache_mb` MiB
    /// (`daemon.store_cache_mb`).
    pub fn open_with_cache(path: &Path, cache_mb: u64) -> Result<Self, StoreError> {
        let had_data = format::has_data(path);
        let db = format::open_db(path, cache_mb.saturating_mul(1024 * 1024))?;
        format::check_and_stamp(&db, path, had_data)?;
        // Only once the directory is known to be ours: owner-only modes.
        perms::make_private(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            source: sled::Error::Io(e),
        })?;
        let trees = TREE_NAMES
            .iter()
            .map(|name| db.open_tree(name))
            .collect::<Result<Vec<_>, _>>()?;
        let store = Self {
            db,
            trees,
            durability: Arc::new(Durability {
                session: rand::random(),
                ..Durability::default()
            }),
        };
        store.ensure_outbox_index()?;
        store.rebuild_notice_index()?;
        Ok(store)
    }

    pub(crate) fn tree(&self, name: TreeName) -> &sled::Tree {
        &self.trees[name as usize]
    }

    /// A new unique id (monotonic across restarts).
    pub fn next_id(&self) -> Result<u64, StoreError> {
        // sled persists the id counter now and then: a write like any other.
        match self.db.generate_id() {
            Ok(id) => Ok(id + 1),
            Err(e) => {
                let e = StoreError::Sled(e);
                self.durability.health.failed(&e, true);
                Err(e)
            }
        }
    }

    /// Runs `f` as one atomic transaction over all trees. `f` may run more than once.
    pub fn transact<R>(
        &self,
        f: impl Fn(&mut Tx<'_>) -> Result<R, tx::TxError>,
    ) -> Result<R, StoreError> {
        if let Err(e) = self.durability.faults.check() {
            self.durability.health.failed(&e, false);
            return Err(e);
        }
        let result = group_flush::off_the_runtime(|| self.transact_inner(f));
        if let Err(e) = &result {
            self.durability.health.failed(e, true);
        }
        result
    }

    fn transact_inner<R>(
        &self,
        f: impl Fn(&mut Tx<'_>) -> Result<R, tx::TxError>,
    ) -> Result<R, StoreError> {
        use sled::transaction::{TransactionError, Transactional};
        let result = self.trees.as_slice().transaction(|trees| {
            let mut tx = Tx::new(trees);
            f(&mut tx).map_err(tx::TxError::into_sled)
        });
        match result {
            Ok(r) => {
                self.durability.committed.fetch_add(1, Ordering::SeqCst);
                Ok(r)
            }
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(StoreError::Sled(e)),
        }
    }

    /// Makes everything written so far durable. Call before acknowledging.
    ///
    /// Not sled's `flush_async`: it waits on sled's own IO thread pool and
    /// locks up when more than about seven flushes are pending at once
    /// (spacejam/sled#1308, #1241; `benches/throughput.rs` hit it with eight
    /// concurrent webhooks). A blocking flush on tokio's blocking pool gives
    /// the same guarantee without that pool.
    pub async fn flush(&self) -> Result<(), StoreError> {
        if let Err(e) = self.durability.faults.check() {
            self.durability.health.failed(&e, false);
            return Err(e);
        }
        let result = self.flush_inner().await;
        match &result {
            Ok(()) => self.durability.health.flushed(),
            Err(e) => self.durability.health.failed(e, true),
        }
        result
    }

    async fn flush_inner(&self) -> Result<(), StoreError> {
        self.durability
            .flush_gate
            .flush(|| async {
                let db = self.db.clone();
                let covered = self.durability.committed.load(Ordering::SeqCst);
                tokio::task::spawn_blocking(move || db.flush())
                    .await
                    .map_err(|e| StoreError::Aborted(format!("flush task failed: {e}")))??;
                self.durability.flushed.fetch_max(covered, Ordering::SeqCst);
                Ok(())
            })
            .await
    }

    /// The last write (transaction or flush) that failed on the disk's
    /// side, until a flush succeeds again: what `/healthz` shows as the
    /// store's fault.
    pub fn write_failure(&self) -> Option<String> {
        self.durability.health.last_failure()
    }

    /// Whether sled reported a real I/O error on a write. sled 0.34 then
    /// fails every later write with it, even once the disk is fixed, so
    /// only a new process recovers (see `store::faults`).
    pub fn needs_restart(&self) -> bool {
        self.durability.health.stuck()
    }

    /// The test-only fault switch (see [`Faults`]).
    pub fn faults(&self) -> &Faults {
        &self.durability.faults
    }

    /// Whether a committed transaction has not been flushed yet. Every step
    /// that acknowledges something (a webhook's 200, a poll cursor, a plan)
    /// must leave this `false`.
    pub fn has_unflushed_writes(&self) -> bool {
        self.durability.committed.load(Ordering::SeqCst)
            > self.durability.flushed.load(Ordering::SeqCst)
    }

    pub(crate) fn get<T: DeserializeOwned>(
        &self,
        name: TreeName,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match self.tree(name).get(key)? {
            None => Ok(None),
            Some(bytes) => decode(name, key, &bytes).map(Some),
        }
    }

    /// All records of a tree (or of a key prefix), in key order.
    pub(crate) fn scan<T: DeserializeOwned>(
        &self,
        name: TreeName,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        self.tree(name)
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv?;
                let value = decode(name, &k, &v)?;
                Ok((k.to_vec(), value))
            })
            .collect()
    }

    /// How many records `name` holds, counted by key (nothing decoded).
    pub fn count(&self, name: TreeName) -> usize {
        self.tree(name).len()
    }

    pub fn inbox(&self) -> Result<Vec<InboxItem>, StoreError> {
        Ok(self
            .scan(TreeName::Inbox, b"")?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Every outbox operation, decoded, oldest first: for listings and
    /// tests. Hot paths use the indexes ([`Store::due_heads`],
    /// [`Store::outbox_for_links`], [`Store::outbox_counts`]).
    pub fn outbox(&self) -> Result<Vec<OutboxOp>, StoreError> {
        Ok(self
            .scan(TreeName::Outbox, b"")?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Notices kept as dead letters, oldest first.
    pub fn dead_notices(&self) -> Result<Vec<DeadNotice>, StoreError> {
        Ok(self
            .scan(TreeName::DeadNotices, b"")?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Dead notice `id`, if there is one.
    pub fn dead_notice(&self, id: u64) -> Result<Option<DeadNotice>, StoreError> {
        self.get(TreeName::DeadNotices, &id.to_be_bytes())
    }

    /// Dead updates being re-planned (see [`TreeName::Replans`]), with their keys.
    pub fn replans(&self) -> Result<Vec<(Vec<u8>, OutboxOp)>, StoreError> {
        self.scan(TreeName::Replans, b"")
    }

    pub fn outbox_op(&self, id: u64) -> Result<Option<OutboxOp>, StoreError> {
        self.get(TreeName::Outbox, &id.to_be_bytes())
    }

    pub fn link(&self, id: u64) -> Result<Option<Link>, StoreError> {
        self.get(TreeName::Links, &id.to_be_bytes())
    }

    pub fn links(&self) -> Result<Vec<Link>, StoreError> {
        Ok(self
            .scan(TreeName::Links, b"")?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// The link holding `ticket_id` on `side` of `pairing`.
    pub fn link_for(
        &self,
        pairing: &str,
        side: Side,
        ticket_id: &str,
    ) -> Result<Option<Link>, StoreError> {
        let id: Option<u64> = self.get(TreeName::LinkIndex, &link_key(pairing, side, ticket_id))?;
        match id {
            Some(id) => self.link(id),
            None => Ok(None),
        }
    }

    pub fn shadow(&self, link: u64) -> Result<Shadow, StoreError> {
        Ok(self
            .get(TreeName::Shadows, &link.to_be_bytes())?
            .unwrap_or_default())
    }

    pub fn comment_entry(
        &self,
        link: u64,
        side: Side,
        comment_id: &str,
    ) -> Result<Option<CommentEntry>, StoreError> {
        self.get(TreeName::Comments, &comment_key(link, side, comment_id))
    }

    pub fn cursor(&self, connection: &str) -> Result<Option<psa_connector::Timestamp>, StoreError> {
        self.get(TreeName::Cursors, connection.as_bytes())
    }

    /// The newest vendor change stamp the bridge has planned from, per ticket.
    pub fn version(
        &self,
        connection: &str,
        ticket_id: &str,
    ) -> Result<Option<TicketVersion>, StoreError> {
        self.get(TreeName::Versions, &ticket_key(connection, ticket_id))
    }

    pub fn seen_delivery(&self, dedup_key: &str) -> Result<bool, StoreError> {
        Ok(self
            .tree(TreeName::Dedup)
            .contains_key(dedup_key.as_bytes())?)
    }

    pub fn audit_entries(&self) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self
            .scan(TreeName::Audit, b"")?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// The newest audit entry (the chain's head).
    pub fn last_audit_entry(&self) -> Result<Option<AuditEntry>, StoreError> {
        match self.tree(TreeName::Audit).last()? {
            Some((key, value)) => decode(TreeName::Audit, &key, &value).map(Some),
            None => Ok(None),
        }
    }

    /// Raw access for tamper tests and repair tools.
    pub fn raw_audit_tree(&self) -> &sled::Tree {
        self.tree(TreeName::Audit)
    }
}

pub(crate) fn decode<T: DeserializeOwned>(
    name: TreeName,
    key: &[u8],
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree: TREE_NAMES[name as usize],
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}
