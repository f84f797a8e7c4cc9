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
