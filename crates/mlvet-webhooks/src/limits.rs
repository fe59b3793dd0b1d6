//! Per-endpoint concurrency and rate limits: a slow or flooded receiver gets at most
//! `max_concurrent` requests in flight and `per_second` (with bursts up to `burst`) from this
//! process, however many events fan out to it; other endpoints are not held up. A worker asks
//! [`Limiter::try_acquire`] and re-queues the delivery for the returned wait, or blocks in
//! [`Limiter::acquire`]. With several worker processes the limits apply per process.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The limits of one endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EndpointLimits {
    pub max_concurrent: usize,
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed at once after a quiet period.
    pub burst: u32,
}

impl EndpointLimits {
    /// The default cap on requests in flight to one endpoint.
    pub const DEFAULT_MAX_CONCURRENT: usize = 16;
    /// The default sustained rate to one endpoint, per second.
    pub const DEFAULT_PER_SECOND: u32 = 200;
    /// The default burst after a quiet period.
    pub const DEFAULT_BURST: u32 = 100;
}

impl Default for EndpointLimits {
    /// 16 in flight, 200 per second, bursts of 100: a receiver answering in 50 ms gets
    /// 1,000 events in about 5 s, and a slow one never more than 16 requests at once.
    fn default() -> Self {
        EndpointLimits {
            max_concurrent: Self::DEFAULT_MAX_CONCURRENT,
            per_second: f64::from(Self::DEFAULT_PER_SECOND),
            burst: Self::DEFAULT_BURST,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
    in_flight: usize,
}

/// Limits shared by every delivery thread of a process.
#[derive(Debug)]
pub struct Limiter {
    limits: EndpointLimits,
    buckets: Mutex<HashMap<String, Bucket>>,
    released: Condvar,
}

/// Holding one of an endpoint's concurrent slots; released on drop.
#[derive(Debug)]
pub struct Permit<'a> {
    limiter: &'a Limiter,
    endpoint: String,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut buckets = self.limiter.lock();
        if let Some(bucket) = buckets.get_mut(&self.endpoint) {
            bucket.in_flight = bucket.in_flight.saturating_sub(1);
        }
        drop(buckets);
        self.limiter.released.notify_all();
    }
}

impl Limiter {
    pub fn new(limits: EndpointLimits) -> Limiter {
        Limiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
            released: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Bucket>> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A permit for `endpoint` now, or how long to wait before asking again.
    pub fn try_acquire(&self, endpoint: &str, now: Instant) -> Result<Permit<'_>, Duration> {
        let mut buckets = self.lock();
        self.try_locked(&mut buckets, endpoint, now)
    }

    fn try_locked(
        &self,
        buckets: &mut HashMap<String, Bucket>,
        endpoint: &str,
        now: Instant,
    ) -> Result<Permit<'_>, Duration> {
        let limits = self.limits;
        let bucket = buckets.entry(endpoint.to_string()).or_insert(Bucket {
            tokens: f64::from(limits.burst.max(1)),
            refilled_at: now,
            in_flight: 0,
        });
        let elapsed = now
            .saturating_duration_since(bucket.refilled_at)
            .as_secs_f64();
        bucket.tokens =
            (bucket.tokens + elapsed * limits.per_second).min(f64::from(limits.burst.max(1)));
        bucket.refilled_at = now.max(bucket.refilled_at);
        if bucket.in_flight >= limits.max_concurrent.max(1) {
            // Woken by a release; poll again soon in case it was elsewhere.
            return Err(Duration::from_millis(50));
        }
        if bucket.tokens < 1.0 {
            let rate = limits.per_second.max(f64::MIN_POSITIVE);
            return Err(Duration::from_secs_f64(
                ((1.0 - bucket.tokens) / rate).min(3_600.0),
            ));
        }
        bucket.tokens -= 1.0;
        bucket.in_flight += 1;
        Ok(Permit {
            limiter: self,
            endpoint: endpoint.to_string(),
        })
    }

    /// Blocks until `endpoint` may be sent to, or `None` after `max_wait`.
    pub fn acquire(&self, endpoint: &str, max_wait: Duration) -> Option<Permit<'_>> {
        let deadline = Instant::now() + max_wait;
        let mut buckets = self.lock();
        loop {
            let now = Instant::now();
            let wait = match self.try_locked(&mut buckets, endpoint, now) {
                Ok(permit) => return Some(permit),
                Err(wait) => wait,
            };
            if now >= deadline {
                return None;
            }
            let wait = wait.min(deadline - now);
            buckets = self
                .released
                .wait_timeout(buckets, wait)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_let_a_thousand_events_through_within_ten_seconds() {
        let limiter = Limiter::new(EndpointLimits::default());
        let start = Instant::now();
        let mut clock = start;
        let mut sent = 0;
        // Each permit is released at once (a fast receiver); the clock only moves by the
        // waits the limiter asks for.
        while sent < 1_000 {
            match limiter.try_acquire("e", clock) {
                Ok(permit) => {
                    drop(permit);
                    sent += 1;
                }
                Err(wait) => clock += wait,
            }
        }
        let took = clock - start;
        // 100 at once, then 900 at 200 per second: 4.5 s.
        assert!(took > Duration::from_secs(4), "took {took:?}");
        assert!(took < Duration::from_secs(5), "took {took:?}");
        let mut held = Vec::new();
        while let Ok(permit) = limiter.try_acquire("e", clock + Duration::from_secs(60)) {
            held.push(permit);
        }
        assert_eq!(held.len(), 16, "at most 16 in flight to one endpoint");
    }

    #[test]
    fn concurrency_is_capped_per_endpoint() {
        let limiter = Limiter::new(EndpointLimits {
            max_concurrent: 2,
            per_second: 1_000.0,
            burst: 100,
        });
        let now = Instant::now();
        let a = limiter.try_acquire("e1", now).expect("first");
        let _b = limiter.try_acquire("e1", now).expect("second");
        assert!(limiter.try_acquire("e1", now).is_err(), "third waits");
        let _other = limiter
            .try_acquire("e2", now)
            .expect("other endpoints are free");
        drop(a);
        assert!(
            limiter.try_acquire("e1", now).is_ok(),
            "a released slot is reusable"
        );
    }

    #[test]
    fn the_rate_refills_over_time() {
        let limiter = Limiter::new(EndpointLimits {
            max_concurrent: 100,
            per_second: 2.0,
            burst: 2,
        });
        let start = Instant::now();
        let mut held = Vec::new();
        held.push(limiter.try_acquire("e", start).expect("burst 1"));
        held.push(limiter.try_acquire("e", start).expect("burst 2"));
        let wait = limiter.try_acquire("e", start).expect_err("bucket empty");
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500));
        let later = start + Duration::from_millis(500);
        held.push(limiter.try_acquire("e", later).expect("refilled one"));
        assert!(limiter.try_acquire("e", later).is_err());
    }

    #[test]
    fn acquire_waits_for_a_release_and_gives_up_at_the_deadline() {
        let limiter = std::sync::Arc::new(Limiter::new(EndpointLimits {
            max_concurrent: 1,
            per_second: 1_000.0,
            burst: 100,
        }));
        let held = limiter.try_acquire("e", Instant::now()).expect("first");
        assert!(limiter.acquire("e", Duration::from_millis(100)).is_none());
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| limiter.acquire("e", Duration::from_secs(5)).is_some());
            std::thread::sleep(Duration::from_millis(50));
            drop(held);
            assert!(waiter.join().expect("thread"));
        });
    }
}
