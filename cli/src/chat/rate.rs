//! How fast one member may send: a per-connection rate limit on texts and
//! on their bytes.
//!
//! Every text a client sends costs the server work before anyone reads it:
//! a broadcast to the room (and a round trip to Redis with `--redis`), a
//! JSON event in each member's queue, and for a command, a rename tried
//! against every member's name. So every text counts, commands included,
//! and is weighed twice, as one message and as its length in bytes.
//!
//! The limit is two token buckets per connection, one for messages and one
//! for bytes. A bucket holds at most its burst and fills at its rate; a
//! text takes one token from the first and as many as it has bytes from the
//! second. A text that finds either short is not said: it is dropped, and
//! the sender gets an `error` event telling it to slow down, with
//! `retry_after_ms`, the time until that text would have passed ([`Verdict::SlowDown`]),
//! at most once a second ([`TELL_EVERY`]). By default ([`RateConfig`]) a
//! member may send 10 messages a second, 30 at once after a pause, and
//! 64 KiB of text a second, 192 KiB at once: more than anyone types.
//!
//! A sender that does not slow down is cut off: one that keeps sending more
//! than twice the limit (messages or bytes) in each of [`FLOOD_WINDOWS`]
//! one-second windows in a row is closed with 1008 "sending too fast"
//! ([`Verdict::TooFast`]; RFC 6455 §7.4.1: 1008 is for a message that
//! "violates its policy"). Reading and dropping a flood is work too, and a
//! client that ignores the slow-downs for that long is a program, not a
//! person. Windows rather than more buckets at twice the rates: such a
//! bucket would cut off, within milliseconds, a client that pastes a few
//! hundred lines at once and then stops; the windows ask that the excess
//! last.
//!
//! Each connection has its own [`RateLimit`], on the instance it is
//! connected to: with `--redis`, every instance limits its own members.
//! Time comes in as an argument ([`RateLimit::check`] takes `now`), so the
//! tests below drive the clock by hand.

use std::time::{Duration, Instant};

/// The slow-down `error` event goes to a sender at most this often.
const TELL_EVERY: Duration = Duration::from_secs(1);

/// How many one-second windows in a row, each with more than twice the
/// limit sent, close the connection.
const FLOOD_WINDOWS: u32 = 5;

/// The length of one window of [`FLOOD_WINDOWS`].
const WINDOW: Duration = Duration::from_secs(1);

/// The close reason of a member cut off for flooding.
pub(crate) const TOO_FAST: &str = "sending too fast";

/// How fast one member may send (`--rate`, `--burst`, `--rate-bytes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateConfig {
    /// Texts (messages and commands) a member may send per second, on
    /// average. At least 1. Default 10.
    pub messages_per_second: u32,
    /// Texts a member may send at once after a pause: the message bucket's
    /// size. The byte bucket holds as many seconds of its rate as this one
    /// does (`burst / messages_per_second`). At least 1. Default 30.
    pub burst: u32,
    /// Bytes of text a member may send per second, on average. At least 1.
    /// Default 64 KiB.
    pub bytes_per_second: u64,
}

impl Default for RateConfig {
    fn default() -> RateConfig {
        RateConfig {
            messages_per_second: 10,
            burst: 30,
            bytes_per_second: 64 << 10,
        }
    }
}

impl RateConfig {
    /// The byte bucket's size: as many seconds of `bytes_per_second` as the
    /// message bucket holds of `messages_per_second`.
    fn burst_bytes(&self) -> f64 {
        self.bytes_per_second as f64 * f64::from(self.burst)
            / f64::from(self.messages_per_second.max(1))
    }

    /// The `reason` of the slow-down event: the limit, in words.
    pub(crate) fn slow_down_reason(&self) -> String {
        format!(
            "slow down: the chat takes {} messages and {} bytes a second from each member \
             ({} messages at once); what you sent over that was not delivered",
            self.messages_per_second, self.bytes_per_second, self.burst
        )
    }
}

/// What to do with a text, by [`RateLimit::check`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Verdict {
    /// Within the limit: act on it.
    Pass,
    /// Over the limit: drop it, and tell the sender to slow down; the text
    /// would have passed after `retry_after`.
    SlowDown {
        /// How long until this text would have passed.
        retry_after: Duration,
    },
    /// Over the limit, and the sender was told less than [`TELL_EVERY`]
    /// ago: drop it, and say nothing.
    Drop,
    /// More than twice the limit for [`FLOOD_WINDOWS`] seconds: close the
    /// connection with 1008 [`TOO_FAST`].
    TooFast,
}

/// One connection's limit; see the module documentation.
#[derive(Debug)]
pub(crate) struct RateLimit {
    config: RateConfig,
    messages: TokenBucket,
    bytes: TokenBucket,
    flood: FloodWatch,
    /// When the sender was last told to slow down.
    told_at: Option<Instant>,
}

impl RateLimit {
    /// A limit whose buckets are full at `now`.
    pub(crate) fn new(config: RateConfig, now: Instant) -> RateLimit {
        RateLimit {
            config,
            messages: TokenBucket::full(
                f64::from(config.messages_per_second),
                f64::from(config.burst),
                now,
            ),
            bytes: TokenBucket::full(config.bytes_per_second as f64, config.burst_bytes(), now),
            flood: FloodWatch::new(now),
            told_at: None,
        }
    }

    /// Counts a text of `bytes` bytes that arrived at `now`, and says what
    /// to do with it.
    pub(crate) fn check(&mut self, bytes: usize, now: Instant) -> Verdict {
        if self.flood.count(bytes, now, &self.config) {
            return Verdict::TooFast;
        }
        let bytes = bytes as f64;
        self.messages.refill(now);
        self.bytes.refill(now);
        if self.messages.holds(1.0) && self.bytes.holds(bytes) {
            self.messages.take(1.0);
            self.bytes.take(bytes);
            return Verdict::Pass;
        }
        if self
            .told_at
            .is_some_and(|told| now.saturating_duration_since(told) < TELL_EVERY)
        {
            return Verdict::Drop;
        }
        self.told_at = Some(now);
        Verdict::SlowDown {
            retry_after: self.messages.wait_for(1.0).max(self.bytes.wait_for(bytes)),
        }
    }
}

/// A token bucket: holds up to `capacity` tokens, gains `rate` a second.
#[derive(Debug)]
struct TokenBucket {
    /// Tokens gained per second.
    rate: f64,
    /// The most tokens it holds.
    capacity: f64,
    /// The tokens it holds; below zero after a cost larger than the
    /// capacity (see [`TokenBucket::holds`]).
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

impl TokenBucket {
    fn full(rate: f64, capacity: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            at: now,
        }
    }

    /// Adds the tokens gained since the last refill, up to the capacity.
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.at = self.at.max(now);
    }

    /// Whether `cost` can be taken: enough tokens, or, for a cost larger
    /// than the whole bucket, a full one (which the cost then leaves in
    /// debt), so that no text is refused forever.
    fn holds(&self, cost: f64) -> bool {
        self.tokens >= cost.min(self.capacity)
    }

    fn take(&mut self, cost: f64) {
        self.tokens -= cost;
    }

    /// How long until [`TokenBucket::holds`] `cost`.
    fn wait_for(&self, cost: f64) -> Duration {
        let missing = cost.min(self.capacity) - self.tokens;
        if missing <= 0.0 {
            return Duration::ZERO;
        }
        Duration::try_from_secs_f64(missing / self.rate).unwrap_or(Duration::MAX)
    }
}

/// What a member sent in the current one-second window, and how many
/// windows before it, in a row, were over twice the limit.
#[derive(Debug)]
struct FloodWatch {
    /// When the current window began (at the first text after the last one ended).
    started: Instant,
    messages: u64,
    bytes: u64,
    /// Windows over twice the limit, in a row, just before this one.
    windows_over: u32,
}

impl FloodWatch {
    fn new(now: Instant) -> FloodWatch {
        FloodWatch {
            started: now,
            messages: 0,
            bytes: 0,
            windows_over: 0,
        }
    }

    /// Counts a text of `bytes` bytes at `now`: whether this is the
    /// [`FLOOD_WINDOWS`]th window in a row over twice the limit.
    fn count(&mut self, bytes: usize, now: Instant, config: &RateConfig) -> bool {
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed >= WINDOW {
            // A window with nothing in it between the last and this one
            // breaks the run.
            self.windows_over = match self.over(config) && elapsed < 2 * WINDOW {
                true => self.windows_over.saturating_add(1),
                false => 0,
            };
            self.started = now;
            self.messages = 0;
            self.bytes = 0;
        }
        self.messages += 1;
        self.bytes = self.bytes.saturating_add(bytes as u64);
        self.over(config) && self.windows_over + 1 >= FLOOD_WINDOWS
    }

    /// Whether this window has more than twice the limit in it.
    fn over(&self, config: &RateConfig) -> bool {
        self.messages > 2 * u64::from(config.messages_per_second)
            || self.bytes > config.bytes_per_second.saturating_mul(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const SECOND: Duration = Duration::from_secs(1);

    /// Sends `count` texts of `bytes` bytes from `at`, `every` apart: the verdicts.
    fn send(
        limit: &mut RateLimit,
        at: Instant,
        count: u32,
        bytes: usize,
        every: Duration,
    ) -> Vec<Verdict> {
        (0..count)
            .map(|i| limit.check(bytes, at + every * i))
            .collect()
    }

    /// Sends `count` texts of `bytes` bytes 10 ms apart at the start of
    /// each of the `seconds` after `at`: the verdicts, second by second.
    fn send_each_second(
        limit: &mut RateLimit,
        at: Instant,
        seconds: std::ops::Range<u32>,
        count: u32,
        bytes: usize,
    ) -> Vec<Vec<Verdict>> {
        seconds
            .map(|second| send(limit, at + SECOND * second, count, bytes, 10 * MS))
            .collect()
    }

    fn passed(verdicts: &[Verdict]) -> usize {
        verdicts.iter().filter(|v| **v == Verdict::Pass).count()
    }

    fn too_fast(verdicts: &[Vec<Verdict>]) -> bool {
        verdicts.iter().flatten().any(|v| *v == Verdict::TooFast)
    }

    #[test]
    fn a_burst_passes_at_once_and_the_next_text_waits_for_a_token() {
        let start = Instant::now();
        let mut limit = RateLimit::new(RateConfig::default(), start);
        assert_eq!(
            passed(&send(&mut limit, start, 30, 100, Duration::ZERO)),
            30
        );
        assert_eq!(
            limit.check(100, start),
            Verdict::SlowDown {
                retry_after: 100 * MS
            }
        );
        // 100 ms later, one token more.
        assert_eq!(limit.check(100, start + 100 * MS), Verdict::Pass);
        assert_eq!(limit.check(100, start + 100 * MS), Verdict::Drop);
    }

    #[test]
    fn a_sender_at_the_rate_is_never_refused() {
        let start = Instant::now();
        let mut limit = RateLimit::new(RateConfig::default(), start);
        let verdicts = send(&mut limit, start, 600, 4000, 100 * MS);
        assert_eq!(passed(&verdicts), 600, "a minute at 10 a second");
    }

    #[test]
    fn bytes_are_limited_too_and_the_wait_is_for_the_bytes() {
        let start = Instant::now();
        let mut limit = RateLimit::new(RateConfig::default(), start);
        // 192 KiB at once: three 64 KiB texts, then nothing.
        assert_eq!(
            passed(&send(&mut limit, start, 3, 64 << 10, Duration::ZERO)),
            3
        );
        assert_eq!(
            limit.check(32 << 10, start),
            Verdict::SlowDown {
                retry_after: 500 * MS
            }
        );
        assert_eq!(limit.check(32 << 10, start + 250 * MS), Verdict::Drop);
        assert_eq!(limit.check(32 << 10, start + 501 * MS), Verdict::Pass);
    }

    #[test]
    fn a_text_larger_than_the_byte_bucket_passes_when_it_is_full() {
        let start = Instant::now();
        let config = RateConfig {
            messages_per_second: 1,
            burst: 1,
            bytes_per_second: 1000,
        };
        let mut limit = RateLimit::new(config, start);
        assert_eq!(limit.check(3000, start), Verdict::Pass);
        // It left the bucket 2000 bytes in debt: full again 3 s after it.
        assert_eq!(
            limit.check(3000, start + 1000 * MS),
            Verdict::SlowDown {
                retry_after: 2000 * MS
            }
        );
        assert_eq!(limit.check(3000, start + 3000 * MS), Verdict::Pass);
    }

    #[test]
    fn the_sender_is_told_to_slow_down_at_most_once_a_second() {
        let start = Instant::now();
        let mut limit = RateLimit::new(RateConfig::default(), start);
        // 40 texts a second for 3.75 s: over twice the limit, for fewer
        // windows than close the connection.
        let verdicts = send(&mut limit, start, 150, 100, 25 * MS);
        let told: Vec<usize> = (0..verdicts.len())
            .filter(|&i| matches!(verdicts[i], Verdict::SlowDown { .. }))
            .collect();
        assert_eq!(told.len(), 3, "{told:?}");
        assert!(
            told.windows(2).all(|pair| pair[1] - pair[0] >= 40),
            "{told:?}"
        );
        assert!(!verdicts.contains(&Verdict::TooFast));
        // The burst, then 10 a second.
        assert!(
            (65..=68).contains(&passed(&verdicts)),
            "{}",
            passed(&verdicts)
        );
    }

    #[test]
    fn more_than_twice_the_limit_for_five_seconds_is_too_fast() {
        let start = Instant::now();
        let mut limit = RateLimit::new(RateConfig::default(), start);
        // 30 texts at the start of each second: the first four go by.
        assert!(!too_fast(&send_each_second(
            &mut limit,
            start,
            0..4,
            30,
            100
        )));
        // In the fifth, the 21st text is one more than twice the limit.
        let fifth = send(&mut limit, start + 4 * SECOND, 21, 100, 10 * MS);
        assert!(!fifth[..20].contains(&Verdict::TooFast), "{fifth:?}");
        assert_eq!(fifth[20], Verdict::TooFast);
    }

    #[test]
    fn more_than_twice_the_byte_limit_for_five_seconds_is_too_fast() {
        let start = Instant::now();
        let mut limit = RateLimit::new(RateConfig::default(), start);
        // 3 texts of 64 KiB a second: within the message limit, three times
        // the byte limit.
        assert!(!too_fast(&send_each_second(
            &mut limit,
            start,
            0..4,
            3,
            64 << 10
        )));
        let fifth = send(&mut limit, start + 4 * SECOND, 3, 64 << 10, 10 * MS);
        assert!(!fifth[..2].contains(&Verdict::TooFast), "{fifth:?}");
        assert_eq!(fifth[2], Verdict::TooFast);
    }

    #[test]
    fn twice_the_limit_or_a_quiet_second_between_floods_is_not_too_fast() {
        let start = Instant::now();
        let mut limit = RateLimit::new(RateConfig::default(), start);
        let verdicts = send(&mut limit, start, 20 * 60, 100, 50 * MS);
        assert!(
            !verdicts.contains(&Verdict::TooFast),
            "a minute at 20 a second"
        );

        let mut limit = RateLimit::new(RateConfig::default(), start);
        assert!(!too_fast(&send_each_second(
            &mut limit,
            start,
            0..4,
            30,
            100
        )));
        // Nothing in second 4: the run starts over.
        assert!(!too_fast(&send_each_second(
            &mut limit,
            start,
            5..9,
            30,
            100
        )));
        assert!(too_fast(&send_each_second(
            &mut limit,
            start,
            9..10,
            30,
            100
        )));
    }

    #[test]
    fn the_default_byte_burst_is_three_seconds_of_64_kib() {
        assert_eq!(RateConfig::default().burst_bytes(), f64::from(192 << 10));
    }
}
