//! Isolation: a link is synced only while both its tickets are inside the
//! pairing's scope (`config::scope`: the client's company, board, queue,
//! assignment group or project). A linked ticket read outside it (moved to
//! another client's company, say) holds the link: nothing of either ticket
//! is planned (no field, status or note read across or written), the
//! operations already queued for the link wait (delivery skips them,
//! [`held`]), and the hold is recorded in the link's shadow and audited once
//! as `out_of_scope`, naming the ticket, the key and the value found, with
//! a warning in the log and the `psa_bridge_out_of_scope_total` counter.
//! When the ticket is read inside the scope again, the link resumes
//! (`back_in_scope`) and the next plan syncs what changed meanwhile.
//!
//! Escalation applies the same scope: a trigger-side ticket outside it
//! never escalates in that pairing (`trigger::triggers`).

use serde_json::json;

use super::reconcile::Sides;
use super::{Engine, EngineError, Plan};
use crate::config::LoadedPairing;
use crate::store::{Link, ScopeHold, Side, Store};

use crate::telemetry::OUT_OF_SCOPE as OUT_OF_SCOPE_TOTAL;

/// The first side of `sides` whose ticket is outside `pairing`'s scope, with
/// the condition it fails.
pub fn first_outside(
    pairing: &LoadedPairing,
    sides: &Sides,
) -> Option<(Side, String, crate::config::scope::Mismatch)> {
    let scope = &pairing.mapping.scope.resolved;
    [Side::A, Side::B].into_iter().find_map(|side| {
        let ticket = sides.get(side)?;
        let mismatch = scope.side(side).check(ticket)?;
        Some((
            side,
            format!("{}:{}", pairing.connection(side), ticket.id),
            mismatch,
        ))
    })
}

impl Engine {
    /// The plan for a link one of whose tickets is outside the pairing's
    /// scope: nothing synced, the hold recorded (and audited) the first
    /// time. `None` when both tickets are in scope.
    pub(super) fn scope_hold(
        &self,
        pairing: &LoadedPairing,
        link: &Link,
        sides: &Sides,
    ) -> Result<Option<Plan>, EngineError> {
        let Some((side, ticket, mismatch)) = first_outside(pairing, sides) else {
            return Ok(None);
        };
        let base = self.store.shadow(link.id)?;
        let mut plan = Plan {
            link: link.clone(),
            new_link: false,
            base_shadow: base.clone(),
            shadow: base,
            ops: Vec::new(),
            comments: Vec::new(),
            audit: Vec::new(),
        };
        if plan.shadow.out_of_scope.is_some() {
            tracing::debug!(pairing = %pairing.name, link = link.id, %ticket, "link still out of scope; nothing synced");
            return Ok(Some(plan));
        }
        let found = mismatch.found.as_deref().unwrap_or("(none)");
        tracing::warn!(
            pairing = %pairing.name,
            link = link.id,
            %ticket,
            key = %mismatch.key,
            found,
            expected = %mismatch.expected,
            "a linked ticket left the pairing's scope; the link is held (nothing synced or delivered) until it is back"
        );
        metrics::counter!(OUT_OF_SCOPE_TOTAL, "pairing" => pairing.name.clone()).increment(1);
        plan.note(
            "out_of_scope",
            format!(
                "WARNING: {ticket} (side {side}) is outside pairing {}'s scope: {} is {found:?}, expected {:?}; \
                 the link is held (nothing synced, queued operations wait) until it is back in scope",
                pairing.name, mismatch.key, mismatch.expected
            ),
            json!({
                "side": side,
                "ticket": ticket,
                "field": mismatch.key,
                "found": mismatch.found,
                "expected": mismatch.expected,
            }),
        );
        plan.shadow.out_of_scope = Some(ScopeHold {
            side,
            ticket,
            key: mismatch.key,
            expected: mismatch.expected,
            found: mismatch.found,
            since: self.clock.now(),
        });
        Ok(Some(plan))
    }
}

/// A plan of a link whose tickets are both in scope: a held link resumes
/// (audited `back_in_scope`); its held operations are delivered again.
pub(super) fn resume(pairing: &LoadedPairing, plan: &mut Plan) {
    let Some(hold) = plan.shadow.out_of_scope.take() else {
        return;
    };
    tracing::info!(pairing = %pairing.name, link = plan.link.id, ticket = %hold.ticket, "the ticket is back in the pairing's scope; the link syncs again");
    plan.note(
        "back_in_scope",
        format!(
            "{} is back in pairing {}'s scope ({} = {:?}); syncing resumes",
            hold.ticket, pairing.name, hold.key, hold.expected
        ),
        json!({ "side": hold.side, "ticket": hold.ticket, "field": hold.key }),
    );
}

/// Why `link` is held, in words (`None` when it is not): what the outbox
/// and link views show as a warning. Reads the link's shadow only.
pub fn hold_warning(store: &Store, link: u64) -> Option<String> {
    let hold = store.shadow(link).ok()?.out_of_scope?;
    Some(format!(
        "WARNING: link out of scope since {}: {} has {} {:?}, expected {:?}; held until it is back",
        hold.since.format("%Y-%m-%d %H:%M:%S"),
        hold.ticket,
        hold.key,
        hold.found.as_deref().unwrap_or("(none)"),
        hold.expected
    ))
}

/// Whether the operations of `link` are held because one of its tickets is
/// out of scope (delivery skips them). A shadow that cannot be read counts
/// as held: isolation wins over delivery until the store reads again.
pub fn held(store: &Store, link: u64) -> bool {
    match store.shadow(link) {
        Ok(shadow) => shadow.out_of_scope.is_some(),
        Err(e) => {
            tracing::warn!(link, error = %e, "cannot read the link's shadow; its operations wait");
            true
        }
    }
}
