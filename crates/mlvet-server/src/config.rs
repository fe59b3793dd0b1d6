//! The service's settings: defaults, then `[serve]` in `mlvet.toml`, then flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mlvet_webhooks::limits::EndpointLimits;
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
    /// Jobs (uploads, re-matches) run at the same time by this process; 0: none (an API-only
    /// replica, with `mlvet worker` processes doing the work).
    pub workers: usize,
    /// How long a claimed job is leased, in seconds; its worker extends the lease every third
    /// of it, so a job whose worker died is claimed again after at most this long.
    pub job_lease_seconds: u64,
    /// Longest time a client may take to send a request's headers, in seconds: a slow
    /// (slowloris) client is disconnected after it.
    pub header_timeout_seconds: u64,
    /// Open connections at the same time; further clients wait in the listen backlog.
    pub max_connections: usize,
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
            job_lease_seconds: 30,
            header_timeout_seconds: 10,
            max_connections: 1024,
        }
    }
}

/// The monitor's settings (issue 12): scheduled advisory updates and webhook deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorConfig {
    /// Run `db update` against [`MonitorConfig::osv_url`] this often; `None` is `--offline`.
    pub update_every: Option<Duration>,
    /// The OSV export the scheduled update reads; `None`: `MLVET_OSV_URL`, else mlvet-db's
    /// default export.
    pub osv_url: Option<String>,
    /// OSV ecosystems the scheduled update syncs.
    pub ecosystems: Vec<String>,
    /// Deliver webhooks to private, loopback and link-local addresses too.
    pub allow_private_webhooks: bool,
    /// How often the generation watcher re-opens the advisory database (at most 1 s, so that
    /// a new generation is noticed within 2 s).
    pub poll: Duration,
    /// The longest one delivery attempt may take.
    pub webhook_timeout: Duration,
    /// Deliveries in flight at once in this process (each endpoint also has its own cap).
    pub delivery_workers: usize,
    /// Requests in flight to one endpoint from this process.
    pub webhook_max_in_flight: usize,
    /// Sustained requests per second to one endpoint from this process.
    pub webhook_rate_per_second: u32,
    /// Requests sent at once to one endpoint after a quiet period.
    pub webhook_burst: u32,
}

impl MonitorConfig {
    /// Hourly updates: `mlvet serve`'s default.
    pub const DEFAULT_UPDATE_EVERY: Duration = Duration::from_secs(3600);

    /// No scheduled update (what an embedded or test server gets; `mlvet serve` turns the
    /// hourly update on unless `--offline`).
    pub fn offline() -> MonitorConfig {
        MonitorConfig {
            update_every: None,
            osv_url: None,
            ecosystems: vec!["PyPI".to_string()],
            allow_private_webhooks: false,
            poll: Duration::from_millis(500),
            webhook_timeout: Duration::from_secs(15),
            delivery_workers: 16,
            webhook_max_in_flight: EndpointLimits::DEFAULT_MAX_CONCURRENT,
            webhook_rate_per_second: EndpointLimits::DEFAULT_PER_SECOND,
            webhook_burst: EndpointLimits::DEFAULT_BURST,
        }
    }

    /// The per-endpoint limits of the delivery loop.
    pub fn endpoint_limits(&self) -> EndpointLimits {
        EndpointLimits {
            max_concurrent: self.webhook_max_in_flight.max(1),
            per_second: f64::from(self.webhook_rate_per_second.max(1)),
            burst: self.webhook_burst.max(1),
        }
    }
}

/// `1h`, `30m`, `90s`, `1d` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (`1h`, `30m`, `90s`, `1d`)"))?;
    let seconds = match unit.trim() {
        "s" => value,
        "m" => value.saturating_mul(60),
        "h" => value.saturating_mul(3600),
        "d" => value.saturating_mul(86_400),
        _ => {
            return Err(format!(
                "`{text}` is not a duration (`1h`, `30m`, `90s`, `1d`)"
            ));
        }
    };
    if seconds == 0 {
        return Err("a duration must be at least 1 s".to_string());
    }
    Ok(Duration::from_secs(seconds))
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
    pub job_lease_seconds: Option<u64>,
    pub header_timeout_seconds: Option<u64>,
    pub max_connections: Option<usize>,
    /// Scheduled advisory updates (`1h` by default).
    pub update_every: Option<String>,
    /// No scheduled advisory update.
    pub offline: Option<bool>,
    /// The OSV export the scheduled update reads.
    pub osv_url: Option<String>,
    /// Deliver webhooks to private, loopback and link-local addresses.
    pub allow_private_webhooks: Option<bool>,
    /// How often tracked Hub models are re-checked (seconds); off with `offline`.
    pub hub_recheck_seconds: Option<u64>,
    /// Webhook requests in flight to one endpoint (per process).
    pub webhook_max_in_flight: Option<usize>,
    /// Webhook requests per second to one endpoint (per process).
    pub webhook_rate_per_second: Option<u32>,
    /// Webhook requests sent at once to one endpoint after a quiet period.
    pub webhook_burst: Option<u32>,
    /// `[serve.hub]`: where the Hub is and the token the service uses.
    pub hub: Option<HubSection>,
}

/// `[serve.hub]` in `mlvet.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HubSection {
    /// The Hub (or a mirror) the service reads (default: `$HF_ENDPOINT`, else the Hub).
    pub endpoint: Option<String>,
    /// A file holding the Hugging Face token (never the token itself in the configuration).
    pub token_file: Option<PathBuf>,
}

/// How the service reads the Hugging Face Hub (issue 14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubServiceConfig {
    /// Base URL of the Hub or a mirror, without a trailing `/`.
    pub endpoint: String,
    /// The token file; the token is read once at start and sent to `endpoint` only.
    pub token_file: Option<PathBuf>,
    /// Re-check tracked models this often; `None`: never (`--offline`, embedded servers).
    pub recheck: Option<Duration>,
    /// The version part of the read cache's key and of "scanned with": mlvet's version and a
    /// digest of its rules (a rules change re-scans every tracked model).
    pub tool_version: String,
    /// Repositories of one bulk scan at most (an organisation is cut there).
    pub max_bulk_repos: usize,
}

impl HubServiceConfig {
    /// `mlvet serve`'s default re-check interval.
    pub const DEFAULT_RECHECK: Duration = Duration::from_secs(6 * 3600);

    /// The Hub, no token, no re-check, this mlvet's version.
    pub fn default_for_version() -> HubServiceConfig {
        HubServiceConfig {
            endpoint: mlvet_hub::DEFAULT_ENDPOINT.to_string(),
            token_file: None,
            recheck: None,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            max_bulk_repos: 1000,
        }
    }
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
            job_lease_seconds: self.job_lease_seconds,
            header_timeout_seconds: self.header_timeout_seconds,
            max_connections: self.max_connections,
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
    pub job_lease_seconds: Option<u64>,
    pub header_timeout_seconds: Option<u64>,
    pub max_connections: Option<usize>,
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
            job_lease_seconds: self.job_lease_seconds.unwrap_or(base.job_lease_seconds),
            header_timeout_seconds: self
                .header_timeout_seconds
                .unwrap_or(base.header_timeout_seconds),
            max_connections: self.max_connections.unwrap_or(base.max_connections),
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
    /// Scheduled advisory updates and webhook deliveries.
    pub monitor: MonitorConfig,
    /// The web app's session cookie without `Secure`: only for a plain-HTTP listener on
    /// loopback (behind a TLS proxy, or local use); refused on any other address.
    pub insecure_cookies: bool,
    /// Hub scanning: endpoint, token file, re-check interval.
    pub hub: HubServiceConfig,
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
            monitor: MonitorConfig::offline(),
            insecure_cookies: false,
            hub: HubServiceConfig::default_for_version(),
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
        if l.workers > 256 {
            return Err("workers must be 0 to 256".to_string());
        }
        if !(3..=3600).contains(&l.job_lease_seconds) {
            return Err("job-lease-seconds must be 3 to 3600".to_string());
        }
        if l.header_timeout_seconds == 0 {
            return Err("header-timeout-seconds must be at least 1".to_string());
        }
        if l.max_connections == 0 {
            return Err("max-connections must be at least 1".to_string());
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
        let m = &self.monitor;
        if m.poll.is_zero() || m.poll > Duration::from_secs(1) {
            return Err("the generation watcher polls every 1 ms to 1 s".to_string());
        }
        if m.delivery_workers == 0 || m.delivery_workers > 256 {
            return Err("delivery workers must be 1 to 256".to_string());
        }
        if m.webhook_max_in_flight == 0 || m.webhook_max_in_flight > 256 {
            return Err("webhook-max-in-flight must be 1 to 256".to_string());
        }
        if m.webhook_rate_per_second == 0 || m.webhook_burst == 0 {
            return Err("webhook-rate-per-second and webhook-burst must be at least 1".to_string());
        }
        let hub = &self.hub;
        if !(hub.endpoint.starts_with("https://") || hub.endpoint.starts_with("http://")) {
            return Err("[serve.hub] endpoint must be an http(s) URL".to_string());
        }
        if hub.recheck.is_some_and(|r| r.is_zero()) {
            return Err("hub-recheck-seconds must be at least 1".to_string());
        }
        if hub.max_bulk_repos == 0 {
            return Err("a bulk scan needs room for at least one repository".to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_monitor_keys() {
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "0", "0h", "soon", "1w", "-1h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mlvet.toml");
        std::fs::write(
            &path,
            "[serve]\nupdate-every = \"6h\"\noffline = false\nosv-url = \"https://osv-mirror.invalid\"\nallow-private-webhooks = true\n",
        )
        .expect("write");
        let section = read_serve_section(&path).expect("read");
        assert_eq!(section.update_every.as_deref(), Some("6h"));
        assert_eq!(section.offline, Some(false));
        assert_eq!(section.allow_private_webhooks, Some(true));
        assert_eq!(
            section.osv_url.as_deref(),
            Some("https://osv-mirror.invalid")
        );
        let mut config = ServerConfig::for_data_dir(dir.path());
        assert_eq!(
            config.monitor.update_every, None,
            "embedded servers never update"
        );
        config.monitor.poll = Duration::from_secs(2);
        assert!(
            config.validate().is_err(),
            "a new generation must be seen within 2 s"
        );
    }

    #[test]
    fn hub_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mlvet.toml");
        std::fs::write(
            &path,
            "[serve]\nhub-recheck-seconds = 600\n[serve.hub]\nendpoint = \"https://hub-mirror.invalid\"\ntoken-file = \"/run/secrets/hf\"\n",
        )
        .expect("write");
        let section = read_serve_section(&path).expect("read");
        assert_eq!(section.hub_recheck_seconds, Some(600));
        let hub = section.hub.expect("[serve.hub]");
        assert_eq!(hub.endpoint.as_deref(), Some("https://hub-mirror.invalid"));
        assert_eq!(hub.token_file, Some(PathBuf::from("/run/secrets/hf")));
        std::fs::write(&path, "[serve.hub]\ntoken = \"hf_x\"\n").expect("write");
        assert!(
            read_serve_section(&path).is_err(),
            "a token is never written in the configuration"
        );
        let mut config = ServerConfig::for_data_dir(dir.path());
        config.hub.endpoint = "ftp://x".to_string();
        assert!(config.validate().is_err());
    }

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
