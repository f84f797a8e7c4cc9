//! The retry schedule: exponential backoff (via `backon`) from 1 s up to
//! 10 min, never sooner than the vendor's `Retry-After`. The next attempt time
//! is stored in the outbox record, so restarts keep the schedule.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// After this many failed attempts an operation is dead-lettered.
pub const MAX_ATTEMPTS: u32 = 12;

/// Delay before attempt number `attempts + 1`, given the vendor's `Retry-After`.
pub fn retry_delay(attempts: u32, retry_after: Option<Duration>) -> chrono::Duration {
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(600))
        .with_factor(2.0)
        .without_max_times()
        .build()
        .nth(attempts.saturating_sub(1) as usize)
        .unwrap_or(Duration::from_secs(600));
    let delay = retry_after.unwrap_or(backoff);
    chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_honours_retry_after() {
        assert_eq!(retry_delay(1, None), chrono::Duration::seconds(1));
        assert_eq!(retry_delay(2, None), chrono::Duration::seconds(2));
        assert_eq!(retry_delay(3, None), chrono::Duration::seconds(4));
        assert_eq!(retry_delay(30, None), chrono::Duration::seconds(600));
        assert_eq!(
            retry_delay(1, Some(Duration::from_secs(30))),
            chrono::Duration::seconds(30)
        );
    }
}
