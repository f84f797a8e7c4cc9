//! psa-bridge: keeps tickets in sync between PSA and ITSM systems.
//!
//! The flow of one change: [`ingest`] (webhooks, pollers) writes a durable
//! notice to the inbox; [`engine`] plans it against the shadow and mapping and
//! writes outbox operations, shadow and [`store`] audit entries in one
//! transaction; [`delivery`] workers call the vendors through rate-limited
//! connectors and record outcomes. [`daemon`] wires it together; [`cli`] is the
//! command line. See `docs/architecture.md`.

pub mod accountability;
pub mod admin;
pub mod backfill;
pub mod clock;
pub mod config;
pub mod connections;
pub mod daemon;
pub mod delivery;
pub mod demo;
pub mod engine;
pub mod evidence;
pub mod ingest;
pub mod period_report;
pub mod report;
pub mod retry;
pub mod side_file;
pub mod store;
pub mod telemetry;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod testing;
