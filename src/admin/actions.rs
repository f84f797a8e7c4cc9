//! What an operator can do to the store through the API (and the CLI when
//! the daemon is stopped): discard a dead operation or dead notice, unlink
//! a link, link two existing tickets. Each is one audited store transaction,
//! flushed before it answers.
//!
//! Linking two tickets (`relink`) follows what the engine does for a fresh
//! link: the side the link comes from (the pairing's trigger side unless the
//! operator names one) wins. Its mapped fields are left out of the new
//! shadow, so the next plan (a notice queued here for that ticket) sees them
//! as changed and writes them to the other ticket; the other side's shadow
//! is its current state, so nothing flows back unless a person changes it
//! later. Notes already on either ticket are recorded as withheld (not
//! copied): after an unlink and relink they would be duplicates. Both
//! tickets' unlink holds are lifted.

use psa_connector::{ConnectorError, Ticket};
use serde_json::json;

use crate::engine::{observe, Engine};
use crate::store::{
    comment_key, link_key, unlink_hold_key, AuditRecord, CommentEntry, DeadNotice, InboxItem,
    IntakeSource, Link, OutboxOp, Shadow, Side, StoreError, TicketRef, TreeName,
};

/// Why an operator's request was refused.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// Unknown id, pairing or ticket (permanent).
    #[error("{0}")]
    NotFound(String),
    /// The request does not fit the current state (permanent until it changes).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is malformed (permanent: fix it and send it again).
    #[error("{0}")]
    Invalid(String),
    /// A vendor could not be asked (retryable when the vendor's error is).
    #[error("{0}")]
    Vendor(ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<OperatorError> for super::api::ApiError {
    fn from(e: OperatorError) -> Self {
        use axum::http::StatusCode;
        let status = match &e {
            OperatorError::NotFound(_) => StatusCode::NOT_FOUND,
            OperatorError::Conflict(_) => StatusCode::CONFLICT,
            OperatorError::Invalid(_) => StatusCode::BAD_REQUEST,
            OperatorError::Vendor(_) => StatusCode::BAD_GATEWAY,
            OperatorError::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
            OperatorError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            status,
            message: e.to_string(),
        }
    }
}

fn reason_text(reason: Option<&str>) -> String {
    reason
        .filter(|r| !r.trim().is_empty())
        .map(|r| format!(" ({})", r.trim()))
        .unwrap_or_default()
}

impl Engine {
    /// Removes dead operation `id`; the operations queued behind it go on.
    pub async fn discard_op(
        &self,
        id: u64,
        reason: Option<&str>,
    ) -> Result<OutboxOp, OperatorError> {
        let now = self.clock.now();
        let op = self.store.transact(|tx| {
            let Some(op) = tx.get::<OutboxOp>(TreeName::Outbox, &id.to_be_bytes())? else {
                return Ok(Err(OperatorError::NotFound(format!("no outbox operation {id}"))));
            };
            if op.dead.is_none() {
                return Ok(Err(OperatorError::Conflict(format!(
                    "operation {id} is not a dead letter (it is still being retried)"
                ))));
            }
            tx.remove_op(id)?;
            let link: Option<Link> = tx.get(TreeName::Links, &op.link.to_be_bytes())?;
            tx.audit(
                now,
                AuditRecord {
                    kind: "discarded",
                    pairing: Some(&op.pairing),
                    link: Some(op.link),
                    tickets: link.as_ref().map(|l| self.link_keys(l)).unwrap_or_default(),
                    message: format!(
                        "by an operator{}: discarded dead operation {id} ({}); the vendor had said: {}",
                        reason_text(reason),
                        op.action.describe(),
                        op.dead.as_ref().map(|d| d.message.as_str()).unwrap_or("-")
                    ),
                    detail: json!({ "op": id, "reason": reason }),
                },
            )?;
            Ok(Ok(op))
        })??;
        self.store.flush().await?;
        self.outbox_ready.notify_waiters();
        Ok(op)
    }

    /// Removes dead notice `id` (it will not be planned).
    pub async fn discard_notice(
        &self,
        id: u64,
        reason: Option<&str>,
    ) -> Result<DeadNotice, OperatorError> {
        let now = self.clock.now();
        let key = id.to_be_bytes();
        let notice = self.store.transact(|tx| {
            let Some(dead) = tx.get::<DeadNotice>(TreeName::DeadNotices, &key)? else {
                return Ok(None);
            };
            tx.remove_dead_notice(id)?;
            tx.audit(
                now,
                AuditRecord {
                    kind: "discarded",
                    pairing: None,
                    link: None,
                    tickets: vec![format!("{}:{}", dead.item.connection, dead.item.ticket_id)],
                    message: format!(
                        "by an operator{}: discarded dead notice {id} for {} ticket {}",
                        reason_text(reason),
                        dead.item.connection,
                        dead.item.ticket_id
                    ),
                    detail: json!({ "notice": id, "reason": reason }),
                },
            )?;
            Ok(Some(dead))
        })?;
        let notice =
            notice.ok_or_else(|| OperatorError::NotFound(format!("no dead notice {id}")))?;
        self.store.flush().await?;
        Ok(notice)
    }

    /// Unlinks link `id` for an operator (see `engine::unlink`); the
    /// removed link and the ids of the operations removed with it.
    pub async fn unlink_by_operator(
        &self,
        id: u64,
        reason: Option<&str>,
    ) -> Result<(Link, Vec<u64>), OperatorError> {
        let link = self
            .store
            .link(id)?
            .ok_or_else(|| OperatorError::NotFound(format!("no link {id}")))?;
        let pairing = self.pairing(&link.pairing).ok_or_else(|| {
            OperatorError::Conflict(format!(
                "link {id} belongs to pairing {} which is no longer configured",
                link.pairing
            ))
        })?;
        let gathered = self.unlink_gather(id)?;
        let cause = crate::engine::UnlinkCause::Operator { reason };
        let removed = self
            .unlink_commit_as(pairing, &link, cause, gathered)
            .await?;
        Ok((link, removed))
    }

    /// Reads ticket `given` on `side` of `pairing`: the vendor's id, or a
    /// number the audit log has seen beside an id (a ticket linked before,
    /// say unlinked by mistake); the ticket read must carry that number.
    async fn operator_ticket(
        &self,
        pairing: &crate::config::LoadedPairing,
        side: Side,
        given: &str,
    ) -> Result<Ticket, OperatorError> {
        let given = given.trim();
        let name = pairing.connection(side);
        let conn = self.connection(name).ok_or_else(|| {
            OperatorError::Conflict(format!("connection {name} is not configured"))
        })?;
        let error = match conn.connector.get_ticket(given).await {
            Ok(t) => return Ok(t),
            Err(e) => e,
        };
        if let Some(id) = self.id_for_number(name, given)? {
            if let Ok(t) = conn.connector.get_ticket(&id).await {
                if t.number.eq_ignore_ascii_case(given) {
                    return Ok(t);
                }
            }
        }
        match error {
            ConnectorError::NotFound(_) => Err(OperatorError::NotFound(format!(
                "no ticket {given:?} on {name} (side {side}); give the vendor's ticket id"
            ))),
            e if !e.is_retryable() => Err(OperatorError::NotFound(format!(
                "{name} has no ticket {given:?} (side {side}): {e}"
            ))),
            e => Err(OperatorError::Vendor(e)),
        }
    }

    /// The id the audit log records beside ticket number `number` of
    /// `connection` (`connection:id` directly followed by
    /// `connection:number`, as `engine::ticket_keys` writes them).
    fn id_for_number(&self, connection: &str, number: &str) -> Result<Option<String>, StoreError> {
        let prefix = format!("{connection}:");
        let wanted = format!("{connection}:{number}").to_ascii_lowercase();
        for entry in self.store.audit_entries()?.iter().rev() {
            for pair in entry.tickets.windows(2) {
                if pair[1].to_ascii_lowercase() == wanted {
                    if let Some(id) = pair[0].strip_prefix(&prefix) {
                        return Ok(Some(id.to_string()));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Links ticket `a` and ticket `b` (vendor ids) in `pairing`; `from`
    /// is the side whose values win (default: the trigger side). See the
    /// module documentation.
    pub async fn relink(
        &self,
        pairing_name: &str,
        a: &str,
        b: &str,
        from: Option<Side>,
    ) -> Result<Link, OperatorError> {
        let pairing = self
            .pairing(pairing_name)
            .ok_or_else(|| OperatorError::NotFound(format!("no pairing {pairing_name}")))?;
        let tickets = [
            self.operator_ticket(pairing, Side::A, a).await?,
            self.operator_ticket(pairing, Side::B, b).await?,
        ];
        let mut comments = Vec::new();
        for (side, ticket) in [(Side::A, &tickets[0]), (Side::B, &tickets[1])] {
            let conn = self.side_connection(pairing, side);
            if let Some(conn) = conn {
                let listed = conn.connector.list_comments(&ticket.id).await;
                for c in listed.map_err(OperatorError::Vendor)? {
                    comments.push((side, c.id));
                }
            }
        }
        let origin = from.unwrap_or(pairing.mapping.trigger.side);
        let mut shadow = Shadow::default();
        for (side, ticket) in [(Side::A, &tickets[0]), (Side::B, &tickets[1])] {
            let mut state = observe(&pairing.mapping, side, ticket);
            if side == origin {
                for rule in pairing
                    .mapping
                    .fields
                    .iter()
                    .filter(|r| r.direction.allows(side))
                {
                    state.values.remove(rule.name());
                }
            }
            *shadow.side_mut(side) = state;
        }
        let id = self.store.next_id()?;
        let notice_id = self.store.next_id()?;
        let now = self.clock.now();
        let link = Link {
            id,
            pairing: pairing.name.clone(),
            a: Some(TicketRef {
                id: tickets[0].id.clone(),
                number: tickets[0].number.clone(),
            }),
            b: Some(TicketRef {
                id: tickets[1].id.clone(),
                number: tickets[1].number.clone(),
            }),
            origin,
            created_at: now,
            // Notes mirrored from now on carry markers derived from the
            // origin ticket, so a restored store recognises them.
            marker: Some(crate::store::ticket_marker_for(
                &pairing.name,
                origin,
                &tickets[if origin == Side::A { 0 } else { 1 }].id,
            )),
        };
        let source = &tickets[if origin == Side::A { 0 } else { 1 }];
        let notice = InboxItem {
            id: notice_id,
            connection: pairing.connection(origin).to_string(),
            ticket_id: source.id.clone(),
            source: IntakeSource::Poll,
            dedup_key: format!("operator-link:{id}"),
            received_at: now,
            updated_at: None,
            attempts: 0,
            next_attempt_at: None,
            detail: Default::default(),
        };
        let keys = self.link_keys(&link);
        self.store.transact(|tx| {
            for (side, ticket) in [(Side::A, &tickets[0]), (Side::B, &tickets[1])] {
                let index = link_key(&link.pairing, side, &ticket.id);
                if let Some(other) = tx.get::<u64>(TreeName::LinkIndex, &index)? {
                    return Ok(Err(OperatorError::Conflict(format!(
                        "{} ticket {} is already linked in pairing {} (link {other}); unlink it first",
                        pairing.connection(side),
                        ticket.number,
                        link.pairing
                    ))));
                }
            }
            tx.put(TreeName::Links, &id.to_be_bytes(), &link)?;
            tx.put(TreeName::Shadows, &id.to_be_bytes(), &shadow)?;
            for (side, ticket) in [(Side::A, &tickets[0]), (Side::B, &tickets[1])] {
                tx.put(TreeName::LinkIndex, &link_key(&link.pairing, side, &ticket.id), &id)?;
                tx.remove(TreeName::Meta, &unlink_hold_key(&link.pairing, side, &ticket.id))?;
            }
            for (side, comment) in &comments {
                tx.put(
                    TreeName::Comments,
                    &comment_key(id, *side, comment),
                    &CommentEntry::Withheld {
                        reason: "on the ticket before an operator linked it".into(),
                    },
                )?;
            }
            tx.put_inbox_item(&notice)?;
            tx.audit(
                now,
                AuditRecord {
                    kind: "linked_by_operator",
                    pairing: Some(&link.pairing),
                    link: Some(id),
                    tickets: keys.clone(),
                    message: format!(
                        "linked by an operator: {} ticket {} and {} ticket {}; side {origin}'s values win at the next plan",
                        pairing.a, tickets[0].number, pairing.b, tickets[1].number
                    ),
                    detail: json!({ "origin": origin, "notes_withheld": comments.len() }),
                },
            )?;
            Ok(Ok(()))
        })??;
        self.store.flush().await?;
        self.inbox_ready.notify_waiters();
        Ok(link)
    }
}
