//! The per-second quota on a fake clock (times handed to `Pacer::check`
//! and `Pacer::finish`): late wake-ups do not lower the rate; however the
//! network delays calls, the vendor never counts more than `R + burst − 1`
//! in any second; a burst goes at once, then calls are spaced.

use std::time::Duration;

use tokio::time::Instant;

use super::{Pacer, Wait};

/// A tiny deterministic generator (no dependency for a few tests).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// One call as the test saw it.
struct Call {
    start: Instant,
    /// When the vendor counted it: somewhere between start and answer.
    counted: Instant,
}

/// Callers always ready for `secs` seconds, `concurrent` calls at most in
/// flight. A call lasts `latency(n)` and the vendor counts it at
/// `counted(n)` of that (0.0 at its start, 1.0 at its answer). Told to
/// wait, a caller asks again at that instant plus `late(n)` (the timer's
/// rounding, a busy machine).
struct Run<L, D, C> {
    secs: u64,
    concurrent: usize,
    late: L,
    latency: D,
    counted: C,
}

impl<L, D, C> Run<L, D, C>
where
    L: FnMut(usize) -> Duration,
    D: FnMut(usize) -> Duration,
    C: FnMut(usize) -> f64,
{
    fn calls(mut self, pacer: &mut Pacer) -> Vec<Call> {
        let start = Instant::now();
        let end = start + Duration::from_secs(self.secs);
        let mut now = start;
        let mut in_flight: Vec<Instant> = Vec::new();
        let mut calls = Vec::new();
        let mut retry: Option<Instant> = Some(now);
        while now < end {
            in_flight.sort();
            while in_flight.first().is_some_and(|&f| f <= now) {
                pacer.finish(in_flight.remove(0));
            }
            if in_flight.len() < self.concurrent && retry.is_some_and(|r| r <= now) {
                match pacer.check(now) {
                    Ok(()) => {
                        let n = calls.len();
                        let latency = (self.latency)(n);
                        let counted = latency.mul_f64((self.counted)(n).clamp(0.0, 1.0));
                        in_flight.push(now + latency);
                        calls.push(Call {
                            start: now,
                            counted: now + counted,
                        });
                        retry = Some(now);
                        continue;
                    }
                    Err(Wait::Until(at)) => {
                        assert!(at > now, "told to wait until a time already passed");
                        retry = Some(at + (self.late)(calls.len()));
                    }
                    Err(Wait::Finish) => {
                        assert!(
                            !in_flight.is_empty(),
                            "waits for a finish with none in flight"
                        );
                        retry = None;
                    }
                }
            }
            let next_finish = in_flight.iter().min().copied();
            now = match (retry.filter(|&r| r > now), next_finish) {
                (Some(r), Some(f)) => r.min(f),
                (Some(r), None) => r,
                (None, Some(f)) => {
                    retry = Some(f);
                    f
                }
                (None, None) => panic!("nothing left to wait for"),
            };
        }
        calls
    }
}

/// The most instants within any one second, as the simulators count.
fn most_in_a_second(mut times: Vec<Instant>) -> usize {
    times.sort();
    let (mut best, mut start) = (0, 0);
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= Duration::from_secs(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

fn share(calls: &[Call], rate: u32, secs: u64) -> f64 {
    calls.len() as f64 / (rate as u64 * secs) as f64
}

/// Every wake-up 1 ms late, calls answered in 0.5 ms: a GCRA lost that
/// millisecond on every call (50/s became 47.6/s, 0.95).
#[test]
fn late_wake_ups_do_not_lower_the_rate() {
    let (rate, secs) = (50u32, 20u64);
    let calls = Run {
        secs,
        concurrent: 3,
        late: |_| Duration::from_millis(1),
        latency: |_| Duration::from_micros(500),
        counted: |_| 0.5,
    }
    .calls(&mut Pacer::new(rate, 1));
    let share = share(&calls, rate, secs);
    assert!(
        share >= 0.97,
        "{} calls in {secs} s at {rate}/s: {share:.3}",
        calls.len()
    );
}

/// Lateness that varies from call to call (up to 15 ms at a 20 ms period)
/// is made up by the calls after it (a GCRA made 0.73 here).
#[test]
fn jittery_wake_ups_are_made_up() {
    let (rate, secs) = (50u32, 20u64);
    let mut rng = Lcg(7);
    let calls = Run {
        secs,
        concurrent: 3,
        late: |_| Duration::from_micros(rng.below(15_000)),
        latency: |_| Duration::from_micros(500),
        counted: |_| 0.5,
    }
    .calls(&mut Pacer::new(rate, 1));
    let share = share(&calls, rate, secs);
    assert!(
        share >= 0.95,
        "{} calls in {secs} s at {rate}/s: {share:.3}",
        calls.len()
    );
}

/// Whatever the callers and the network do (wake-ups late by up to 40 ms,
/// idle for up to 3 s; calls answered in 0–300 ms and counted by the
/// vendor anywhere in that time, so a call can reach the vendor after the
/// one started after it), the vendor never counts more than
/// `R + burst − 1` calls in a second. Limiting start times alone (a GCRA,
/// or a log of starts) fails this as soon as one call is delayed more than
/// the call `R` after it.
#[test]
fn the_vendor_never_counts_more_than_the_rate_in_a_second() {
    let cases = [
        (1u32, 1u32),
        (4, 2),
        (10, 1),
        (50, 1),
        (50, 5),
        (1000, 1000),
    ];
    for (rate, burst) in cases {
        for concurrent in [1usize, 3, 64] {
            let mut rng = Lcg(rate as u64 * 31 + burst as u64 + concurrent as u64);
            let mut jitter = Lcg(rate as u64 + 99);
            let mut place = Lcg(concurrent as u64 + 5);
            let calls = Run {
                secs: 30,
                concurrent,
                late: |n| {
                    if rng.below(40) == 0 {
                        Duration::from_millis(rng.below(3_000))
                    } else if n % 7 == 0 {
                        Duration::from_millis(rng.below(40))
                    } else {
                        Duration::ZERO
                    }
                },
                latency: |_| Duration::from_micros(jitter.below(300_000)),
                counted: |_| place.below(1_001) as f64 / 1000.0,
            }
            .calls(&mut Pacer::new(rate, burst));
            let cap = (rate + burst - 1) as usize;
            let most = most_in_a_second(calls.iter().map(|c| c.counted).collect());
            assert!(
                most <= cap,
                "{rate}/s burst {burst}, {concurrent} in flight: the vendor counted {most} in a second"
            );
            let starts = most_in_a_second(calls.iter().map(|c| c.start).collect());
            assert!(
                starts <= cap,
                "{rate}/s burst {burst}: {starts} started in a second"
            );
        }
    }
}

/// After idling, `burst` calls go at once; the next waits for its slot;
/// with the whole allowance in flight the next waits for a call to finish.
#[test]
fn a_burst_goes_at_once_then_calls_are_spaced() {
    let t0 = Instant::now();
    let mut pacer = Pacer::new(4, 2);
    assert_eq!(pacer.check(t0), Ok(()));
    assert_eq!(pacer.check(t0), Ok(()));
    assert_eq!(
        pacer.check(t0),
        Err(Wait::Until(t0 + Duration::from_millis(250)))
    );
    // Idle for a long while: no credit banked beyond the burst.
    let later = t0 + Duration::from_secs(30);
    pacer.finish(later);
    pacer.finish(later);
    assert_eq!(pacer.check(later), Ok(()));
    assert_eq!(pacer.check(later), Ok(()));
    assert!(pacer.check(later).is_err());
    // One call a second, one in flight: the next waits for its answer,
    // then a second after it.
    let mut single = Pacer::new(1, 1);
    assert_eq!(single.check(t0), Ok(()));
    let answered = t0 + Duration::from_millis(1500);
    assert_eq!(single.check(answered), Err(Wait::Finish));
    single.finish(answered);
    assert_eq!(
        single.check(answered),
        Err(Wait::Until(answered + Duration::from_secs(1)))
    );
    assert_eq!(single.check(answered + Duration::from_secs(1)), Ok(()));
}
