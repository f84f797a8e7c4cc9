//! Planning one notice group (`Engine::process`): read what the plan needs
//! (`super::read_plan` spares what the store knows), reconcile every link
//! of the ticket or escalate it, and commit the result. Planning reads
//! retry a transient vendor failure in place a few times; what still fails
//! is handled by `super::plan_run`. A linked ticket that no longer exists
//! (the notice's own or the far one) unlinks the link.

use std::collections::BTreeMap;

use psa_connector::{Comment, ConnectorError, Ticket};
use tracing::Instrument;

use super::commit::Outcome;
use super::read_plan::{Group, LinkReads, ReadContext};
use super::reconcile::{add_status_companions, Sides};
use super::trigger::triggers;
use super::{Engine, EngineError, Plan};
use crate::config::LoadedPairing;
use crate::retry::read_in_place;
use crate::store::known::KnownWrite;
use crate::store::{InboxItem, Link, OutboxOp, Side, StoreError, TicketVersion};

impl Engine {
    /// Plans every pairing `ticket` takes part in.
    async fn plan_ticket(
        &self,
        connection: &str,
        ticket: &Ticket,
        snapshot_links: &[u64],
        outbox_before_fetch: &[OutboxOp],
        reads: &ReadContext,
        known: &mut Vec<KnownWrite>,
    ) -> Result<Vec<Plan>, EngineError> {
        let mut plans = Vec::new();
        for pairing in &self.pairings {
            let Some(side) = pairing.side_of(connection) else {
                continue;
            };
            // Everything logged while planning this pairing names it.
            let span = tracing::info_span!("pairing", pairing = %pairing.name);
            if let Some(link) = self.store.link_for(&pairing.name, side, &ticket.id)? {
                if !snapshot_links.contains(&link.id) {
                    // Linked (a delivery recorded the created ticket) after
                    // the outbox snapshot, which holds only the links known
                    // then: plan again with a snapshot that covers it.
                    return Err(EngineError::Store(StoreError::Conflict(format!(
                        "link {} appeared while planning",
                        link.id
                    ))));
                }
                let (plan, write) = self
                    .reconcile(pairing, link, side, ticket, outbox_before_fetch, reads)
                    .instrument(span)
                    .await?;
                plans.push(plan);
                known.push(write);
            } else if triggers(pairing, side, ticket)
                && !self.store.unlink_held(&pairing.name, side, &ticket.id)?
            {
                let link_id = self.store.next_id()?;
                let mut plan = span
                    .in_scope(|| self.plan_escalation(pairing, side, connection, ticket, link_id));
                let comments = self
                    .read_comments(pairing, side, &ticket.id)
                    .instrument(span.clone())
                    .await?;
                span.in_scope(|| {
                    self.plan_side_notes(pairing, side, &comments, None, &[], &mut plan)
                })?;
                plans.push(plan);
            }
        }
        Ok(plans)
    }

    /// Reads the other side of a link (unless the last known far ticket is
    /// current, `super::read_plan`) and plans it. Returns the plan and what
    /// the store is to remember of both tickets.
    async fn reconcile(
        &self,
        pairing: &LoadedPairing,
        link: Link,
        known_side: Side,
        known: &Ticket,
        outbox_before_fetch: &[OutboxOp],
        reads: &ReadContext,
    ) -> Result<(Plan, KnownWrite), EngineError> {
        let link_reads = LinkReads::new(&self.store, link.id, reads);
        let mut from_known = Vec::new();
        let mut sides = Sides { a: None, b: None };
        for side in [Side::A, Side::B] {
            let far = link.side(side).map(|r| r.id.as_str());
            let ticket = if side == known_side {
                Some(known.clone())
            } else if let Some(t) = match far {
                Some(id) => link_reads.far_ticket(self, pairing.connection(side), side, id)?,
                None => None,
            } {
                from_known.push(side);
                Some(t)
            } else if let Some(r) = link.side(side) {
                let conn = self
                    .side_connection(pairing, side)
                    .ok_or_else(|| missing(pairing.connection(side)))?;
                match read_in_place(|| conn.connector.get_ticket(&r.id)).await {
                    Ok(ticket) => Some(ticket),
                    Err(ConnectorError::NotFound(what)) => {
                        // Deleted on the far side: unlink, then plan this
                        // notice again as a ticket without a link.
                        self.unlink(pairing, &link, side, &what).await?;
                        return Err(EngineError::Store(StoreError::Conflict(format!(
                            "link {} unlinked: {} ticket {} no longer exists",
                            link.id, conn.name, r.id
                        ))));
                    }
                    Err(e) => return Err(Engine::vendor_error(&conn.name)(e)),
                }
            } else {
                None
            };
            match side {
                Side::A => sides.a = ticket,
                Side::B => sides.b = ticket,
            }
        }
        let link_id = link.id;
        let write = |full: bool| {
            link_reads.write(
                &self.store,
                link_id,
                sides.a.as_ref(),
                sides.b.as_ref(),
                full,
            )
        };
        if let Some(plan) = self.scope_hold(pairing, &link, &sides)? {
            return Ok((plan, write(false)));
        }
        let mut plan = self.plan_link(pairing, link, &sides, outbox_before_fetch)?;
        super::scope::resume(pairing, &mut plan);
        self.plan_owners(pairing, &sides, outbox_before_fetch, &mut plan)
            .await?;
        // Both sides' notes are read before either is planned: a note is
        // recognised as the mirror of a note on the other side from the two
        // lists alone when the comment map does not know them (restored store).
        // Notes a plan may skip (`super::read_plan`) are not read, unless a
        // planned status write renders companions from them.
        let mut notes: BTreeMap<Side, Vec<Comment>> = BTreeMap::new();
        let companions = super::read_plan::companion_sources(pairing, &plan);
        let mut full = from_known.is_empty();
        for side in [Side::A, Side::B] {
            if let Some(ticket) = sides.get(side) {
                let skip = if side == known_side {
                    link_reads.complete && reads.notes_unchanged
                } else {
                    from_known.contains(&side)
                };
                if skip && !companions.contains(&side) {
                    full = false;
                    continue;
                }
                let read = self.read_comments(pairing, side, &ticket.id).await?;
                notes.insert(side, read);
            }
        }
        let mut resolutions = BTreeMap::new();
        for (side, comments) in &notes {
            let other = notes.get(&side.other()).map(Vec::as_slice);
            self.plan_side_notes(
                pairing,
                *side,
                comments,
                other,
                outbox_before_fetch,
                &mut plan,
            )?;
            if let Some(note) = comments
                .iter()
                .filter(|c| c.resolution)
                .max_by_key(|c| c.created_at)
            {
                resolutions.insert(*side, note.body.clone());
            }
        }
        add_status_companions(pairing, &resolutions, &mut plan);
        let write = write(full);
        Ok((plan, write))
    }

    /// Reads the comments of one side's ticket.
    async fn read_comments(
        &self,
        pairing: &LoadedPairing,
        side: Side,
        ticket_id: &str,
    ) -> Result<Vec<Comment>, EngineError> {
        let conn = self
            .side_connection(pairing, side)
            .ok_or_else(|| missing(pairing.connection(side)))?;
        read_in_place(|| conn.connector.list_comments(ticket_id))
            .await
            .map_err(Engine::vendor_error(&conn.name))
    }

    /// The links `ticket_id` of `connection` belongs to (any pairing), for
    /// choosing its planning lane; a store error counts as "no link" here,
    /// planning the notice reports it.
    pub(super) fn links_of(&self, connection: &str, ticket_id: &str) -> Vec<u64> {
        self.may_matter(connection, ticket_id)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Whether a change of this ticket can lead to any plan (it is linked in
    /// some pairing, or it sits on a pairing's trigger side), and the ids of
    /// the links it has: `None` when it cannot matter.
    fn may_matter(
        &self,
        connection: &str,
        ticket_id: &str,
    ) -> Result<Option<Vec<u64>>, EngineError> {
        let mut matters = false;
        let mut links = Vec::new();
        for pairing in &self.pairings {
            let Some(side) = pairing.side_of(connection) else {
                continue;
            };
            matters |= pairing.mapping.trigger.side == side
                || pairing.mapping.reverse_side() == Some(side);
            if let Some(link) = self.store.link_for(&pairing.name, side, ticket_id)? {
                links.push(link.id);
                matters = true;
            }
        }
        Ok(matters.then_some(links))
    }

    /// Plans and commits one inbox item (and older items for the same ticket).
    pub async fn process(
        &self,
        item: &InboxItem,
        same_ticket: Vec<u64>,
    ) -> Result<usize, EngineError> {
        let group = Group::load(&self.store, item, &same_ticket);
        let mut inbox_ids = same_ticket;
        inbox_ids.push(item.id);
        let conn = self
            .connection(&item.connection)
            .ok_or_else(|| missing(&item.connection))?;
        let Some(links) = self.may_matter(&item.connection, &item.ticket_id)? else {
            // Neither linked nor on a trigger side (e.g. the MSP's other
            // clients' tickets): no need to read it from the vendor, nor to
            // remember its version (that tree would grow with every ticket
            // the vendor has).
            return Ok(self
                .commit(Outcome {
                    inbox_ids,
                    version: None,
                    plans: Vec::new(),
                    note: None,
                    replans_done: Vec::new(),
                    changed_at: None,
                })
                .await?);
        };
        // The in-flight snapshot, of this ticket's links only (read through
        // the store's link index, not the whole outbox).
        let mut outbox = self.store.outbox_for_links(&links)?;
        // Dead updates being re-planned keep their fields in flight until
        // their link is planned again (see `delivery::requeue`).
        let replans = self.store.replans_for_links(&links)?;
        outbox.extend(replans.iter().map(|(_, op)| op.clone()));
        // A dead update being re-planned asks for a plan from both sides'
        // current state: everything is read.
        // What the bridge knows of the links' tickets is read before any
        // vendor read, like the in-flight snapshot (`read_plan`).
        let reads = ReadContext {
            notes_unchanged: group.notes_unchanged(),
            force_full: !replans.is_empty(),
            known: super::read_plan::load_known(&self.store, &links)?,
        };
        let carried = match reads.force_full {
            true => None,
            false => group.carried(
                &item.ticket_id,
                self.store.version(&item.connection, &item.ticket_id)?,
                &reads.known,
            ),
        };
        let was_carried = carried.is_some();
        let read_at = self.clock.now();
        let fetched = match carried {
            Some(ticket) => Ok(ticket),
            None => read_in_place(|| conn.connector.get_ticket(&item.ticket_id)).await,
        };
        let ticket = match fetched {
            Ok(t) => t,
            Err(ConnectorError::NotFound(what)) => {
                // Deleted (or merged away) on its own side: its links go,
                // as when a plan or a delivery meets it on the far side.
                self.unlink_gone_ticket(&links, &item.connection, &item.ticket_id, &what)
                    .await?;
                // The ticket's links cannot be planned from it any more, so
                // their re-plans are dropped with the notice (they would
                // otherwise keep their fields "in flight" forever).
                let dropped = if replans.is_empty() {
                    String::new()
                } else {
                    format!("; {} re-plan(s) of its links dropped", replans.len())
                };
                let note = Some((
                    "ignored",
                    format!(
                        "{} ticket {} no longer exists; notice dropped{dropped}",
                        item.connection, item.ticket_id
                    ),
                    vec![format!("{}:{}", item.connection, item.ticket_id)],
                ));
                return Ok(self
                    .commit(Outcome {
                        inbox_ids,
                        version: None,
                        plans: Vec::new(),
                        note,
                        replans_done: replans.into_iter().map(|(key, _)| key).collect(),
                        changed_at: None,
                    })
                    .await?);
            }
            Err(e) => return Err(Engine::vendor_error(&item.connection)(e)),
        };
        let mut known = Vec::new();
        let plans = self
            .plan_ticket(
                &item.connection,
                &ticket,
                &links,
                &outbox,
                &reads,
                &mut known,
            )
            .await?;
        // The links planned now are planned from current state: their
        // re-plans are settled in the plan's own transaction. A re-plan
        // whose link is gone (unlinked meanwhile) has nothing left to do.
        let mut replans_done = Vec::new();
        for (key, op) in replans {
            if plans.iter().any(|p| p.link.id == op.link) || self.store.link(op.link)?.is_none() {
                replans_done.push(key);
            }
        }
        let version = Some((
            item.connection.as_str(),
            ticket.id.as_str(),
            TicketVersion {
                at: ticket.updated_at,
                // When the vendor took the carried state is unknown: an
                // equal-stamp poll hit is re-checked (`ingest::poller::decide`).
                read_at: (!was_carried).then_some(read_at),
            },
        ));
        let written = self
            .commit_with_known(
                Outcome {
                    inbox_ids,
                    version,
                    plans,
                    note: None,
                    replans_done,
                    changed_at: Some(crate::telemetry::change_time(item)),
                },
                &known,
            )
            .await?;
        Ok(written)
    }
}

fn missing(name: &str) -> EngineError {
    EngineError::Vendor {
        connection: name.to_string(),
        source: ConnectorError::Config(format!("connection {name:?} is not configured")),
    }
}
