//! When to connect again after the connection drops: truncated binary
//! exponential backoff with jitter (RFC 6455 §7.2.3).

use std::time::Duration;

/// The first reconnection delay, before jitter; it doubles up to `BACKOFF_MAX`.
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Truncated binary exponential backoff with jitter (RFC 6455 §7.2.3: "The
/// first reconnect attempt SHOULD be delayed by a random amount of time",
/// later ones "by increasingly longer amounts of time").
#[derive(Debug, Default)]
pub(super) struct Backoff {
    attempts: u32,
}

impl Backoff {
    /// The next delay: the base doubles with each attempt up to
    /// `BACKOFF_MAX`, and `random` (in 0..1) picks a point in its upper half.
    pub(super) fn next_delay(&mut self, random: f64) -> Duration {
        let base = BACKOFF_START
            .saturating_mul(1 << self.attempts.min(16))
            .min(BACKOFF_MAX);
        self.attempts += 1;
        base.mul_f64(0.5 + random.clamp(0.0, 1.0) / 2.0)
    }
}

/// A number in 0..1 from the operating system's generator.
pub(super) fn random_fraction() -> f64 {
    getrandom::u32().map_or(0.5, |n| f64::from(n) / f64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_7_2_3_reconnect_delay_grows_exponentially_with_jitter() {
        let mut backoff = Backoff::default();
        let highest: Vec<Duration> = (0..8).map(|_| backoff.next_delay(1.0)).collect();
        assert_eq!(
            highest,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000].map(Duration::from_millis)
        );
        let mut backoff = Backoff::default();
        assert_eq!(backoff.next_delay(0.0), Duration::from_millis(250));
        assert_eq!(backoff.next_delay(0.5), Duration::from_millis(750));
    }
}
