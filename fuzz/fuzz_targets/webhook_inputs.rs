#![no_main]
//! Fuzzes what webhook code reads from others: a receiver's `Retry-After`, signature headers and
//! secrets given to the verifier, and subscription requests.

use libfuzzer_sys::fuzz_target;
use mlvet_webhooks::retry::parse_retry_after;
use mlvet_webhooks::{Secret, Subscription, sign, verify};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_retry_after(&text, 1_700_000_000);
    let _ = Secret::parse(&text);
    if let Ok(secret) = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") {
        let mut parts = text.splitn(3, '\n');
        let (id, timestamp, signatures) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        // Only a correct signature verifies.
        if verify(&secret, id, timestamp, signatures, data, 1_700_000_000, i64::MAX).is_ok() {
            let ts: i64 = timestamp.trim().parse().unwrap_or_default();
            assert!(signatures.split_whitespace().any(|s| s == sign(&secret, id, ts, data)));
        }
    }
    if let Ok(subscription) = serde_json::from_slice::<Subscription>(data)
        && subscription.validate().is_ok()
    {
        assert!(!subscription.events.is_empty());
    }
});
