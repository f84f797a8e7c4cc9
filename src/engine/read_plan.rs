//! What a plan must read from the vendors, and what it may take from the
//! notice or from the store instead (issue 11, API economy).
//!
//! - **Source ticket**: a notice group whose webhook carried the whole
//!   ticket ([`psa_connector::HintDetail::ticket`]) is planned from the
//!   newest carried ticket, provided it is newer than every other notice of
//!   the group that carries none and newer than the version last planned
//!   ([`carried`]); otherwise it is read.
//! - **Source notes**: not read when every notice of the group says the
//!   change touched no note, or every one is the echo of the bridge's own
//!   write ([`Group::notes_unchanged`]), and the link's knowledge is complete.
//! - **Far ticket and notes**: taken from the last known ticket
//!   ([`crate::store::known`]) when knowledge is complete and no notice for
//!   the far ticket waits in the inbox or as a dead notice
//!   (`Store::notice_waiting`): a far-side change is never planned over before
//!   its own notice was planned.
//!
//! Knowledge is complete when a plan of this store session read everything
//! (both tickets, both note lists): after a restart, a crash or a restore the
//! first plan of each link reads all, so the recovery of mirrors by marker
//! (`super::comments`) sees both note lists.

use psa_connector::Ticket;

use super::Plan;
use crate::config::LoadedPairing;
use crate::store::known::{KnownTickets, KnownWrite};
use crate::store::{Action, InboxItem, Side, Store, StoreError, TicketVersion, TreeName};

/// The notices one plan covers: the due item and the others for its ticket.
pub(super) struct Group {
    items: Vec<InboxItem>,
    /// Every notice of the group could be loaded (one that vanished or
    /// cannot be decoded may have said anything: read everything).
    whole: bool,
}

impl Group {
    /// Loads the group's notices by id (`item` itself is given).
    pub fn load(store: &Store, item: &InboxItem, others: &[u64]) -> Group {
        let mut items = vec![item.clone()];
        let mut whole = true;
        for id in others {
            match store.get::<InboxItem>(TreeName::Inbox, &id.to_be_bytes()) {
                Ok(Some(other)) => items.push(other),
                Ok(None) | Err(_) => whole = false,
            }
        }
        Group { items, whole }
    }

    /// Whether no notice of the group can have added or changed a note of
    /// its ticket: each says "ticket fields only", or each is the echo of the
    /// bridge's own write.
    pub fn notes_unchanged(&self) -> bool {
        self.whole
            && (self
                .items
                .iter()
                .all(|i| i.detail.notes_changed == Some(false))
                || self.items.iter().all(|i| i.detail.by_bridge))
    }

    /// The ticket to plan from without reading it, if the notices carry one
    /// that is provably the newest state the bridge has heard of: newer
    /// than the version planned from (`stored`) and than the ticket as the
    /// bridge last wrote it (`known`, read before this plan's vendor reads),
    /// or exactly that ticket: a write delivered after the notice's state is
    /// in neither the carried ticket nor the in-flight snapshot.
    pub fn carried(
        &self,
        ticket_id: &str,
        stored: Option<TicketVersion>,
        known: &Known,
    ) -> Option<Ticket> {
        if !self.whole {
            return None;
        }
        let ticket = carried(&self.items, ticket_id, stored)?;
        // The echo of the bridge's own write carries exactly the ticket its
        // delivery read back: as good as that read.
        let written = known
            .values()
            .flatten()
            .flat_map(|k| [k.a.as_ref(), k.b.as_ref()])
            .flatten()
            .filter(|t| t.id == ticket_id)
            .max_by_key(|t| t.updated_at);
        written
            .is_none_or(|w| w.updated_at < ticket.updated_at || *w == ticket)
            .then_some(ticket)
    }
}

/// The newest carried ticket of `items` by vendor stamp, provided
/// - no other carried ticket has the same stamp with other content: vendor
///   stamps have whole seconds and webhooks arrive in any order, so two
///   states of the same second cannot be told apart (a note's callback sent
///   before a close may arrive after it),
/// - it is `ticket_id`,
/// - every notice that carries no ticket has a stamp older than it (one
///   without a stamp, or with the same stamp, may be a later change in the
///   same whole second: read),
/// - it is newer than the version last planned from (`stored`): a carried
///   ticket with the same stamp may be an earlier state of that second that
///   arrived late.
pub(super) fn carried(
    items: &[InboxItem],
    ticket_id: &str,
    stored: Option<TicketVersion>,
) -> Option<Ticket> {
    let tickets = || items.iter().filter_map(|i| i.detail.ticket.as_deref());
    let newest = tickets().max_by_key(|t| t.updated_at)?;
    let at = newest.updated_at;
    if newest.id != ticket_id || tickets().any(|t| t.updated_at == at && t != newest) {
        return None;
    }
    let bare_older = items
        .iter()
        .filter(|i| i.detail.ticket.is_none())
        .all(|i| i.updated_at.is_some_and(|u| u < at));
    let newer_than_planned = stored.is_none_or(|v| v.at < at);
    (bare_older && newer_than_planned).then(|| newest.clone())
}

/// The known-tickets records of a ticket's links, read right after the
/// in-flight snapshot and before any vendor read of the plan.
pub(super) type Known = std::collections::HashMap<u64, Option<KnownTickets>>;

/// Reads the records of `links` ([`Known`]).
pub(super) fn load_known(store: &Store, links: &[u64]) -> Result<Known, StoreError> {
    links
        .iter()
        .map(|id| Ok((*id, store.known(*id)?)))
        .collect()
}

/// How one link is read for one plan.
pub(super) struct LinkReads {
    /// The record as read before any vendor read of this plan.
    pub seen: Option<KnownTickets>,
    /// A plan of this store session read everything, and nothing asks for
    /// a full read now (a dead update being re-planned).
    pub complete: bool,
}

impl LinkReads {
    /// `None` in `known` (a link the snapshot did not cover) reads all.
    pub fn new(store: &Store, link: u64, reads: &ReadContext) -> LinkReads {
        let Some(seen) = reads.known.get(&link).cloned() else {
            return LinkReads {
                seen: None,
                complete: false,
            };
        };
        let complete = !reads.force_full
            && seen
                .as_ref()
                .is_some_and(|k| k.session == Some(store.session()));
        LinkReads { seen, complete }
    }

    /// The far ticket `id` of `side` as last known, when it may stand in for
    /// a read.
    pub fn far_ticket(
        &self,
        engine: &super::Engine,
        connection: &str,
        side: Side,
        id: &str,
    ) -> Result<Option<Ticket>, StoreError> {
        if !self.complete {
            return Ok(None);
        }
        let Some(ticket) = self.seen.as_ref().and_then(|k| k.side(side)) else {
            return Ok(None);
        };
        if ticket.id != id || engine.store.notice_waiting(connection, id)? {
            return Ok(None);
        }
        Ok(Some(ticket.clone()))
    }

    /// The record to store with the plan: both tickets as planned from,
    /// marked complete when this plan read everything (`full`) or the
    /// knowledge was complete already.
    pub fn write(
        &self,
        store: &Store,
        link: u64,
        a: Option<&Ticket>,
        b: Option<&Ticket>,
        full: bool,
    ) -> KnownWrite {
        let session = if full {
            Some(store.session())
        } else if self.complete {
            self.seen.as_ref().and_then(|k| k.session)
        } else {
            None
        };
        KnownWrite {
            link,
            seen: self.seen.clone(),
            new: KnownTickets {
                session,
                rev: 0,
                a: a.cloned(),
                b: b.cloned(),
            },
        }
    }
}

/// The sides whose notes a plan must read because a status write it plans
/// carries companion fields rendered from that side's resolution note
/// (`super::reconcile::add_status_companions`).
pub(super) fn companion_sources(pairing: &LoadedPairing, plan: &Plan) -> Vec<Side> {
    plan.ops
        .iter()
        .filter_map(|op| match &op.action {
            Action::UpdateTicket { update } => {
                let status = update.status.as_deref()?;
                pairing
                    .mapping
                    .status_companions(op.target, status)
                    .map(|_| op.target.other())
            }
            _ => None,
        })
        .collect()
}

/// What the planner knows about the notices of one plan.
#[derive(Debug, Default)]
pub(super) struct ReadContext {
    /// The group's notices say no note changed on the source side.
    pub notes_unchanged: bool,
    /// Read everything regardless of what the store knows.
    pub force_full: bool,
    /// The records of the ticket's links as before the plan's reads.
    pub known: Known,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::IntakeSource;
    use chrono::{Duration, TimeZone, Utc};

    fn at(s: i64) -> psa_connector::Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap() + Duration::seconds(s)
    }

    fn item(id: u64, stamp: Option<i64>, carried: Option<(&str, i64)>) -> InboxItem {
        let mut detail = psa_connector::HintDetail::default();
        if let Some((title, s)) = carried {
            let mut t = crate::testing::sample_ticket("5");
            t.title = title.into();
            t.updated_at = at(s);
            detail.ticket = Some(Box::new(t));
        }
        InboxItem {
            id,
            connection: "connectwise".into(),
            ticket_id: "5".into(),
            source: IntakeSource::Webhook,
            dedup_key: format!("d{id}"),
            received_at: at(0),
            updated_at: stamp.map(at),
            attempts: 0,
            next_attempt_at: None,
            detail,
        }
    }

    fn title(t: Option<Ticket>) -> Option<String> {
        t.map(|t| t.title)
    }

    #[test]
    fn the_newest_carried_ticket_is_used() {
        let items = [
            item(1, Some(10), Some(("one", 10))),
            item(3, Some(12), Some(("three", 12))),
            item(2, Some(11), Some(("two", 11))),
        ];
        assert_eq!(title(carried(&items, "5", None)), Some("three".into()));
        let items = [item(1, Some(12), Some(("one", 12))), item(4, Some(9), None)];
        assert_eq!(title(carried(&items, "5", None)), Some("one".into()));
        let same = [
            item(1, Some(12), Some(("one", 12))),
            item(2, Some(12), Some(("one", 12))),
        ];
        assert_eq!(title(carried(&same, "5", None)), Some("one".into()));
    }

    /// Two states of the same second arrive in any order (the demo's note
    /// callback, sent before the close, arrived after it and was planned as
    /// a reopening): neither is planned from.
    #[test]
    fn two_different_tickets_of_the_same_second_force_a_read() {
        for order in [[1, 2], [2, 1]] {
            let items = order.map(|id| {
                let title = if id == 1 { "in progress" } else { "closed" };
                item(id, Some(12), Some((title, 12)))
            });
            assert_eq!(title(carried(&items, "5", None)), None, "{order:?}");
        }
        let older_tie = [
            item(1, Some(11), Some(("a", 11))),
            item(2, Some(11), Some(("b", 11))),
            item(3, Some(12), Some(("newest", 12))),
        ];
        assert_eq!(title(carried(&older_tie, "5", None)), Some("newest".into()));
    }

    #[test]
    fn a_bare_notice_as_new_or_without_stamp_forces_a_read() {
        let same = [
            item(1, Some(12), Some(("one", 12))),
            item(2, Some(12), None),
        ];
        assert_eq!(title(carried(&same, "5", None)), None);
        let newer = [
            item(1, Some(12), Some(("one", 12))),
            item(2, Some(13), None),
        ];
        assert_eq!(title(carried(&newer, "5", None)), None);
        let unstamped = [item(1, Some(12), Some(("one", 12))), item(2, None, None)];
        assert_eq!(title(carried(&unstamped, "5", None)), None);
        assert_eq!(title(carried(&[item(1, None, None)], "5", None)), None);
    }

    #[test]
    fn a_carried_ticket_not_newer_than_the_planned_version_forces_a_read() {
        let items = [item(1, Some(12), Some(("one", 12)))];
        let version = |s| {
            Some(TicketVersion {
                at: at(s),
                read_at: None,
            })
        };
        assert_eq!(title(carried(&items, "5", version(11))), Some("one".into()));
        assert_eq!(title(carried(&items, "5", version(12))), None);
        assert_eq!(title(carried(&items, "5", version(13))), None);
        assert_eq!(title(carried(&items, "6", None)), None, "another ticket");
    }
}
