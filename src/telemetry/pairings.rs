//! Per-pairing gauges, set at scrape time: whether each configured pairing
//! is paused, and its outbox depth (pending and dead). The label set is the
//! configured pairing names only (operations of a pairing no longer
//! configured are not exported under its name); the depths come from the
//! outbox index trees and one link record per link with operations, so a
//! scrape decodes no outbox operation.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use super::{PAIRING_OUTBOX_DEAD, PAIRING_OUTBOX_PENDING, PAIRING_PAUSED};
use crate::engine::Engine;
use crate::store::OutboxCounts;

/// The names exported by the previous scrape, so a pairing a reload
/// removed is set to 0 rather than left at its last value.
static EXPORTED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Outbox counts per pairing name.
fn counts(engine: &Engine) -> HashMap<String, OutboxCounts> {
    let by_link = match engine.store.outbox_counts_by_link() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "per-pairing outbox depth not exported");
            return HashMap::new();
        }
    };
    let mut by_pairing: HashMap<String, OutboxCounts> = HashMap::new();
    for (link, c) in by_link {
        let Ok(Some(link)) = engine.store.link(link) else {
            continue;
        };
        let entry = by_pairing.entry(link.pairing).or_default();
        entry.pending += c.pending;
        entry.dead += c.dead;
    }
    by_pairing
}

/// Sets the per-pairing gauges for the configured pairings.
pub fn export(engine: &Engine) {
    let paused: BTreeSet<String> = engine
        .store
        .paused_pairing_names()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let counts = counts(engine);
    let names: BTreeSet<String> = engine.pairings.iter().map(|p| p.name.clone()).collect();
    for name in &names {
        let c = counts.get(name).copied().unwrap_or_default();
        let is_paused = if paused.contains(name) { 1.0 } else { 0.0 };
        metrics::gauge!(PAIRING_PAUSED, "pairing" => name.clone()).set(is_paused);
        metrics::gauge!(PAIRING_OUTBOX_PENDING, "pairing" => name.clone()).set(c.pending as f64);
        metrics::gauge!(PAIRING_OUTBOX_DEAD, "pairing" => name.clone()).set(c.dead as f64);
    }
    let mut exported = EXPORTED.lock().unwrap_or_else(|e| e.into_inner());
    for gone in exported.difference(&names) {
        for metric in [PAIRING_PAUSED, PAIRING_OUTBOX_PENDING, PAIRING_OUTBOX_DEAD] {
            metrics::gauge!(metric, "pairing" => gone.clone()).set(0.0);
        }
    }
    exported.extend(names);
}
