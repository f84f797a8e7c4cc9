//! `latency`: one change at a time on a linked ticket, both simulators
//! answering every call after 100 ms as real vendors do. First with
//! webhooks (the daemon also polls, every `poll` seconds), then with the
//! simulators' webhooks and callbacks switched off, so only polling brings
//! changes in. A change is an Autotask priority move; it has arrived when
//! ConnectWise shows the mapped priority (checked every 5 ms). Polling
//! changes are made at spread-out moments of the poll cycle.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::daemon::Daemon;
use crate::report::{percentile_ms, Report, Size};
use crate::setup;

/// The simulated vendor latency (the figure).
pub const VENDOR_LATENCY: Duration = Duration::from_millis(100);
/// Autotask priorities and the ConnectWise ones the mapping pairs them with.
const PRIORITIES: [(&str, &str); 4] = [
    ("High", "Priority 2 - Quick Response"),
    ("Critical", "Priority 1 - Emergency Response"),
    ("Low", "Priority 4 - Schedule Maintenance"),
    ("Medium", "Priority 3 - Normal Response"),
];

pub async fn run(size: Size, binary: &Path) -> Result<Report> {
    let webhook_samples = size.pick(100, 20, 3);
    let poll_samples = size.pick(20, 4, 2);
    let poll_secs = size.pick(5, 5, 2);
    let dir = setup::WorkDir::new()?;
    let env = setup::start(dir.path(), setup::options(poll_secs, setup::OPEN_LIMITS)).await?;
    let daemon = Daemon::spawn(binary, &env.config_path).await?;
    let link = setup::link(&env, &daemon, 1).await?[0];
    for control in [env.autotask.control(), env.connectwise.control()] {
        control.set_latency(VENDOR_LATENCY);
    }
    let limit = Duration::from_secs(poll_secs * 3 + 30);
    let mut turn = 0;
    let change = |turn: &mut usize| {
        let (at, cw) = PRIORITIES[*turn % PRIORITIES.len()];
        *turn += 1;
        env.autotask.user_set_priority(link.autotask, at);
        cw
    };
    let arrived = |expected: &str| {
        env.connectwise
            .ticket(link.connectwise)
            .is_some_and(|t| t.priority == expected)
            .then_some(())
    };

    let mut webhook = Vec::new();
    for _ in 0..webhook_samples {
        let begin = Instant::now();
        let expected = change(&mut turn);
        setup::wait_for("the priority in ConnectWise", limit, || arrived(expected)).await?;
        webhook.push(begin.elapsed());
    }

    env.autotask.set_webhooks_enabled(false);
    env.connectwise.set_callbacks_enabled(false);
    let mut polled = Vec::new();
    for n in 0..poll_samples {
        // Spread the changes over the poll cycle.
        let offset = Duration::from_secs(poll_secs) * n as u32 / poll_samples as u32;
        tokio::time::sleep(offset).await;
        let begin = Instant::now();
        let expected = change(&mut turn);
        setup::wait_for("the polled priority in ConnectWise", limit, || {
            arrived(expected)
        })
        .await?;
        polled.push(begin.elapsed());
    }
    daemon.stop().await?;

    let p99 = percentile_ms(&mut webhook, 99.0);
    let poll_p99 = percentile_ms(&mut polled, 99.0);
    let poll_ms = poll_secs as f64 * 1000.0;
    let mut report = Report::new("latency", size);
    report.note(format!(
        "{webhook_samples} Autotask priority changes one at a time with webhooks, then \
         {poll_samples} with polling only (every {poll_secs} s); simulators answer after {} ms",
        VENDOR_LATENCY.as_millis()
    ));
    report.figure("latency_p50_ms", percentile_ms(&mut webhook, 50.0));
    report.figure("latency_p99_ms", p99);
    report.figure("poll_latency_p50_ms", percentile_ms(&mut polled, 50.0));
    report.figure("poll_latency_p99_ms", poll_p99);
    report.figure("poll_interval_ms", poll_ms);
    report.target("latency_p99_ms < 1000 (webhooks)", p99 < 1000.0);
    report.target(
        format!(
            "poll_latency_p99_ms < poll interval + 1000 ({})",
            poll_ms + 1000.0
        ),
        poll_p99 < poll_ms + 1000.0,
    );
    Ok(report)
}
