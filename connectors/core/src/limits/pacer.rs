//! The per-second quota of a connection's limiter: never more than
//! `R + burst − 1` calls in any one second as the vendor counts them ("R
//! calls in any second"), spaced evenly after `burst` at once.
//!
//! Why not a plain GCRA (governor's `Quota::per_second`) with burst 1: it
//! schedules the next call one period after the *actual* previous one, so
//! every wake-up that comes late (tokio's timer has millisecond resolution
//! and rounds up; a loaded machine adds more) pushes every later call back
//! by as much, for good. Against a ConnectWise simulator enforcing R the
//! bridge limited to R made only 0.92–0.95 R (`docs/performance.md`,
//! `drain`): inter-call gaps of 21–23 ms instead of 20. It kept clear of
//! 429s only thanks to that loss: nothing in it allowed for a call that
//! reaches the vendor later than the one after it left.
//!
//! Here the bound is a log of when calls *finished* (the answer read, or
//! the call given up): a call may start only while fewer than
//! `R + burst − 1` calls are in flight or finished less than a second ago.
//! The vendor counts a call at some instant between its start and its
//! answer, so two calls `R + burst − 1` apart in this order are always
//! more than a second apart at the vendor, however the network delays
//! either (a limit on start times alone cannot promise that). A late
//! wake-up delays only that call, not the calls after it. The price is
//! the answer time: a second plus the vendor's latency per `R` calls when
//! the log binds (about 1 % against a local simulator; against a vendor
//! answering in 300 ms, calls in flight are usually the tighter bound).
//! Calls are also kept to a grid of slots `1/R` apart (after `burst` at
//! once), so a burst is spread over the second: a call at most one period
//! late stays on the grid (the next may go a little sooner); further
//! behind (idle), the grid starts again from now, so no credit is banked.
//!
//! Time is `tokio::time::Instant`, handed to [`Pacer::check`] and
//! [`Pacer::finish`], so tests drive it with a fake clock.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The vendor's window.
const SECOND: Duration = Duration::from_secs(1);

/// The per-second quota's state (behind a mutex in [`super::RateLimiter`]).
#[derive(Debug)]
pub struct Pacer {
    /// Between two slots of the grid: a second over R.
    period: Duration,
    /// How far ahead of its slot a call may go: `(burst − 1)` periods.
    tolerance: Duration,
    /// Calls allowed in any second: `R + burst − 1`.
    cap: usize,
    /// The next call's slot (the theoretical arrival time of GCRA).
    next: Option<Instant>,
    /// Calls started and not finished.
    in_flight: usize,
    /// When calls finished, within the last second, oldest first.
    finished: VecDeque<Instant>,
}

/// Why a call may not start yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Ask again at this instant.
    Until(Instant),
    /// Every call counted is still in flight: ask again when one finishes.
    Finish,
}

impl Pacer {
    /// A quota of `per_second` calls with `burst` allowed at once (both at
    /// least 1).
    pub fn new(per_second: u32, burst: u32) -> Self {
        let rate = per_second.max(1);
        let burst = burst.max(1);
        let cap = rate.saturating_add(burst - 1) as usize;
        Self {
            period: SECOND / rate,
            tolerance: (SECOND / rate).saturating_mul(burst - 1),
            cap,
            next: None,
            in_flight: 0,
            finished: VecDeque::with_capacity(cap.min(4096)),
        }
    }

    /// Starts one call at `now` (then [`Self::finish`] it), or says when
    /// to ask again.
    pub fn check(&mut self, now: Instant) -> Result<(), Wait> {
        while let Some(&oldest) = self.finished.front() {
            if now.saturating_duration_since(oldest) < SECOND {
                break;
            }
            self.finished.pop_front();
        }
        if self.in_flight + self.finished.len() >= self.cap {
            return Err(match self.finished.front() {
                Some(&oldest) => Wait::Until(oldest + SECOND),
                None => Wait::Finish,
            });
        }
        let slot = self.next.unwrap_or(now);
        if now + self.tolerance < slot {
            return Err(Wait::Until(slot - self.tolerance));
        }
        // On the grid while at most one period late; further behind, the
        // grid starts again from now (no credit is banked while idle).
        let base = if now <= slot + self.period { slot } else { now };
        self.next = Some(base + self.period);
        self.in_flight += 1;
        Ok(())
    }

    /// A call started by [`Self::check`] finished at `now` (answered, failed
    /// or given up): it counts until a second after.
    pub fn finish(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        // Finish times are taken under the lock, so they arrive in order;
        // an earlier one (a caller's clock) is kept in order all the same.
        let at = self.finished.back().map_or(now, |&last| now.max(last));
        self.finished.push_back(at);
    }
}

#[cfg(test)]
#[path = "pacer_tests.rs"]
mod tests;
