//! One delivery attempt over HTTP.

use std::io::Read;
use std::time::{Duration, Instant};

use ureq::unversioned::transport::DefaultConnector;

use crate::WebhookError;
use crate::retry::{Outcome, parse_retry_after};
use crate::signature::{Secret, sign};
use crate::ssrf::{GuardedResolver, REFUSED};

/// How deliveries are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// The whole attempt (connect, send, response head) must finish within this.
    pub timeout: Duration,
    /// Deliver to private, loopback and link-local addresses too (`--allow-private-webhooks`;
    /// tests and on-premises receivers).
    pub allow_private: bool,
    /// Bytes of the response body kept for the delivery log.
    pub max_response_excerpt: usize,
}

impl Default for DeliveryConfig {
    /// 15 s per attempt (Standard Webhooks suggests 15–30 s; Dependency-Track uses 10 s), no
    /// private destinations, 1 KiB of response kept.
    fn default() -> Self {
        DeliveryConfig {
            timeout: Duration::from_secs(15),
            allow_private: false,
            max_response_excerpt: 1024,
        }
    }
}

/// One message to deliver: the event's stable id, when this attempt signs it, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// `webhook-id`: the event id, identical on every retry.
    pub id: &'a str,
    /// `webhook-timestamp`: Unix seconds of this attempt.
    pub timestamp: i64,
    pub body: &'a [u8],
}

/// What one attempt did, for the delivery log and the retry decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub outcome: Outcome,
    /// The HTTP status, when a response came back.
    pub status: Option<u16>,
    /// `Retry-After` of the response, when present and readable.
    pub retry_after: Option<Duration>,
    /// Why it failed without a usable response (refused destination, timeout, connection).
    pub error: Option<String>,
    /// The start of the response body (UTF-8, lossy).
    pub response_excerpt: String,
    pub elapsed: Duration,
}

/// A webhook sender: one HTTP agent (connection pool, TLS) shared by all deliveries.
#[derive(Debug, Clone)]
pub struct Deliverer {
    agent: ureq::Agent,
    config: DeliveryConfig,
}

impl Deliverer {
    pub fn new(config: DeliveryConfig) -> Deliverer {
        let agent_config = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            // Redirects are never followed: a 3xx is the receiver's answer, and following it
            // would let a receiver bounce the server to an internal address.
            .max_redirects(0)
            // No proxy from the environment: the SSRF guard must judge the real destination.
            .proxy(None)
            .user_agent(format!("mlvet-webhooks/{}", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::with_parts(
            agent_config,
            DefaultConnector::new(),
            GuardedResolver::new(config.allow_private),
        );
        Deliverer { agent, config }
    }

    pub fn config(&self) -> &DeliveryConfig {
        &self.config
    }

    /// Checks a URL an endpoint is created with: absolute `http` or `https`, a host, no
    /// credentials. (Where it resolves to is checked on every attempt, not only here.)
    pub fn check_url(url: &str) -> Result<(), WebhookError> {
        let bad = |reason: &str| WebhookError::BadUrl {
            url: url.chars().take(200).collect(),
            reason: reason.to_string(),
        };
        let uri: ureq::http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("https" | "http") => {}
            _ => return Err(bad("the scheme must be https or http")),
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("credentials in the URL are not allowed"));
        }
        if authority.host().is_empty() {
            return Err(bad("no host"));
        }
        Ok(())
    }

    /// Sends one signed attempt and classifies the answer. Never panics, never follows a
    /// redirect; the response body is read only up to the excerpt size.
    pub fn deliver(&self, url: &str, secret: &Secret, message: &Message<'_>) -> Attempt {
        let started = Instant::now();
        let failed = |error: String, outcome: Outcome| Attempt {
            outcome,
            status: None,
            retry_after: None,
            error: Some(error),
            response_excerpt: String::new(),
            elapsed: started.elapsed(),
        };
        if let Err(e) = Deliverer::check_url(url) {
            return failed(e.to_string(), Outcome::Refused);
        }
        let signature = sign(secret, message.id, message.timestamp, message.body);
        let response = self
            .agent
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", message.id)
            .header("webhook-timestamp", message.timestamp.to_string())
            .header("webhook-signature", signature)
            .send(message.body);
        let mut response = match response {
            Ok(response) => response,
            Err(error) => {
                let text = error.to_string();
                let outcome = if text.contains(REFUSED) {
                    Outcome::Refused
                } else {
                    Outcome::Retry
                };
                let text = match error {
                    ureq::Error::Timeout(_) => {
                        format!("timed out after {:?} ({text})", self.config.timeout)
                    }
                    _ => text,
                };
                return failed(text, outcome);
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, message.timestamp));
        let mut excerpt = Vec::new();
        let limit = self.config.max_response_excerpt as u64;
        let _ = response
            .body_mut()
            .as_reader()
            .take(limit)
            .read_to_end(&mut excerpt);
        Attempt {
            outcome: Outcome::of_status(status),
            status: Some(status),
            retry_after,
            error: None,
            response_excerpt: String::from_utf8_lossy(&excerpt).into_owned(),
            elapsed: started.elapsed(),
        }
    }
}
