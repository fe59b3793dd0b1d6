//! Rate limits (token buckets per key) and bounded request bodies (size as sent, then size
//! after gzip/zstd decompression).

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::{HeaderMap, StatusCode, header};

use crate::problem::Problem;

/// Token buckets: `per_minute` requests a minute, bursts up to `per_minute` (at least 1).
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Keys kept before full buckets are forgotten.
const MAX_KEYS: usize = 10_000;

impl RateLimiter {
    pub fn new() -> RateLimiter {
        RateLimiter {
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket, or says how many seconds until one is free.
    pub fn check(&self, key: &str, per_minute: u32) -> Result<(), u64> {
        let capacity = f64::from(per_minute.max(1));
        let refill_per_second = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > MAX_KEYS {
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * refill_per_second < capacity
            });
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((capacity, now));
        let available =
            (*tokens + now.duration_since(*at).as_secs_f64() * refill_per_second).min(capacity);
        if available >= 1.0 {
            *tokens = available - 1.0;
            *at = now;
            Ok(())
        } else {
            *tokens = available;
            *at = now;
            let wait = ((1.0 - available) / refill_per_second).ceil();
            // Whole seconds, at least one.
            Err(if wait.is_finite() && wait >= 1.0 {
                wait as u64
            } else {
                1
            })
        }
    }
}

/// Reads a request body of at most `max_body` bytes as sent, decoded by its
/// `Content-Encoding` (identity, gzip, zstd) to at most `max_decoded` bytes.
pub async fn read_body(
    headers: &HeaderMap,
    body: axum::body::Body,
    max_body: u64,
    max_decoded: u64,
) -> Result<Vec<u8>, Problem> {
    let too_large = |what: &str, limit: u64| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the {what} is larger than the limit of {limit} bytes"),
        )
    };
    if let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && length > max_body
    {
        return Err(too_large("request body", max_body));
    }
    let limit = usize::try_from(max_body).unwrap_or(usize::MAX);
    let raw = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.to_string().contains("length limit"))
            || e.to_string().contains("length limit")
        {
            too_large("request body", max_body)
        } else {
            Problem::bad_request(format!("cannot read the request body: {e}"))
        }
    })?;
    if raw.is_empty() {
        return Err(Problem::bad_request("the request body is empty"));
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    if encoding
        .as_deref()
        .is_none_or(|e| e.is_empty() || e == "identity")
    {
        return decode(None, &raw, max_decoded);
    }
    // Inflating up to the budget (hundreds of MiB) is CPU work: on the blocking pool, not on a
    // runtime thread that other connections share.
    tokio::task::spawn_blocking(move || decode(encoding.as_deref(), &raw, max_decoded))
        .await
        .map_err(Problem::internal)?
}

/// Decodes a body by its `Content-Encoding` (`None`, identity, gzip, zstd) to at most
/// `max_decoded` bytes: a bomb stops at the budget with 413, never after inflating.
pub fn decode(encoding: Option<&str>, raw: &[u8], max_decoded: u64) -> Result<Vec<u8>, Problem> {
    let too_large = |what: &str, limit: u64| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the {what} is larger than the limit of {limit} bytes"),
        )
    };
    let decoded = match encoding {
        None | Some("") | Some("identity") => {
            if raw.len() as u64 > max_decoded {
                return Err(too_large("request body", max_decoded));
            }
            return Ok(raw.to_vec());
        }
        Some("gzip") | Some("x-gzip") => {
            bounded_read(flate2::read::MultiGzDecoder::new(raw), max_decoded)
        }
        Some("zstd") => match zstd::stream::read::Decoder::new(raw) {
            Ok(decoder) => bounded_read(decoder, max_decoded),
            Err(e) => Err(Some(e)),
        },
        Some(other) => {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding `{other}` is not accepted: send identity, gzip or zstd"),
            ));
        }
    };
    match decoded {
        Ok(bytes) => Ok(bytes),
        Err(None) => Err(too_large("decompressed body", max_decoded)),
        Err(Some(e)) => Err(Problem::bad_request(format!(
            "the body is not valid for its Content-Encoding: {e}"
        ))),
    }
}

/// Reads at most `max` bytes; `Err(None)` when there were more.
fn bounded_read(reader: impl Read, max: u64) -> Result<Vec<u8>, Option<std::io::Error>> {
    let mut out = Vec::new();
    let read = reader
        .take(max.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(Some)?;
    if read as u64 > max {
        return Err(None);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refuse_after_the_burst_and_say_when() {
        let limiter = RateLimiter::new();
        for _ in 0..3 {
            assert!(limiter.check("a", 3).is_ok());
        }
        let wait = limiter.check("a", 3).expect_err("limited");
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(limiter.check("b", 3).is_ok(), "keys are independent");
    }

    #[test]
    fn bounded_reads_stop_at_the_budget() {
        assert_eq!(bounded_read(&b"abc"[..], 3).expect("fits"), b"abc");
        assert!(matches!(bounded_read(&b"abcd"[..], 3), Err(None)));
    }
}
