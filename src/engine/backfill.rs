//! Backfill (see [`crate::backfill`]): links the trigger side's tickets that
//! met the trigger before the bridge saw them.
//!
//! Each ticket listed by `changed_since` is read and judged with the
//! planner's own rule ([`triggers`]), so backfill and live escalation cannot
//! disagree. A linked ticket is skipped. For an unlinked one that meets the
//! trigger, the far ticket the bridge may have created earlier is looked
//! for by marker: the bridge's write-back note on the ticket carries
//! `<far ticket marker>:writeback`, and the far side is asked for a ticket
//! with that marker. Found: it is linked in one transaction (link with the
//! marker's id, both index entries, the shadow an adopted create gets,
//! audit `backfill_linked`) together with a notice that has the planner
//! reconcile the pair. Not found: a change notice (source `backfill`) goes
//! to the inbox and the planner, the only writer of escalations, plans it
//! exactly like a live change (create by marker, idempotent); backfill
//! waits for it and records `backfill_escalated`. Every step is one
//! transaction and a rerun skips what is linked, so an interrupted run run
//! again creates nothing twice. `dry_run` only reads.

use std::collections::HashSet;
use std::time::Duration;

use psa_connector::{ConnectorError, Ticket};
use serde_json::json;

use super::trigger::triggers;
use super::{Connection, Engine};
use crate::backfill::{BackfillRequest, Decision, Event, Summary, TicketOutcome};
use crate::config::LoadedPairing;
use crate::retry::read_in_place;
use crate::store::{link_key, AuditRecord, InboxItem, IntakeSource, Side, StoreError, TreeName};

mod adopt;

/// A run that could not be done at all.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// Permanent: the request names no configured pairing.
    #[error("no pairing {asked:?}; configured pairings: {configured}")]
    UnknownPairing { asked: String, configured: String },
    /// Permanent: the pairing's connection is missing from this engine.
    #[error("connection {0:?} is not available (not configured, or its settings are unusable: see `psa-bridge check`)")]
    MissingConnection(String),
    /// The trigger side could not be listed; retryable when the vendor's
    /// error is.
    #[error("listing {connection}'s tickets changed since the given time failed: {source}")]
    Listing {
        connection: String,
        source: ConnectorError,
    },
    /// The store failed; retryable once it writes again.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BackfillError {
    pub fn is_retryable(&self) -> bool {
        match self {
            BackfillError::UnknownPairing { .. } | BackfillError::MissingConnection(_) => false,
            BackfillError::Listing { source, .. } => source.is_retryable(),
            BackfillError::Store(e) => super::store_error_is_transient(e),
        }
    }
}

/// How long backfill waits for the planner to plan one escalation notice
/// before reporting it as still queued (the planner plans it later).
const PLAN_WAIT: Duration = Duration::from_secs(120);
/// How often the store is looked at while waiting for the planner.
const PLAN_POLL: Duration = Duration::from_millis(50);

impl Engine {
    /// The names of the configured pairings, for error messages.
    pub fn pairing_names(&self) -> String {
        let names: Vec<&str> = self.pairings.iter().map(|p| p.name.as_str()).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    /// Runs a backfill; `on_event` hears each step and stops the run (between
    /// tickets) by answering `false`. The planner must be running (the
    /// daemon's, or one the CLI starts) unless `dry_run`.
    pub async fn backfill(
        &self,
        request: &BackfillRequest,
        on_event: &mut (dyn FnMut(Event) -> bool + Send),
    ) -> Result<Summary, BackfillError> {
        let pairing =
            self.pairing(&request.pairing)
                .ok_or_else(|| BackfillError::UnknownPairing {
                    asked: request.pairing.clone(),
                    configured: self.pairing_names(),
                })?;
        let side = pairing.mapping.trigger.side;
        let near = self.connection_of(pairing, side)?;
        let far = self.connection_of(pairing, side.other())?;
        let hints = read_in_place(|| near.connector.changed_since(request.since))
            .await
            .map_err(|source| BackfillError::Listing {
                connection: near.name.clone(),
                source,
            })?;
        let mut seen = HashSet::new();
        let ids: Vec<String> = hints
            .into_iter()
            .filter(|h| seen.insert(h.ticket_id.clone()))
            .map(|h| h.ticket_id)
            .collect();
        let mut summary = Summary {
            pairing: pairing.name.clone(),
            connection: near.name.clone(),
            since: Some(request.since),
            dry_run: request.dry_run,
            found: ids.len(),
            ..Summary::default()
        };
        if !on_event(Event::Listed { total: ids.len() }) {
            summary.interrupted = true;
            return Ok(summary);
        }
        for id in ids {
            let outcome = self
                .backfill_one(pairing, side, near, far, &id, request.dry_run)
                .await?;
            summary.count(&outcome);
            if !on_event(Event::Ticket { ticket: outcome }) {
                summary.interrupted = true;
                break;
            }
        }
        Ok(summary)
    }

    fn connection_of(
        &self,
        pairing: &LoadedPairing,
        side: Side,
    ) -> Result<&Connection, BackfillError> {
        self.side_connection(pairing, side)
            .ok_or_else(|| BackfillError::MissingConnection(pairing.connection(side).to_string()))
    }

    /// Decides (and unless `dry_run` does) what one listed ticket needs.
    async fn backfill_one(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        near: &Connection,
        far: &Connection,
        id: &str,
        dry_run: bool,
    ) -> Result<TicketOutcome, StoreError> {
        let mut outcome = TicketOutcome {
            connection: near.name.clone(),
            ticket_id: id.to_string(),
            number: id.to_string(),
            title: String::new(),
            decision: Decision::Failed,
            met_trigger: false,
            link: None,
            far_ticket: None,
            detail: None,
        };
        let ticket = match read_in_place(|| near.connector.get_ticket(id)).await {
            Ok(ticket) => ticket,
            Err(e) => return Ok(failed(outcome, format!("reading the ticket: {e}"))),
        };
        outcome.number = ticket.number.clone();
        outcome.title = ticket.title.clone();
        if let Some(link) = self.store.link_for(&pairing.name, side, &ticket.id)? {
            outcome.decision = Decision::AlreadyLinked;
            outcome.link = Some(link.id);
            outcome.far_ticket = link.side(side.other()).map(|r| r.number.clone());
            return Ok(outcome);
        }
        if !triggers(pairing, side, &ticket) {
            outcome.decision = Decision::NotMatched;
            return Ok(outcome);
        }
        outcome.met_trigger = true;
        let earlier = match self
            .earlier_far_ticket(pairing, side, (near, far), &ticket)
            .await
        {
            Ok(earlier) => earlier,
            Err(e) => {
                return Ok(failed(
                    outcome,
                    format!("looking for an earlier far ticket: {e}"),
                ))
            }
        };
        if let Some(earlier) = earlier {
            outcome.decision = Decision::LinkByMarker;
            outcome.link = earlier.legacy_link;
            outcome.far_ticket = Some(earlier.far_ticket.number.clone());
            // Checked here too (the adoption's transaction checks again), so
            // a dry run reports the refusal the run would meet.
            if let Some(reason) =
                self.adoption_refused(pairing, side, far, &earlier.far_ticket, earlier.legacy_link)?
            {
                return Ok(failed(outcome, reason));
            }
            if dry_run {
                return Ok(outcome);
            }
            // Notes of an older version's link are paired here; a current
            // link's by the planner, from their mirror markers.
            let notes = match earlier.legacy_link {
                Some(link_id) => match self
                    .crossed_notes(
                        pairing,
                        side,
                        near,
                        far,
                        &ticket,
                        &earlier.far_ticket,
                        link_id,
                    )
                    .await
                {
                    Ok(notes) => notes,
                    Err(e) => {
                        return Ok(failed(outcome, format!("reading both tickets' notes: {e}")))
                    }
                },
                None => Vec::new(),
            };
            return match self
                .adopt(pairing, side, (near, far), &ticket, &earlier, &notes)
                .await
            {
                Ok(link_id) => {
                    outcome.link = Some(link_id);
                    Ok(outcome)
                }
                Err(StoreError::Aborted(reason)) => Ok(failed(outcome, reason)),
                Err(e) => Err(e),
            };
        }
        outcome.decision = Decision::Escalate;
        if dry_run {
            return Ok(outcome);
        }
        self.escalate(pairing, side, near, &ticket, outcome).await
    }

    /// Queues a backfill notice for `ticket` and waits until the planner has
    /// planned it: escalated (a link exists), or failed with the reason.
    async fn escalate(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        near: &Connection,
        ticket: &Ticket,
        mut outcome: TicketOutcome,
    ) -> Result<TicketOutcome, StoreError> {
        let item = self.backfill_notice(&near.name, ticket)?;
        let near_key = link_key(&pairing.name, side, &ticket.id);
        let queued = self.store.transact(|tx| {
            if tx.get::<u64>(TreeName::LinkIndex, &near_key)?.is_some() {
                return Ok(false);
            }
            self.put_notice(tx, &item)?;
            Ok(true)
        })?;
        self.store.flush().await?;
        if !queued {
            outcome.decision = Decision::AlreadyLinked;
            outcome.met_trigger = false;
            outcome.detail = Some("linked meanwhile (by the planner)".into());
            return Ok(outcome);
        }
        self.inbox_ready.notify_waiters();
        let deadline = tokio::time::Instant::now() + PLAN_WAIT;
        loop {
            tokio::time::sleep(PLAN_POLL).await;
            let pending: Option<InboxItem> =
                self.store.get(TreeName::Inbox, &item.id.to_be_bytes())?;
            match pending {
                Some(p) if p.attempts > 0 => {
                    return Ok(failed(
                        outcome,
                        "planning failed; the planner retries it later (see the daemon's log)"
                            .into(),
                    ));
                }
                Some(_) if tokio::time::Instant::now() >= deadline => {
                    return Ok(failed(
                        outcome,
                        format!(
                            "not planned within {} s; it stays queued for the planner",
                            PLAN_WAIT.as_secs()
                        ),
                    ));
                }
                Some(_) => continue,
                None => break,
            }
        }
        if let Some(link) = self.store.link_for(&pairing.name, side, &ticket.id)? {
            outcome.link = Some(link.id);
            let message = format!(
                "backfill: {} ticket {} met {} before the bridge saw it; escalated (link {})",
                near.name,
                ticket.number,
                pairing.mapping.trigger.describe(),
                link.id
            );
            let tickets = self.link_keys(&link);
            let now = self.clock.now();
            self.store.transact(|tx| {
                tx.audit(
                    now,
                    AuditRecord {
                        kind: "backfill_escalated",
                        pairing: Some(&pairing.name),
                        link: Some(link.id),
                        tickets: tickets.clone(),
                        message: message.clone(),
                        detail: json!({ "notice": item.id }),
                    },
                )
            })?;
            self.store.flush().await?;
            return Ok(outcome);
        }
        let dead = self
            .store
            .dead_notices()?
            .into_iter()
            .find(|d| d.item.id == item.id);
        let reason = match dead {
            Some(d) => format!("planning failed for good (dead notice {}): {}", item.id, d.dead.message),
            None => "planned, but not escalated: the ticket no longer met the trigger when the planner read it, or its planning is being retried".into(),
        };
        Ok(failed(outcome, reason))
    }

    /// A fresh change notice for `ticket` from backfill.
    fn backfill_notice(&self, connection: &str, ticket: &Ticket) -> Result<InboxItem, StoreError> {
        let id = self.store.next_id()?;
        Ok(InboxItem {
            id,
            connection: connection.to_string(),
            ticket_id: ticket.id.clone(),
            source: IntakeSource::Backfill,
            dedup_key: format!("backfill:{connection}:{}:{id}", ticket.id),
            received_at: self.clock.now(),
            updated_at: Some(ticket.updated_at),
            attempts: 0,
            next_attempt_at: None,
            detail: Default::default(),
        })
    }

    fn put_notice(
        &self,
        tx: &mut crate::store::Tx<'_>,
        item: &InboxItem,
    ) -> Result<(), crate::store::TxError> {
        tx.put_inbox_item(item)?;
        tx.put(
            TreeName::Dedup,
            item.dedup_key.as_bytes(),
            &item.received_at,
        )?;
        tx.audit(
            item.received_at,
            AuditRecord {
                kind: "intake",
                pairing: None,
                link: None,
                tickets: vec![format!("{}:{}", item.connection, item.ticket_id)],
                message: format!(
                    "{} ticket {} queued by backfill",
                    item.connection, item.ticket_id
                ),
                detail: json!({ "dedup_key": item.dedup_key, "updated_at": item.updated_at }),
            },
        )
    }
}

fn failed(mut outcome: TicketOutcome, reason: String) -> TicketOutcome {
    outcome.decision = Decision::Failed;
    outcome.detail = Some(reason);
    outcome
}
