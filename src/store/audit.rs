//! The audit chain's hashing and verification.
//!
//! Each entry's hash chains the previous entry's hash to the entry's own
//! content, so altering, removing or reordering any stored entry breaks the
//! chain from that entry on. Two formats, recorded per entry (`v`):
//!
//! - **1** (entries written before store format 2): `hash = SHA-256(prev_hash
//!   ‖ JSON of the entry with hash empty)`.
//! - **2** (every entry written since): `hash = SHA-256(prev_hash ‖
//!   digest)`, `digest = SHA-256(JSON of the entry with prev_hash and hash
//!   empty)` (both as lowercase hex text). An evidence bundle can carry
//!   another pairing's entry as its digest only, and the verifier still
//!   recomputes its hash from the entry before it.
//!
//! A chain runs v1 then v2, never back: a v1 entry after a v2 one is a break.

use sha2::{Digest, Sha256};

use super::{decode, AuditEntry, Store, StoreError, TreeName};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash format this build writes.
pub const HASH_VERSION: u8 = 2;

/// Serde default of [`AuditEntry::v`]: entries without it are format 1.
pub fn v1() -> u8 {
    1
}

/// Format 1 is not written out (its entries' JSON stays as it was hashed).
pub fn is_v1(v: &u8) -> bool {
    *v == 1
}

/// SHA-256 (hex) of an entry's content chained to its predecessor, in the
/// entry's format (`v`; anything but 1 is hashed as 2).
pub fn entry_hash(entry: &AuditEntry) -> String {
    if entry.v == 1 {
        let mut content = entry.clone();
        content.hash = String::new();
        // Serialising a struct with fixed field order is deterministic.
        let bytes = serde_json::to_vec(&content).unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(entry.prev_hash.as_bytes());
        hasher.update(&bytes);
        return format!("{:x}", hasher.finalize());
    }
    chain_hash(&entry.prev_hash, &content_digest(entry))
}

/// Format 2: SHA-256 (hex) of the entry without its chain fields.
pub fn content_digest(entry: &AuditEntry) -> String {
    let mut content = entry.clone();
    content.prev_hash = String::new();
    content.hash = String::new();
    let bytes = serde_json::to_vec(&content).unwrap_or_default();
    format!("{:x}", Sha256::digest(&bytes))
}

/// Format 2: the hash of an entry with content `digest` after `prev_hash`.
pub fn chain_hash(prev_hash: &str, digest: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(digest.as_bytes());
    // sha2's output formats as lower-case hex in one pass (no per-byte
    // `format!`): the audit chain hashes every entry twice.
    format!("{:x}", hasher.finalize())
}

/// Outcome of checking the whole chain.
#[derive(Debug, PartialEq, Eq)]
pub enum VerifyReport {
    /// `head` is the last entry's hash: record it elsewhere (a ticket, a log
    /// archive) and a later rewrite of the whole chain shows up as a new head.
    Intact {
        entries: u64,
        head: String,
    },
    Broken {
        seq: u64,
        reason: String,
    },
}

impl Store {
    /// Walks the chain from the first entry and reports the first break.
    pub fn verify_audit(&self) -> Result<VerifyReport, StoreError> {
        let mut prev = GENESIS.to_string();
        let mut expected_seq = 1u64;
        let mut version = 1u8;
        for kv in self.tree(TreeName::Audit).iter() {
            let (key, value) = kv?;
            let key_seq = key.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
            let entry: AuditEntry = match decode(TreeName::Audit, &key, &value) {
                Ok(e) => e,
                Err(e) => {
                    return Ok(VerifyReport::Broken {
                        seq: key_seq,
                        reason: format!("entry is unreadable: {e}"),
                    })
                }
            };
            if entry.seq != expected_seq || key_seq != expected_seq {
                return Ok(VerifyReport::Broken {
                    seq: key_seq,
                    reason: format!("expected entry #{expected_seq}, found #{}", entry.seq),
                });
            }
            if entry.prev_hash != prev {
                return Ok(VerifyReport::Broken {
                    seq: entry.seq,
                    reason: "previous-hash link does not match the entry before it".into(),
                });
            }
            if entry.v < version || entry.v > HASH_VERSION {
                return Ok(VerifyReport::Broken {
                    seq: entry.seq,
                    reason: format!(
                        "hash format {} after format {version} entries (entry was rewritten)",
                        entry.v
                    ),
                });
            }
            version = entry.v;
            if entry_hash(&entry) != entry.hash {
                return Ok(VerifyReport::Broken {
                    seq: entry.seq,
                    reason: "content does not match its hash (entry was altered)".into(),
                });
            }
            prev = entry.hash;
            expected_seq += 1;
        }
        let entries = expected_seq - 1;
        let stored_head = self.get::<serde_json::Value>(TreeName::Meta, b"audit_head")?;
        let head = stored_head
            .as_ref()
            .and_then(|h| Some((h["seq"].as_u64()?, h["hash"].as_str()?.to_string())));
        match head {
            Some((seq, hash)) if seq != entries || hash != prev => {
                return Ok(VerifyReport::Broken {
                    seq,
                    reason: format!(
                        "the chain ends at #{entries} but its head says #{seq}: entries were removed"
                    ),
                });
            }
            Some(_) => {}
            // The head is written in the same transaction as every entry:
            // entries without it (or with an unreadable one) mean the head was
            // removed to hide a truncated tail.
            None if entries > 0 => {
                let reason = if stored_head.is_some() {
                    "the chain head record is unreadable"
                } else {
                    "the chain head record is missing: the tail cannot be checked"
                };
                return Ok(VerifyReport::Broken {
                    seq: entries,
                    reason: reason.into(),
                });
            }
            None => {}
        }
        Ok(VerifyReport::Intact {
            entries,
            head: prev,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuditRecord;

    fn store_with_entries(n: usize) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s")).unwrap();
        for i in 0..n {
            store
                .transact(|tx| {
                    tx.audit(
                        chrono::Utc::now(),
                        AuditRecord {
                            kind: "test",
                            pairing: None,
                            link: None,
                            tickets: vec![format!("c:{i}")],
                            message: format!("entry {i}"),
                            detail: serde_json::Value::Null,
                        },
                    )
                })
                .unwrap();
        }
        (dir, store)
    }

    #[test]
    fn intact_chain_verifies() {
        let (_d, store) = store_with_entries(5);
        assert_eq!(
            store.verify_audit().unwrap(),
            VerifyReport::Intact {
                entries: 5,
                head: store.audit_entries().unwrap()[4].hash.clone()
            }
        );
        let entries = store.audit_entries().unwrap();
        assert_eq!(entries[0].prev_hash, GENESIS);
        assert_eq!(entries[3].prev_hash, entries[2].hash);
    }

    #[test]
    fn altered_removed_or_truncated_entries_are_named() {
        let (_d, store) = store_with_entries(5);
        let tree = store.raw_audit_tree();
        let key = 3u64.to_be_bytes();
        let mut entry: AuditEntry =
            serde_json::from_slice(&tree.get(key).unwrap().unwrap()).unwrap();
        entry.message = "rewritten".into();
        tree.insert(key, serde_json::to_vec(&entry).unwrap())
            .unwrap();
        assert!(matches!(
            store.verify_audit().unwrap(),
            VerifyReport::Broken { seq: 3, .. }
        ));

        let (_d, store) = store_with_entries(5);
        store.raw_audit_tree().remove(2u64.to_be_bytes()).unwrap();
        assert!(matches!(
            store.verify_audit().unwrap(),
            VerifyReport::Broken { seq: 3, .. }
        ));

        let (_d, store) = store_with_entries(5);
        store.raw_audit_tree().remove(5u64.to_be_bytes()).unwrap();
        assert!(matches!(
            store.verify_audit().unwrap(),
            VerifyReport::Broken { seq: 5, .. }
        ));

        let (_d, store) = store_with_entries(2);
        store
            .raw_audit_tree()
            .insert(1u64.to_be_bytes(), b"not json".to_vec())
            .unwrap();
        assert!(matches!(
            store.verify_audit().unwrap(),
            VerifyReport::Broken { seq: 1, .. }
        ));
    }

    /// Removing the tail and the head record together must not pass as intact.
    #[test]
    fn a_missing_head_record_is_a_break() {
        let (_d, store) = store_with_entries(5);
        store.raw_audit_tree().remove(5u64.to_be_bytes()).unwrap();
        store.tree(TreeName::Meta).remove(b"audit_head").unwrap();
        assert!(matches!(
            store.verify_audit().unwrap(),
            VerifyReport::Broken { seq: 4, .. }
        ));
        let (_d, store) = store_with_entries(2);
        store
            .tree(TreeName::Meta)
            .insert(b"audit_head", b"{}".to_vec())
            .unwrap();
        assert!(matches!(
            store.verify_audit().unwrap(),
            VerifyReport::Broken { .. }
        ));
    }

    #[test]
    fn aborted_transactions_write_nothing() {
        let (_d, store) = store_with_entries(1);
        let result: Result<(), StoreError> = store.transact(|tx| {
            tx.audit(
                chrono::Utc::now(),
                AuditRecord {
                    kind: "test",
                    pairing: None,
                    link: None,
                    tickets: vec![],
                    message: "lost".into(),
                    detail: serde_json::Value::Null,
                },
            )?;
            tx.put(TreeName::Cursors, b"c", &1u64)?;
            Err(crate::store::TxError::Abort(StoreError::Aborted(
                "no".into(),
            )))
        });
        assert!(result.is_err());
        assert_eq!(store.audit_entries().unwrap().len(), 1);
        assert!(store.tree(TreeName::Cursors).get(b"c").unwrap().is_none());
        assert!(matches!(
            store.verify_audit().unwrap(),
            VerifyReport::Intact { entries: 1, .. }
        ));
    }
}
