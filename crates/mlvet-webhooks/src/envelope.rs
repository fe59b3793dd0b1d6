//! The body of a delivery: `{"type": "finding.created", "timestamp": "…Z", "data": {…}}`.

use serde::Serialize;

use crate::WebhookError;

/// A webhook body. `data` is the event's payload as the monitor built it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the event happened, RFC 3339 UTC.
    pub timestamp: String,
    pub data: serde_json::Value,
}

impl Envelope {
    /// An envelope stamped with the event's time (Unix seconds).
    pub fn new(event_type: &str, occurred_at_unix: i64, data: serde_json::Value) -> Envelope {
        Envelope {
            event_type: event_type.to_string(),
            timestamp: format_rfc3339(occurred_at_unix),
            data,
        }
    }

    /// The exact bytes sent and signed.
    pub fn to_body(&self) -> Vec<u8> {
        // Serialising a `Value` tree and strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A new message id, `msg_<26 base32 characters>` (128 random bits). The outbox assigns one per
/// event and reuses it on every attempt: receivers de-duplicate on it.
pub fn new_message_id() -> Result<String, WebhookError> {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| WebhookError::Random(e.to_string()))?;
    let mut value = u128::from_be_bytes(bytes);
    let mut out = String::from("msg_");
    for _ in 0..26 {
        out.push(char::from(ALPHABET[(value & 31) as usize]));
        value >>= 5;
    }
    Ok(out)
}

/// Unix seconds as RFC 3339 UTC (`1970-01-01T00:00:00Z`).
pub fn format_rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    // Civil date from days since the epoch (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3_600,
        seconds % 3_600 / 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_rfc3339() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_614_265_330), "2021-02-25T15:02:10Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn envelopes_and_ids() {
        let envelope = Envelope::new("finding.created", 0, serde_json::json!({"a": 1}));
        let body: serde_json::Value = serde_json::from_slice(&envelope.to_body()).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"type": "finding.created", "timestamp": "1970-01-01T00:00:00Z", "data": {"a": 1}})
        );
        let id = new_message_id().expect("id");
        assert_eq!(id.len(), 30);
        assert_ne!(id, new_message_id().expect("id"));
    }
}
