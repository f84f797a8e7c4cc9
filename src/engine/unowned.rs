//! The unowned-escalation alert (`[owners] msp_owner_within_minutes`): an
//! escalation whose MSP-side ticket (the side that does not escalate) has
//! no person `N` minutes after the link was made raises exactly one
//! `owner_missing` audit entry, counts
//! `psa_bridge_owner_missing_total{pairing}` and, with `note = true`, adds
//! an internal note to both tickets (through the outbox, under a fixed
//! per-link marker, so it is never written twice).
//!
//! The check reads only the store: the MSP side's holder as the planner
//! last recorded it (custody, [`super::custody::HOLDER`]). Each link is
//! settled once (shadow key [`SETTLED`]: `alerted` or `owned`), so a link is
//! checked until its due time and never again. The planner loop runs the
//! check at most every [`EVERY`] on the engine's clock.

use chrono::Duration;
use psa_connector::Visibility;
use serde_json::json;

use super::commit::Outcome;
use super::custody::{has_person, HOLDER};
use super::{Engine, Plan};
use crate::store::StoreError;

/// Shadow key: the link's alert is settled (`alerted` / `owned`).
pub const SETTLED: &str = "@owner_missing";

/// How often the planner loop checks.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(30);

impl Engine {
    /// Runs [`Engine::check_unowned`] when [`EVERY`] has passed since
    /// `last` (engine clock); failures are logged and retried next time.
    pub(super) async fn unowned_tick(&self, last: &mut Option<psa_connector::Timestamp>) {
        let now = self.clock.now();
        let every = Duration::from_std(EVERY).unwrap_or(Duration::seconds(30));
        if last.is_some_and(|at| now < at + every) {
            return;
        }
        if !self.pairings.iter().any(|p| {
            p.mapping
                .owners
                .as_ref()
                .is_some_and(|o| o.msp_owner_within_minutes.is_some())
        }) {
            return;
        }
        *last = Some(now);
        if let Err(e) = self.check_unowned().await {
            tracing::error!(error = %e, "cannot check escalations for a missing MSP owner");
        }
    }

    /// Raises the due `owner_missing` alerts; returns how many.
    pub async fn check_unowned(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut raised = 0;
        let mut plans = Vec::new();
        let links = self.store.links()?;
        for pairing in &self.pairings {
            let Some(owners) = &pairing.mapping.owners else {
                continue;
            };
            let Some(minutes) = owners.msp_owner_within_minutes else {
                continue;
            };
            let msp = pairing.mapping.trigger.side.other();
            for link in links.iter().filter(|l| l.pairing == pairing.name) {
                let due = link.created_at + Duration::minutes(minutes.min(i64::MAX as u64) as i64);
                if now < due {
                    continue;
                }
                let base = self.store.shadow(link.id)?;
                let side = base.side(msp);
                if side.values.contains_key(SETTLED) || side.closed {
                    continue;
                }
                let owned = side.values.get(HOLDER).is_some_and(|h| has_person(h));
                let mut plan = Plan {
                    link: link.clone(),
                    new_link: false,
                    base_shadow: base.clone(),
                    shadow: base,
                    ops: Vec::new(),
                    comments: Vec::new(),
                    audit: Vec::new(),
                };
                let verdict = if owned { "owned" } else { "alerted" };
                plan.shadow
                    .side_mut(msp)
                    .values
                    .insert(SETTLED.into(), verdict.into());
                if !owned {
                    raised += 1;
                    let escalated = link.created_at.to_rfc3339();
                    plan.note(
                        "owner_missing",
                        format!(
                            "side {msp} (the MSP) has no named owner {minutes} minutes after the escalation at {escalated}"
                        ),
                        json!({
                            "side": msp,
                            "escalated_at": escalated,
                            "due": due.to_rfc3339(),
                            "at": now.to_rfc3339(),
                        }),
                    );
                    crate::telemetry::owner_missing(&pairing.name);
                    tracing::warn!(pairing = %pairing.name, link = link.id, "escalation has no MSP owner after {minutes} minutes");
                    if owners.note {
                        let body = format!(
                            "No named MSP owner {minutes} minutes after this ticket was escalated ({escalated})."
                        );
                        for (n, target) in [(0, crate::store::Side::A), (1, crate::store::Side::B)]
                        {
                            let marker = link.event_marker("owner-missing", msp, n);
                            plan.add_comment(
                                target,
                                body.clone(),
                                Visibility::Internal,
                                marker,
                                false,
                                None,
                            );
                        }
                    }
                }
                plans.push(plan);
            }
        }
        for plan in plans {
            // One commit per link: a conflict (the planner wrote the shadow
            // meanwhile) only defers that link to the next check.
            let outcome = Outcome {
                inbox_ids: Vec::new(),
                version: None,
                plans: vec![plan],
                note: None,
                replans_done: Vec::new(),
                changed_at: None,
            };
            match self.commit(outcome).await {
                Ok(_) => {}
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(raised)
    }
}
