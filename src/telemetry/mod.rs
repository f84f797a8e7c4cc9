//! The daemon's own Prometheus metrics beyond queue depths: intake by
//! connection and source, plan and delivery latency, propagation latency
//! (vendor change → far-side write), retries and dead letters, and each
//! connection's vendor API use (calls by kind, 429s, failures, time waited
//! on the rate limiter), per pairing whether it is paused and its outbox
//! depth ([`pairings`]), plus the readiness verdict ([`ready`], `/readyz`).
//!
//! Engine, delivery and intake call the small hooks here (one line each);
//! [`export`] copies the connectors' [`psa_connector::ApiStats`] into
//! counters at scrape time. Every name starts `psa_bridge_` and carries its
//! unit; labels are only configured names (`connection`, `pairing`) and
//! fixed words (`source`, `kind`, `outcome`): never ticket ids or secrets.
//! [`METRICS`] lists every series this module exports (the docs and the
//! Grafana dashboard test are checked against the running daemon).

mod pairings;
pub mod ready;
#[cfg(test)]
mod tests;

use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use psa_connector::Timestamp;

use crate::engine::Engine;
use crate::store::{InboxItem, IntakeSource, OutboxOp};

pub use ready::{Reach, Readiness};

/// Change notices stored (or recognised as repeats), by connection, source
/// (`webhook`, `poll`) and outcome (`accepted`, `duplicate`).
pub const INTAKE: &str = "psa_bridge_intake_total";
/// Time to plan one notice group (the ticket's notices coalesced), by
/// connection and outcome (`planned`, `failed`).
pub const PLAN_SECONDS: &str = "psa_bridge_plan_duration_seconds";
/// Time of one outbox operation's vendor call(s), in-place retries and rate
/// limiter waits included, by connection and outcome (`delivered`, `failed`).
pub const DELIVERY_SECONDS: &str = "psa_bridge_delivery_duration_seconds";
/// From the vendor change ([`change_time`]) to the far-side write done, by
/// pairing and target connection.
pub const PROPAGATION_SECONDS: &str = "psa_bridge_propagation_seconds";
/// Failed deliveries put back on the retry schedule (429s included), by connection.
pub const RETRIES: &str = "psa_bridge_delivery_retries_total";
/// Operations dead-lettered, by connection.
pub const DEAD_LETTERS: &str = "psa_bridge_dead_letters_total";
/// Notices kept as dead notices (planning failed for good), by connection.
pub const DEAD_NOTICES: &str = "psa_bridge_dead_notices_total";
/// Vendor API calls by connection and kind (`read`, `write`).
pub const API_CALLS: &str = "psa_bridge_api_calls_total";
/// 429 answers by connection.
pub const API_429: &str = "psa_bridge_api_429_total";
/// Other failed calls (error status, no answer) by connection.
pub const API_FAILURES: &str = "psa_bridge_api_failures_total";
/// Time calls waited on the connection's rate limiter, by connection.
pub const RATE_LIMIT_WAIT: &str = "psa_bridge_rate_limit_wait_milliseconds_total";
/// Calls started in the last 60 minutes (the hourly budget used), by connection.
pub const API_CALLS_LAST_HOUR: &str = "psa_bridge_api_calls_last_hour";
/// Unix time of the connection's last successful vendor call.
pub const API_LAST_SUCCESS: &str = "psa_bridge_api_last_success_timestamp_seconds";
/// Links held because one of their tickets left the pairing's scope, by pairing.
pub const OUT_OF_SCOPE: &str = "psa_bridge_out_of_scope_total";
/// Escalations whose MSP side had no named owner in time, by pairing.
pub const OWNER_MISSING: &str = "psa_bridge_owner_missing_total";
/// 1 when `/readyz` would answer 200, else 0.
pub const READY: &str = "psa_bridge_ready";
/// 1 when the connection counts as reachable ([`ready`]), else 0.
pub const REACHABLE: &str = "psa_bridge_connection_reachable";

/// 1 while the pairing is paused by an operator, else 0, by pairing ([`pairings`]).
pub const PAIRING_PAUSED: &str = "psa_bridge_pairing_paused";
/// The pairing's outbox operations waiting (dead letters excluded), by pairing.
pub const PAIRING_OUTBOX_PENDING: &str = "psa_bridge_pairing_outbox_pending";
/// The pairing's dead letters in the outbox, by pairing.
pub const PAIRING_OUTBOX_DEAD: &str = "psa_bridge_pairing_outbox_dead";

/// Every series this module exports, with its Prometheus type.
pub const METRICS: &[(&str, &str)] = &[
    (INTAKE, "counter"),
    (PLAN_SECONDS, "histogram"),
    (DELIVERY_SECONDS, "histogram"),
    (PROPAGATION_SECONDS, "histogram"),
    (RETRIES, "counter"),
    (DEAD_LETTERS, "counter"),
    (DEAD_NOTICES, "counter"),
    (API_CALLS, "counter"),
    (API_429, "counter"),
    (API_FAILURES, "counter"),
    (RATE_LIMIT_WAIT, "counter"),
    (API_CALLS_LAST_HOUR, "gauge"),
    (API_LAST_SUCCESS, "gauge"),
    (OUT_OF_SCOPE, "counter"),
    (READY, "gauge"),
    (REACHABLE, "gauge"),
    (PAIRING_PAUSED, "gauge"),
    (PAIRING_OUTBOX_PENDING, "gauge"),
    (PAIRING_OUTBOX_DEAD, "gauge"),
    (crate::accountability::monitor::TARGET_BREACHES, "counter"),
    (
        crate::accountability::monitor::TARGET_NEAR_BREACHES,
        "counter",
    ),
    (crate::accountability::monitor::OPEN_ESCALATIONS, "gauge"),
    (OWNER_MISSING, "counter"),
];

/// Buckets of the planning and delivery histograms (seconds): a local
/// simulator answers in milliseconds, a slow vendor in seconds, a delivery
/// that waits on the rate limiter or retries in place up to a minute.
pub const CALL_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Buckets of the propagation histogram (seconds): a webhook-driven change
/// crosses in about a second, a polled one within a poll interval, a change
/// held by an outage or a dead letter in hours.
pub const PROPAGATION_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 21600.0, 86400.0,
];

/// The Prometheus recorder's builder with this module's histogram buckets.
pub fn prometheus_builder() -> PrometheusBuilder {
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in [
        (PLAN_SECONDS, CALL_BUCKETS),
        (DELIVERY_SECONDS, CALL_BUCKETS),
        (PROPAGATION_SECONDS, PROPAGATION_BUCKETS),
    ] {
        // Only fails for an empty bucket list, which these are not.
        builder = match builder.set_buckets_for_metric(Matcher::Full(name.into()), buckets) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(metric = name, error = %e, "histogram buckets not set");
                PrometheusBuilder::new()
            }
        };
    }
    builder
}

/// When the change a notice announces happened, as the propagation metric
/// counts it: the vendor's stamp from the hint (`ChangeHint::updated_at`:
/// poll hits always, webhooks when the body says), else the notice's
/// arrival. A stamp later than the arrival (the vendor's clock ahead of
/// ours) is replaced by the arrival: the change cannot be newer than its notice.
pub fn change_time(item: &InboxItem) -> Timestamp {
    match item.updated_at {
        Some(at) if at <= item.received_at => at,
        _ => item.received_at,
    }
}

/// Seconds from `changed_at` to `written_at`; never negative.
pub fn propagation_seconds(changed_at: Timestamp, written_at: Timestamp) -> f64 {
    let millis = (written_at - changed_at).num_milliseconds().max(0);
    millis as f64 / 1000.0
}

/// Counts one enqueue's notices.
pub fn intake(connection: &str, source: IntakeSource, accepted: usize, duplicates: usize) {
    let source = match source {
        IntakeSource::Webhook => "webhook",
        IntakeSource::Poll => "poll",
        IntakeSource::Backfill => "backfill",
    };
    for (outcome, n) in [("accepted", accepted), ("duplicate", duplicates)] {
        // Registered even at 0, so the series exists from the first intake.
        metrics::counter!(INTAKE, "connection" => connection.to_string(), "source" => source, "outcome" => outcome)
            .increment(n as u64);
    }
}

/// Records one notice group's planning time.
pub fn planned(connection: &str, ok: bool, took: Duration) {
    let outcome = if ok { "planned" } else { "failed" };
    metrics::histogram!(PLAN_SECONDS, "connection" => connection.to_string(), "outcome" => outcome)
        .record(took.as_secs_f64());
}

/// Records one operation's delivery time (its vendor calls, in-place retries included).
pub fn delivery_finished(connection: &str, ok: bool, took: Duration) {
    let outcome = if ok { "delivered" } else { "failed" };
    metrics::histogram!(DELIVERY_SECONDS, "connection" => connection.to_string(), "outcome" => outcome)
        .record(took.as_secs_f64());
}

/// Records the propagation latency of a delivered operation that carries its
/// change's time.
pub fn propagated(op: &OutboxOp, written_at: Timestamp) {
    if let Some(changed_at) = op.changed_at {
        metrics::histogram!(PROPAGATION_SECONDS, "pairing" => op.pairing.clone(), "connection" => op.connection.clone())
            .record(propagation_seconds(changed_at, written_at));
    }
}

/// Counts a recorded delivery failure: retried later, or dead-lettered.
pub fn failure_recorded(connection: &str, dead: bool) {
    let name = if dead { DEAD_LETTERS } else { RETRIES };
    metrics::counter!(name, "connection" => connection.to_string()).increment(1);
}

/// Counts an `owner_missing` alert.
pub fn owner_missing(pairing: &str) {
    metrics::counter!(OWNER_MISSING, "pairing" => pairing.to_string()).increment(1);
}

/// Counts a notice kept as a dead notice.
pub fn dead_notice(connection: &str) {
    metrics::counter!(DEAD_NOTICES, "connection" => connection.to_string()).increment(1);
}

/// Copies every connection's API counters into the recorder and publishes
/// readiness, at scrape time (counters set absolutely: the connectors
/// keep the totals).
pub fn export(engine: &Engine, readiness: Option<&Readiness>) {
    let mut names: Vec<&String> = engine.connections.keys().collect();
    names.sort();
    for name in names {
        // Present from the first scrape (at 0), so `rate()` and alerts see them.
        for metric in [RETRIES, DEAD_LETTERS, DEAD_NOTICES] {
            metrics::counter!(metric, "connection" => name.clone()).increment(0);
        }
        let Some(stats) = engine.connections[name].connector.api_stats() else {
            continue;
        };
        let s = stats.snapshot();
        for (kind, n) in [("read", s.reads), ("write", s.writes)] {
            metrics::counter!(API_CALLS, "connection" => name.clone(), "kind" => kind).absolute(n);
        }
        metrics::counter!(API_429, "connection" => name.clone()).absolute(s.http_429);
        metrics::counter!(API_FAILURES, "connection" => name.clone()).absolute(s.failures);
        metrics::counter!(RATE_LIMIT_WAIT, "connection" => name.clone()).absolute(s.rate_wait_ms);
        metrics::gauge!(API_CALLS_LAST_HOUR, "connection" => name.clone())
            .set(s.calls_last_hour as f64);
        if let Some(ms) = s.last_success_unix_ms {
            metrics::gauge!(API_LAST_SUCCESS, "connection" => name.clone()).set(ms as f64 / 1000.0);
        }
    }
    pairings::export(engine);
    for pairing in &engine.pairings {
        metrics::counter!(OWNER_MISSING, "pairing" => pairing.name.clone()).increment(0);
    }
    if let Some(readiness) = readiness {
        let verdict = readiness.check();
        metrics::gauge!(READY).set(if verdict.ready() { 1.0 } else { 0.0 });
        for (name, reach) in &verdict.connections {
            let up = matches!(reach, Reach::Reachable);
            metrics::gauge!(REACHABLE, "connection" => name.clone()).set(if up {
                1.0
            } else {
                0.0
            });
        }
    }
}
