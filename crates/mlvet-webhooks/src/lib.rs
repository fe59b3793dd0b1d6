//! Signed webhooks for mlvet's monitor, following Standard Webhooks 1.0
//! (<https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>).
//!
//! - [`Secret`]: per-endpoint `whsec_<base64>` secrets (32 random bytes), shown once.
//! - [`sign`] / [`verify`]: `webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`,
//!   space-separated signatures accepted on verification (secret rotation), a timestamp tolerance
//!   against replays, constant-time comparison.
//! - [`Envelope`]: the body, `{"type", "timestamp", "data"}`.
//! - [`Deliverer`]: one HTTP attempt with the three headers; the `webhook-id` is the event's id,
//!   the same on every retry. Redirects are never followed; private, loopback, link-local,
//!   unique-local, CGNAT and cloud-metadata destinations are refused unless allowed, and the check
//!   applies to the addresses the connection actually uses ([`ssrf`]), so DNS cannot smuggle a
//!   private address past it. Timeouts bound every attempt; the response body is not read beyond
//!   a small excerpt.
//! - [`retry`]: what an attempt's result means (delivered, retry later, disable the endpoint on
//!   `410`) and when to retry: the spec's schedule with jitter, `Retry-After` honoured.
//! - [`limits`]: per-endpoint concurrency and rate limits.
//! - [`Subscription`]: which events an endpoint wants (types, minimum severity, projects).
//!
//! The client is ureq 3 (blocking), already in the workspace for `db update`: deliveries are few,
//! I/O-bound and bounded per endpoint, so a small pool of blocking workers (or `spawn_blocking`
//! from the tokio server) serves them without a second HTTP stack, and ureq's resolver hook is
//! where the SSRF guard sees the exact addresses the connector will dial.

mod client;
mod envelope;
pub mod limits;
pub mod retry;
mod signature;
pub mod ssrf;
mod subscription;

pub use client::{Attempt, Deliverer, DeliveryConfig, Message};
pub use envelope::{Envelope, format_rfc3339, new_message_id};
pub use retry::{Outcome, RetryPolicy};
pub use signature::{Secret, VerifyError, sign, verify};
pub use subscription::{Subscription, SubscriptionError};

/// Errors building a delivery (bad URL, refused destination) or a secret.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("invalid webhook URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("invalid webhook secret: {0}")]
    BadSecret(String),
    #[error("no randomness available from the operating system: {0}")]
    Random(String),
}
