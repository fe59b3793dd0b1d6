//! What an attempt's result means, and when to try again.
//!
//! The schedule is the Standard Webhooks example: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h,
//! 10 h, 14 h, 20 h and 24 h (about 3 days in all), each delay spread by ±20 % jitter so that a
//! receiver coming back is not hit by every queued retry at the same second. A `Retry-After` on
//! the response pushes the next attempt later (never earlier), capped at a day.

use std::time::Duration;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered,
    /// Any other answer or a transport failure (timeout, connection refused, 3xx not followed):
    /// try again later.
    Retry,
    /// `410 Gone`: the receiver asks for the endpoint to be disabled; no retry.
    Disable,
    /// The destination was refused (SSRF guard, malformed URL): retrying cannot help.
    Refused,
}

impl Outcome {
    pub fn of_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Delivered,
            410 => Outcome::Disable,
            _ => Outcome::Retry,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retry => "retry",
            Outcome::Disable => "disable",
            Outcome::Refused => "refused",
        }
    }
}

/// The retry policy of an endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// The delay before attempt `n + 1` (index 0: the delay after the first attempt).
    pub delays: Vec<Duration>,
    /// The share of each delay the jitter may add or remove (0.2: ±20 %).
    pub jitter: f64,
    /// The longest a `Retry-After` may push an attempt.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        RetryPolicy {
            delays: vec![
                Duration::from_secs(5),
                minutes(5),
                minutes(30),
                minutes(120),
                minutes(300),
                minutes(600),
                minutes(840),
                minutes(1_200),
                minutes(1_440),
            ],
            jitter: 0.2,
            max_retry_after: Duration::from_secs(86_400),
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt after `attempts` failed attempts, or `None` when the
    /// schedule is exhausted (the delivery is dead). `random` is uniform in `[0, 1)` (the jitter
    /// source, injected so that tests are deterministic). `retry_after` from the last response
    /// moves the attempt later, never earlier.
    pub fn next_delay(
        &self,
        attempts: usize,
        retry_after: Option<Duration>,
        random: f64,
    ) -> Option<Duration> {
        let base = *self.delays.get(attempts.checked_sub(1)?)?;
        let spread = (random.clamp(0.0, 1.0) * 2.0 - 1.0) * self.jitter;
        let jittered = base.mul_f64((1.0 + spread).max(0.0));
        let floor = retry_after.map_or(Duration::ZERO, |r| r.min(self.max_retry_after));
        Some(jittered.max(floor))
    }
}

/// A uniform random number in `[0, 1)` from the operating system (for the jitter).
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Reads `Retry-After`: delay seconds, or an HTTP date (IMF-fixdate) relative to `now` (Unix
/// seconds). A date in the past means no extra delay.
pub fn parse_retry_after(value: &str, now: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_http_date(value)?;
    Some(Duration::from_secs(u64::try_from(at - now).unwrap_or(0)))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` → Unix seconds.
fn parse_http_date(value: &str) -> Option<i64> {
    let mut parts = value.split_whitespace();
    let _weekday = parts.next()?;
    let day: i64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':');
    let (h, m, s): (i64, i64, i64) = (
        clock.next()?.parse().ok()?,
        clock.next()?.parse().ok()?,
        clock.next()?.parse().ok()?,
    );
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days from civil (H. Hinnant).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3_600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify() {
        assert_eq!(Outcome::of_status(200), Outcome::Delivered);
        assert_eq!(Outcome::of_status(204), Outcome::Delivered);
        assert_eq!(Outcome::of_status(410), Outcome::Disable);
        for status in [301, 302, 400, 404, 429, 500, 502, 503, 504] {
            assert_eq!(Outcome::of_status(status), Outcome::Retry, "{status}");
        }
    }

    #[test]
    fn the_schedule_jitters_within_bounds_and_ends() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.next_delay(0, None, 0.5), None, "no attempt yet");
        assert_eq!(
            policy.next_delay(1, None, 0.5),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            policy.next_delay(2, None, 0.0),
            Some(Duration::from_secs(240))
        );
        assert_eq!(
            policy.next_delay(2, None, 1.0),
            Some(Duration::from_secs(360))
        );
        assert_eq!(
            policy.next_delay(9, None, 0.5),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(
            policy.next_delay(10, None, 0.5),
            None,
            "dead after 10 attempts"
        );
        let total: u64 = (1..=9)
            .filter_map(|n| policy.next_delay(n, None, 0.5))
            .map(|d| d.as_secs())
            .sum();
        assert!(
            (3 * 86_400..4 * 86_400).contains(&total),
            "about 3 days: {total}"
        );
        for _ in 0..100 {
            let r = random_unit();
            assert!((0.0..1.0).contains(&r));
        }
    }

    #[test]
    fn retry_after_moves_attempts_later_never_earlier() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.next_delay(1, Some(Duration::from_secs(120)), 0.5),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            policy.next_delay(2, Some(Duration::from_secs(1)), 0.5),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            policy.next_delay(1, Some(Duration::from_secs(10 * 86_400)), 0.5),
            Some(Duration::from_secs(86_400)),
            "capped at a day"
        );
        assert_eq!(parse_retry_after("120", 0), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_717),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_800),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("-5", 0), None);
    }
}
