//! The psa-bridge benchmark harness (issue 11): the vendor simulators and
//! the real daemon binary on loopback, load driven from this process, and
//! figures set against the targets. `main.rs` is the command line;
//! each scenario is a module with a `run` returning a [`report::Report`].
//! See `docs/performance.md`.

pub mod ceiling;
pub mod daemon;
pub mod drain;
pub mod ingest;
pub mod latency;
pub mod micro;
pub mod report;
pub mod setup;
pub mod sync;

use std::path::Path;

use report::{Report, Size};

/// Every scenario, in the order `all` runs them.
pub const SCENARIOS: [&str; 5] = ["ingest", "sync", "latency", "drain", "micro"];

/// Runs one scenario by name against the daemon `binary`.
pub async fn run(scenario: &str, size: Size, binary: &Path) -> anyhow::Result<Report> {
    match scenario {
        "ingest" => ingest::run(size, binary).await,
        "sync" => sync::run(size, binary).await,
        "latency" => latency::run(size, binary).await,
        "drain" => drain::run(size, binary).await,
        "micro" => micro::run(size).await,
        other => anyhow::bail!(
            "unknown scenario {other:?}; valid: {}, all",
            SCENARIOS.join(", ")
        ),
    }
}
