//! Paused pairings: an operator's "hold this pairing's deliveries" record,
//! kept in the `meta` tree under `paused_pairing\0<name>` (like the unlink
//! holds: no new tree, so a store with a paused pairing still opens with
//! builds that predate pausing). While a pairing is paused its intake and
//! planning go on and its operations stay in the outbox; the delivery
//! workers leave them alone (see `delivery::worker`). The record survives
//! restarts and reloads because it is in the store, and it stays when the
//! pairing is removed from the configuration (status and `check` say so).
//!
//! Also here: outbox figures per link from the index trees (nothing of the
//! outbox decoded), which `/metrics` turns into per-pairing depths.

use std::collections::{BTreeMap, HashMap};

use psa_connector::Timestamp;
use serde::{Deserialize, Serialize};

use super::{decode, OutboxCounts, Store, StoreError, TreeName, Tx, TxError};

const PREFIX: &[u8] = b"paused_pairing\0";

/// Why and since when a pairing is paused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PausedPairing {
    pub pairing: String,
    pub since: Timestamp,
    /// The operator's reason, if one was given.
    pub reason: Option<String>,
    /// Who paused it (`operator` for the CLI and the admin API).
    pub by: String,
}

/// `meta` key of pairing `name`'s pause record.
pub fn paused_key(name: &str) -> Vec<u8> {
    let mut key = PREFIX.to_vec();
    key.extend_from_slice(name.as_bytes());
    key
}

impl Store {
    /// Every paused pairing (configured or not), by name.
    pub fn paused_pairings(&self) -> Result<BTreeMap<String, PausedPairing>, StoreError> {
        let mut paused = BTreeMap::new();
        for entry in self.tree(TreeName::Meta).scan_prefix(PREFIX) {
            let (key, value) = entry?;
            let record: PausedPairing = decode(TreeName::Meta, &key, &value)?;
            paused.insert(record.pairing.clone(), record);
        }
        Ok(paused)
    }

    /// The names of the paused pairings (keys only, nothing decoded): what
    /// a delivery round reads.
    pub fn paused_pairing_names(&self) -> Result<Vec<String>, StoreError> {
        self.tree(TreeName::Meta)
            .scan_prefix(PREFIX)
            .keys()
            .map(|key| Ok(String::from_utf8_lossy(&key?[PREFIX.len()..]).into_owned()))
            .collect()
    }

    /// Pairing `name`'s pause record, if it is paused.
    pub fn paused_pairing(&self, name: &str) -> Result<Option<PausedPairing>, StoreError> {
        self.get(TreeName::Meta, &paused_key(name))
    }

    /// Whether pairing `name` is paused (nothing decoded).
    pub fn is_paused(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.tree(TreeName::Meta).contains_key(paused_key(name))?)
    }

    /// Pending and dead operation counts per link, from the outbox index
    /// trees (keys only: no operation is decoded).
    pub fn outbox_counts_by_link(&self) -> Result<HashMap<u64, OutboxCounts>, StoreError> {
        let dead = self.tree(TreeName::OutboxDead);
        let mut counts: HashMap<u64, OutboxCounts> = HashMap::new();
        for key in self.tree(TreeName::OutboxLinks).iter().keys() {
            let key = key?;
            let (Some(link), Some(op)) = (be_u64(&key, 0), be_u64(&key, 8)) else {
                continue;
            };
            let entry = counts.entry(link).or_default();
            if dead.contains_key(op.to_be_bytes())? {
                entry.dead += 1;
            } else {
                entry.pending += 1;
            }
        }
        Ok(counts)
    }
}

fn be_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(chunk))
}

impl Tx<'_> {
    /// Pairing `name`'s pause record, read inside this transaction.
    pub fn paused_pairing(&self, name: &str) -> Result<Option<PausedPairing>, TxError> {
        self.get(TreeName::Meta, &paused_key(name))
    }

    /// Records `record` (replacing an older one for the same pairing).
    pub fn pause_pairing(&self, record: &PausedPairing) -> Result<(), TxError> {
        self.put(TreeName::Meta, &paused_key(&record.pairing), record)
    }

    /// Removes pairing `name`'s pause record.
    pub fn resume_pairing(&self, name: &str) -> Result<(), TxError> {
        self.remove(TreeName::Meta, &paused_key(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Action, OutboxOp, Side};

    #[test]
    fn pause_records_survive_reopening_and_counts_come_from_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let since = chrono::Utc::now();
        {
            let store = Store::open(&path).unwrap();
            let record = PausedPairing {
                pairing: "acme".into(),
                since,
                reason: Some("client migrating".into()),
                by: "operator".into(),
            };
            let update = Action::UpdateTicket {
                update: Default::default(),
            };
            let op = |id, link| OutboxOp::sample(id, link, Side::B, update.clone());
            let mut dead = op(3, 7);
            dead.dead = Some(crate::store::DeadLetter {
                at: since,
                status: Some(400),
                message: "no".into(),
            });
            store
                .transact(|tx| {
                    tx.pause_pairing(&record)?;
                    tx.put_op(&op(1, 7))?;
                    tx.put_op(&op(2, 8))?;
                    tx.put_op(&dead)
                })
                .unwrap();
            store.db.flush().unwrap();
        }
        let store = crate::store::reopen::reopen(&path);
        assert!(store.is_paused("acme").unwrap());
        assert!(!store.is_paused("acm").unwrap(), "no prefix match");
        let paused = store.paused_pairings().unwrap();
        assert_eq!(paused.len(), 1);
        assert_eq!(paused["acme"].reason.as_deref(), Some("client migrating"));
        let counts = store.outbox_counts_by_link().unwrap();
        assert_eq!(
            counts[&7],
            OutboxCounts {
                pending: 1,
                dead: 1
            }
        );
        assert_eq!(
            counts[&8],
            OutboxCounts {
                pending: 1,
                dead: 0
            }
        );
        store.transact(|tx| tx.resume_pairing("acme")).unwrap();
        assert!(store.paused_pairings().unwrap().is_empty());
    }
}
