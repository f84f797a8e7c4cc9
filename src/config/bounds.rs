//! Ranges for the numeric settings. Every number that becomes a `Duration`,
//! a semaphore's permits or a buffer size is checked here, so a hostile or
//! mistyped value (0, `u64::MAX`) is a configuration error naming the key,
//! the value and the allowed range, never a panic deep in tokio or hyper
//! (`Semaphore::new` above `MAX_PERMITS`, `Instant + Duration` overflow).

use std::ops::RangeInclusive;
use std::path::Path;

use super::error::key_line;
use super::{ConfigError, ConnectionConfig, DaemonConfig};

/// One numeric setting and the values it may take.
struct Bound {
    key: &'static str,
    value: u64,
    range: RangeInclusive<u64>,
    /// What the range protects, for the error message.
    why: &'static str,
}

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// The longest poll overlap window accepted: a week of re-reading is
/// already far more than any vendor's clock skew or delivery delay.
pub const MAX_POLL_OVERLAP_SECS: u64 = 7 * DAY;

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn daemon_bounds(daemon: &DaemonConfig) -> [Bound; 8] {
    [
        Bound {
            key: "header_read_timeout_secs",
            value: daemon.header_read_timeout_secs,
            range: 1..=HOUR,
            why: "seconds to send a request head",
        },
        Bound {
            key: "webhook_read_timeout_secs",
            value: daemon.webhook_read_timeout_secs,
            range: 1..=HOUR,
            why: "seconds to send a webhook body",
        },
        Bound {
            key: "max_connections",
            value: as_u64(daemon.max_connections),
            range: 1..=100_000,
            why: "open connections per listener",
        },
        Bound {
            key: "max_concurrent_webhooks",
            value: as_u64(daemon.max_concurrent_webhooks),
            range: 1..=100_000,
            why: "webhook requests at once",
        },
        Bound {
            key: "max_webhook_bytes",
            value: as_u64(daemon.max_webhook_bytes),
            range: 1024..=64 * 1024 * 1024,
            why: "bytes per webhook body",
        },
        Bound {
            key: "tick_ms",
            value: daemon.tick_ms,
            range: 10..=60_000,
            why: "milliseconds between idle checks",
        },
        Bound {
            key: "shutdown_timeout_secs",
            value: daemon.shutdown_timeout_secs,
            range: 1..=HOUR,
            why: "seconds a stopping daemon may take",
        },
        Bound {
            key: "store_cache_mb",
            value: daemon.store_cache_mb,
            range: 8..=16_384,
            why: "MiB of store page cache",
        },
    ]
}

fn connection_bounds(conn: &ConnectionConfig) -> Vec<Bound> {
    let mut bounds = vec![
        Bound {
            key: "poll_interval_secs",
            value: conn.poll_interval_secs,
            range: 1..=DAY,
            why: "seconds between polls",
        },
        Bound {
            key: "poll_overlap_secs",
            value: conn.poll_overlap_secs,
            range: 0..=MAX_POLL_OVERLAP_SECS,
            why: "seconds each poll re-reads (7 days at most)",
        },
        Bound {
            key: "webhook_check_interval_secs",
            value: conn.webhook_check_interval_secs,
            range: 1..=DAY,
            why: "seconds between webhook status checks",
        },
        Bound {
            key: "timeout_secs",
            value: conn.timeout_secs,
            range: 1..=HOUR,
            why: "seconds per vendor request",
        },
    ];
    if let Some(limits) = &conn.limits {
        bounds.extend([
            Bound {
                key: "limits.requests_per_second",
                value: limits.requests_per_second.into(),
                range: 1..=10_000,
                why: "vendor requests per second",
            },
            Bound {
                key: "limits.burst",
                value: limits.burst.into(),
                range: 1..=10_000,
                why: "requests above the sustained rate",
            },
            Bound {
                key: "limits.max_concurrent",
                value: limits.max_concurrent.into(),
                range: 1..=1_000,
                why: "vendor calls in flight",
            },
        ]);
        if let Some(per_hour) = limits.requests_per_hour {
            bounds.push(Bound {
                key: "limits.requests_per_hour",
                value: per_hour.into(),
                range: 1..=100_000_000,
                why: "vendor requests per hour",
            });
        }
    }
    bounds
}

/// The first bound of `bounds` that is broken, as an error at the key's line
/// in `table`.
fn check(path: &Path, text: &str, table: &str, bounds: &[Bound]) -> Result<(), ConfigError> {
    let Some(bad) = bounds.iter().find(|b| !b.range.contains(&b.value)) else {
        return Ok(());
    };
    // `limits.burst` is written as `burst` inside `[table.limits]` (or
    // inline as `limits = { ... }` on the table's own line).
    let line = match bad.key.split_once('.') {
        Some((sub, key)) => {
            key_line(text, &format!("{table}.{sub}"), key).or_else(|| key_line(text, table, sub))
        }
        None => key_line(text, table, bad.key),
    };
    Err(ConfigError::new(
        path,
        line,
        format!("{table}.{}", bad.key),
        format!(
            "{} is out of range: allowed {} to {} ({})",
            bad.value,
            bad.range.start(),
            bad.range.end(),
            bad.why
        ),
    ))
}

/// Checks `[daemon]`'s numeric settings.
pub(super) fn check_daemon(
    path: &Path,
    text: &str,
    daemon: &DaemonConfig,
) -> Result<(), ConfigError> {
    check(path, text, "daemon", &daemon_bounds(daemon))
}

/// Checks `[connections.NAME]`'s numeric settings.
pub(super) fn check_connection(
    path: &Path,
    text: &str,
    name: &str,
    conn: &ConnectionConfig,
) -> Result<(), ConfigError> {
    check(
        path,
        text,
        &format!("connections.{name}"),
        &connection_bounds(conn),
    )
}
