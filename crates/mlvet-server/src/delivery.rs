//! Webhook delivery workers: claim due deliveries from the store (leased; `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, so any number of processes can run them), sign each with Standard
//! Webhooks (`mlvet-webhooks`) and send it on the blocking pool.
//!
//! - The body is `{"type", "timestamp", "data"}` with the event's stored `data` and creation
//!   time: the same bytes on every attempt; `webhook-id` is the event's id, stable across
//!   retries and replays; `webhook-timestamp` is the attempt's time.
//! - Retries follow `RetryPolicy::default()` (5 s, 5 min, 30 min … about 3 days) with jitter;
//!   `Retry-After` moves an attempt later, never earlier. `410` disables the endpoint (its
//!   pending deliveries fail, the reason is shown by the API). A refused destination (SSRF
//!   guard, bad URL) fails the delivery at once.
//! - Per process: at most `delivery_workers` attempts in flight; per endpoint the limiter of
//!   `mlvet-webhooks` caps concurrency and rate, so a slow endpoint (bounded by the attempt
//!   timeout) never holds every worker.

use std::sync::Arc;
use std::time::Duration;

use mlvet_store::Store;
use mlvet_store::monitor::{AttemptResult, ClaimedDelivery};
use mlvet_webhooks::limits::Limiter;
use mlvet_webhooks::{Deliverer, DeliveryConfig, Envelope, Message, Outcome, RetryPolicy, Secret};
use serde_json::{Value, json};

/// How often an idle delivery loop looks for due deliveries (other processes queue them too).
const IDLE_POLL: Duration = Duration::from_millis(250);

/// How long a delivery waits for its endpoint's limiter before being given back.
const LIMITER_WAIT: Duration = Duration::from_secs(5);

/// Everything a delivery process needs: the HTTP client with its SSRF guard and the
/// per-endpoint limits.
pub struct Sender {
    deliverer: Deliverer,
    limiter: Limiter,
    policy: RetryPolicy,
    /// The lease of a claimed delivery: longer than an attempt can take.
    lease_seconds: i64,
}

impl Sender {
    pub fn new(config: &crate::config::MonitorConfig) -> Sender {
        let deliverer = Deliverer::new(DeliveryConfig {
            timeout: config.webhook_timeout,
            allow_private: config.allow_private_webhooks,
            ..DeliveryConfig::default()
        });
        let lease = config.webhook_timeout + LIMITER_WAIT + Duration::from_secs(30);
        Sender {
            deliverer,
            limiter: Limiter::new(config.endpoint_limits()),
            policy: RetryPolicy::default(),
            lease_seconds: i64::try_from(lease.as_secs()).unwrap_or(60),
        }
    }
}

/// The body of a delivery: the envelope around the event's data, stamped with its creation.
pub fn body(delivery: &ClaimedDelivery) -> Vec<u8> {
    let data: Value = serde_json::from_str(&delivery.event.data).unwrap_or(Value::Null);
    Envelope {
        event_type: delivery.event.event_type.clone(),
        timestamp: delivery.event.created.clone(),
        data,
    }
    .to_body()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Sends one claimed delivery and records the attempt (blocking: call from the blocking pool or
/// a thread of its own).
pub fn deliver_one(
    store: &Store,
    sender: &Sender,
    worker: &str,
    delivery: &ClaimedDelivery,
) -> Result<(), mlvet_store::StoreError> {
    let endpoint = delivery.webhook_id.to_string();
    let Some(_permit) = sender.limiter.acquire(&endpoint, LIMITER_WAIT) else {
        return store.release_delivery(delivery.id, worker, 1);
    };
    let secret = match Secret::parse(&delivery.secret) {
        Ok(secret) => secret,
        Err(error) => {
            return store.record_attempt(
                delivery.id,
                worker,
                &AttemptResult::Failed {
                    status: None,
                    error: &error.to_string(),
                    excerpt: "",
                },
            );
        }
    };
    let body = body(delivery);
    let attempt = sender.deliverer.deliver(
        &delivery.url,
        &secret,
        &Message {
            id: &delivery.event.event_id,
            timestamp: unix_now(),
            body: &body,
        },
    );
    let status = attempt.status.map(i64::from);
    let error = attempt.error.clone();
    let attempts = usize::try_from(delivery.attempts).unwrap_or(0) + 1;
    let gave_up;
    let result = match attempt.outcome {
        Outcome::Delivered => AttemptResult::Delivered {
            status: status.unwrap_or(200),
            excerpt: &attempt.response_excerpt,
        },
        Outcome::Disable => AttemptResult::Disable {
            status: status.unwrap_or(410),
            reason: "the endpoint answered 410 Gone",
            excerpt: &attempt.response_excerpt,
        },
        Outcome::Refused => AttemptResult::Failed {
            status,
            error: error.as_deref().unwrap_or("the destination was refused"),
            excerpt: &attempt.response_excerpt,
        },
        Outcome::Retry => match sender.policy.next_delay(
            attempts,
            attempt.retry_after,
            mlvet_webhooks::retry::random_unit(),
        ) {
            Some(delay) => AttemptResult::Retry {
                status,
                error: error.as_deref(),
                excerpt: &attempt.response_excerpt,
                delay_seconds: i64::try_from(delay.as_secs_f64().ceil() as u64)
                    .unwrap_or(i64::MAX)
                    .max(1),
            },
            None => {
                gave_up = format!(
                    "gave up after {attempts} attempts; last: {}",
                    error
                        .clone()
                        .or(status.map(|s| format!("HTTP {s}")))
                        .unwrap_or_default()
                );
                AttemptResult::Failed {
                    status,
                    error: &gave_up,
                    excerpt: &attempt.response_excerpt,
                }
            }
        },
    };
    crate::log::event(
        "info",
        "webhook_attempt",
        json!({
            "delivery": delivery.id,
            "webhook": delivery.webhook_id,
            // Not `event`: that key names the log line itself.
            "message_id": delivery.event.event_id,
            "type": delivery.event.event_type,
            "outcome": attempt.outcome.as_str(),
            "status": attempt.status,
            "error": attempt.error,
            "ms": u64::try_from(attempt.elapsed.as_millis()).unwrap_or(u64::MAX),
        }),
    );
    store.record_attempt(delivery.id, worker, &result)
}

/// The delivery loop of one process: claims as many due deliveries as it has free workers,
/// sends each on the blocking pool, and sleeps until woken or [`IDLE_POLL`] when none is due.
pub async fn run_deliveries(
    app: Arc<crate::App>,
    worker: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let sender = Arc::new(Sender::new(&app.config.monitor));
    let slots = Arc::new(tokio::sync::Semaphore::new(
        app.config.monitor.delivery_workers,
    ));
    let mut running = tokio::task::JoinSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        while running.try_join_next().is_some() {}
        let free = slots.available_permits();
        let claimed = if free == 0 {
            Ok(Ok(Vec::new()))
        } else {
            let app = Arc::clone(&app);
            let worker = worker.clone();
            let lease = sender.lease_seconds;
            tokio::task::spawn_blocking(move || {
                app.store
                    .claim_deliveries(&worker, lease, i64::try_from(free).unwrap_or(1))
            })
            .await
        };
        let claimed = match claimed {
            Ok(Ok(claimed)) => claimed,
            Ok(Err(error)) => {
                crate::log::event(
                    "error",
                    "delivery_claim_failed",
                    json!({ "error": error.to_string() }),
                );
                Vec::new()
            }
            Err(error) => {
                crate::log::event(
                    "error",
                    "delivery_claim_failed",
                    json!({ "error": error.to_string() }),
                );
                Vec::new()
            }
        };
        let idle = claimed.is_empty();
        for delivery in claimed {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                break;
            };
            let app = Arc::clone(&app);
            let sender = Arc::clone(&sender);
            let worker = worker.clone();
            running.spawn_blocking(move || {
                let _permit = permit;
                if let Err(error) = deliver_one(&app.store, &sender, &worker, &delivery) {
                    crate::log::event(
                        "error",
                        "delivery_record_failed",
                        json!({ "delivery": delivery.id, "error": error.to_string() }),
                    );
                }
            });
        }
        if idle || slots.available_permits() == 0 {
            tokio::select! {
                () = app.monitor.deliveries_due.notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.changed() => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
        }
    }
    // Attempts in flight finish (each is bounded by the attempt timeout).
    while running.join_next().await.is_some() {}
}
