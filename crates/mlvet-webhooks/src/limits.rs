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

impl Default for EndpointLimits {
    /// 4 in flight, 10 per second, bursts of 20.
    fn default() -> Self {
        EndpointLimits {
            max_concurrent: 4,
            per_second: 10.0,
            burst: 20,
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
