//! Dead letters and what an operator can do with them (`outbox retry ID`).
//!
//! A dead operation blocks its ticket's (link, side) queue: the operations
//! queued behind it wait, so nothing overtakes it ([`blocked_by`] says which).
//! Retrying it is one store transaction, and what it does depends on the
//! operation:
//!
//! * **Field updates** carry values computed when they were planned; by now
//!   the source may have moved on, and replaying the old payload would set
//!   the far side back to an old value. So the dead update is dropped and the
//!   link's *source* ticket gets a fresh inbox notice: the planner reads both
//!   sides and writes the current value. Until that plan is committed the
//!   dropped update's fields still count as in flight (a `replans` record),
//!   so the far side's unchanged, stale value is not mistaken for a change;
//!   the source side's shadow for those fields is cleared so the planner sees
//!   them as changed and writes them (once, even if nothing changed since).
//! * **Creates, notes and write-backs** are re-queued unchanged: they are
//!   idempotent by marker (delivery looks the marker up first) and a create
//!   or note is not stale (later field changes queue behind it).
//! * **Dead notices** (planning failed permanently) go back to the inbox.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::engine::Engine;
use crate::store::{
    replan_key, Action, AuditRecord, DeadNotice, InboxItem, IntakeSource, Link, OutboxOp, Shadow,
    Side, StoreError, TreeName,
};

/// What `outbox retry ID` did.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "retried", rename_all = "snake_case")]
pub enum Retried {
    /// The same operation is due again.
    Requeued { op: OutboxOp },
    /// The dead update was dropped and its source ticket is planned again.
    Replanned { op: OutboxOp, notice: InboxItem },
    /// A dead notice is back in the inbox.
    Notice { notice: InboxItem },
}

impl Retried {
    /// One line for the operator.
    pub fn describe(&self) -> String {
        match self {
            Retried::Requeued { op } => {
                format!("re-queued operation {}: {}", op.id, op.action.describe())
            }
            Retried::Replanned { op, notice } => format!(
                "dropped stale operation {} ({}); {} ticket {} will be planned again from both sides' current state",
                op.id,
                op.action.describe(),
                notice.connection,
                notice.ticket_id
            ),
            Retried::Notice { notice } => format!(
                "notice {} for {} ticket {} is back in the inbox",
                notice.id, notice.connection, notice.ticket_id
            ),
        }
    }
}

/// For every operation waiting behind a dead letter in its (link, side)
/// queue, the dead letter's id.
pub fn blocked_by(ops: &[OutboxOp]) -> HashMap<u64, u64> {
    let mut dead_head: HashMap<(u64, Side), u64> = HashMap::new();
    let mut blocked = HashMap::new();
    for op in ops {
        let queue = (op.link, op.target);
        if let Some(dead) = dead_head.get(&queue) {
            blocked.insert(op.id, *dead);
        } else if op.dead.is_some() {
            dead_head.insert(queue, op.id);
        }
    }
    blocked
}

impl Engine {
    /// Retries dead letter `id` (an outbox operation or a dead notice)
    /// atomically; see the module documentation. A pending operation is
    /// simply made due now. `None` when there is no such id.
    pub async fn retry_dead(&self, id: u64) -> Result<Option<Retried>, StoreError> {
        let notice_id = self.store.next_id()?;
        let now = self.clock.now();
        let key = id.to_be_bytes();
        let retried = self.store.transact(|tx| {
            if let Some(op) = tx.get::<OutboxOp>(TreeName::Outbox, &key)? {
                let link: Option<Link> = tx.get(TreeName::Links, &op.link.to_be_bytes())?;
                let keys = link.as_ref().map(|l| self.link_keys(l)).unwrap_or_default();
                let audit = |message: String| AuditRecord {
                    kind: "requeued",
                    pairing: Some(&op.pairing),
                    link: Some(op.link),
                    tickets: keys.clone(),
                    message,
                    detail: json!({ "op": id }),
                };
                if let Some(notice) = self.replan_notice(&op, link.as_ref(), notice_id, now) {
                    tx.remove_op(id)?;
                    tx.put(TreeName::Replans, &replan_key(op.link, op.id), &op)?;
                    let shadow_key = op.link.to_be_bytes();
                    let mut shadow: Shadow =
                        tx.get(TreeName::Shadows, &shadow_key)?.unwrap_or_default();
                    let source = shadow.side_mut(op.target.other());
                    for field in &op.fields {
                        source.values.remove(field);
                    }
                    tx.put(TreeName::Shadows, &shadow_key, &shadow)?;
                    tx.put_inbox_item(&notice)?;
                    let retried = Retried::Replanned {
                        op: op.clone(),
                        notice,
                    };
                    tx.audit(
                        now,
                        audit(format!("by an operator: {}", retried.describe())),
                    )?;
                    return Ok(Some(retried));
                }
                let mut requeued = op.clone();
                requeued.dead = None;
                requeued.attempts = 0;
                requeued.first_failed_at = None;
                requeued.next_attempt_at = now;
                tx.put_op(&requeued)?;
                let retried = Retried::Requeued { op: requeued };
                tx.audit(
                    now,
                    audit(format!("by an operator: {}", retried.describe())),
                )?;
                return Ok(Some(retried));
            }
            if let Some(dead) = tx.get::<DeadNotice>(TreeName::DeadNotices, &key)? {
                tx.remove_dead_notice(dead.item.id)?;
                let mut notice = dead.item.clone();
                notice.attempts = 0;
                notice.next_attempt_at = None;
                tx.put_inbox_item(&notice)?;
                let retried = Retried::Notice { notice };
                tx.audit(
                    now,
                    AuditRecord {
                        kind: "requeued",
                        pairing: None,
                        link: None,
                        tickets: vec![format!("{}:{}", dead.item.connection, dead.item.ticket_id)],
                        message: format!("by an operator: {}", retried.describe()),
                        detail: json!({ "notice": id }),
                    },
                )?;
                return Ok(Some(retried));
            }
            Ok(None)
        })?;
        self.store.flush().await?;
        match &retried {
            Some(Retried::Requeued { .. }) => self.outbox_ready.notify_waiters(),
            Some(_) => {
                self.outbox_ready.notify_waiters();
                self.inbox_ready.notify_waiters();
            }
            None => {}
        }
        Ok(retried)
    }

    /// The notice that re-plans dead field update `op` from its source
    /// ticket, when `op` is one (see the module documentation).
    fn replan_notice(
        &self,
        op: &OutboxOp,
        link: Option<&Link>,
        id: u64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<InboxItem> {
        if op.dead.is_none() || op.fields.is_empty() {
            return None;
        }
        if !matches!(op.action, Action::UpdateTicket { .. }) {
            return None;
        }
        let source = op.target.other();
        let pairing = self.pairing(&op.pairing)?;
        let ticket = link?.side(source)?;
        Some(InboxItem {
            id,
            connection: pairing.connection(source).to_string(),
            ticket_id: ticket.id.clone(),
            // Planned like a poll hit: the planner reads the vendors.
            source: IntakeSource::Poll,
            dedup_key: format!("operator-retry:{}", op.id),
            received_at: now,
            updated_at: None,
            attempts: 0,
            next_attempt_at: None,
            detail: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DeadLetter;

    fn op(id: u64, link: u64, target: Side, dead: bool) -> OutboxOp {
        let update = Action::UpdateTicket {
            update: Default::default(),
        };
        OutboxOp {
            fields: vec!["status".into()],
            dead: dead.then(|| DeadLetter {
                at: chrono::Utc::now(),
                status: Some(400),
                message: "no".into(),
            }),
            ..OutboxOp::sample(id, link, target, update)
        }
    }

    #[test]
    fn a_dead_letter_blocks_only_its_own_queue() {
        let ops = vec![
            op(1, 10, Side::B, true),
            op(2, 10, Side::A, false),
            op(3, 10, Side::B, false),
            op(4, 11, Side::B, false),
            op(5, 10, Side::B, false),
        ];
        let blocked = blocked_by(&ops);
        assert_eq!(blocked.get(&3), Some(&1));
        assert_eq!(blocked.get(&5), Some(&1));
        assert_eq!(blocked.len(), 2, "{blocked:?}");
    }
}
