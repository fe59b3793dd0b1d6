//! Standard Webhooks signatures: HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed with the
//! endpoint secret's bytes (the base64 part of `whsec_…`), sent as `v1,<base64>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::WebhookError;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "whsec_";
/// Bytes of a generated secret (the spec allows 24 to 64).
const SECRET_BYTES: usize = 32;

/// An endpoint's signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key material.
        f.write_str("Secret(whsec_…)")
    }
}

impl Secret {
    /// A new random secret from the operating system's CSPRNG.
    pub fn generate() -> Result<Secret, WebhookError> {
        let mut bytes = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| WebhookError::Random(e.to_string()))?;
        Ok(Secret(bytes))
    }

    /// Reads `whsec_<base64>` (the prefix is optional, as the reference libraries accept).
    pub fn parse(text: &str) -> Result<Secret, WebhookError> {
        let encoded = text.trim();
        let encoded = encoded.strip_prefix(PREFIX).unwrap_or(encoded);
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|e| WebhookError::BadSecret(format!("not base64: {e}")))?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(WebhookError::BadSecret(format!(
                "{} bytes; Standard Webhooks secrets are 24 to 64 bytes",
                bytes.len()
            )));
        }
        Ok(Secret(bytes))
    }

    /// The serialised form, `whsec_<base64>`: shown once at creation, stored by the service.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable_hmac(),
        }
    }
}

#[cold]
fn unreachable_hmac() -> ! {
    // `Hmac::new_from_slice` only fails for fixed-size keys; HMAC-SHA256 takes any size.
    panic!("HMAC-SHA256 rejected a key")
}

fn signed_content(mac: &mut HmacSha256, id: &str, timestamp: i64, body: &[u8]) {
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
}

/// The `webhook-signature` header value for a message: `v1,<base64 signature>`.
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = secret.mac();
    signed_content(&mut mac, id, timestamp, body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Why a message did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the timestamp is not a number")]
    BadTimestamp,
    #[error("the timestamp is {0} seconds away from now, outside the tolerance")]
    Stale(i64),
    #[error("no valid v1 signature")]
    NoMatch,
}

/// Verifies a received message: the timestamp within `tolerance_seconds` of `now` (Unix seconds)
/// and at least one `v1,` signature of the space-separated header matching, compared in constant
/// time. The reference verifiers use a 5-minute tolerance.
pub fn verify(
    secret: &Secret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
    tolerance_seconds: i64,
) -> Result<(), VerifyError> {
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let skew = now.saturating_sub(timestamp);
    if skew.unsigned_abs() > tolerance_seconds.max(0).unsigned_abs() {
        return Err(VerifyError::Stale(skew));
    }
    for candidate in signatures.split_whitespace() {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            continue;
        };
        let Ok(expected) = STANDARD.decode(encoded) else {
            continue;
        };
        let mut mac = secret.mac();
        signed_content(&mut mac, id, timestamp, body);
        if mac.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err(VerifyError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in the Standard Webhooks reference libraries' test suites.
    #[test]
    fn the_reference_example_signs_identically() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn verification_checks_signature_timestamp_and_rotation() {
        let secret = Secret::generate().expect("secret");
        let other = Secret::generate().expect("secret");
        let body = br#"{"type":"finding.created"}"#;
        let good = sign(&secret, "msg_1", 1_000, body);
        let stale = |now| verify(&secret, "msg_1", "1000", &good, body, now, 300);
        assert_eq!(stale(1_000), Ok(()));
        assert_eq!(stale(1_300), Ok(()));
        assert_eq!(stale(1_301), Err(VerifyError::Stale(301)));
        // A second signature (rotation) is accepted when one of them is valid.
        let both = format!("{} {good}", sign(&other, "msg_1", 1_000, body));
        assert_eq!(
            verify(&secret, "msg_1", "1000", &both, body, 1_000, 300),
            Ok(())
        );
        // Any change to id, timestamp or body breaks it.
        assert_eq!(
            verify(&secret, "msg_2", "1000", &good, body, 1_000, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&secret, "msg_1", "1001", &good, body, 1_000, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&secret, "msg_1", "1000", &good, b"{}", 1_000, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&other, "msg_1", "1000", &good, body, 1_000, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&secret, "msg_1", "x", &good, body, 1_000, 300),
            Err(VerifyError::BadTimestamp)
        );
        // Extreme timestamps are stale, never an overflow.
        let extreme = i64::MAX.to_string();
        assert!(verify(&secret, "msg_1", &extreme, &good, body, -5, i64::MAX).is_err());
        let extreme = i64::MIN.to_string();
        assert!(verify(&secret, "msg_1", &extreme, &good, body, 5, 300).is_err());
    }

    #[test]
    fn secrets_round_trip_and_bad_ones_are_refused() {
        let secret = Secret::generate().expect("secret");
        let text = secret.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(Secret::parse(&text).expect("parse"), secret);
        assert_ne!(Secret::generate().expect("secret"), secret);
        assert!(Secret::parse("whsec_!!!").is_err());
        assert!(Secret::parse("whsec_c2hvcnQ=").is_err(), "too short");
        assert_eq!(format!("{secret:?}"), "Secret(whsec_…)");
    }
}
