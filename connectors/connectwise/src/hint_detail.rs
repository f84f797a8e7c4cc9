//! What a ConnectWise callback says beyond "ticket N changed"
//! ([`psa_connector::HintDetail`]): the whole ticket from its `Entity`, and
//! whether the connection's own API member made the change.
//!
//! The ticket is built with exactly the conversion `get_ticket` uses
//! (`CwTicket::into_ticket` with the cached status list, the owner filled
//! from the people cache), so for the same state it equals `get_ticket`
//! field for field. Anything that would need a vendor call or a guess
//! leaves it out: an entity that is not a whole ticket of the callback's
//! `ID` (not JSON, wrong types, another id, no `_info.lastUpdated`), or an
//! owner the people cache does not know yet. A callback cannot tell whether
//! notes changed (a note touches the ticket too), so `notes_changed` stays
//! `None`.
//!
//! The own member is learnt without a call: ConnectWise answers the
//! connector's own ticket writes with the ticket, whose `_info.updatedBy`
//! is the API member the keys belong to ([`OwnMember::learn`]). Until a
//! write has been answered, or if answers ever disagree, no callback counts
//! as the bridge's.

use std::sync::Mutex;

use psa_connector::HintDetail;

use crate::api::CwTicket;
use crate::client::ConnectWiseConnector;
use crate::webhook::ParsedCallback;

/// The identifier of the API member the connection writes as.
#[derive(Debug, Default)]
pub(crate) struct OwnMember(Mutex<Learnt>);

#[derive(Debug, Default)]
enum Learnt {
    #[default]
    Unknown,
    Known(String),
    /// Two write answers named different members: never trusted again.
    Doubtful,
}

impl OwnMember {
    /// Records the `_info.updatedBy` of an answer to the connection's own write.
    pub(crate) fn learn(&self, updated_by: Option<&str>) {
        let Some(name) = updated_by.map(str::trim).filter(|n| !n.is_empty()) else {
            return;
        };
        let mut learnt = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match &*learnt {
            Learnt::Unknown => {
                tracing::debug!(member = name, "learnt the ConnectWise API member");
                *learnt = Learnt::Known(name.to_string());
            }
            Learnt::Known(known) if known.eq_ignore_ascii_case(name) => {}
            Learnt::Known(known) => {
                tracing::warn!(
                    known = %known,
                    answered = name,
                    "ConnectWise answered the bridge's writes as two different members; callbacks are no longer taken as the bridge's own"
                );
                *learnt = Learnt::Doubtful;
            }
            Learnt::Doubtful => {}
        }
    }

    /// Whether `member` is the connection's own API member (false while unknown).
    pub(crate) fn is(&self, member: &str) -> bool {
        match &*self.0.lock().unwrap_or_else(|e| e.into_inner()) {
            Learnt::Known(known) => {
                !member.trim().is_empty() && known.eq_ignore_ascii_case(member.trim())
            }
            _ => false,
        }
    }
}

/// The callback's entity as a ticket record, when it is one whole record of
/// the callback's ticket; `None` (logged at debug) otherwise.
pub(crate) fn entity_ticket(parsed: &ParsedCallback) -> Option<CwTicket> {
    let entity = parsed.entity.as_ref()?;
    let raw: CwTicket = match serde_json::from_value(entity.clone()) {
        Ok(raw) => raw,
        Err(e) => {
            tracing::debug!(ticket = %parsed.id, error = %e, "callback entity is not a ticket record; the planner reads the ticket");
            return None;
        }
    };
    if raw.id.to_string() != parsed.id {
        tracing::debug!(ticket = %parsed.id, entity = raw.id, "callback entity is another ticket; ignored");
        return None;
    }
    if raw.info.last_updated.is_none() {
        tracing::debug!(ticket = %parsed.id, "callback entity without _info.lastUpdated; ignored");
        return None;
    }
    Some(raw)
}

/// Whether the callback names `is_own` member as the one who made the
/// change: `MemberId`, and the entity's `_info.updatedBy` when it has one.
pub(crate) fn made_by(parsed: &ParsedCallback, is_own: impl Fn(&str) -> bool) -> bool {
    let Some(member) = parsed.member_id.as_deref() else {
        return false;
    };
    if !is_own(member) {
        return false;
    }
    match parsed
        .entity
        .as_ref()
        .and_then(|e| e.pointer("/_info/updatedBy"))
    {
        None => true,
        Some(by) => by.as_str().is_some_and(&is_own),
    }
}

impl ConnectWiseConnector {
    /// The detail of an authenticated callback for this connection's company.
    pub(crate) async fn callback_detail(&self, parsed: &ParsedCallback) -> HintDetail {
        let by_bridge = made_by(parsed, |m| self.own_member.is(m));
        let ticket = match entity_ticket(parsed) {
            Some(raw) => self.ticket_from_entity(raw),
            None => None,
        };
        HintDetail {
            ticket: ticket.map(Box::new),
            notes_changed: None,
            by_bridge,
        }
    }

    /// `to_ticket` without calls or waits: the status from the status
    /// cache, the owner from the people cache, or the ticket is left out.
    fn ticket_from_entity(&self, raw: CwTicket) -> Option<psa_connector::Ticket> {
        let Some(closed) = self.cached_status_closed_now(
            raw.board.as_ref().and_then(|b| b.id),
            raw.status.as_ref().and_then(|s| s.id),
        ) else {
            tracing::debug!(
                ticket = raw.id,
                "status cache busy; the planner reads the ticket"
            );
            return None;
        };
        let mut ticket = raw.into_ticket(closed);
        if let Some(id) = ticket.assignee.person.as_ref().map(|p| p.id.clone()) {
            match self.people.known(&id) {
                Some(Some(person)) => ticket.assignee.person = Some(person),
                Some(None) => {}
                None => {
                    tracing::debug!(ticket = %ticket.id, owner = %id, "callback ticket's owner not looked up yet; the planner reads the ticket");
                    return None;
                }
            }
        }
        Some(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_member_is_learnt_once_and_doubt_wins() {
        let own = OwnMember::default();
        assert!(!own.is("bridgeapi"), "unknown until a write is answered");
        own.learn(None);
        own.learn(Some("  "));
        assert!(!own.is("bridgeapi"));
        own.learn(Some("bridgeapi"));
        assert!(own.is("BridgeAPI"));
        assert!(!own.is("jsmith"));
        assert!(!own.is(""));
        own.learn(Some("bridgeapi"));
        assert!(own.is("bridgeapi"));
        own.learn(Some("jsmith"));
        assert!(
            !own.is("bridgeapi"),
            "answers that disagree: no longer trusted"
        );
        assert!(!own.is("jsmith"));
    }
}
