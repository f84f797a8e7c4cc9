//! The targets monitor: a daemon task on the engine's clock that reads the
//! audit trail as it grows, computes the ledgers of the pairings with
//! `[targets]`, and records each near-breach and breach once per link and
//! target: an audit entry (`target_near_breach`, `target_breached`), a
//! metric, and with `note = true` an internal note on both tickets through
//! the outbox (marker `…:target:<side>:<id>`, looked up before posting).
//!
//! Once only: a `meta` record per (pairing, link, target, level) is written
//! in the same transaction as the entry and checked inside it, so a restart,
//! a reload's second generation or a repeated tick never records twice. A
//! target done, or a link closed or unlinked, before the monitor started is
//! reported by the ledger but not alerted afterwards (enabling targets does
//! not flood old tickets with notes).

use std::sync::Arc;
use std::time::Duration;

use psa_connector::{NewComment, Visibility};
use serde_json::json;

use super::calendar::Timestamp;
use super::ledger::{self, LinkLedger, Outcome, TargetResult, BREACHED, NEAR_BREACH};
use super::targets::{TargetKind, Targets};
use crate::config::LoadedPairing;
use crate::daemon::Stop;
use crate::engine::{Engine, PlannedOp};
use crate::store::{Action, AuditEntry, AuditRecord, Side, StoreError, TreeName};

/// Breaches recorded, by pairing and target.
pub const TARGET_BREACHES: &str = "psa_bridge_target_breaches_total";
/// Near-breaches recorded, by pairing and target.
pub const TARGET_NEAR_BREACHES: &str = "psa_bridge_target_near_breaches_total";
/// Escalations neither resolved nor unlinked, by pairing.
pub const OPEN_ESCALATIONS: &str = "psa_bridge_open_escalations";
/// How often the daemon's monitor looks.
pub const TICK: Duration = Duration::from_secs(5);

/// One alert the monitor recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub pairing: String,
    pub link: u64,
    pub target: TargetKind,
    pub breached: bool,
    /// When the threshold was crossed (the near-breach instant or the due time).
    pub crossed_at: Option<Timestamp>,
    /// When the monitor saw it (the entry's time).
    pub at: Timestamp,
}

/// The monitor's state between ticks.
pub struct Monitor {
    engine: Arc<Engine>,
    pairings: Vec<(String, Targets)>,
    started: Timestamp,
    /// Entries of those pairings' links that ledgers read, in chain order.
    entries: Vec<AuditEntry>,
    last_seq: u64,
}

/// The resolved targets of a pairing (validated at load, so an error here
/// is only logged).
pub fn pairing_targets(pairing: &LoadedPairing) -> Option<Targets> {
    let config = pairing.mapping.targets.as_ref()?;
    match config.resolve(
        &pairing.mapping,
        &pairing.mapping_path,
        &pairing.mapping_source,
    ) {
        Ok(targets) => Some(targets),
        Err(e) => {
            tracing::error!(pairing = %pairing.name, error = %e, "response targets not monitored");
            None
        }
    }
}

impl Monitor {
    /// A monitor of every pairing of `engine` with targets; `None` if none has.
    pub fn new(engine: Arc<Engine>) -> Option<Monitor> {
        let pairings: Vec<(String, Targets)> = engine
            .pairings
            .iter()
            .filter_map(|p| Some((p.name.clone(), pairing_targets(p)?)))
            .collect();
        if pairings.is_empty() {
            return None;
        }
        for (name, _) in &pairings {
            for target in TargetKind::ALL {
                // Exported from the start (at 0), so alerts and `rate()` see them.
                metrics::counter!(TARGET_BREACHES, "pairing" => name.clone(), "target" => target.as_str()).increment(0);
                metrics::counter!(TARGET_NEAR_BREACHES, "pairing" => name.clone(), "target" => target.as_str()).increment(0);
            }
        }
        let started = engine.clock.now();
        Some(Monitor {
            engine,
            pairings,
            started,
            entries: Vec::new(),
            last_seq: 0,
        })
    }

    /// Reads new entries, records what is due; returns what it recorded.
    pub async fn tick(&mut self) -> Result<Vec<Recorded>, StoreError> {
        self.read_new()?;
        let now = self.engine.clock.now();
        let mut recorded = Vec::new();
        for (name, targets) in &self.pairings {
            // Ledgers without outcomes first (no calendar work), then the
            // targets of only the links that can still alert.
            let mut ledgers = ledger::read_ledgers(&self.entries, name, Some(targets), now);
            let open = ledgers
                .iter()
                .filter(|l| l.resolved_at.is_none() && l.ended_at.is_none())
                .count();
            metrics::gauge!(OPEN_ESCALATIONS, "pairing" => name.clone()).set(open as f64);
            for ledger in &mut ledgers {
                let closed_before = [ledger.resolved_at, ledger.ended_at]
                    .into_iter()
                    .flatten()
                    .any(|t| t < self.started);
                if closed_before {
                    continue;
                }
                ledger.targets = ledger::evaluate(ledger, targets, now);
                for result in &ledger.targets {
                    if result.done_at.is_some_and(|t| t < self.started) {
                        continue;
                    }
                    for breached in [false, true] {
                        let reached = match result.outcome {
                            Outcome::Breached => true,
                            Outcome::Near => !breached,
                            Outcome::Met | Outcome::Open => false,
                        };
                        let known = ledger
                            .alerts
                            .iter()
                            .any(|a| a.kind == result.kind && a.breached == breached);
                        if reached && !known {
                            if let Some(r) =
                                self.record(targets, ledger, result, breached, now).await?
                            {
                                recorded.push(r);
                            }
                        }
                    }
                }
            }
        }
        if !recorded.is_empty() {
            // The entries just written are read back at the next tick.
            self.read_new()?;
        }
        Ok(recorded)
    }

    /// Appends the audit entries after the last one read (of the monitored pairings' links).
    fn read_new(&mut self) -> Result<(), StoreError> {
        let tree = self.engine.store.raw_audit_tree();
        let start = (self.last_seq + 1).to_be_bytes();
        for kv in tree.range(start..) {
            let (key, value) = kv?;
            let entry: AuditEntry = crate::store::decode(TreeName::Audit, &key, &value)?;
            self.last_seq = entry.seq;
            let ours = entry.link.is_some()
                && entry
                    .pairing
                    .as_ref()
                    .is_some_and(|p| self.pairings.iter().any(|(n, _)| n == p));
            if ours && ledger::LEDGER_KINDS.contains(&entry.kind.as_str()) {
                self.entries.push(entry);
            }
        }
        Ok(())
    }

    /// Writes one alert (entry, once-only record, notes) in one
    /// transaction; `None` when another writer recorded it first.
    async fn record(
        &self,
        targets: &Targets,
        ledger: &LinkLedger,
        result: &TargetResult,
        breached: bool,
        now: Timestamp,
    ) -> Result<Option<Recorded>, StoreError> {
        let engine = &self.engine;
        let kind = if breached { BREACHED } else { NEAR_BREACH };
        let level = if breached { "breached" } else { "near" };
        let once = format!(
            "target_alert\0{}\0{}\0{}\0{level}",
            ledger.pairing, ledger.link, result.kind
        );
        let crossed_at = if breached { result.due } else { result.near_at };
        let priority = ledger
            .priority
            .clone()
            .unwrap_or_else(|| result.target_label.clone());
        let detail = json!({
            "target": result.kind,
            "priority": priority,
            "due": result.due,
            "at": now,
            "business_secs_elapsed": result.elapsed_secs,
            "target_secs": result.target_secs,
            "crossed_at": crossed_at,
            "near_breach": targets.near_breach,
            "calendar": result.calendar,
        });
        let due = result
            .due
            .map(|d| d.to_rfc3339())
            .unwrap_or_else(|| "not yet (paused)".into());
        let message = format!(
            "{} target {} for priority {priority:?}: {} of {} business time used, due {due}",
            result.kind,
            if breached { "breached" } else { "near breach" },
            human(result.elapsed_secs),
            human(result.target_secs),
        );
        let link = engine.store.link(ledger.link)?;
        let mut notes = Vec::new();
        if let (true, Some(link)) = (targets.note, &link) {
            for side in [Side::A, Side::B] {
                if link.side(side).is_none() {
                    continue;
                }
                let marker = link.event_marker("target", side.other(), engine.store.next_id()?);
                let planned = PlannedOp {
                    target: side,
                    action: Action::AddComment {
                        comment: NewComment {
                            body: format!("psa-bridge: {message}."),
                            visibility: Visibility::Internal,
                            marker,
                            resolution: false,
                        },
                        source: None,
                    },
                    fields: Vec::new(),
                };
                notes.push(engine.new_op(engine.store.next_id()?, link, &planned, now));
            }
        }
        let tickets = link
            .as_ref()
            .map(|l| engine.link_keys(l))
            .unwrap_or_else(|| ledger.tickets.clone());
        let written = engine.store.transact(|tx| {
            if tx
                .get::<serde_json::Value>(TreeName::Meta, once.as_bytes())?
                .is_some()
            {
                return Ok(false);
            }
            tx.put(TreeName::Meta, once.as_bytes(), &now)?;
            for op in &notes {
                tx.put_op(op)?;
            }
            tx.audit(
                now,
                AuditRecord {
                    kind,
                    pairing: Some(&ledger.pairing),
                    link: Some(ledger.link),
                    tickets: tickets.clone(),
                    message: message.clone(),
                    detail: detail.clone(),
                },
            )?;
            Ok(true)
        })?;
        if !written {
            return Ok(None);
        }
        engine.store.flush().await?;
        if !notes.is_empty() {
            engine.outbox_ready.notify_waiters();
        }
        let metric = if breached {
            TARGET_BREACHES
        } else {
            TARGET_NEAR_BREACHES
        };
        metrics::counter!(metric, "pairing" => ledger.pairing.clone(), "target" => result.kind.as_str()).increment(1);
        tracing::warn!(pairing = %ledger.pairing, link = ledger.link, "{message}");
        Ok(Some(Recorded {
            pairing: ledger.pairing.clone(),
            link: ledger.link,
            target: result.kind,
            breached,
            crossed_at,
            at: now,
        }))
    }
}

/// `5400` → `1h 30m`.
fn human(secs: i64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

/// Runs `monitor` every `tick` until `stop` (the daemon's `targets` task).
pub async fn run_monitor(monitor: Arc<tokio::sync::Mutex<Monitor>>, tick: Duration, stop: Stop) {
    loop {
        {
            let mut monitor = monitor.lock().await;
            tokio::select! {
                _ = stop.wait() => return,
                result = monitor.tick() => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "response targets: cannot read or write the store; trying again");
                    }
                }
            }
        }
        tokio::select! {
            _ = stop.wait() => return,
            _ = tokio::time::sleep(tick) => {}
        }
    }
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
