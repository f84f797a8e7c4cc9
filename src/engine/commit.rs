//! Writing a plan: one transaction removes the inbox items, stores links,
//! shadows, outbox operations, comment-map entries, ticket versions and audit
//! entries; then the store is flushed before anyone is told.

use psa_connector::Timestamp;

use crate::store::known::KnownWrite;
use crate::store::TicketVersion;

use super::{ticket_keys, Engine, Plan, PlannedOp};
use crate::store::{
    comment_key, link_key, ticket_key, Action, AuditRecord, CommentEntry, Link, OutboxOp, Shadow,
    StoreError, TreeName,
};

/// What one inbox item resolved to.
pub struct Outcome<'a> {
    /// Inbox items consumed (the item and older notices for the same ticket).
    pub inbox_ids: Vec<u64>,
    /// The source ticket's version, so stale poll hits are skipped later.
    pub version: Option<(&'a str, &'a str, TicketVersion)>,
    pub plans: Vec<Plan>,
    /// Extra audit line when the item produced no plan (ignored, dropped).
    pub note: Option<(&'static str, String, Vec<String>)>,
    /// `replans` records this plan settles (their links are planned from
    /// current state now): removed in the same transaction.
    pub replans_done: Vec<Vec<u8>>,
    /// When the planned change happened (see [`OutboxOp::changed_at`]):
    /// stamped on every operation written, for the propagation metric.
    pub changed_at: Option<Timestamp>,
}

impl Engine {
    /// Audit keys of both tickets of a link.
    pub fn link_keys(&self, link: &Link) -> Vec<String> {
        let mut keys = Vec::new();
        let Some(pairing) = self.pairing(&link.pairing) else {
            return keys;
        };
        for (conn, side) in [(&pairing.a, &link.a), (&pairing.b, &link.b)] {
            if let Some(r) = side {
                keys.extend(ticket_keys(conn, &r.id, &r.number));
            }
        }
        keys
    }

    /// A fresh outbox record for `planned`, due now.
    pub fn new_op(&self, id: u64, link: &Link, planned: &PlannedOp, now: Timestamp) -> OutboxOp {
        let connection = self
            .pairing(&link.pairing)
            .map(|p| p.connection(planned.target).to_string())
            .unwrap_or_default();
        OutboxOp {
            id,
            link: link.id,
            pairing: link.pairing.clone(),
            target: planned.target,
            connection,
            action: planned.action.clone(),
            fields: planned.fields.clone(),
            planned_at: now,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            dead: None,
            first_failed_at: None,
            changed_at: None,
            attempt_started_at: None,
            planned_in_session: None,
        }
    }

    /// Writes an outcome atomically and flushes. Returns the number of operations written.
    pub async fn commit(&self, outcome: Outcome<'_>) -> Result<usize, StoreError> {
        self.commit_with_known(outcome, &[]).await
    }

    /// [`Engine::commit`], also storing what the plans learned of their
    /// links' tickets (`store::known`) in the same transaction.
    pub(super) async fn commit_with_known(
        &self,
        outcome: Outcome<'_>,
        known: &[KnownWrite],
    ) -> Result<usize, StoreError> {
        let op_count: usize = outcome.plans.iter().map(|p| p.ops.len()).sum();
        let mut ids = Vec::with_capacity(op_count);
        for _ in 0..op_count {
            ids.push(self.store.next_id()?);
        }
        let now = self.clock.now();
        let keyed: Vec<Vec<String>> = outcome
            .plans
            .iter()
            .map(|p| self.link_keys(&p.link))
            .collect();
        self.store.transact(|tx| {
            for id in &outcome.inbox_ids {
                tx.remove_inbox_item(*id)?;
            }
            for key in &outcome.replans_done {
                tx.remove(TreeName::Replans, key)?;
            }
            if let Some((conn, ticket, at)) = &outcome.version {
                tx.put(TreeName::Versions, &ticket_key(conn, ticket), at)?;
            }
            if let Some((kind, message, tickets)) = &outcome.note {
                tx.audit(now, AuditRecord { kind, pairing: None, link: None, tickets: tickets.clone(), message: message.clone(), detail: serde_json::Value::Null })?;
            }
            let mut next_id = ids.iter();
            for (plan, keys) in outcome.plans.iter().zip(&keyed) {
                let link = &plan.link;
                let key = link.id.to_be_bytes();
                if plan.new_link {
                    tx.put(TreeName::Links, &key, link)?;
                    if let Some(r) = link.side(link.origin) {
                        tx.put(TreeName::LinkIndex, &link_key(&link.pairing, link.origin, &r.id), &link.id)?;
                    }
                } else {
                    let stored_link: Option<Link> = tx.get(TreeName::Links, &key)?;
                    let stored_shadow: Option<Shadow> = tx.get(TreeName::Shadows, &key)?;
                    if stored_link.as_ref() != Some(link) || stored_shadow.unwrap_or_default() != plan.base_shadow {
                        return Err(StoreError::Conflict(format!("link {} changed while planning", link.id)).into());
                    }
                }

                tx.put(TreeName::Shadows, &link.id.to_be_bytes(), &plan.shadow)?;
                let mut op_ids = Vec::new();
                for planned in &plan.ops {
                    let id = *next_id.next().ok_or_else(|| StoreError::Aborted("op id pool exhausted".into()))?;
                    // The plan of a known link read the target side's notes just
                    // now, or knew them completely in this store session
                    // (`read_plan`): a mirror it plans is not there yet, so its
                    // first post may skip the marker look-up (`delivery::attempt`).
                    let read_target = !plan.new_link && link.side(planned.target).is_some();
                    let op = OutboxOp {
                        changed_at: outcome.changed_at,
                        planned_in_session: read_target.then(|| self.store.session()),
                        ..self.new_op(id, link, planned, now)
                    };
                    tx.put_op(&op)?;
                    op_ids.push((id, planned));
                }
                for (side, comment_id, entry) in &plan.comments {
                    // A new entry must still be new, and an updated mirror entry
                    // must still be the one the plan read: if a delivery or a
                    // plan of the other side recorded it since, plan again.
                    let key = comment_key(link.id, *side, comment_id);
                    let stored: Option<CommentEntry> = tx.get(TreeName::Comments, &key)?;
                    let still_as_planned = match (&stored, entry) {
                        (None, _) => true,
                        (
                            Some(CommentEntry::Mirrored { op: stored_op, target_id: stored_target, .. }),
                            CommentEntry::Mirrored { op, target_id, .. },
                        ) => stored_op == op && stored_target == target_id,
                        _ => false,
                    };
                    if !still_as_planned {
                        return Err(StoreError::Conflict(format!("comment {comment_id} of link {} recorded while planning", link.id)).into());
                    }
                    let entry = match entry {
                        CommentEntry::Mirrored { op: planned_op, target_id, visibility } => {
                            // A new mirror gets its op's id; a recorded one keeps its own.
                            let op = op_ids
                                .iter()
                                .find(|(_, p)| matches!(&p.action, Action::AddComment { source: Some((s, c)), .. } if s == side && c == comment_id))
                                .map(|(id, _)| *id)
                                .unwrap_or(*planned_op);
                            CommentEntry::Mirrored { op, target_id: target_id.clone(), visibility: *visibility }
                        }
                        other => other.clone(),
                    };
                    tx.put(TreeName::Comments, &comment_key(link.id, *side, comment_id), &entry)?;
                }
                for line in &plan.audit {
                    tx.audit(now, AuditRecord { kind: line.kind, pairing: Some(&link.pairing), link: Some(link.id), tickets: keys.clone(), message: line.message.clone(), detail: line.detail.clone() })?;
                }
            }
            for write in known {
                crate::store::known::put_after_plan(tx, write)?;
            }
            Ok(())
        })?;
        self.store.flush().await?;
        for plan in &outcome.plans {
            tracing::debug!(pairing = %plan.link.pairing, link = plan.link.id, ops = plan.ops.len(), "planned");
        }
        if op_count > 0 {
            self.outbox_ready.notify_waiters();
        }
        Ok(op_count)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::clock::SystemClock;
    use crate::store::{Side, Store, TicketRef};

    fn engine(dir: &std::path::Path) -> Engine {
        Engine::new(
            Store::open(&dir.join("s")).unwrap(),
            HashMap::new(),
            Vec::new(),
            Arc::new(SystemClock),
            Default::default(),
        )
    }

    fn plan_for(link: Link, base_shadow: Shadow) -> Plan {
        Plan {
            link,
            new_link: false,
            shadow: base_shadow.clone(),
            base_shadow,
            ops: Vec::new(),
            comments: Vec::new(),
            audit: Vec::new(),
        }
    }

    /// A plan computed before a delivery linked the far ticket must not
    /// overwrite the link: the commit refuses and the planner plans again.
    #[tokio::test]
    async fn stale_plans_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let mut link = Link {
            id: 7,
            pairing: "p".into(),
            a: Some(TicketRef {
                id: "1".into(),
                number: "T1".into(),
            }),
            b: None,
            origin: Side::A,
            created_at: chrono::Utc::now(),
            marker: None,
        };
        engine
            .store
            .transact(|tx| tx.put(TreeName::Links, &7u64.to_be_bytes(), &link))
            .unwrap();
        let stale = plan_for(link.clone(), Shadow::default());

        // Meanwhile a delivery records the created ticket.
        link.b = Some(TicketRef {
            id: "1001".into(),
            number: "1001".into(),
        });
        engine
            .store
            .transact(|tx| tx.put(TreeName::Links, &7u64.to_be_bytes(), &link))
            .unwrap();

        let outcome = Outcome {
            inbox_ids: Vec::new(),
            version: None,
            plans: vec![stale],
            note: None,
            replans_done: Vec::new(),
            changed_at: None,
        };
        assert!(matches!(
            engine.commit(outcome).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            engine.store.link(7).unwrap(),
            Some(link.clone()),
            "the link kept its far side"
        );

        let fresh = plan_for(link, Shadow::default());
        let outcome = Outcome {
            inbox_ids: Vec::new(),
            version: None,
            plans: vec![fresh],
            note: None,
            replans_done: Vec::new(),
            changed_at: None,
        };
        assert!(engine.commit(outcome).await.is_ok());
        // A plan's outcome is on disk before the planner moves on.
        assert!(!engine.store.has_unflushed_writes());
    }

    fn stored_link(engine: &Engine) -> Link {
        let link = Link {
            id: 7,
            pairing: "p".into(),
            a: Some(TicketRef {
                id: "1".into(),
                number: "T1".into(),
            }),
            b: Some(TicketRef {
                id: "2".into(),
                number: "2".into(),
            }),
            origin: Side::A,
            created_at: chrono::Utc::now(),
            marker: None,
        };
        engine
            .store
            .transact(|tx| tx.put(TreeName::Links, &7u64.to_be_bytes(), &link))
            .unwrap();
        link
    }

    fn only(plan: Plan) -> Outcome<'static> {
        Outcome {
            inbox_ids: Vec::new(),
            version: None,
            plans: vec![plan],
            note: None,
            replans_done: Vec::new(),
            changed_at: None,
        }
    }

    /// A plan whose base shadow is no longer the stored one (a delivery or
    /// another plan recorded a new agreed state) is refused.
    #[tokio::test]
    async fn plans_on_a_stale_shadow_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let link = stored_link(&engine);
        let stale = plan_for(link.clone(), Shadow::default());
        let mut newer = Shadow::default();
        newer.b.values.insert("status".into(), "In Progress".into());
        engine
            .store
            .transact(|tx| tx.put(TreeName::Shadows, &7u64.to_be_bytes(), &newer))
            .unwrap();
        assert!(matches!(
            engine.commit(only(stale)).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            engine.store.shadow(7).unwrap(),
            newer,
            "the newer shadow stays"
        );
        assert!(engine.commit(only(plan_for(link, newer))).await.is_ok());
    }

    /// A plan that saw a comment unrecorded is refused once someone else
    /// recorded it: it would mirror the comment a second time.
    #[tokio::test]
    async fn plans_over_a_comment_recorded_meanwhile_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let link = stored_link(&engine);
        let mut plan = plan_for(link.clone(), Shadow::default());
        plan.comments.push((
            Side::A,
            "55".into(),
            CommentEntry::Withheld {
                reason: "internal".into(),
            },
        ));
        engine
            .store
            .transact(|tx| {
                tx.put(
                    TreeName::Comments,
                    &comment_key(7, Side::A, "55"),
                    &CommentEntry::Bridge,
                )
            })
            .unwrap();
        assert!(matches!(
            engine.commit(only(plan)).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            engine.store.comment_entry(7, Side::A, "55").unwrap(),
            Some(CommentEntry::Bridge)
        );
    }
}
