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
use super::{observe, Connection, Engine};
use crate::backfill::{BackfillRequest, Decision, Event, Summary, TicketOutcome};
use crate::config::LoadedPairing;
use crate::retry::read_in_place;
use crate::store::{
    comment_key, link_key, AuditRecord, CommentEntry, InboxItem, IntakeSource, Link, Side,
    StoreError, TicketRef, TreeName,
};

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
/// How far a marker's link id may lie beyond this store's id counter (a
/// store restored from an old backup is behind by what was written since).
const MAX_ID_GAP: u64 = 1 << 24;

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
        let earlier = match self.earlier_far_ticket(pairing, near, far, &ticket).await {
            Ok(earlier) => earlier,
            Err(e) => {
                return Ok(failed(
                    outcome,
                    format!("looking for an earlier far ticket: {e}"),
                ))
            }
        };
        if let Some((link_id, far_ticket)) = earlier {
            outcome.decision = Decision::LinkByMarker;
            outcome.link = Some(link_id);
            outcome.far_ticket = Some(far_ticket.number.clone());
            // Checked here too (the adoption's transaction checks again), so
            // a dry run reports the refusal the run would meet.
            if let Some(reason) = self.adoption_refused(pairing, side, far, &far_ticket, link_id)? {
                return Ok(failed(outcome, reason));
            }
            if dry_run {
                return Ok(outcome);
            }
            let notes = match self
                .crossed_notes(pairing, side, near, far, &ticket, &far_ticket, link_id)
                .await
            {
                Ok(notes) => notes,
                Err(e) => return Ok(failed(outcome, format!("reading both tickets' notes: {e}"))),
            };
            return match self
                .adopt(
                    pairing,
                    side,
                    near,
                    far,
                    &ticket,
                    &far_ticket,
                    link_id,
                    &notes,
                )
                .await
            {
                Ok(()) => Ok(outcome),
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

    /// The far ticket the bridge created for `ticket` earlier, by the marker
    /// of the write-back note it posted on `ticket`: `(link id, far ticket)`.
    async fn earlier_far_ticket(
        &self,
        pairing: &LoadedPairing,
        near: &Connection,
        far: &Connection,
        ticket: &Ticket,
    ) -> Result<Option<(u64, Ticket)>, ConnectorError> {
        let comments = read_in_place(|| near.connector.list_comments(&ticket.id)).await?;
        let prefix = format!(
            "{}{}:",
            psa_connector::marker::TICKET_MARKER_PREFIX,
            pairing.name
        );
        for comment in comments {
            let Some(link_id) = comment
                .marker
                .as_deref()
                .and_then(|m| m.strip_prefix(&prefix))
                .and_then(|m| m.strip_suffix(":writeback"))
                .and_then(|id| id.parse::<u64>().ok())
            else {
                continue;
            };
            let marker = format!("{prefix}{link_id}");
            if let Some(found) = read_in_place(|| far.connector.find_by_marker(&marker)).await? {
                if psa_connector::marker::ticket_marker(found.marker.as_deref()).as_deref()
                    == Some(marker.as_str())
                {
                    return Ok(Some((link_id, found)));
                }
            }
        }
        Ok(None)
    }

    /// The comment-map entries of the notes that crossed while link
    /// `link_id` existed, rebuilt from the markers the bridge wrote: a note
    /// carrying `P:<link>:...` is the bridge's own on its side, and one
    /// carrying `P:<link>:<side>:<note id>` is the mirror of that note (so
    /// neither is mirrored again once the pair is adopted).
    #[allow(clippy::too_many_arguments)]
    async fn crossed_notes(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        near: &Connection,
        far: &Connection,
        ticket: &Ticket,
        far_ticket: &Ticket,
        link_id: u64,
    ) -> Result<Vec<(Side, String, CommentEntry)>, ConnectorError> {
        let prefix = format!("{}:{link_id}:", pairing.name);
        let mut entries = Vec::new();
        for (here, conn, id) in [
            (side, near, &ticket.id),
            (side.other(), far, &far_ticket.id),
        ] {
            for note in read_in_place(|| conn.connector.list_comments(id)).await? {
                let Some(rest) = note.marker.as_deref().and_then(|m| m.strip_prefix(&prefix))
                else {
                    continue;
                };
                entries.push((here, note.id.clone(), CommentEntry::Bridge));
                if let Some((from, source_id)) = rest.split_once(':') {
                    if from == here.other().as_str() {
                        entries.push((
                            here.other(),
                            source_id.to_string(),
                            CommentEntry::Mirrored {
                                op: 0,
                                target_id: Some(note.id.clone()),
                                visibility: Some(note.visibility),
                            },
                        ));
                    }
                }
            }
        }
        Ok(entries)
    }

    /// Why `far_ticket` (marker of link `link_id`) cannot be adopted: it, or
    /// the link id, belongs to another link already.
    fn adoption_refused(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        far: &Connection,
        far_ticket: &Ticket,
        link_id: u64,
    ) -> Result<Option<String>, StoreError> {
        if let Some(other) = self
            .store
            .link_for(&pairing.name, side.other(), &far_ticket.id)?
        {
            return Ok(Some(format!(
                "{} ticket {} carrying the marker of link {link_id} is linked to another ticket already (link {})",
                far.name, far_ticket.number, other.id
            )));
        }
        if self.store.link(link_id)?.is_some() {
            return Ok(Some(format!(
                "link id {link_id} of the far ticket's marker is in use by another link"
            )));
        }
        Ok(None)
    }

    /// Links `ticket` to `far_ticket` (which carries link `link_id`'s
    /// marker) and queues a notice so the planner reconciles the pair.
    /// `StoreError::Aborted` says why it was refused.
    #[allow(clippy::too_many_arguments)]
    async fn adopt(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        near: &Connection,
        far: &Connection,
        ticket: &Ticket,
        far_ticket: &Ticket,
        link_id: u64,
        notes: &[(Side, String, CommentEntry)],
    ) -> Result<(), StoreError> {
        self.reserve_id(link_id)?;
        let now = self.clock.now();
        // The shadow an adopted create gets: this side as it is, the far
        // side as found (so nothing is taken for an edit), then planned.
        let mut shadow = self
            .plan_escalation(pairing, side, &near.name, ticket, link_id)
            .shadow;
        *shadow.side_mut(side.other()) = observe(&pairing.mapping, side.other(), far_ticket);
        let mut link = Link {
            id: link_id,
            pairing: pairing.name.clone(),
            a: None,
            b: None,
            origin: side,
            created_at: now,
        };
        link.set_side(
            side,
            TicketRef {
                id: ticket.id.clone(),
                number: ticket.number.clone(),
            },
        );
        link.set_side(
            side.other(),
            TicketRef {
                id: far_ticket.id.clone(),
                number: far_ticket.number.clone(),
            },
        );
        let item = self.backfill_notice(&near.name, ticket)?;
        let tickets = self.link_keys(&link);
        let message = format!(
            "backfill: {} ticket {} met {} before the bridge saw it; linked to {} ticket {} \
             that the bridge created earlier (found by its marker {})",
            near.name,
            ticket.number,
            pairing.mapping.trigger.describe(),
            far.name,
            far_ticket.number,
            link.marker()
        );
        self.store.transact(|tx| {
            let near_key = link_key(&pairing.name, side, &ticket.id);
            let far_key = link_key(&pairing.name, side.other(), &far_ticket.id);
            if tx.get::<u64>(TreeName::LinkIndex, &near_key)?.is_some() {
                return Err(StoreError::Aborted("linked meanwhile (by the planner)".into()).into());
            }
            if let Some(other) = tx.get::<u64>(TreeName::LinkIndex, &far_key)? {
                return Err(StoreError::Aborted(format!(
                    "{} ticket {} (marker {}) is linked to another ticket already (link {other})",
                    far.name,
                    far_ticket.number,
                    link.marker()
                ))
                .into());
            }
            if tx
                .get::<Link>(TreeName::Links, &link_id.to_be_bytes())?
                .is_some()
            {
                return Err(StoreError::Aborted(format!(
                    "link id {link_id} of the far ticket's marker is in use by another link"
                ))
                .into());
            }
            tx.put(TreeName::Links, &link_id.to_be_bytes(), &link)?;
            tx.put(TreeName::LinkIndex, &near_key, &link_id)?;
            tx.put(TreeName::LinkIndex, &far_key, &link_id)?;
            tx.put(TreeName::Shadows, &link_id.to_be_bytes(), &shadow)?;
            for (note_side, note_id, entry) in notes {
                tx.put(
                    TreeName::Comments,
                    &comment_key(link_id, *note_side, note_id),
                    entry,
                )?;
            }
            self.put_notice(tx, &item)?;
            tx.audit(
                now,
                AuditRecord {
                    kind: "backfill_linked",
                    pairing: Some(&pairing.name),
                    link: Some(link_id),
                    tickets: tickets.clone(),
                    message: message.clone(),
                    detail: json!({ "marker": link.marker() }),
                },
            )
        })?;
        self.store.flush().await?;
        self.inbox_ready.notify_waiters();
        Ok(())
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
        })
    }

    fn put_notice(
        &self,
        tx: &mut crate::store::Tx<'_>,
        item: &InboxItem,
    ) -> Result<(), crate::store::TxError> {
        tx.put(TreeName::Inbox, &item.id.to_be_bytes(), item)?;
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

    /// Moves the store's id counter past `id` (a link id taken from a
    /// marker), so no later record gets it.
    fn reserve_id(&self, id: u64) -> Result<(), StoreError> {
        let first = self.store.next_id()?;
        if first > id {
            return Ok(());
        }
        if id - first > MAX_ID_GAP {
            return Err(StoreError::Aborted(format!(
                "the far ticket's marker names link {id}, far beyond this store's ids ({first}); not adopted"
            )));
        }
        while self.store.next_id()? <= id {}
        Ok(())
    }
}

fn failed(mut outcome: TicketOutcome, reason: String) -> TicketOutcome {
    outcome.decision = Decision::Failed;
    outcome.detail = Some(reason);
    outcome
}
