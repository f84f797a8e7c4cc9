//! `sync`: linked tickets (1,000 at full size) take changes (10,000) on
//! both sides at once, as fast as the bench can make them: Autotask title
//! edits and public notes, ConnectWise status moves and discussion notes,
//! with zero-latency simulators. A change counts as applied when the far
//! side shows it (a later edit of the same field showing also applies the
//! ones it superseded: the bridge carries the latest value); simulator
//! state is checked every 20 ms. Calls are every request the two
//! simulators answered from the first change until the daemon is idle
//! again (pollers run every 60 s, so at most a poll round or two is in it).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use psa_connectwise::sim::SimNoteKind;

use crate::daemon::Daemon;
use crate::report::{percentile_ms, Report, Size};
use crate::setup::{self, Linked};

/// ConnectWise statuses the bench moves tickets to, in turn (never the
/// escalated ticket's "New", and at most these two per ticket, so a far
/// value names exactly one change).
const STATUSES: [&str; 2] = ["In Progress", "Waiting Customer"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    AutotaskTitle,
    AutotaskNote,
    ConnectWiseStatus,
    ConnectWiseNote,
}

/// One injected change.
struct Change {
    ticket: usize,
    kind: Kind,
    /// The title or status set, or the note's unique text.
    value: String,
    made: Instant,
    seen: Option<Instant>,
}

pub async fn run(size: Size, binary: &Path) -> Result<Report> {
    let tickets = size.pick(1_000, 200, 4);
    let count = size.pick(10_000, 2_000, 24);
    let dir = setup::WorkDir::new()?;
    let env = setup::start(dir.path(), setup::options(60, setup::OPEN_LIMITS)).await?;
    let daemon = Daemon::spawn(binary, &env.config_path).await?;
    let linking = Instant::now();
    let linked = setup::link(&env, &daemon, tickets).await?;
    let link_secs = linking.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut changes = inject(&env, &linked, count).await;
    let limit = Duration::from_secs(size.pick(900, 300, 120));
    while changes.iter().any(|c| c.seen.is_none()) {
        if start.elapsed() > limit {
            let left = changes.iter().filter(|c| c.seen.is_none()).count();
            bail!("{left} of {count} changes not on the far side after {limit:?}");
        }
        observe(&env, &linked, &mut changes);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    daemon.wait_idle(limit).await?;
    env.wait_webhooks_idle().await;
    let end = Instant::now();
    let at_calls = setup::calls(&env.autotask.control(), start, end);
    let cw_calls = setup::calls(&env.connectwise.control(), start, end);
    let calls = at_calls + cw_calls;
    let endpoints = [
        (
            "autotask",
            setup::calls_by_endpoint(&env.autotask.control(), start, end),
        ),
        (
            "connectwise",
            setup::calls_by_endpoint(&env.connectwise.control(), start, end),
        ),
    ];
    daemon.stop().await?;

    let last = changes.iter().filter_map(|c| c.seen).max().unwrap_or(start);
    let per_s = count as f64 / last.duration_since(start).as_secs_f64().max(1e-3);
    let mut latencies: Vec<Duration> = changes
        .iter()
        .filter_map(|c| c.seen.map(|s| s.duration_since(c.made)))
        .collect();
    let reads = calls.reads as f64 / count as f64;
    let writes = calls.writes as f64 / count as f64;
    let mut report = Report::new("sync", size);
    report.note(format!(
        "{tickets} linked tickets, {count} changes made at once on both sides (Autotask titles \
         and notes, ConnectWise statuses and notes), zero-latency simulators"
    ));
    report.note(format!(
        "linking the {tickets} tickets first (escalation, {} at a time) took {link_secs:.1} s",
        setup::LINK_BATCH
    ));
    report.note(format!(
        "calls: {} reads, {} writes, {} answered 429 (both simulators, first change to idle)",
        calls.reads, calls.writes, calls.http_429
    ));
    for (vendor, counts) in endpoints {
        let listed: Vec<String> = counts
            .iter()
            .map(|(endpoint, n)| format!("{endpoint} {:.2}", *n as f64 / count as f64))
            .collect();
        report.note(format!(
            "{vendor} calls per change by endpoint: {}",
            listed.join(", ")
        ));
    }
    report.figure("changes_per_s", per_s);
    report.figure("latency_p50_ms", percentile_ms(&mut latencies, 50.0));
    report.figure("latency_p99_ms", percentile_ms(&mut latencies, 99.0));
    report.figure("reads_per_change", reads);
    report.figure("writes_per_change", writes);
    // Per vendor, for its API budget (docs/performance.md).
    let per_change = |c: setup::Calls| (c.reads + c.writes) as f64 / count as f64;
    report.figure("autotask_calls_per_change", per_change(at_calls));
    report.figure("connectwise_calls_per_change", per_change(cw_calls));
    report.target("changes_per_s >= 2000", per_s >= 2000.0);
    report.target("reads + writes per change <= 1.5", reads + writes <= 1.5);
    Ok(report)
}

/// Makes `count` changes spread over the linked tickets, wave after wave.
async fn inject(env: &psa_bridge::demo::DemoEnv, linked: &[Linked], count: usize) -> Vec<Change> {
    let mut statuses_set = vec![0usize; linked.len()];
    let mut changes = Vec::with_capacity(count);
    for n in 0..count {
        let (ticket, wave) = (n % linked.len(), n / linked.len());
        let link = linked[ticket];
        let mut kind = match (ticket + wave) % 4 {
            0 => Kind::AutotaskTitle,
            1 => Kind::AutotaskNote,
            2 => Kind::ConnectWiseStatus,
            _ => Kind::ConnectWiseNote,
        };
        if kind == Kind::ConnectWiseStatus && statuses_set[ticket] >= STATUSES.len() {
            kind = Kind::ConnectWiseNote;
        }
        let made = Instant::now();
        let value = match kind {
            Kind::AutotaskTitle => {
                let title = format!("Bench ticket {ticket} edit {wave}");
                let description = "Created by the benchmark.";
                env.autotask
                    .user_set_text(link.autotask, &title, description);
                title
            }
            Kind::AutotaskNote => {
                let text = format!("bench note a{ticket}.{wave}");
                env.autotask
                    .user_add_note(link.autotask, &text, false, "Bench Technician");
                text
            }
            Kind::ConnectWiseStatus => {
                let status = STATUSES[statuses_set[ticket]];
                statuses_set[ticket] += 1;
                env.connectwise.user_set_status(link.connectwise, status);
                status.to_string()
            }
            Kind::ConnectWiseNote => {
                let text = format!("bench note b{ticket}.{wave}");
                env.connectwise.user_add_note(
                    link.connectwise,
                    &text,
                    SimNoteKind::Discussion,
                    "jsmith",
                );
                text
            }
        };
        changes.push(Change {
            ticket,
            kind,
            value,
            made,
            seen: None,
        });
        if n % linked.len() == linked.len() - 1 {
            tokio::task::yield_now().await;
        }
    }
    changes
}

/// Marks the changes the far side shows now.
fn observe(env: &psa_bridge::demo::DemoEnv, linked: &[Linked], changes: &mut [Change]) {
    let now = Instant::now();
    let mut pending: Vec<usize> = changes
        .iter()
        .filter(|c| c.seen.is_none())
        .map(|c| c.ticket)
        .collect();
    pending.dedup();
    pending.sort_unstable();
    pending.dedup();
    for ticket in pending {
        let link = linked[ticket];
        let (Some(at), Some(cw)) = (
            env.autotask.ticket(link.autotask),
            env.connectwise.ticket(link.connectwise),
        ) else {
            continue;
        };
        let at_notes = env.autotask.notes(link.autotask);
        let cw_notes = env.connectwise.notes(link.connectwise);
        let mine = |c: &Change| c.ticket == ticket;
        // Fields: the far value names one change; it and those before it are applied.
        for (kind, far) in [
            (Kind::AutotaskTitle, cw.summary.as_str()),
            (Kind::ConnectWiseStatus, at.status.as_str()),
        ] {
            let shown = changes
                .iter()
                .rposition(|c| mine(c) && c.kind == kind && far == c.value);
            if let Some(last) = shown {
                for c in changes[..=last]
                    .iter_mut()
                    .filter(|c| c.ticket == ticket && c.kind == kind && c.seen.is_none())
                {
                    c.seen = Some(now);
                }
            }
        }
        for c in changes
            .iter_mut()
            .filter(|c| c.ticket == ticket && c.seen.is_none())
        {
            let shown = match c.kind {
                Kind::AutotaskNote => cw_notes.iter().any(|n| n.text.contains(&c.value)),
                Kind::ConnectWiseNote => at_notes.iter().any(|n| n.text.contains(&c.value)),
                _ => false,
            };
            if shown {
                c.seen = Some(now);
            }
        }
    }
}
