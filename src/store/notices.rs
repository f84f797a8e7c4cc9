//! The inbox and the dead notices, indexed by ticket (tree `notice_tickets`),
//! so a plan can ask "does a notice for this ticket wait?" with one prefix
//! look-up instead of scanning (`engine::read_plan`).
//!
//! Notices are written and removed only through [`Tx::put_inbox_item`],
//! [`Tx::remove_inbox_item`], [`Tx::put_dead_notice`] and
//! [`Tx::remove_dead_notice`], which keep the index in the same transaction:
//! a notice is in the index exactly when it is in its tree, whatever the
//! commit order of concurrent writers. The index is rebuilt from the two
//! trees at every opening ([`Store::rebuild_notice_index`]), so a store an
//! older release wrote (or a crash between trees, which sled's transactions
//! rule out anyway) never leaves it wrong.
//!
//! Key: kind (`i` inbox, `d` dead), then the connection and the ticket id,
//! each as a big-endian `u16` length and its bytes (no separator a hostile
//! ticket id could forge), then the notice id (`u64` big-endian).

use serde::Deserialize;

use super::{decode, DeadNotice, InboxItem, Store, StoreError, TreeName, Tx, TxError};

const INBOX: u8 = b'i';
const DEAD: u8 = b'd';

/// The two fields of an inbox record the index needs.
#[derive(Deserialize)]
struct Head {
    connection: String,
    ticket_id: String,
}

/// A dead notice's head: its inbox item's.
#[derive(Deserialize)]
struct DeadHead {
    item: Head,
}

/// The key prefix of one ticket's notices of `kind`.
fn prefix(kind: u8, connection: &str, ticket_id: &str) -> Vec<u8> {
    let mut key = vec![kind];
    for part in [connection, ticket_id] {
        // Longer than u16 cannot come from a vendor hint (webhook bodies
        // are capped far below); truncating the length would only widen a
        // prefix, never hide a notice from its own ticket's look-up.
        let len = u16::try_from(part.len()).unwrap_or(u16::MAX);
        key.extend_from_slice(&len.to_be_bytes());
        key.extend_from_slice(part.as_bytes());
    }
    key
}

fn index_key(kind: u8, head: &Head, id: &[u8]) -> Vec<u8> {
    let mut key = prefix(kind, &head.connection, &head.ticket_id);
    key.extend_from_slice(id);
    key
}

fn head_of(tree: TreeName, key: &[u8], bytes: &[u8]) -> Result<Head, StoreError> {
    if tree == TreeName::DeadNotices {
        Ok(decode::<DeadHead>(tree, key, bytes)?.item)
    } else {
        decode(tree, key, bytes)
    }
}

fn kind_of(tree: TreeName) -> u8 {
    if tree == TreeName::DeadNotices {
        DEAD
    } else {
        INBOX
    }
}

impl Tx<'_> {
    /// Writes (adds or replaces) an inbox notice and indexes it.
    pub fn put_inbox_item(&self, item: &InboxItem) -> Result<(), TxError> {
        self.put_notice(TreeName::Inbox, &item.id.to_be_bytes(), item, |i| Head {
            connection: i.connection.clone(),
            ticket_id: i.ticket_id.clone(),
        })
    }

    /// Removes inbox notice `id` (if present) and its index entry.
    pub fn remove_inbox_item(&self, id: u64) -> Result<(), TxError> {
        self.remove_notice(TreeName::Inbox, &id.to_be_bytes())
    }

    /// Writes a dead notice (by its inbox id) and indexes it.
    pub fn put_dead_notice(&self, dead: &DeadNotice) -> Result<(), TxError> {
        self.put_notice(
            TreeName::DeadNotices,
            &dead.item.id.to_be_bytes(),
            dead,
            |d| Head {
                connection: d.item.connection.clone(),
                ticket_id: d.item.ticket_id.clone(),
            },
        )
    }

    /// Removes dead notice `id` (if present) and its index entry.
    pub fn remove_dead_notice(&self, id: u64) -> Result<(), TxError> {
        self.remove_notice(TreeName::DeadNotices, &id.to_be_bytes())
    }

    fn put_notice<T: serde::Serialize>(
        &self,
        tree: TreeName,
        key: &[u8],
        value: &T,
        head: impl Fn(&T) -> Head,
    ) -> Result<(), TxError> {
        self.unindex_notice(tree, key)?;
        self.tree(TreeName::NoticeTickets)
            .insert(index_key(kind_of(tree), &head(value), key), &[][..])?;
        self.put_unchecked(tree, key, value)
    }

    fn remove_notice(&self, tree: TreeName, key: &[u8]) -> Result<(), TxError> {
        self.unindex_notice(tree, key)?;
        self.tree(tree).remove(key)?;
        Ok(())
    }

    /// Removes the index entry of the notice stored at `key`, if any.
    fn unindex_notice(&self, tree: TreeName, key: &[u8]) -> Result<(), TxError> {
        if let Some(bytes) = self.tree(tree).get(key)? {
            let head = head_of(tree, key, &bytes)?;
            self.tree(TreeName::NoticeTickets)
                .remove(index_key(kind_of(tree), &head, key))?;
        }
        Ok(())
    }
}

impl Store {
    /// Whether a notice for `ticket_id` of `connection` waits in the inbox
    /// or is kept as a dead notice.
    pub fn notice_waiting(&self, connection: &str, ticket_id: &str) -> Result<bool, StoreError> {
        let index = self.tree(TreeName::NoticeTickets);
        for kind in [INBOX, DEAD] {
            if index
                .scan_prefix(prefix(kind, connection, ticket_id))
                .next()
                .transpose()?
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Rebuilds `notice_tickets` from the inbox and the dead notices (at
    /// opening, before anything else uses the store). A record that cannot
    /// be decoded is left out of the index: the planner reports it when it
    /// meets it, and a plan then reads the vendors rather than trust it.
    pub(super) fn rebuild_notice_index(&self) -> Result<(), StoreError> {
        let mut keys = Vec::new();
        for tree in [TreeName::Inbox, TreeName::DeadNotices] {
            for entry in self.tree(tree).iter() {
                let (key, value) = entry?;
                match head_of(tree, &key, &value) {
                    Ok(head) => keys.push(index_key(kind_of(tree), &head, &key)),
                    Err(e) => tracing::error!(error = %e, "notice left out of the ticket index"),
                }
            }
        }
        let index = self.tree(TreeName::NoticeTickets);
        let stale: Vec<_> = index.iter().keys().collect::<Result<_, _>>()?;
        let mut batch = sled::Batch::default();
        for key in stale {
            batch.remove(key);
        }
        for key in keys {
            batch.insert(key, &[][..]);
        }
        index.apply_batch(batch)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DeadLetter, IntakeSource};

    fn notice(id: u64, ticket: &str) -> InboxItem {
        InboxItem {
            id,
            connection: "connectwise".into(),
            ticket_id: ticket.into(),
            source: IntakeSource::Webhook,
            dedup_key: format!("d{id}"),
            received_at: chrono::Utc::now(),
            updated_at: None,
            attempts: 0,
            next_attempt_at: None,
            detail: Default::default(),
        }
    }

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_notice_is_waiting_from_its_put_to_its_removal() {
        let (_dir, store) = open();
        store
            .transact(|tx| tx.put_inbox_item(&notice(1, "5")))
            .unwrap();
        store
            .transact(|tx| tx.put_inbox_item(&notice(2, "5")))
            .unwrap();
        assert!(store.notice_waiting("connectwise", "5").unwrap());
        assert!(!store.notice_waiting("connectwise", "55").unwrap());
        assert!(!store.notice_waiting("autotask", "5").unwrap());
        store.transact(|tx| tx.remove_inbox_item(1)).unwrap();
        assert!(store.notice_waiting("connectwise", "5").unwrap());
        store.transact(|tx| tx.remove_inbox_item(2)).unwrap();
        assert!(!store.notice_waiting("connectwise", "5").unwrap());
        assert_eq!(store.count(TreeName::NoticeTickets), 0);
    }

    #[test]
    fn a_dead_notice_counts_until_discarded_and_a_rewrite_moves_the_entry() {
        let (_dir, store) = open();
        let dead = DeadNotice {
            item: notice(3, "7"),
            dead: DeadLetter {
                at: chrono::Utc::now(),
                status: None,
                message: "refused".into(),
            },
        };
        store.transact(|tx| tx.put_dead_notice(&dead)).unwrap();
        assert!(store.notice_waiting("connectwise", "7").unwrap());
        store.transact(|tx| tx.remove_dead_notice(3)).unwrap();
        assert!(!store.notice_waiting("connectwise", "7").unwrap());
        // The same id written for another ticket leaves no entry behind.
        store
            .transact(|tx| tx.put_inbox_item(&notice(4, "7")))
            .unwrap();
        store
            .transact(|tx| tx.put_inbox_item(&notice(4, "8")))
            .unwrap();
        assert!(!store.notice_waiting("connectwise", "7").unwrap());
        assert!(store.notice_waiting("connectwise", "8").unwrap());
        assert_eq!(store.count(TreeName::NoticeTickets), 1);
    }

    /// Ids are not prefixes of each other, and a separator in a hostile
    /// ticket id cannot make one ticket's notices look like another's.
    #[test]
    fn ticket_ids_that_share_bytes_stay_apart() {
        let (_dir, store) = open();
        let mut odd = notice(5, "1\u{0}2");
        odd.connection = "a".into();
        store.transact(|tx| tx.put_inbox_item(&odd)).unwrap();
        assert!(store.notice_waiting("a", "1\u{0}2").unwrap());
        assert!(!store.notice_waiting("a", "1").unwrap());
        assert!(!store.notice_waiting("a\u{0}1", "2").unwrap());
    }

    #[test]
    fn the_index_is_rebuilt_at_opening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        {
            let store = Store::open(&path).unwrap();
            store
                .transact(|tx| tx.put_inbox_item(&notice(1, "5")))
                .unwrap();
            // As an older release would have left it: no index entry, and
            // a stale one for a notice that is gone.
            let index = store.tree(TreeName::NoticeTickets);
            index.clear().unwrap();
            index
                .insert(
                    index_key(
                        INBOX,
                        &Head {
                            connection: "connectwise".into(),
                            ticket_id: "9".into(),
                        },
                        &9u64.to_be_bytes(),
                    ),
                    &[][..],
                )
                .unwrap();
            store.db.flush().unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert!(store.notice_waiting("connectwise", "5").unwrap());
        assert!(!store.notice_waiting("connectwise", "9").unwrap());
    }
}
