//! The per-second quota of a connection's limiter: calls spaced evenly at
//! the configured rate R, and never more than `R + burst − 1` of them in
//! any one second as a vendor counts them ("R calls in any second").
//!
//! Why not a plain GCRA (governor's `Quota::per_second`) with burst 1: it
//! schedules the next call one period after the *actual* previous one, so
//! every wake-up that comes late (tokio's timer has millisecond resolution
//! and rounds up; a loaded machine adds more) pushes every later call back
//! by as much, for good. Against a ConnectWise simulator enforcing R the
//! bridge limited to R made only 0.92–0.95 R (`docs/performance.md`,
//! `drain`): inter-call gaps of 21–23 ms instead of 20.
//!
//! Here the hard bound is a log of the grant times: at most
//! `R + burst − 1` grants in any window of one second plus [`GUARD`]; a
//! call waits until the oldest grant of the window leaves it, and a late
//! wake-up delays only that call's own place in the next second, not every
//! call after it. The guard leaves room for calls that reach the vendor a
//! few milliseconds out of step with their grants (transit, scheduling), so
//! they still fit in the vendor's second; its price is 2.5 % of the rate.
//! Calls are also kept to a grid of slots `1/R` apart (after `burst` at
//! once): a burst is spread over the second instead of going all at once.
//! A call at most one period late stays on the grid (the next may go a
//! little sooner); further behind (idle), the grid starts again from now,
//! so no credit is banked while idle.
//!
//! Time is `tokio::time::Instant`, so tests drive it with a paused clock;
//! the state machine ([`Pacer::check`]) takes the time as an argument.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Added to the one-second window the grant log is counted over.
pub const GUARD: Duration = Duration::from_millis(25);

/// The per-second quota's state (behind a mutex in [`super::RateLimiter`]).
#[derive(Debug)]
pub struct Pacer {
    /// Between two slots of the grid: a second over R.
    period: Duration,
    /// How far ahead of its slot a call may go: `(burst − 1)` periods.
    tolerance: Duration,
    /// One second plus [`GUARD`].
    window: Duration,
    /// Grants allowed in any `window`: `R + burst − 1`.
    cap: usize,
    /// The next call's slot (the theoretical arrival time of GCRA).
    next: Option<Instant>,
    /// Grant times within the last `window`, oldest first.
    granted: VecDeque<Instant>,
}

impl Pacer {
    /// A quota of `per_second` calls with `burst` allowed at once (both at
    /// least 1).
    pub fn new(per_second: u32, burst: u32) -> Self {
        let rate = per_second.max(1);
        let burst = burst.max(1);
        let window = Duration::from_secs(1) + GUARD;
        let cap = rate.saturating_add(burst - 1) as usize;
        Self {
            period: Duration::from_secs(1) / rate,
            tolerance: (Duration::from_secs(1) / rate).saturating_mul(burst - 1),
            window,
            cap,
            next: None,
            granted: VecDeque::with_capacity(cap.min(4096)),
        }
    }

    /// Grants one call at `now`, or says when to ask again.
    pub fn check(&mut self, now: Instant) -> Result<(), Instant> {
        while let Some(&oldest) = self.granted.front() {
            if now.saturating_duration_since(oldest) < self.window {
                break;
            }
            self.granted.pop_front();
        }
        if self.granted.len() >= self.cap {
            if let Some(&oldest) = self.granted.front() {
                return Err(oldest + self.window);
            }
        }
        let slot = self.next.unwrap_or(now);
        if now + self.tolerance < slot {
            return Err(slot - self.tolerance);
        }
        // On the grid while at most one period late; further behind, the
        // grid starts again from now (no credit is banked while idle).
        let base = if now <= slot + self.period { slot } else { now };
        self.next = Some(base + self.period);
        self.granted.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
#[path = "pacer_tests.rs"]
mod tests;
