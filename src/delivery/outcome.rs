//! Recording what a delivery attempt did, atomically with its audit entry:
//! success (link table, comment map, shadow, write-back follow-ups), a retry
//! schedule, or a dead letter.

use psa_connector::{ConnectorError, RetryAction};
use serde_json::json;

use super::apply::Delivered;
use super::schedule::{retry_delay, MAX_ATTEMPTS};
use crate::engine::{observe, Engine};
use crate::store::{
    comment_key, link_key, Action, AuditRecord, CommentEntry, DeadLetter, Link, OutboxOp, Shadow,
    StoreError, TicketRef, TreeName,
};

impl Engine {
    /// Records a successful delivery.
    pub async fn record_success(
        &self,
        op: &OutboxOp,
        delivered: Delivered,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut follow_ups = Vec::new();
        let mut created_ref = None;
        let mut created_state: Option<crate::store::SideState> = None;
        let message;
        match &delivered {
            Delivered::Created(ticket) => {
                let r = TicketRef {
                    id: ticket.id.clone(),
                    number: ticket.number.clone(),
                };
                created_ref = Some(r);
                if let Some(pairing) = self.pairing(&op.pairing) {
                    let pending: Vec<String> = self
                        .store
                        .outbox()?
                        .into_iter()
                        .filter(|o| o.link == op.link && o.id != op.id && o.target == op.target)
                        .flat_map(|o| o.fields)
                        .collect();
                    let mut observed = observe(&pairing.mapping, op.target, ticket);
                    // Fields still being written keep their expected value.
                    observed.values.retain(|field, _| !pending.contains(field));
                    created_state = Some(observed);
                }
                if let Action::CreateTicket {
                    write_back: Some(wb),
                    ticket: new,
                } = &op.action
                {
                    follow_ups = crate::engine::write_back_ops(
                        wb,
                        op.target.other(),
                        &new.marker,
                        &ticket.number,
                    );
                }
                message = format!(
                    "{}: created ticket {} ({:?})",
                    op.connection, ticket.number, ticket.title
                );
            }
            Delivered::Updated => message = format!("{}: {}", op.connection, op.action.describe()),
            Delivered::Commented { id } => {
                message = format!("{}: {} (note {id})", op.connection, op.action.describe())
            }
        }
        let mut ids = Vec::new();
        for _ in &follow_ups {
            ids.push(self.store.next_id()?);
        }
        self.store.transact(|tx| {
            let key = op.link.to_be_bytes();
            let mut link: Link = tx
                .get(TreeName::Links, &key)?
                .ok_or_else(|| StoreError::Aborted(format!("link {} vanished", op.link)))?;
            tx.remove(TreeName::Outbox, &op.id.to_be_bytes())?;
            if let Some(r) = &created_ref {
                link.set_side(op.target, r.clone());
                tx.put(TreeName::Links, &key, &link)?;
            }
            if let Some(state) = &created_state {
                let mut shadow: Shadow = tx.get(TreeName::Shadows, &key)?.unwrap_or_default();
                let side = shadow.side_mut(op.target);
                side.values.extend(state.values.clone());
                side.description = state.description.clone();
                side.closed = state.closed;
                tx.put(TreeName::Shadows, &key, &shadow)?;
            }
            let keys = self.link_keys(&link);
            if let Some(r) = &created_ref {
                tx.put(
                    TreeName::LinkIndex,
                    &link_key(&link.pairing, op.target, &r.id),
                    &link.id,
                )?;
            }
            if let (Delivered::Commented { id }, Action::AddComment { source, .. }) =
                (&delivered, &op.action)
            {
                tx.put(
                    TreeName::Comments,
                    &comment_key(link.id, op.target, id),
                    &CommentEntry::Bridge,
                )?;
                if let Some((side, source_id)) = source {
                    let entry = CommentEntry::Mirrored {
                        op: op.id,
                        target_id: Some(id.clone()),
                    };
                    tx.put(
                        TreeName::Comments,
                        &comment_key(link.id, *side, source_id),
                        &entry,
                    )?;
                }
            }
            for (planned, id) in follow_ups.iter().zip(&ids) {
                let follow = self.new_op(*id, &link, planned, now);
                tx.put(TreeName::Outbox, &id.to_be_bytes(), &follow)?;
                tx.audit(
                    now,
                    AuditRecord {
                        kind: "planned",
                        pairing: Some(&link.pairing),
                        link: Some(link.id),
                        tickets: keys.clone(),
                        message: format!(
                            "side {}: {} (write-back)",
                            planned.target,
                            planned.action.describe()
                        ),
                        detail: json!({}),
                    },
                )?;
            }
            tx.audit(
                now,
                AuditRecord {
                    kind: "delivered",
                    pairing: Some(&link.pairing),
                    link: Some(link.id),
                    tickets: keys.clone(),
                    message: message.clone(),
                    detail: json!({ "op": op.id, "attempts": op.attempts + 1 }),
                },
            )
        })?;
        self.store.flush().await?;
        if !follow_ups.is_empty() {
            self.outbox_ready.notify_waiters();
        }
        Ok(())
    }

    /// Records a failed attempt: schedules a retry or dead-letters the operation.
    pub async fn record_failure(
        &self,
        op: &OutboxOp,
        error: &ConnectorError,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        let now = self.clock.now();
        let mut updated = op.clone();
        updated.attempts += 1;
        updated.last_error = Some(error.to_string());
        let link = self.store.link(op.link)?;
        let keys = link.as_ref().map(|l| self.link_keys(l)).unwrap_or_default();
        let retry_at = match error.retry_action() {
            RetryAction::Retry { after } if updated.attempts < MAX_ATTEMPTS => {
                updated.next_attempt_at = now + retry_delay(updated.attempts, after);
                Some(updated.next_attempt_at)
            }
            _ => {
                updated.dead = Some(DeadLetter {
                    at: now,
                    status: error.http_status(),
                    message: error.to_string(),
                });
                None
            }
        };
        let (kind, message) = match retry_at {
            Some(at) => (
                "retry",
                format!(
                    "{}: {} failed ({error}); attempt {} at {}",
                    op.connection,
                    op.action.describe(),
                    updated.attempts + 1,
                    at.to_rfc3339()
                ),
            ),
            None => (
                "dead_letter",
                format!(
                    "{}: {} dead-lettered after {} attempt(s): {error}",
                    op.connection,
                    op.action.describe(),
                    updated.attempts
                ),
            ),
        };
        self.store.transact(|tx| {
            tx.put(TreeName::Outbox, &op.id.to_be_bytes(), &updated)?;
            tx.audit(
                now,
                AuditRecord {
                    kind,
                    pairing: Some(&op.pairing),
                    link: Some(op.link),
                    tickets: keys.clone(),
                    message: message.clone(),
                    detail: json!({ "op": op.id, "status": error.http_status() }),
                },
            )
        })?;
        self.store.flush().await?;
        Ok(retry_at)
    }

    /// Puts a dead-lettered operation back in the queue (`outbox retry ID`).
    pub async fn requeue(&self, id: u64) -> Result<Option<OutboxOp>, StoreError> {
        let Some(mut op) = self.store.outbox_op(id)? else {
            return Ok(None);
        };
        let now = self.clock.now();
        op.dead = None;
        op.attempts = 0;
        op.next_attempt_at = now;
        let keys = match self.store.link(op.link)? {
            Some(l) => self.link_keys(&l),
            None => Vec::new(),
        };
        self.store.transact(|tx| {
            tx.put(TreeName::Outbox, &id.to_be_bytes(), &op)?;
            tx.audit(
                now,
                AuditRecord {
                    kind: "requeued",
                    pairing: Some(&op.pairing),
                    link: Some(op.link),
                    tickets: keys.clone(),
                    message: format!(
                        "operation {id} re-queued by an operator: {}",
                        op.action.describe()
                    ),
                    detail: json!({ "op": id }),
                },
            )
        })?;
        self.store.flush().await?;
        self.outbox_ready.notify_waiters();
        Ok(Some(op))
    }
}
