//! Unlinking: the linked ticket on one side no longer exists (deleted or
//! merged away by someone on that side). Rather than failing every later
//! notice for the link, the link, its index entries, shadow, comment map,
//! pending operations and re-plans are removed in one audited transaction.
//! If the other ticket still meets the pairing's trigger, its next notice
//! escalates it again as a new link.

use serde_json::json;

use super::Engine;
use crate::config::LoadedPairing;
use crate::store::{link_key, AuditRecord, Link, Side, StoreError, TreeName};

impl Engine {
    /// Removes `link`, whose ticket on side `gone` is not found (`what` is
    /// the connector's description of the missing record).
    pub(super) async fn unlink(
        &self,
        pairing: &LoadedPairing,
        link: &Link,
        gone: Side,
        what: &str,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let key = link.id.to_be_bytes();
        let ops: Vec<u64> = self.store.outbox_ids_for_link(link.id)?;
        let comments: Vec<Vec<u8>> = self
            .store
            .tree(TreeName::Comments)
            .scan_prefix(key)
            .keys()
            .map(|k| k.map(|k| k.to_vec()))
            .collect::<Result<_, _>>()?;
        let replans: Vec<Vec<u8>> = self
            .store
            .tree(TreeName::Replans)
            .scan_prefix(key)
            .keys()
            .map(|k| k.map(|k| k.to_vec()))
            .collect::<Result<_, _>>()?;
        let tickets = self.link_keys(link);
        let number = link
            .side(gone)
            .map(|r| r.number.clone())
            .unwrap_or_default();
        let message = format!(
            "{} ticket {number} no longer exists ({what}); link {} removed with {} pending operation(s); the other ticket is no longer synced",
            pairing.connection(gone),
            link.id,
            ops.len()
        );
        self.store.transact(|tx| {
            let stored: Option<Link> = tx.get(TreeName::Links, &key)?;
            if stored.as_ref() != Some(link) {
                return Err(StoreError::Conflict(format!(
                    "link {} changed while unlinking",
                    link.id
                ))
                .into());
            }
            tx.remove(TreeName::Links, &key)?;
            tx.remove(TreeName::Shadows, &key)?;
            for side in [Side::A, Side::B] {
                if let Some(r) = link.side(side) {
                    tx.remove(TreeName::LinkIndex, &link_key(&link.pairing, side, &r.id))?;
                }
            }
            for id in &ops {
                tx.remove_op(*id)?;
            }
            for k in &comments {
                tx.remove(TreeName::Comments, k)?;
            }
            for k in &replans {
                tx.remove(TreeName::Replans, k)?;
            }
            tx.audit(
                now,
                AuditRecord {
                    kind: "unlinked",
                    pairing: Some(&link.pairing),
                    link: Some(link.id),
                    tickets: tickets.clone(),
                    message: message.clone(),
                    detail: json!({ "side": gone, "operations_removed": ops }),
                },
            )
        })?;
        tracing::warn!(link = link.id, "{message}");
        self.store.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::fixture;
    use crate::store::{Action, OutboxCounts, OutboxOp, Side, TreeName};

    fn op(id: u64, link: u64, target: Side) -> OutboxOp {
        let update = Action::UpdateTicket {
            update: Default::default(),
        };
        let connection = if target == Side::A {
            "autotask"
        } else {
            "connectwise"
        };
        OutboxOp {
            pairing: "acme".into(),
            connection: connection.into(),
            fields: vec!["status".into()],
            ..OutboxOp::sample(id, link, target, update)
        }
    }

    /// Unlinking removes the link's operations from the outbox and from
    /// every index; another link's queue is untouched.
    #[tokio::test]
    async fn unlinking_keeps_the_outbox_indexes() {
        let f = fixture();
        let store = &f.engine.store;
        let ops = [
            op(31, 7, Side::B),
            op(32, 7, Side::B),
            op(33, 7, Side::A),
            op(34, 9, Side::B),
        ];
        store
            .transact(|tx| {
                tx.put(TreeName::Links, &7u64.to_be_bytes(), &f.link)?;
                for op in &ops {
                    tx.put_op(op)?;
                }
                Ok(())
            })
            .unwrap();
        f.engine
            .unlink(f.pairing(), &f.link, Side::B, "ticket 200")
            .await
            .unwrap();
        store.assert_outbox_index_consistent();
        assert!(store.outbox_ids_for_link(7).unwrap().is_empty());
        assert_eq!(store.outbox_ids_for_link(9).unwrap(), vec![34]);
        let far = chrono::Utc::now() + chrono::Duration::days(1);
        let heads = store.due_heads("connectwise", far, |_, _| false).unwrap();
        assert_eq!(heads.iter().map(|o| o.id).collect::<Vec<_>>(), vec![34]);
        assert!(store
            .due_heads("autotask", far, |_, _| false)
            .unwrap()
            .is_empty());
        assert_eq!(
            store.outbox_counts().unwrap(),
            OutboxCounts {
                pending: 1,
                dead: 0
            }
        );
    }
}
