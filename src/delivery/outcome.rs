//! Recording what a delivery attempt did, atomically with its audit entry:
//! success (link table, comment map, shadow, write-back follow-ups; for an
//! adopted ticket a notice to plan it again), a retry schedule, or a dead
//! letter.

use psa_connector::ConnectorError;
use serde_json::json;

use super::apply::Delivered;
use super::normalise::adopt_normalised;
use crate::engine::{observe, Engine};
use crate::retry::Decision;
use crate::store::{
    comment_key, link_key, Action, AuditRecord, CommentEntry, DeadLetter, InboxItem, IntakeSource,
    Link, OutboxOp, Shadow, StoreError, TicketRef, TreeName,
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
        let mut stored_state: Option<crate::store::SideState> = None;
        let message;
        match &delivered {
            Delivered::Created { ticket, adopted } => {
                let r = TicketRef {
                    id: ticket.id.clone(),
                    number: ticket.number.clone(),
                };
                created_ref = Some(r);
                if let Some(pairing) = self.pairing(&op.pairing) {
                    let pending: Vec<String> = self
                        .store
                        .outbox_for_links(&[op.link])?
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
                message = if *adopted {
                    format!(
                        "{}: adopted ticket {} ({:?}) that an earlier attempt created (found by its marker); planned again from its current state",
                        op.connection, ticket.number, ticket.title
                    )
                } else {
                    format!(
                        "{}: created ticket {} ({:?})",
                        op.connection, ticket.number, ticket.title
                    )
                };
            }
            Delivered::Updated(stored) => {
                message = format!("{}: {}", op.connection, op.action.describe());
                if let Some(pairing) = self.pairing(&op.pairing) {
                    stored_state = Some(observe(&pairing.mapping, op.target, stored));
                }
            }
            Delivered::VisibilitySet { gone } => {
                message = if *gone {
                    format!(
                        "{}: {} skipped: the note no longer exists",
                        op.connection,
                        op.action.describe()
                    )
                } else {
                    format!(
                        "{}: {} (its source note became internal after it crossed)",
                        op.connection,
                        op.action.describe()
                    )
                };
            }
            Delivered::Commented { id, adopted } => {
                message = if *adopted {
                    format!(
                        "{}: {} (adopted note {id} that an earlier attempt posted, found by its marker)",
                        op.connection,
                        op.action.describe()
                    )
                } else {
                    format!("{}: {} (note {id})", op.connection, op.action.describe())
                }
            }
        }
        let adopted = matches!(
            &delivered,
            Delivered::Created { adopted: true, .. } | Delivered::Commented { adopted: true, .. }
        );
        // The target's length limits for the written fields (a value cut
        // at exactly that length is the vendor's, not a person's edit).
        let limits: Vec<(String, usize)> = match self.connection(&op.connection) {
            Some(conn) => op
                .fields
                .iter()
                .filter_map(|f| Some((f.clone(), conn.connector.max_chars(f)?)))
                .collect(),
            None => Vec::new(),
        };
        let mut ids = Vec::new();
        for _ in &follow_ups {
            ids.push(self.store.next_id()?);
        }
        // An adopted ticket existed, unknown to the bridge, since the lost
        // answer: a person may have edited it or added notes, and their
        // notices were dropped (the ticket was not linked yet). Plan it
        // again from its current state.
        let replan = match &delivered {
            Delivered::Created {
                ticket,
                adopted: true,
            } => Some(InboxItem {
                id: self.store.next_id()?,
                connection: op.connection.clone(),
                ticket_id: ticket.id.clone(),
                source: IntakeSource::Poll,
                dedup_key: format!("adopted:{}", op.id),
                received_at: now,
                updated_at: Some(ticket.updated_at),
                attempts: 0,
                next_attempt_at: None,
                detail: Default::default(),
            }),
            _ => None,
        };
        self.store.transact(|tx| {
            let key = op.link.to_be_bytes();
            let mut link: Link = tx
                .get(TreeName::Links, &key)?
                .ok_or_else(|| StoreError::Aborted(format!("link {} vanished", op.link)))?;
            tx.remove_op(op.id)?;
            if let Some(r) = &created_ref {
                link.set_side(op.target, r.clone());
                tx.put(TreeName::Links, &key, &link)?;
            }
            if let Some(state) = &created_state {
                let mut shadow: Shadow = tx.get(TreeName::Shadows, &key)?.unwrap_or_default();
                let side = shadow.side_mut(op.target);
                let written = side.values.clone();
                side.values.extend(state.values.clone());
                if replan.is_some() {
                    // Keep what the create wrote (the vendor's normalisation
                    // of it aside), so the re-plan sees a person's edit of
                    // the adopted ticket as a change instead of the baseline.
                    for field in &op.fields {
                        if let Some(value) = written.get(field) {
                            side.values.insert(field.clone(), value.clone());
                        }
                    }
                    adopt_normalised(side, state, &op.fields, &limits);
                }
                side.description = state.description.clone();
                side.closed = state.closed;
                tx.put(TreeName::Shadows, &key, &shadow)?;
            }
            if let Some(stored) = &stored_state {
                let mut shadow: Shadow = tx.get(TreeName::Shadows, &key)?.unwrap_or_default();
                let kept =
                    adopt_normalised(shadow.side_mut(op.target), stored, &op.fields, &limits);
                if !kept.is_empty() {
                    tx.put(TreeName::Shadows, &key, &shadow)?;
                }
            }
            // What the bridge knows of the target ticket (`store::known`).
            match &delivered {
                Delivered::Updated(stored) => {
                    crate::store::known::after_delivery(tx, op.link, op.target, Some(stored))?
                }
                Delivered::Created { .. } => {
                    crate::store::known::after_delivery(tx, op.link, op.target, None)?
                }
                Delivered::Commented { .. } | Delivered::VisibilitySet { .. } => {}
            }
            if let Some(item) = &replan {
                tx.put_inbox_item(item)?;
            }
            let keys = self.link_keys(&link);
            if let Some(r) = &created_ref {
                tx.put(
                    TreeName::LinkIndex,
                    &link_key(&link.pairing, op.target, &r.id),
                    &link.id,
                )?;
            }
            if let (
                Delivered::Commented { id, .. },
                Action::AddComment {
                    source, comment, ..
                },
            ) = (&delivered, &op.action)
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
                        visibility: Some(comment.visibility),
                    };
                    tx.put(
                        TreeName::Comments,
                        &comment_key(link.id, *side, source_id),
                        &entry,
                    )?;
                }
            }
            for (planned, id) in follow_ups.iter().zip(&ids) {
                // The write-back finishes the change's crossing: same change time.
                let follow = OutboxOp {
                    changed_at: op.changed_at,
                    ..self.new_op(*id, &link, planned, now)
                };
                tx.put_op(&follow)?;
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
                    kind: if adopted { "adopted" } else { "delivered" },
                    pairing: Some(&link.pairing),
                    link: Some(link.id),
                    tickets: keys.clone(),
                    message: message.clone(),
                    detail: json!({ "op": op.id, "attempts": op.attempts + 1, "adopted": adopted }),
                },
            )
        })?;
        self.store.flush().await?;
        if !follow_ups.is_empty() {
            self.outbox_ready.notify_waiters();
        }
        if replan.is_some() {
            self.inbox_ready.notify_waiters();
        }
        Ok(())
    }

    /// Records a failed attempt: schedules a retry (see [`crate::retry`]) or
    /// dead-letters the operation. The record is re-read inside the
    /// transaction, so an operator's concurrent re-queue is not overwritten
    /// with a stale copy. Returns the retry time written: `None` for a dead
    /// letter, or when nothing was written (the record had changed).
    pub async fn record_failure(
        &self,
        op: &OutboxOp,
        error: &ConnectorError,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        let now = self.clock.now();
        let mut updated = op.clone();
        updated.last_error = Some(error.to_string());
        let decision = self
            .retry
            .decide(error, op.attempts, op.first_failed_at, now);
        let retry_at = match &decision {
            Decision::Retry { at, counted } => {
                if *counted {
                    updated.attempts = updated.attempts.saturating_add(1);
                    updated.first_failed_at.get_or_insert(now);
                }
                updated.next_attempt_at = *at;
                Some(*at)
            }
            Decision::GiveUp { .. } => {
                updated.attempts = updated.attempts.saturating_add(1);
                updated.dead = Some(DeadLetter {
                    at: now,
                    status: error.http_status(),
                    message: error.to_string(),
                });
                None
            }
        };
        let link = self.store.link(op.link)?;
        let keys = link.as_ref().map(|l| self.link_keys(l)).unwrap_or_default();
        let (kind, message) = match &decision {
            Decision::Retry { at, counted } => (
                if *counted { "retry" } else { "throttled" },
                format!(
                    "{}: {} failed ({error}); attempt {} at {}",
                    op.connection,
                    op.action.describe(),
                    updated.attempts + 1,
                    at.to_rfc3339()
                ),
            ),
            Decision::GiveUp { reason } => (
                "dead_letter",
                format!(
                    "{}: {} dead-lettered after {} attempt(s), {reason}: {error}; later operations for this ticket wait behind it (`psa-bridge outbox retry {}`)",
                    op.connection,
                    op.action.describe(),
                    updated.attempts,
                    op.id,
                ),
            ),
        };
        let written = self.store.transact(|tx| {
            let key = op.id.to_be_bytes();
            let stored: Option<OutboxOp> = tx.get(TreeName::Outbox, &key)?;
            if stored.as_ref() != Some(op) {
                // Re-queued, re-planned or delivered meanwhile: keep that.
                return Ok(false);
            }
            tx.put_op(&updated)?;
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
            )?;
            Ok(true)
        })?;
        if !written {
            return Ok(None);
        }
        crate::telemetry::failure_recorded(&op.connection, retry_at.is_none());
        self.store.flush().await?;
        Ok(retry_at)
    }
}
