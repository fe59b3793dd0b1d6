//! Structured logs: one JSON object per line on standard error. Requests are logged by method,
//! route path and status, never with their query string or headers, so a token pasted into a
//! URL or sent in `Authorization` never reaches the log.

use std::io::Write;

/// Writes one log line: `{"ts": …, "level": …, "event": …, …fields}`.
pub fn event(level: &str, event: &str, fields: serde_json::Value) {
    let mut line = serde_json::Map::new();
    line.insert("ts".into(), mlvet_store::now_rfc3339().into());
    line.insert("level".into(), level.into());
    line.insert("event".into(), event.into());
    if let serde_json::Value::Object(fields) = fields {
        line.extend(fields);
    }
    let text = serde_json::Value::Object(line).to_string();
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

/// A request path safe to log: segments shaped like an mlvet token are replaced.
pub fn redact_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.contains("mlvet_") {
                "[redacted]"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_shaped_segments_are_redacted() {
        assert_eq!(
            super::redact_path("/api/v1/mlvet_abc_def/x"),
            "/api/v1/[redacted]/x"
        );
        assert_eq!(
            super::redact_path("/api/v1/projects/1"),
            "/api/v1/projects/1"
        );
    }
}
