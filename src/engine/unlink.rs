//! Unlinking: the linked ticket on one side no longer exists (deleted or
//! merged away by someone on that side). Rather than failing every later
//! notice for the link, the link, its index entries, shadow, comment map,
//! pending operations and re-plans are removed in one audited transaction.
//! If the other ticket still meets the pairing's trigger, its next notice
//! escalates it again as a new link.
//!
//! An operator can unlink too (`POST /api/v1/links/{id}/unlink`, `links
//! unlink`): the same removal, audited as `unlinked_by_operator`, and both
//! tickets are held (`store::unlink_hold_key`) so the trigger does not
//! escalate them again until an operator links them again.

use serde_json::json;

use super::Engine;
use crate::config::LoadedPairing;
use crate::store::{link_key, unlink_hold_key, AuditRecord, Link, Side, StoreError, TreeName};

/// Why a link is removed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum UnlinkCause<'a> {
    /// The ticket on `side` is not found (`what`: the connector's words).
    Gone { side: Side, what: &'a str },
    /// An operator asked, perhaps saying why.
    Operator { reason: Option<&'a str> },
}

/// Keys of a link's comment-map entries and re-plans, read before its
/// unlinking transaction (sled transactions cannot scan). The transaction
/// reads the link's operations from its queue records itself; the ids
/// gathered here from the link index only add operations whose queue is
/// keyed by a connection the pairing no longer names (a renamed connection).
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    comments: Vec<Vec<u8>>,
    replans: Vec<Vec<u8>>,
    ops: Vec<u64>,
}

impl Gathered {
    fn is_empty(&self) -> bool {
        self.comments.is_empty() && self.replans.is_empty()
    }
}

impl Engine {
    /// Removes `link`, whose ticket on side `gone` is not found (`what` is
    /// the connector's description of the missing record).
    pub(crate) async fn unlink(
        &self,
        pairing: &LoadedPairing,
        link: &Link,
        gone: Side,
        what: &str,
    ) -> Result<(), StoreError> {
        let gathered = self.unlink_gather(link.id)?;
        self.unlink_commit(pairing, link, gone, what, gathered)
            .await
    }

    /// Removes every link of `links` whose ticket on some side is
    /// `ticket_id` of `connection`, found gone (`what`: the connector's
    /// words) when a notice for it was planned.
    pub(super) async fn unlink_gone_ticket(
        &self,
        links: &[u64],
        connection: &str,
        ticket_id: &str,
        what: &str,
    ) -> Result<(), StoreError> {
        for id in links {
            let Some(link) = self.store.link(*id)? else {
                continue;
            };
            let Some(pairing) = self.pairing(&link.pairing) else {
                continue;
            };
            let gone = [Side::A, Side::B].into_iter().find(|side| {
                pairing.connection(*side) == connection
                    && link.side(*side).is_some_and(|r| r.id == ticket_id)
            });
            if let Some(side) = gone {
                self.unlink(pairing, &link, side, what).await?;
            }
        }
        Ok(())
    }

    /// The comment-map and re-plan keys of link `id`.
    pub(crate) fn unlink_gather(&self, id: u64) -> Result<Gathered, StoreError> {
        let key = id.to_be_bytes();
        let keys = |tree: TreeName| -> Result<Vec<Vec<u8>>, StoreError> {
            Ok(self
                .store
                .tree(tree)
                .scan_prefix(key)
                .keys()
                .map(|k| k.map(|k| k.to_vec()))
                .collect::<Result<_, _>>()?)
        };
        Ok(Gathered {
            comments: keys(TreeName::Comments)?,
            replans: keys(TreeName::Replans)?,
            ops: self.store.outbox_ids_for_link(id)?,
        })
    }

    /// The unlinking transaction. The link's outbox operations are read from
    /// its queue records *inside* the transaction, so one enqueued after
    /// [`Engine::unlink_gather`] is removed too. Comment-map entries and
    /// re-plans cannot be read inside (no scans in sled transactions); every
    /// writer of those reads the link in its own transaction and stops when
    /// it is gone, so only ones committed between the gathering and this
    /// transaction can be left: they are swept right after.
    pub(super) async fn unlink_commit(
        &self,
        pairing: &LoadedPairing,
        link: &Link,
        gone: Side,
        what: &str,
        gathered: Gathered,
    ) -> Result<(), StoreError> {
        let cause = UnlinkCause::Gone { side: gone, what };
        self.unlink_commit_as(pairing, link, cause, gathered)
            .await
            .map(|_| ())
    }

    /// [`Engine::unlink_commit`] for any [`UnlinkCause`]; returns the ids
    /// of the outbox operations removed.
    pub(crate) async fn unlink_commit_as(
        &self,
        pairing: &LoadedPairing,
        link: &Link,
        cause: UnlinkCause<'_>,
        gathered: Gathered,
    ) -> Result<Vec<u64>, StoreError> {
        let now = self.clock.now();
        let key = link.id.to_be_bytes();
        let tickets = self.link_keys(link);
        let (message, removed) = self.store.transact(|tx| {
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
            crate::store::known::remove(tx, link.id)?;
            let mut ops = Vec::new();
            for side in [Side::A, Side::B] {
                if let Some(r) = link.side(side) {
                    tx.remove(TreeName::LinkIndex, &link_key(&link.pairing, side, &r.id))?;
                }
                ops.extend(tx.queued_op_ids(pairing.connection(side), link.id, side)?);
            }
            for id in &gathered.ops {
                if !ops.contains(id) {
                    ops.push(*id);
                }
            }
            let mut removed = Vec::new();
            for id in &ops {
                if tx.remove_op(*id)?.is_some() {
                    removed.push(*id);
                }
            }
            let ops = removed;
            for k in &gathered.comments {
                tx.remove(TreeName::Comments, k)?;
            }
            for k in &gathered.replans {
                tx.remove(TreeName::Replans, k)?;
            }
            let (kind, message, detail) = match cause {
                UnlinkCause::Gone { side, what } => {
                    let number = link.side(side).map(|r| r.number.as_str()).unwrap_or_default();
                    (
                        "unlinked",
                        format!(
                            "{} ticket {number} no longer exists ({what}); link {} removed with {} pending operation(s); the other ticket is no longer synced",
                            pairing.connection(side),
                            link.id,
                            ops.len()
                        ),
                        json!({ "side": side, "operations_removed": ops }),
                    )
                }
                UnlinkCause::Operator { reason } => {
                    for side in [Side::A, Side::B] {
                        if let Some(r) = link.side(side) {
                            let hold = unlink_hold_key(&link.pairing, side, &r.id);
                            tx.put(TreeName::Meta, &hold, &link.id)?;
                        }
                    }
                    (
                        "unlinked_by_operator",
                        format!(
                            "unlinked by an operator{}: link {} removed with {} pending operation(s); neither ticket is synced or escalated again until linked again",
                            reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                            link.id,
                            ops.len()
                        ),
                        json!({ "operations_removed": ops, "reason": reason }),
                    )
                }
            };
            tx.audit(
                now,
                AuditRecord {
                    kind,
                    pairing: Some(&link.pairing),
                    link: Some(link.id),
                    tickets: tickets.clone(),
                    message: message.clone(),
                    detail,
                },
            )?;
            Ok((message, ops))
        })?;
        tracing::warn!(link = link.id, "{message}");
        self.sweep_unlinked(link.id)?;
        self.store.flush().await?;
        Ok(removed)
    }

    /// Removes comment-map entries and re-plans of the removed link `id`
    /// that were committed after they were gathered (see
    /// [`Engine::unlink_commit`]). Nothing can add more once the link is gone.
    fn sweep_unlinked(&self, id: u64) -> Result<(), StoreError> {
        let late = self.unlink_gather(id)?;
        if late.is_empty() {
            return Ok(());
        }
        tracing::debug!(link = id, ?late, "removing records added while unlinking");
        self.store.transact(|tx| {
            for k in &late.comments {
                tx.remove(TreeName::Comments, k)?;
            }
            for k in &late.replans {
                tx.remove(TreeName::Replans, k)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::fixture;
    use crate::store::{
        comment_key, replan_key, Action, CommentEntry, OutboxCounts, OutboxOp, Side, TreeName,
    };

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

    /// Records added for the link between the gathering and the unlinking
    /// transaction (a plan or delivery committing meanwhile) are removed
    /// with it: nothing of the link is left behind.
    #[tokio::test]
    async fn records_added_while_unlinking_are_not_left_behind() {
        let f = fixture();
        let store = &f.engine.store;
        store
            .transact(|tx| {
                tx.put(TreeName::Links, &7u64.to_be_bytes(), &f.link)?;
                tx.put_op(&op(31, 7, Side::B))
            })
            .unwrap();
        let gathered = f.engine.unlink_gather(7).unwrap();
        // Interleaved: an operation, a comment-map entry and a re-plan.
        let late = op(32, 7, Side::A);
        store
            .transact(|tx| {
                tx.put_op(&late)?;
                tx.put(
                    TreeName::Comments,
                    &comment_key(7, Side::A, "c9"),
                    &CommentEntry::Bridge,
                )?;
                tx.put(TreeName::Replans, &replan_key(7, 30), &late)
            })
            .unwrap();
        f.engine
            .unlink_commit(f.pairing(), &f.link, Side::B, "ticket 200", gathered)
            .await
            .unwrap();
        store.assert_outbox_index_consistent();
        assert!(store.outbox_op(32).unwrap().is_none(), "orphan operation");
        assert!(store.outbox_ids_for_link(7).unwrap().is_empty());
        assert_eq!(store.outbox_counts().unwrap(), OutboxCounts::default());
        let left = |tree| store.tree(tree).scan_prefix(7u64.to_be_bytes()).count();
        assert_eq!(left(TreeName::Comments), 0, "orphan comment-map entry");
        assert_eq!(left(TreeName::Replans), 0, "orphan re-plan");
    }
}
