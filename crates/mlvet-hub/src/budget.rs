//! One rate budget per Hub token, shared by every client (and thread) using that token: the
//! service's bulk scans run as many jobs, and the Hub's limits are per token (or per address for
//! anonymous calls), per bucket (`api`, `resolvers`), in fixed windows announced by the
//! `RateLimit: "bucket";r=<remaining>;t=<seconds to reset>` header on every answer.
//!
//! Before a request, a client asks its bucket for a slot: when the last answer said nothing
//! remains, it waits for the announced reset (bounded; beyond the bound the request fails as rate
//! limited rather than blocking a worker for long). An optional own ceiling (`requests per
//! window`) keeps a service well under the Hub's quota even before the first answer arrives.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Hub's rate-limit buckets a request can count against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bucket {
    /// `/api/...` calls.
    Api,
    /// `/{repo}/resolve/...` calls.
    Resolvers,
}

impl Bucket {
    /// The bucket of a Hub URL; `None` for the CDN (not counted by the Hub).
    pub fn of(url: &str, on_hub: bool) -> Option<Bucket> {
        if !on_hub {
            return None;
        }
        if url.contains("/resolve/") {
            Some(Bucket::Resolvers)
        } else {
            Some(Bucket::Api)
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Window {
    /// What the Hub said remains, and when the window resets.
    remaining: Option<u64>,
    reset_at: Option<Instant>,
    /// Own ceiling: requests sent in the current own window.
    sent: u64,
    own_window_start: Option<Instant>,
}

/// A shared budget; clone the `Arc` into every client of the same token.
#[derive(Debug, Default)]
pub struct RateBudget {
    windows: Mutex<BTreeMap<Bucket, Window>>,
    /// Own ceiling per bucket and window length, when set.
    ceiling: Option<(u64, Duration)>,
    waited: Mutex<Duration>,
}

impl RateBudget {
    pub fn new() -> Arc<RateBudget> {
        Arc::new(RateBudget::default())
    }

    /// At most `requests` per `window` per bucket, whatever the Hub allows.
    pub fn with_ceiling(requests: u64, window: Duration) -> Arc<RateBudget> {
        Arc::new(RateBudget {
            ceiling: Some((requests.max(1), window)),
            ..RateBudget::default()
        })
    }

    /// Total time requests waited for the budget (for progress reports and tests).
    pub fn waited(&self) -> Duration {
        *self
            .waited
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long the next request to `bucket` must wait now (zero: go), and takes the slot when
    /// it may go.
    fn reserve(&self, bucket: Bucket, now: Instant) -> Duration {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let window = windows.entry(bucket).or_default();
        if let (Some(0), Some(reset)) = (window.remaining, window.reset_at) {
            if reset > now {
                return reset - now;
            }
            window.remaining = None;
            window.reset_at = None;
        }
        if let Some((limit, length)) = self.ceiling {
            let start = *window.own_window_start.get_or_insert(now);
            if now.duration_since(start) >= length {
                window.own_window_start = Some(now);
                window.sent = 0;
            } else if window.sent >= limit {
                return length - now.duration_since(start);
            }
            window.sent += 1;
        }
        if let Some(remaining) = &mut window.remaining {
            *remaining = remaining.saturating_sub(1);
        }
        Duration::ZERO
    }

    /// Waits for a slot in `bucket`; `Err(wait)` when the wait would exceed `max_wait`.
    pub fn acquire(&self, bucket: Bucket, max_wait: Duration) -> Result<(), Duration> {
        let mut total = Duration::ZERO;
        loop {
            let wait = self.reserve(bucket, Instant::now());
            if wait.is_zero() {
                return Ok(());
            }
            if total + wait > max_wait {
                return Err(wait);
            }
            std::thread::sleep(wait);
            total += wait;
            *self
                .waited
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) += wait;
        }
    }

    /// Records what an answer's `RateLimit` header says about `bucket`.
    pub fn observe(&self, bucket: Bucket, ratelimit: &str, now: Instant) {
        let field = |key: &str| {
            ratelimit.split(';').find_map(|part| {
                part.trim()
                    .strip_prefix(key)
                    .and_then(|v| v.strip_prefix('='))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
        };
        let (Some(remaining), Some(reset)) = (field("r"), field("t")) else {
            return;
        };
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let window = windows.entry(bucket).or_default();
        window.remaining = Some(remaining);
        window.reset_at = Some(now + Duration::from_secs(reset));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exhausted_bucket_waits_for_its_reset_and_others_do_not() {
        let budget = RateBudget::new();
        let now = Instant::now();
        budget.observe(Bucket::Api, "\"api\";r=0;t=2", now);
        assert!(budget.reserve(Bucket::Api, now) > Duration::from_secs(1));
        assert_eq!(budget.reserve(Bucket::Resolvers, now), Duration::ZERO);
        assert_eq!(
            budget.reserve(Bucket::Api, now + Duration::from_secs(3)),
            Duration::ZERO
        );
        assert!(budget.acquire(Bucket::Api, Duration::ZERO).is_ok());
        budget.observe(Bucket::Api, "\"api\";r=0;t=600", Instant::now());
        assert!(budget.acquire(Bucket::Api, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn the_own_ceiling_spaces_requests() {
        let budget = RateBudget::with_ceiling(2, Duration::from_secs(60));
        let now = Instant::now();
        assert_eq!(budget.reserve(Bucket::Api, now), Duration::ZERO);
        assert_eq!(budget.reserve(Bucket::Api, now), Duration::ZERO);
        assert!(budget.reserve(Bucket::Api, now) > Duration::from_secs(50));
        assert_eq!(
            budget.reserve(Bucket::Api, now + Duration::from_secs(61)),
            Duration::ZERO
        );
    }
}
