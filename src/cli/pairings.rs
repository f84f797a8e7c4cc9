//! `pairings list|pause|resume`: the configured pairings with their figures
//! and pause state, and pausing or resuming one, through the running
//! daemon's `/api/v1/pairings` or the store directly when the daemon is
//! stopped (see [`super::access`]).

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use psa_bridge::admin::pairings::PauseView;
use psa_bridge::admin::status::{self, PairingStatus};
use serde_json::json;

use super::access::{connect, escape, Access, Answer};

#[derive(Subcommand)]
pub enum PairingsCommand {
    /// Each pairing: its connections, links, waiting and dead operations,
    /// and whether it is paused (since when, why).
    List,
    /// Stop delivering a pairing's changes: intake and planning go on and
    /// its changes wait in the outbox (not attempted, never dead-lettered
    /// from waiting); other pairings deliver as usual. Survives restarts
    /// and reloads; audited.
    Pause {
        /// The pairing (as named in the configuration).
        name: String,
        /// Why (kept in the audit log and shown by `pairings list`).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Deliver a paused pairing's waiting changes, in their order; audited.
    Resume {
        name: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
}

/// Runs one `pairings` subcommand.
pub async fn run(config: &Path, command: PairingsCommand) -> anyhow::Result<ExitCode> {
    match command {
        PairingsCommand::List => list(config).await,
        PairingsCommand::Pause { name, reason } => {
            step(config, &name, reason.as_deref(), true).await
        }
        PairingsCommand::Resume { name, reason } => {
            step(config, &name, reason.as_deref(), false).await
        }
    }
}

/// One line per pairing.
pub fn line(p: &PairingStatus) -> String {
    let state = if p.paused {
        let since = p
            .paused_since_unix_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "-".into());
        let why = p
            .paused_reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        format!("PAUSED since {since}{why}")
    } else {
        "running".to_string()
    };
    let connections = if p.configured {
        format!("{} -> {}", p.a, p.b)
    } else {
        "(no longer configured)".to_string()
    };
    format!(
        "{:<14} {:<28} links {:<5} pending {:<5} dead {:<4} {state}",
        p.name, connections, p.links, p.pending, p.dead
    )
}

async fn list(config: &Path) -> anyhow::Result<ExitCode> {
    let pairings: Vec<PairingStatus> = match connect(config).await? {
        Access::Local(engine) => status::pairings(&engine)?,
        remote @ Access::Remote { .. } => remote.get("/api/v1/pairings").await?,
    };
    if pairings.is_empty() {
        println!("no pairings");
    }
    for p in &pairings {
        println!("{}", line(p));
    }
    Ok(ExitCode::SUCCESS)
}

/// `pairings pause NAME` (`pause`) or `pairings resume NAME`.
async fn step(
    config: &Path,
    name: &str,
    reason: Option<&str>,
    pause: bool,
) -> anyhow::Result<ExitCode> {
    let done: Result<PauseView, String> = match connect(config).await? {
        Access::Local(engine) => {
            let result = if pause {
                engine.pause_pairing(name, reason).await
            } else {
                engine.resume_pairing(name, reason).await
            };
            result.map_err(|e| e.to_string())
        }
        remote @ Access::Remote { .. } => {
            let path = format!(
                "/api/v1/pairings/{}/{}",
                escape(name),
                if pause { "pause" } else { "resume" }
            );
            match remote.post(&path, &json!({ "reason": reason })).await? {
                Answer::Done(v) => Ok(serde_json::from_value(v)?),
                Answer::NotFound(m) | Answer::Refused(m) => Err(m),
            }
        }
    };
    match done {
        Ok(view) => {
            println!("{}", view.message);
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("{message}");
            Ok(ExitCode::from(1))
        }
    }
}
