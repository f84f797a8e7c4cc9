//! Pausing and resuming a pairing (`POST /api/v1/pairings/{name}/pause`,
//! `.../resume`, and `psa-bridge pairings` when the daemon is stopped).
//!
//! While a pairing is paused its intake and planning go on, so its changes
//! (escalations included) wait in the outbox; the delivery workers start
//! none of them (`delivery::hold`): no attempt is counted, no retry
//! schedule used, nothing dead-lettered from waiting. Other pairings, on the
//! same connections too, deliver as usual. A delivery already under way when
//! the pause lands finishes. On resume the waiting operations go out in
//! their per-ticket order; the time spent paused does not count against
//! `daemon.retry_for_hours` for operations that had been failing before.
//! The pause record is in the store ([`crate::store::PausedPairing`]), so it
//! survives restarts and reloads; both steps are audited
//! (`pairing_paused`, `pairing_resumed`) with who and why.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::actions::OperatorError;
use super::api::{self, Api, ApiResult};
use super::links::Reason;
use crate::engine::Engine;
use crate::store::{AuditRecord, OutboxOp, PausedPairing, TreeName};

/// Who pauses and resumes through the CLI and the admin API.
pub const OPERATOR: &str = "operator";

/// What pausing or resuming answers: the pairing, its pause record, and
/// how many of its operations wait in the outbox.
#[derive(Debug, Serialize, Deserialize)]
pub struct PauseView {
    pub pairing: String,
    pub paused: bool,
    /// When it was paused (for a resume: when the pause began).
    pub since_unix_ms: i64,
    pub reason: Option<String>,
    pub by: String,
    /// Operations of the pairing waiting in the outbox (dead letters excluded).
    pub waiting: u64,
    /// Whether the pairing is in the running configuration.
    pub configured: bool,
    pub message: String,
}

/// A duration in words: `3d 4h`, `2h 5m`, `40s`.
fn span(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    let (days, hours, mins) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m {}s", s % 60),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// Longest reason kept (characters).
pub const MAX_REASON: usize = 500;

/// The reason, trimmed (`None` when empty); refused when longer than
/// [`MAX_REASON`] or carrying control characters (it is printed to terminals).
fn trimmed(reason: Option<&str>) -> Result<Option<String>, OperatorError> {
    let Some(reason) = reason.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if reason.chars().count() > MAX_REASON || reason.chars().any(char::is_control) {
        return Err(OperatorError::Invalid(format!(
            "reason must be one line of at most {MAX_REASON} characters without control characters"
        )));
    }
    Ok(Some(reason.to_string()))
}

impl Engine {
    /// "configured: a, b" (or "none is configured"), for errors naming a pairing.
    pub fn configured_pairings(&self) -> String {
        if self.pairings.is_empty() {
            return "no pairing is configured".to_string();
        }
        let names: Vec<&str> = self.pairings.iter().map(|p| p.name.as_str()).collect();
        format!("configured: {}", names.join(", "))
    }

    /// Pending (not dead) operations of `pairing`, decoded from the outbox.
    fn waiting_ops(&self, pairing: &str) -> Result<Vec<OutboxOp>, OperatorError> {
        Ok(self
            .store
            .outbox()?
            .into_iter()
            .filter(|op| op.pairing == pairing && op.dead.is_none())
            .collect())
    }

    /// Pauses `name` for an operator (see the module documentation).
    pub async fn pause_pairing(
        &self,
        name: &str,
        reason: Option<&str>,
    ) -> Result<PauseView, OperatorError> {
        if self.pairing(name).is_none() {
            return Err(OperatorError::NotFound(format!(
                "no pairing {name:?}; {}",
                self.configured_pairings()
            )));
        }
        let record = PausedPairing {
            pairing: name.to_string(),
            since: self.clock.now(),
            reason: trimmed(reason)?,
            by: OPERATOR.to_string(),
        };
        self.store.transact(|tx| {
            if let Some(already) = tx.paused_pairing(name)? {
                return Ok(Err(OperatorError::Conflict(format!(
                    "pairing {name} is already paused (since {}{})",
                    already.since.to_rfc3339(),
                    already
                        .reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ))));
            }
            tx.pause_pairing(&record)?;
            tx.audit(
                record.since,
                AuditRecord {
                    kind: "pairing_paused",
                    pairing: Some(name),
                    link: None,
                    tickets: Vec::new(),
                    message: format!(
                        "pairing {name} paused by an {OPERATOR}{}: its changes are kept in the outbox and delivered when it is resumed",
                        record.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
                    ),
                    detail: json!({ "by": OPERATOR, "reason": record.reason }),
                },
            )?;
            Ok(Ok(()))
        })??;
        self.store.flush().await?;
        tracing::info!(pairing = %name, reason = record.reason.as_deref().unwrap_or("-"), "pairing paused");
        let waiting = self.waiting_ops(name)?.len() as u64;
        Ok(PauseView {
            pairing: name.to_string(),
            paused: true,
            since_unix_ms: record.since.timestamp_millis(),
            reason: record.reason,
            by: record.by,
            waiting,
            configured: true,
            message: format!(
                "pairing {name} paused; {waiting} operation(s) wait in the outbox; nothing of it is delivered until it is resumed"
            ),
        })
    }

    /// Resumes `name` for an operator: its waiting operations go out in
    /// their order. A pairing removed from the configuration while paused
    /// can be resumed (its record is cleared).
    pub async fn resume_pairing(
        &self,
        name: &str,
        reason: Option<&str>,
    ) -> Result<PauseView, OperatorError> {
        let configured = self.pairing(name).is_some();
        let reason = trimmed(reason)?;
        let Some(record) = self.store.paused_pairing(name)? else {
            return Err(if configured {
                OperatorError::Conflict(format!("pairing {name} is not paused"))
            } else {
                OperatorError::NotFound(format!(
                    "no pairing {name:?}; {}",
                    self.configured_pairings()
                ))
            });
        };
        let now = self.clock.now();
        let paused_for = (now - record.since).max(chrono::Duration::zero());
        // Operations failing since before the pause: the paused time does
        // not count against their retry window.
        let failing: Vec<u64> = self
            .waiting_ops(name)?
            .into_iter()
            .filter(|op| op.first_failed_at.is_some_and(|t| t < record.since))
            .map(|op| op.id)
            .collect();
        let record = self.store.transact(|tx| {
            let Some(record) = tx.paused_pairing(name)? else {
                return Ok(Err(OperatorError::Conflict(format!(
                    "pairing {name} is not paused"
                ))));
            };
            tx.resume_pairing(name)?;
            for id in &failing {
                let Some(mut op) = tx.get::<OutboxOp>(TreeName::Outbox, &id.to_be_bytes())? else {
                    continue;
                };
                if let Some(first) = op.first_failed_at.filter(|t| *t < record.since) {
                    op.first_failed_at = Some((first + paused_for).min(now));
                    tx.put_op(&op)?;
                }
            }
            tx.audit(
                now,
                AuditRecord {
                    kind: "pairing_resumed",
                    pairing: Some(name),
                    link: None,
                    tickets: Vec::new(),
                    message: format!(
                        "pairing {name} resumed by an {OPERATOR}{} after {} paused; its waiting changes are delivered in their order",
                        reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
                        span(paused_for)
                    ),
                    detail: json!({
                        "by": OPERATOR,
                        "reason": reason,
                        "paused_since": record.since,
                        "paused_reason": record.reason,
                    }),
                },
            )?;
            Ok(Ok(record))
        })??;
        self.store.flush().await?;
        self.outbox_ready.notify_waiters();
        tracing::info!(pairing = %name, "pairing resumed");
        let waiting = self.waiting_ops(name)?.len() as u64;
        Ok(PauseView {
            pairing: name.to_string(),
            paused: false,
            since_unix_ms: record.since.timestamp_millis(),
            reason: record.reason,
            by: record.by,
            waiting,
            configured,
            message: if configured {
                format!("pairing {name} resumed; {waiting} waiting operation(s) are delivered in their order")
            } else {
                format!(
                    "pairing {name} is no longer configured; its pause record is cleared ({waiting} operation(s) left in the outbox)"
                )
            },
        })
    }
}

async fn reason_of(body: Body) -> Result<Reason, api::ApiError> {
    Ok(api::json_body(body).await?.unwrap_or_default())
}

pub async fn pause(
    State(api): State<Api>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<PauseView> {
    let reason = reason_of(body).await?;
    Ok(Json(
        api.engine
            .pause_pairing(&name, reason.reason.as_deref())
            .await?,
    ))
}

pub async fn resume(
    State(api): State<Api>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<PauseView> {
    let reason = reason_of(body).await?;
    Ok(Json(
        api.engine
            .resume_pairing(&name, reason.reason.as_deref())
            .await?,
    ))
}

#[cfg(test)]
#[path = "pairings_tests.rs"]
mod tests;
