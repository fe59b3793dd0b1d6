//! The service's settings: defaults, then `[serve]` in `mlvet.toml`, then flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Every limit of the service. Defaults suit one machine; `[serve]` and flags change them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body as sent (compressed or not), in bytes: larger answers 413.
    pub max_body_bytes: u64,
    /// Largest body after gzip/zstd decompression, in bytes: a bomb stops here with 413.
    pub max_decompressed_bytes: u64,
    /// Longest time a request may take, in seconds (503 after it).
    pub request_timeout_seconds: u64,
    /// Longest `?wait=` on an upload, in seconds (kept below the request timeout).
    pub max_wait_seconds: u64,
    /// Requests per minute per API token or session (429 with Retry-After beyond).
    pub rate_per_minute: u32,
    /// Anonymous `POST /scan` requests per minute per client address (with `--public-scan`).
    pub public_scan_per_minute: u32,
    /// Failed authentications per minute per client address before 429.
    pub auth_failures_per_minute: u32,
    /// Uploads scanned at the same time.
    pub workers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024 * 1024,
            max_decompressed_bytes: 256 * 1024 * 1024,
            request_timeout_seconds: 120,
            max_wait_seconds: 110,
            rate_per_minute: 600,
            public_scan_per_minute: 20,
            auth_failures_per_minute: 30,
            workers: 2,
        }
    }
}

/// `[serve]` in `mlvet.toml` (also `[tool.mlvet.serve]` in a pyproject.toml).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeSection {
    pub listen: Option<SocketAddr>,
    pub database: Option<String>,
    pub public_scan: Option<bool>,
    pub insecure_cookies: Option<bool>,
    pub max_body_bytes: Option<u64>,
    pub max_decompressed_bytes: Option<u64>,
    pub request_timeout_seconds: Option<u64>,
    pub max_wait_seconds: Option<u64>,
    pub rate_per_minute: Option<u32>,
    pub public_scan_per_minute: Option<u32>,
    pub auth_failures_per_minute: Option<u32>,
    pub workers: Option<usize>,
}

impl ServeSection {
    /// The limits this section sets.
    pub fn limits(&self) -> PartialLimits {
        PartialLimits {
            max_body_bytes: self.max_body_bytes,
            max_decompressed_bytes: self.max_decompressed_bytes,
            request_timeout_seconds: self.request_timeout_seconds,
            max_wait_seconds: self.max_wait_seconds,
            rate_per_minute: self.rate_per_minute,
            public_scan_per_minute: self.public_scan_per_minute,
            auth_failures_per_minute: self.auth_failures_per_minute,
            workers: self.workers,
        }
    }
}

/// Limits as written in the file: only those given override the defaults.
#[derive(Debug, Clone, Default)]
pub struct PartialLimits {
    pub max_body_bytes: Option<u64>,
    pub max_decompressed_bytes: Option<u64>,
    pub request_timeout_seconds: Option<u64>,
    pub max_wait_seconds: Option<u64>,
    pub rate_per_minute: Option<u32>,
    pub public_scan_per_minute: Option<u32>,
    pub auth_failures_per_minute: Option<u32>,
    pub workers: Option<usize>,
}

impl PartialLimits {
    /// `self`'s values over `base`.
    pub fn over(&self, base: &Limits) -> Limits {
        Limits {
            max_body_bytes: self.max_body_bytes.unwrap_or(base.max_body_bytes),
            max_decompressed_bytes: self
                .max_decompressed_bytes
                .unwrap_or(base.max_decompressed_bytes),
            request_timeout_seconds: self
                .request_timeout_seconds
                .unwrap_or(base.request_timeout_seconds),
            max_wait_seconds: self.max_wait_seconds.unwrap_or(base.max_wait_seconds),
            rate_per_minute: self.rate_per_minute.unwrap_or(base.rate_per_minute),
            public_scan_per_minute: self
                .public_scan_per_minute
                .unwrap_or(base.public_scan_per_minute),
            auth_failures_per_minute: self
                .auth_failures_per_minute
                .unwrap_or(base.auth_failures_per_minute),
            workers: self.workers.unwrap_or(base.workers),
        }
    }
}

/// Reads `[serve]` from a configuration file (`mlvet.toml`, or `[tool.mlvet.serve]` in a
/// `pyproject.toml`); a file without it gives the defaults.
pub fn read_serve_section(path: &Path) -> Result<ServeSection, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
    let section = if is_pyproject {
        table
            .get("tool")
            .and_then(|t| t.get("mlvet"))
            .and_then(|t| t.get("serve"))
    } else {
        table.get("serve")
    };
    match section {
        None => Ok(ServeSection::default()),
        Some(value) => value
            .clone()
            .try_into()
            .map_err(|e| format!("{}: [serve]: {e}", path.display())),
    }
}

/// Everything `mlvet serve` needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// mlvet's data directory: the advisory database and the embedded store.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite:PATH`; `None`: SQLite in the data directory.
    pub database: Option<String>,
    /// Allow `POST /scan` without a token (rate-limited per client address).
    pub public_scan: bool,
    pub limits: Limits,
    /// The web app's session cookie without `Secure`: only for a plain-HTTP listener on
    /// loopback (behind a TLS proxy, or local use); refused on any other address.
    pub insecure_cookies: bool,
}

impl ServerConfig {
    /// Defaults for a data directory, listening on an ephemeral loopback port.
    pub fn for_data_dir(data_dir: &Path) -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.to_path_buf(),
            database: None,
            public_scan: false,
            limits: Limits::default(),
            insecure_cookies: false,
        }
    }

    /// Checks the limits make sense together.
    pub fn validate(&self) -> Result<(), String> {
        if self.insecure_cookies && !self.listen.ip().is_loopback() {
            return Err(
                "insecure-cookies (session cookies without Secure) is only allowed on a loopback listener"
                    .to_string(),
            );
        }
        let l = &self.limits;
        if l.workers == 0 || l.workers > 256 {
            return Err("workers must be 1 to 256".to_string());
        }
        if l.request_timeout_seconds == 0 {
            return Err("request-timeout-seconds must be at least 1".to_string());
        }
        if l.max_body_bytes == 0 || l.max_decompressed_bytes == 0 {
            return Err("body limits must be at least 1 byte".to_string());
        }
        if l.rate_per_minute == 0 {
            return Err("rate-per-minute must be at least 1".to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_section_overrides_only_what_it_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mlvet.toml");
        std::fs::write(
            &path,
            "fail-on = \"high\"\n[serve]\nlisten = \"127.0.0.1:9999\"\nmax-body-bytes = 1000\nworkers = 3\n",
        )
        .expect("write");
        let section = read_serve_section(&path).expect("read");
        assert_eq!(
            section.listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 9999)))
        );
        let limits = section.limits().over(&Limits::default());
        assert_eq!(limits.max_body_bytes, 1000);
        assert_eq!(limits.workers, 3);
        assert_eq!(limits.rate_per_minute, Limits::default().rate_per_minute);
        std::fs::write(&path, "[serve]\nmax-bodyy = 1\n").expect("write");
        assert!(
            read_serve_section(&path).is_err(),
            "unknown keys are errors"
        );
    }
}
