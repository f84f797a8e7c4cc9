//! The per-second quota on a fake clock (times handed to `Pacer::check`):
//! late wake-ups do not lower the rate, no window of a second (plus the
//! guard) ever holds more than `R + burst − 1` grants, a burst goes at once.

use std::time::Duration;

use tokio::time::Instant;

use super::{Pacer, GUARD};

/// A tiny deterministic generator (no dependency for two tests).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Callers always ready for `secs` seconds: after a grant the next asks at
/// once; told to wait, it asks again at that instant plus `late(n)` (the
/// timer's rounding, a busy machine). The grant times.
fn saturate(
    pacer: &mut Pacer,
    start: Instant,
    secs: u64,
    mut late: impl FnMut(usize) -> Duration,
) -> Vec<Instant> {
    let end = start + Duration::from_secs(secs);
    let mut now = start;
    let mut grants = Vec::new();
    while now < end {
        match pacer.check(now) {
            Ok(()) => grants.push(now),
            Err(at) => {
                assert!(at > now, "told to wait until a time already passed");
                now = at + late(grants.len());
            }
        }
    }
    grants
}

/// The most grants within any `window`.
fn most_within(grants: &[Instant], window: Duration) -> usize {
    let (mut best, mut start) = (0, 0);
    for end in 0..grants.len() {
        while grants[end].duration_since(grants[start]) >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// Every wake-up 1 ms late (a GCRA would lose that millisecond on every
/// call: 50/s became 47.6/s; the guard alone costs 2.5 %).
#[test]
fn late_wake_ups_do_not_lower_the_rate() {
    let (rate, secs) = (50u32, 20u64);
    let mut pacer = Pacer::new(rate, 1);
    let grants = saturate(&mut pacer, Instant::now(), secs, |_| {
        Duration::from_millis(1)
    });
    let share = grants.len() as f64 / (rate as u64 * secs) as f64;
    assert!(
        share >= 0.97,
        "{} grants in {secs} s at {rate}/s: {share:.3}",
        grants.len()
    );
    assert!(most_within(&grants, Duration::from_secs(1) + GUARD) <= rate as usize);
}

/// Lateness that varies from call to call (up to 15 ms at a 20 ms
/// period) is made up by the calls after it (a GCRA made 0.73 here).
#[test]
fn jittery_wake_ups_are_made_up() {
    let (rate, secs) = (50u32, 20u64);
    let mut pacer = Pacer::new(rate, 1);
    let mut rng = Lcg(7);
    let grants = saturate(&mut pacer, Instant::now(), secs, |_| {
        Duration::from_micros(rng.below(15_000))
    });
    let share = grants.len() as f64 / (rate as u64 * secs) as f64;
    assert!(
        share >= 0.95,
        "{} grants in {secs} s at {rate}/s: {share:.3}",
        grants.len()
    );
}

/// Whatever the callers do (late by up to 40 ms, idle for up to 3 s, then
/// all at once), no window of a second plus the guard holds more than
/// `R + burst − 1` grants.
#[test]
fn never_more_than_the_rate_in_any_second() {
    for (rate, burst) in [
        (1u32, 1u32),
        (4, 2),
        (10, 1),
        (50, 1),
        (50, 5),
        (1000, 1000),
    ] {
        let mut pacer = Pacer::new(rate, burst);
        let mut rng = Lcg(rate as u64 * 31 + burst as u64);
        let grants = saturate(&mut pacer, Instant::now(), 60, |n| {
            if rng.below(20) == 0 {
                Duration::from_millis(rng.below(3_000))
            } else if n % 7 == 0 {
                Duration::from_millis(rng.below(40))
            } else {
                Duration::ZERO
            }
        });
        let cap = (rate + burst - 1) as usize;
        let most = most_within(&grants, Duration::from_secs(1) + GUARD);
        assert!(
            most <= cap,
            "{rate}/s burst {burst}: {most} grants in one window"
        );
    }
}

/// After idling, `burst` calls go at once; the next waits for its slot.
#[test]
fn a_burst_goes_at_once_then_calls_are_spaced() {
    let t0 = Instant::now();
    let mut pacer = Pacer::new(4, 2);
    assert_eq!(pacer.check(t0), Ok(()));
    assert_eq!(pacer.check(t0), Ok(()));
    let next = pacer.check(t0).expect_err("a third call at once");
    assert_eq!(next, t0 + Duration::from_millis(250));
    // Idle for a long while: no credit banked beyond the burst.
    let later = t0 + Duration::from_secs(30);
    assert_eq!(pacer.check(later), Ok(()));
    assert_eq!(pacer.check(later), Ok(()));
    assert!(pacer.check(later).is_err());
}
