//! Reading the store a page at a time for the admin API: links by id after
//! a cursor, audit entries newest first before a
//! sequence number; and the operator's unlink holds (a ticket an operator
//! unlinked is not escalated again by the pairing's trigger until it is
//! linked again).

use super::{decode, link_key, AuditEntry, Link, Side, Store, StoreError, TreeName};

/// One page: the items and, when more match, the id to continue after.
#[derive(Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<u64>,
}

/// `meta` key of the hold on a ticket an operator unlinked.
pub fn unlink_hold_key(pairing: &str, side: Side, ticket_id: &str) -> Vec<u8> {
    let mut key = b"unlink_hold\0".to_vec();
    key.extend_from_slice(&link_key(pairing, side, ticket_id));
    key
}

impl Store {
    /// Records of `name` (keyed by big-endian u64 ids) after `after`, in id
    /// order, that `keep` accepts: at most `limit`, and whether more match.
    fn page_by_id<T: serde::de::DeserializeOwned>(
        &self,
        name: TreeName,
        after: Option<u64>,
        limit: usize,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Page<(u64, T)>, StoreError> {
        let start = match after {
            Some(id) => match id.checked_add(1) {
                Some(next) => next,
                None => {
                    return Ok(Page {
                        items: Vec::new(),
                        next: None,
                    })
                }
            },
            None => 0,
        };
        let mut items = Vec::new();
        for kv in self.tree(name).range(start.to_be_bytes()..) {
            let (key, value) = kv?;
            let Ok(bytes) = <[u8; 8]>::try_from(key.as_ref()) else {
                continue;
            };
            let id = u64::from_be_bytes(bytes);
            let record: T = decode(name, &key, &value)?;
            if !keep(&record) {
                continue;
            }
            if items.len() == limit {
                let next = items.last().map(|(id, _)| *id);
                return Ok(Page { items, next });
            }
            items.push((id, record));
        }
        Ok(Page { items, next: None })
    }

    /// Links after link id `after` that `keep` accepts, at most `limit`.
    pub fn links_page(
        &self,
        after: Option<u64>,
        limit: usize,
        keep: impl Fn(&Link) -> bool,
    ) -> Result<Page<Link>, StoreError> {
        let page = self.page_by_id(TreeName::Links, after, limit, keep)?;
        Ok(Page {
            items: page.items.into_iter().map(|(_, l)| l).collect(),
            next: page.next,
        })
    }

    /// Audit entries before sequence number `before` (all when `None`),
    /// newest first, at most `limit`; `next` is the last one's seq when
    /// older entries remain.
    pub fn audit_page(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let tree = self.tree(TreeName::Audit);
        let end = before.unwrap_or(u64::MAX).to_be_bytes();
        let mut items: Vec<AuditEntry> = Vec::new();
        for kv in tree.range(..end).rev() {
            let (key, value) = kv?;
            if items.len() == limit {
                return Ok(Page {
                    next: items.last().map(|e| e.seq),
                    items,
                });
            }
            items.push(decode(TreeName::Audit, &key, &value)?);
        }
        Ok(Page { items, next: None })
    }

    /// Whether an operator unlinked `ticket_id` on `side` of `pairing` (and
    /// did not link it again): the trigger then leaves it alone.
    pub fn unlink_held(
        &self,
        pairing: &str,
        side: Side,
        ticket_id: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .tree(TreeName::Meta)
            .contains_key(unlink_hold_key(pairing, side, ticket_id))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuditRecord, TicketRef};

    fn link(id: u64, pairing: &str) -> Link {
        Link {
            id,
            pairing: pairing.into(),
            a: Some(TicketRef {
                id: format!("{id}"),
                number: format!("T{id}"),
            }),
            b: None,
            origin: Side::A,
            created_at: chrono::Utc::now(),
            marker: None,
        }
    }

    #[test]
    fn pages_follow_the_cursor_and_filter() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s")).unwrap();
        store
            .transact(|tx| {
                for id in 1..=7u64 {
                    let p = if id % 2 == 0 { "even" } else { "odd" };
                    tx.put(TreeName::Links, &id.to_be_bytes(), &link(id, p))?;
                }
                for i in 0..5 {
                    tx.audit(
                        chrono::Utc::now(),
                        AuditRecord {
                            kind: "test",
                            pairing: None,
                            link: None,
                            tickets: vec![],
                            message: format!("{i}"),
                            detail: serde_json::Value::Null,
                        },
                    )?;
                }
                Ok(())
            })
            .unwrap();
        let ids = |p: &Page<Link>| p.items.iter().map(|l| l.id).collect::<Vec<_>>();
        let first = store.links_page(None, 3, |_| true).unwrap();
        assert_eq!((ids(&first), first.next), (vec![1, 2, 3], Some(3)));
        let last = store.links_page(Some(6), 3, |_| true).unwrap();
        assert_eq!((ids(&last), last.next), (vec![7], None));
        let exact = store.links_page(Some(4), 3, |_| true).unwrap();
        assert_eq!((ids(&exact), exact.next), (vec![5, 6, 7], None));
        let odd = store.links_page(None, 2, |l| l.pairing == "odd").unwrap();
        assert_eq!((ids(&odd), odd.next), (vec![1, 3], Some(3)));
        assert!(store
            .links_page(Some(u64::MAX), 3, |_| true)
            .unwrap()
            .items
            .is_empty());

        let newest = store.audit_page(None, 2).unwrap();
        let seqs: Vec<u64> = newest.items.iter().map(|e| e.seq).collect();
        assert_eq!((seqs, newest.next), (vec![5, 4], Some(4)));
        let older = store.audit_page(Some(2), 2).unwrap();
        assert_eq!(older.items.len(), 1);
        assert_eq!(older.next, None);
    }
}
