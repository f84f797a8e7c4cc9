//! The outbox and its indexes, so nothing on a hot path decodes the whole
//! outbox (a long vendor outage leaves thousands of pending operations):
//!
//! * `outbox_queues`: one record per (connection, link, side) queue, its op
//!   ids in id order; the first is the queue's head (only the head runs).
//! * `outbox_due`: the head of every queue that is not a dead letter, keyed
//!   by connection, next attempt time and op id. A delivery round reads the
//!   range up to "now" and decodes only those heads. A dead head has no
//!   entry, so its queue is blocked; the ops behind it are never listed.
//! * `outbox_links`: link id + op id, for the planner's in-flight snapshot
//!   of the links it plans and for unlinking.
//! * `outbox_dead`: the ids of dead letters. `/metrics` counts come from
//!   index tree lengths (dead = this tree, pending = `outbox_links` plus
//!   the records the last rebuild could not read, − dead), so no single
//!   counter record serialises every outbox transaction, and a scrape never
//!   walks the outbox records themselves (sled's `len` reads every leaf:
//!   at 100,000 queued notes that paged ~200 MB through the cache on each
//!   scrape and took the daemon from ~85 to ~155 MB resident).
//!
//! Every outbox write goes through [`Tx::put_op`] / [`Tx::remove_op`] in the
//! same transaction as the indexes (`Tx::put` refuses outbox trees). A store
//! whose index layout marker is missing or older (written before these
//! indexes existed) is indexed on open, in one transaction; an unreadable
//! record is reported then (log and `psa_bridge_outbox_unreadable`), and
//! does not make every later start rebuild again.

use std::collections::BTreeMap;

use psa_connector::Timestamp;
use serde::{Deserialize, Serialize};

use super::{decode, OutboxOp, Side, Store, StoreError, TreeName, Tx, TxError};

/// `meta` key of the counter record of index layout 1 (removed on rebuild).
const LEGACY_COUNTS: &[u8] = b"outbox_counts";
/// `meta` key saying the outbox indexes are maintained (layout version).
const INDEXED: &[u8] = b"outbox_index";
/// 2: `outbox_dead` replaces the counter record.
const INDEX_VERSION: u32 = 2;
/// `meta` key: outbox records the last rebuild could not read (left out of
/// the indexes, still counted as pending).
const UNREADABLE: &[u8] = b"outbox_unreadable";

/// How many outbox operations are waiting, and how many are dead letters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxCounts {
    /// Not dead (due or scheduled, including those waiting behind a dead letter).
    pub pending: u64,
    pub dead: u64,
}

fn side_byte(side: Side) -> u8 {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

fn byte_side(b: u8) -> Side {
    if b == 0 {
        Side::A
    } else {
        Side::B
    }
}

/// Length-prefixed connection name, so no name is a prefix of another's keys.
fn connection_prefix(connection: &str) -> Vec<u8> {
    let mut key = (connection.len() as u32).to_be_bytes().to_vec();
    key.extend_from_slice(connection.as_bytes());
    key
}

fn queue_key(op: &OutboxOp) -> Vec<u8> {
    queue_key_of(&op.connection, op.link, op.target)
}

fn queue_key_of(connection: &str, link: u64, target: Side) -> Vec<u8> {
    let mut key = connection_prefix(connection);
    key.extend_from_slice(&link.to_be_bytes());
    key.push(side_byte(target));
    key
}

/// Order-preserving encoding of a time (microseconds, sign bit flipped).
fn time_key(at: Timestamp) -> [u8; 8] {
    ((at.timestamp_micros() as u64) ^ (1 << 63)).to_be_bytes()
}

fn due_key(op: &OutboxOp) -> Vec<u8> {
    let mut key = connection_prefix(&op.connection);
    key.extend_from_slice(&time_key(op.next_attempt_at));
    key.extend_from_slice(&op.id.to_be_bytes());
    key
}

fn due_value(op: &OutboxOp) -> Vec<u8> {
    let mut value = op.link.to_be_bytes().to_vec();
    value.push(side_byte(op.target));
    value
}

fn link_index_key(link: u64, op: u64) -> Vec<u8> {
    let mut key = link.to_be_bytes().to_vec();
    key.extend_from_slice(&op.to_be_bytes());
    key
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(chunk))
}

fn ids_of(bytes: &[u8]) -> Vec<u64> {
    bytes.chunks_exact(8).filter_map(|c| u64_at(c, 0)).collect()
}

fn ids_bytes(ids: &[u64]) -> Vec<u8> {
    ids.iter().flat_map(|id| id.to_be_bytes()).collect()
}

impl Tx<'_> {
    /// Writes (adds or replaces) an outbox operation and keeps the indexes.
    pub fn put_op(&self, op: &OutboxOp) -> Result<(), TxError> {
        let key = op.id.to_be_bytes();
        let old: Option<OutboxOp> = self.get(TreeName::Outbox, &key)?;
        self.put_unchecked(TreeName::Outbox, &key, op)?;
        match &old {
            Some(old) if queue_key(old) == queue_key(op) => {
                if self.queue_ids(&queue_key(op))?.first() == Some(&op.id) {
                    self.unmark_due(old)?;
                    self.mark_due(op)?;
                }
            }
            Some(old) => {
                self.unindex(old)?;
                self.index(op)?;
            }
            None => self.index(op)?,
        }
        self.mark_dead(op)
    }

    /// Removes outbox operation `id` (if present) and its index entries.
    pub fn remove_op(&self, id: u64) -> Result<Option<OutboxOp>, TxError> {
        let key = id.to_be_bytes();
        let old: Option<OutboxOp> = self.get(TreeName::Outbox, &key)?;
        if let Some(old) = &old {
            self.tree(TreeName::Outbox).remove(&key[..])?;
            self.unindex(old)?;
            self.tree(TreeName::OutboxDead).remove(&key[..])?;
        }
        Ok(old)
    }

    /// Ids of the operations queued for `link` toward `target` on
    /// `connection`, oldest first, read inside this transaction (so an
    /// operation enqueued concurrently is either seen or conflicts).
    pub fn queued_op_ids(
        &self,
        connection: &str,
        link: u64,
        target: Side,
    ) -> Result<Vec<u64>, TxError> {
        self.queue_ids(&queue_key_of(connection, link, target))
    }

    fn queue_ids(&self, key: &[u8]) -> Result<Vec<u64>, TxError> {
        Ok(self
            .tree(TreeName::OutboxQueues)
            .get(key)?
            .map(|v| ids_of(&v))
            .unwrap_or_default())
    }

    fn set_queue_ids(&self, key: &[u8], ids: &[u64]) -> Result<(), TxError> {
        let tree = self.tree(TreeName::OutboxQueues);
        if ids.is_empty() {
            tree.remove(key)?;
        } else {
            tree.insert(key, ids_bytes(ids))?;
        }
        Ok(())
    }

    fn mark_due(&self, op: &OutboxOp) -> Result<(), TxError> {
        if op.dead.is_none() {
            self.tree(TreeName::OutboxDue)
                .insert(due_key(op), due_value(op))?;
        }
        Ok(())
    }

    fn unmark_due(&self, op: &OutboxOp) -> Result<(), TxError> {
        self.tree(TreeName::OutboxDue).remove(due_key(op))?;
        Ok(())
    }

    fn op(&self, id: u64) -> Result<Option<OutboxOp>, TxError> {
        self.get(TreeName::Outbox, &id.to_be_bytes())
    }

    /// Adds `op` to its queue and the link index; a new head replaces the
    /// old head in the due index.
    fn index(&self, op: &OutboxOp) -> Result<(), TxError> {
        self.tree(TreeName::OutboxLinks)
            .insert(link_index_key(op.link, op.id), &[][..])?;
        let key = queue_key(op);
        let mut ids = self.queue_ids(&key)?;
        let pos = match ids.binary_search(&op.id) {
            Ok(pos) => pos,
            Err(pos) => {
                ids.insert(pos, op.id);
                self.set_queue_ids(&key, &ids)?;
                pos
            }
        };
        if pos == 0 {
            if let Some(&previous) = ids.get(1) {
                if let Some(previous) = self.op(previous)? {
                    self.unmark_due(&previous)?;
                }
            }
            self.mark_due(op)?;
        }
        Ok(())
    }

    /// Takes `op` out of its queue and the link index; the next op of the
    /// queue becomes its head.
    fn unindex(&self, op: &OutboxOp) -> Result<(), TxError> {
        self.tree(TreeName::OutboxLinks)
            .remove(link_index_key(op.link, op.id))?;
        let key = queue_key(op);
        let mut ids = self.queue_ids(&key)?;
        if let Ok(pos) = ids.binary_search(&op.id) {
            ids.remove(pos);
            self.set_queue_ids(&key, &ids)?;
            if pos == 0 {
                self.unmark_due(op)?;
                if let Some(&next) = ids.first() {
                    if let Some(next) = self.op(next)? {
                        self.mark_due(&next)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn mark_dead(&self, op: &OutboxOp) -> Result<(), TxError> {
        let key = op.id.to_be_bytes();
        let dead = self.tree(TreeName::OutboxDead);
        if op.dead.is_some() {
            dead.insert(&key[..], &[][..])?;
        } else {
            dead.remove(&key[..])?;
        }
        Ok(())
    }
}

impl Store {
    /// The head of every (link, side) queue of `connection` that is due at
    /// `now`, is not a dead letter and for which `skip` (queues already
    /// being delivered) is false, in (link, side) order. Reads the due index
    /// and decodes only those heads.
    pub fn due_heads(
        &self,
        connection: &str,
        now: Timestamp,
        skip: impl Fn(u64, Side) -> bool,
    ) -> Result<Vec<OutboxOp>, StoreError> {
        let prefix = connection_prefix(connection);
        let mut end = prefix.clone();
        end.extend_from_slice(&time_key(now));
        end.extend_from_slice(&[0xff; 8]);
        let mut heads = Vec::new();
        for entry in self.tree(TreeName::OutboxDue).range(prefix.clone()..=end) {
            let (key, value) = entry?;
            let (Some(id), Some(link), Some(&side)) = (
                u64_at(&key, key.len().saturating_sub(8)),
                u64_at(&value, 0),
                value.get(8),
            ) else {
                continue;
            };
            if skip(link, byte_side(side)) {
                continue;
            }
            // Index and record are read at different moments: check the
            // record itself (it may have been delivered or rescheduled).
            let Some(op) = self.outbox_op(id)? else {
                continue;
            };
            if op.connection == connection && op.dead.is_none() && op.next_attempt_at <= now {
                heads.push(op);
            }
        }
        heads.sort_by_key(|op| (op.link, op.target));
        Ok(heads)
    }

    /// Ids of the outbox operations of `link`, oldest first (nothing decoded).
    pub fn outbox_ids_for_link(&self, link: u64) -> Result<Vec<u64>, StoreError> {
        self.tree(TreeName::OutboxLinks)
            .scan_prefix(link.to_be_bytes())
            .keys()
            .map(|k| Ok(u64_at(&k?, 8).unwrap_or_default()))
            .collect()
    }

    /// The outbox operations of `links`, oldest first.
    pub fn outbox_for_links(&self, links: &[u64]) -> Result<Vec<OutboxOp>, StoreError> {
        let mut ops = Vec::new();
        for link in links {
            for id in self.outbox_ids_for_link(*link)? {
                if let Some(op) = self.outbox_op(id)? {
                    ops.push(op);
                }
            }
        }
        ops.sort_by_key(|op| op.id);
        ops.dedup_by_key(|op| op.id);
        Ok(ops)
    }

    /// Dead updates being re-planned for `links`, with their keys.
    pub fn replans_for_links(&self, links: &[u64]) -> Result<Vec<(Vec<u8>, OutboxOp)>, StoreError> {
        let mut replans = Vec::new();
        for link in links {
            replans.extend(self.scan(TreeName::Replans, &link.to_be_bytes())?);
        }
        Ok(replans)
    }

    /// Pending and dead operation counts, from index tree lengths (no
    /// outbox record read, no shared counter record). An unreadable record
    /// (found by the last rebuild) counts as pending.
    pub fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let dead = self.count(TreeName::OutboxDead) as u64;
        let indexed = self.count(TreeName::OutboxLinks) as u64;
        let unreadable: u64 = self.get(TreeName::Meta, UNREADABLE)?.unwrap_or(0);
        Ok(OutboxCounts {
            pending: (indexed + unreadable).saturating_sub(dead),
            dead,
        })
    }

    /// Indexes the outbox when the index layout marker is missing or older
    /// than this version's (a store written without these indexes); returns
    /// whether it did. Nothing else triggers a rebuild: an unreadable record
    /// is reported by the rebuild that found it, not on every start.
    pub(super) fn ensure_outbox_index(&self) -> Result<bool, StoreError> {
        let marked: Option<u32> = self.get(TreeName::Meta, INDEXED).unwrap_or(None);
        if marked == Some(INDEX_VERSION) {
            return Ok(false);
        }
        let indexed = self.rebuild_outbox_index()?;
        tracing::info!(operations = indexed, "outbox indexes rebuilt");
        Ok(true)
    }

    /// Rebuilds every outbox index and the counters from the outbox records,
    /// in one transaction. An unreadable record is logged and left out of
    /// the indexes (delivery skips it; `outbox list` still reports it).
    /// Returns the number of operations indexed.
    pub fn rebuild_outbox_index(&self) -> Result<usize, StoreError> {
        let mut ops = Vec::new();
        let mut unreadable = 0u64;
        for entry in self.tree(TreeName::Outbox).iter() {
            let (key, value) = entry?;
            match decode::<OutboxOp>(TreeName::Outbox, &key, &value) {
                Ok(op) => ops.push(op),
                Err(e) => {
                    unreadable += 1;
                    tracing::error!(error = %e, "outbox record left out of the indexes");
                }
            }
        }
        metrics::gauge!("psa_bridge_outbox_unreadable").set(unreadable as f64);
        let mut stale = Vec::new();
        for name in [
            TreeName::OutboxQueues,
            TreeName::OutboxDue,
            TreeName::OutboxLinks,
            TreeName::OutboxDead,
        ] {
            for key in self.tree(name).iter().keys() {
                stale.push((name, key?));
            }
        }
        let mut queues: BTreeMap<Vec<u8>, Vec<&OutboxOp>> = BTreeMap::new();
        for op in &ops {
            queues.entry(queue_key(op)).or_default().push(op);
        }
        self.transact(|tx| {
            for (name, key) in &stale {
                tx.tree(*name).remove(key.as_ref())?;
            }
            for op in &ops {
                tx.tree(TreeName::OutboxLinks)
                    .insert(link_index_key(op.link, op.id), &[][..])?;
                tx.mark_dead(op)?;
            }
            for (key, queue) in &queues {
                let ids: Vec<u64> = queue.iter().map(|op| op.id).collect();
                tx.set_queue_ids(key, &ids)?;
                if let Some(head) = queue.first() {
                    tx.mark_due(head)?;
                }
            }
            tx.put(TreeName::Meta, UNREADABLE, &unreadable)?;
            tx.remove(TreeName::Meta, LEGACY_COUNTS)?;
            tx.put(TreeName::Meta, INDEXED, &INDEX_VERSION)
        })?;
        Ok(ops.len())
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
