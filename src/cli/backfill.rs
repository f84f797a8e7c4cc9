//! `psa-bridge backfill --pairing P --since DATE [--dry-run] [--json]`:
//! links the trigger side's tickets that met the trigger before the bridge
//! saw them ([`psa_bridge::backfill`]). While the daemon runs (it holds the
//! store) the work is done by the daemon through `POST /api/v1/backfill`
//! with the admin token; otherwise the CLI opens the store itself and runs
//! its own planner for the escalations, whose creates the daemon delivers
//! when it starts. A progress bar goes to stderr when it is a terminal; each
//! ticket's line and the summary go to stdout (`--json`: one JSON document
//! at the end).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use psa_bridge::backfill::{parse_since, BackfillRequest, Event, Summary, TicketOutcome};
use psa_bridge::engine::Engine;

use super::access::{self, Access};

/// Runs the command; exit 0 when every ticket was handled, 1 when some failed
/// or the run was cut short.
pub async fn backfill(
    config: &Path,
    pairing: &str,
    since: &str,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let since = parse_since(since).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let loaded = access::load_for_inspection(config)?;
    if !loaded.pairings.iter().any(|p| p.name == pairing) {
        let names: Vec<&str> = loaded.pairings.iter().map(|p| p.name.as_str()).collect();
        anyhow::bail!(
            "no pairing {pairing:?} in {}; configured pairings: {}",
            config.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    }
    let request = BackfillRequest {
        pairing: pairing.to_string(),
        since,
        dry_run,
    };
    let mut report = Report::new(json, dry_run);
    let summary = match access::connect(config).await? {
        Access::Local(engine) => local(engine, &request, &mut report).await?,
        Access::Remote { base, client } => remote(&base, &client, &request, &mut report).await?,
    };
    report.finish(&summary)?;
    Ok(if summary.failed == 0 && !summary.interrupted {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The daemon is not running: plan here, with a planner of our own.
async fn local(
    engine: Arc<Engine>,
    request: &BackfillRequest,
    report: &mut Report,
) -> anyhow::Result<Summary> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let planner = tokio::spawn(psa_bridge::engine::run_planner(
        engine.clone(),
        Duration::from_millis(200),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut on_event = |event: Event| {
        report.event(&event);
        true
    };
    let result = engine.backfill(request, &mut on_event).await;
    let _ = stop.send(());
    let _ = planner.await;
    engine.store.flush().await?;
    Ok(result?)
}

/// The daemon holds the store: it runs the backfill and streams events.
async fn remote(
    base: &str,
    client: &reqwest::Client,
    request: &BackfillRequest,
    report: &mut Report,
) -> anyhow::Result<Summary> {
    let url = format!("{base}/api/v1/backfill");
    let mut response = client
        .post(&url)
        .json(&serde_json::json!({
            "pairing": request.pairing,
            "since": request.since.to_rfc3339(),
            "dry_run": request.dry_run,
        }))
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
            .unwrap_or(body);
        return Err(access::refusal(status, &message));
    }
    let mut buffer = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .context("the daemon's answer was cut off; run the backfill again to complete it")?
    {
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let event: Event = serde_json::from_slice(&line)
                .context("the daemon sent a backfill event this version does not understand")?;
            match event {
                Event::Summary { summary } => return Ok(summary),
                Event::Error { error } => anyhow::bail!("backfill failed in the daemon: {error}"),
                other => report.event(&other),
            }
        }
    }
    anyhow::bail!(
        "the daemon's answer ended without a summary; run the backfill again to complete it"
    )
}

/// Prints progress and results.
struct Report {
    json: bool,
    dry_run: bool,
    bar: Option<ProgressBar>,
    tickets: Vec<TicketOutcome>,
}

impl Report {
    fn new(json: bool, dry_run: bool) -> Self {
        Self {
            json,
            dry_run,
            bar: None,
            tickets: Vec::new(),
        }
    }

    fn event(&mut self, event: &Event) {
        match event {
            Event::Listed { total } => {
                if std::io::stderr().is_terminal() {
                    let bar = ProgressBar::new(*total as u64);
                    if let Ok(style) = ProgressStyle::with_template(
                        "{bar:40} {pos}/{len} tickets {elapsed} (eta {eta})",
                    ) {
                        bar.set_style(style);
                    }
                    self.bar = Some(bar);
                }
            }
            Event::Ticket { ticket } => {
                if !self.json {
                    let line = self.line(ticket);
                    match &self.bar {
                        Some(bar) => bar.suspend(|| println!("{line}")),
                        None => println!("{line}"),
                    }
                }
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                self.tickets.push(ticket.clone());
            }
            Event::Summary { .. } | Event::Error { .. } => {}
        }
    }

    fn line(&self, t: &TicketOutcome) -> String {
        let mut line = format!(
            "{} ticket {} {:?}: {}",
            t.connection,
            t.number,
            t.title,
            t.decision.describe(self.dry_run)
        );
        if let Some(far) = &t.far_ticket {
            line.push_str(&format!(" (far ticket {far})"));
        }
        if let Some(link) = t.link {
            line.push_str(&format!(" [link {link}]"));
        }
        if let Some(detail) = &t.detail {
            line.push_str(&format!(": {detail}"));
        }
        line
    }

    fn finish(&mut self, s: &Summary) -> anyhow::Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.json {
            let doc = serde_json::json!({ "tickets": self.tickets, "summary": s });
            println!("{}", serde_json::to_string_pretty(&doc)?);
            return Ok(());
        }
        let what = if s.dry_run {
            "dry run, nothing written"
        } else {
            "done"
        };
        println!(
            "backfill of pairing {} ({} tickets changed since {}; {what}):",
            s.pairing,
            s.connection,
            s.since.map(|t| t.to_rfc3339()).unwrap_or_default()
        );
        let (linked, escalated) = if s.dry_run {
            ("would link by marker", "would escalate")
        } else {
            ("linked by marker", "escalated")
        };
        println!(
            "  found {}, matched trigger {}, already linked {}, not matching {}, {linked} {}, {escalated} {}, failed {}",
            s.found, s.matched, s.already_linked, s.not_matched, s.linked_by_marker, s.escalated, s.failed
        );
        for failure in &s.failures {
            println!("  failed: {failure}");
        }
        if s.interrupted {
            println!("  interrupted: run it again to complete it");
        }
        Ok(())
    }
}
