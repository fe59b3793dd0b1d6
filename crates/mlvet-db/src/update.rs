//! `mlvet db update`: downloads OSV per-ecosystem exports over HTTPS.
//!
//! Layout of an OSV export (research notes, vuln_matching §2.2): `<base>/<ECOSYSTEM>/all.zip`
//! holds every record of the ecosystem; `<base>/<ECOSYSTEM>/modified_id.csv` lists
//! `<RFC 3339 modified>,<ID>` newest first; `<base>/<ECOSYSTEM>/<ID>.json` is one record.
//!
//! Per ecosystem the database keeps a cursor: the newest `modified` it has seen from this source.
//! The first sync (or a forced one) downloads `all.zip`. Later syncs read `modified_id.csv` only
//! until they reach the cursor and fetch just the records modified since; when too many changed,
//! `all.zip` is cheaper and is used instead.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::time::Duration;

use crate::import::{Format, Importer, parse_record, row_from};
use crate::store::{SourceRow, Store, SyncRow};
use crate::time::{now_nanos, parse_rfc3339_nanos};
use crate::{DbError, ImportStats, Progress};

/// The environment variable naming the base URL of the OSV export.
pub const OSV_URL_ENV: &str = "MLVET_OSV_URL";

/// The OSV project's public export bucket (an advisory source, not a package registry). A build
/// can bake in another default with `MLVET_DEFAULT_OSV_URL`; users override it with
/// `MLVET_OSV_URL` or `--url` (a mirror, an air-gapped copy).
pub const DEFAULT_OSV_URL: &str = match option_env!("MLVET_DEFAULT_OSV_URL") {
    Some(url) => url,
    None => "https://osv-vulnerabilities.storage.googleapis.com",
};

/// How `update` downloads advisories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateConfig {
    /// Base URL of an OSV export (the bucket layout `<base>/<ECOSYSTEM>/all.zip`). Must be
    /// `https://` (plain `http://` is accepted for loopback addresses only, for local mirrors and
    /// tests).
    pub base_url: String,
    /// OSV ecosystem names to sync, e.g. `PyPI`, `npm`, `Go`, `Maven`.
    pub ecosystems: Vec<String>,
    /// Connect timeout, and the longest a download may stall without receiving data.
    pub timeout: Duration,
    /// More changed records than this since the last sync and `all.zip` is downloaded instead of
    /// the individual records.
    pub full_sync_threshold: usize,
    /// Ignore the cursors and download `all.zip` for every ecosystem.
    pub force_full: bool,
    /// The largest download accepted (a bound against a misbehaving server filling the disk).
    pub max_download_bytes: u64,
}

impl UpdateConfig {
    /// A configuration for `base_url` with defaults: PyPI only, 30 s timeout, full sync above
    /// 1,000 changed records, downloads up to 4 GiB.
    pub fn new(base_url: impl Into<String>) -> Self {
        UpdateConfig {
            base_url: base_url.into(),
            ecosystems: vec!["PyPI".to_string()],
            timeout: Duration::from_secs(30),
            full_sync_threshold: 1_000,
            force_full: false,
            max_download_bytes: 4 * 1024 * 1024 * 1024,
        }
    }

    /// The configuration from the environment: the base URL from `MLVET_OSV_URL`, else
    /// [`DEFAULT_OSV_URL`].
    pub fn from_env() -> Result<Self, DbError> {
        let from_env = std::env::var(OSV_URL_ENV)
            .ok()
            .filter(|url| !url.trim().is_empty());
        Ok(UpdateConfig::new(
            from_env.unwrap_or_else(|| DEFAULT_OSV_URL.to_string()),
        ))
    }
}

/// What `update` did, per ecosystem in the order configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateStats {
    pub ecosystems: Vec<EcosystemUpdate>,
}

impl UpdateStats {
    /// Whether any ecosystem's records changed.
    pub fn changed(&self) -> bool {
        self.ecosystems.iter().any(|e| e.import.changed())
    }
}

/// How one ecosystem was synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMethod {
    /// `all.zip` was downloaded and imported.
    Full,
    /// Only the records listed as modified since the last sync were downloaded.
    Incremental,
}

impl SyncMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMethod::Full => "full",
            SyncMethod::Incremental => "incremental",
        }
    }
}

/// The result of syncing one ecosystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcosystemUpdate {
    pub ecosystem: String,
    pub method: SyncMethod,
    /// Bytes downloaded (the export, the index, the records).
    pub downloaded_bytes: u64,
    /// Incremental sync: records listed as modified since the last sync.
    pub listed_changes: u64,
    /// Incremental sync: listed records the server did not have (retried next time).
    pub missing: u64,
    pub import: ImportStats,
}

/// Syncs every configured ecosystem, each in its own transaction: an error leaves the ecosystems
/// already synced in place and the failing one untouched.
pub(crate) fn update(
    store: &mut dyn Store,
    temp_dir: &Path,
    config: &UpdateConfig,
    progress: &dyn Progress,
) -> Result<UpdateStats, DbError> {
    let base = base_url(&config.base_url)?;
    let client = Client::new(config);
    let mut stats = UpdateStats::default();
    for ecosystem in &config.ecosystems {
        let ecosystem = ecosystem.trim();
        if ecosystem.is_empty()
            || ecosystem.contains(['/', '\\'])
            || ecosystem.chars().any(char::is_control)
        {
            return Err(DbError::BadEcosystem(ecosystem.to_string()));
        }
        let sync = Sync {
            store: &mut *store,
            client: &client,
            config,
            progress,
            base: &base,
            ecosystem,
            temp_dir,
        };
        stats.ecosystems.push(sync.run()?);
    }
    Ok(stats)
}

/// Checks the base URL and strips trailing slashes.
fn base_url(url: &str) -> Result<String, DbError> {
    let url = url.trim().trim_end_matches('/');
    let bad = |message: &str| DbError::BadUrl {
        url: url.to_string(),
        message: message.to_string(),
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("not an absolute URL"))?;
    let host_port = rest.split('/').next().unwrap_or_default();
    if host_port.is_empty() {
        return Err(bad("no host"));
    }
    if url.contains(['?', '#']) {
        return Err(bad("a base URL takes no query or fragment"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(url.to_string()),
        "http" if is_loopback(host_port) => Ok(url.to_string()),
        "http" => Err(DbError::InsecureUrl {
            url: url.to_string(),
        }),
        _ => Err(bad("the scheme must be https")),
    }
}

fn is_loopback(host_port: &str) -> bool {
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port
            .rsplit_once(':')
            .map_or(host_port, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Escapes one URL path segment (ecosystem names such as `GitHub Actions` hold spaces).
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// OSV ids are short ASCII tokens (`PYSEC-2024-1`, `GHSA-xxxx-xxxx-xxxx`, `MAL-2024-1`); anything
/// else in the index is refused rather than spliced into a URL.
fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        && !id.starts_with('.')
}

/// A blocking HTTP client with the configured timeouts; statuses are checked by the caller.
struct Client {
    agent: ureq::Agent,
    max_bytes: u64,
}

/// An HTTP response body being read, with its announced length.
struct Download {
    url: String,
    reader: Box<dyn Read>,
    length: Option<u64>,
}

impl Client {
    fn new(config: &UpdateConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(config.timeout))
            .timeout_per_read(Some(config.timeout))
            .http_status_as_error(false)
            .user_agent(format!("mlvet/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Client {
            agent,
            max_bytes: config.max_download_bytes,
        }
    }

    /// Starts a GET; `Ok(None)` for 404 (a record listed but not yet exported).
    fn get(&self, url: &str) -> Result<Option<Download>, DbError> {
        let response = self.agent.get(url).call().map_err(|e| DbError::Network {
            url: url.to_string(),
            message: network_message(&e),
        })?;
        let status = response.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(DbError::HttpStatus {
                url: url.to_string(),
                status,
            });
        }
        let length = response.body().content_length();
        if length.is_some_and(|length| length > self.max_bytes) {
            return Err(DbError::TooLarge {
                url: url.to_string(),
                limit: self.max_bytes,
            });
        }
        let reader = response.into_body().into_reader();
        Ok(Some(Download {
            url: url.to_string(),
            reader: Box::new(reader),
            length,
        }))
    }

    /// GET that must succeed (404 is an error).
    fn get_required(&self, url: &str) -> Result<Download, DbError> {
        self.get(url)?.ok_or_else(|| DbError::HttpStatus {
            url: url.to_string(),
            status: 404,
        })
    }
}

fn network_message(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => format!("timed out ({error})"),
        ureq::Error::HostNotFound => "host not found (no network, or a wrong URL?)".to_string(),
        ureq::Error::ConnectionFailed => {
            "connection failed (no network, or the server is down?)".to_string()
        }
        other => other.to_string(),
    }
}

impl Download {
    /// Copies the body into `sink`, reporting progress, up to `limit` bytes.
    fn copy_to(
        mut self,
        sink: &mut impl Write,
        limit: u64,
        progress: &dyn Progress,
    ) -> Result<u64, DbError> {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut total: u64 = 0;
        loop {
            let read = self
                .reader
                .read(&mut buffer)
                .map_err(|e| DbError::Network {
                    url: self.url.clone(),
                    message: e.to_string(),
                })?;
            if read == 0 {
                return Ok(total);
            }
            total += read as u64;
            if total > limit {
                return Err(DbError::TooLarge {
                    url: self.url,
                    limit,
                });
            }
            let chunk = buffer.get(..read).unwrap_or_default();
            sink.write_all(chunk).map_err(|e| DbError::Network {
                url: self.url.clone(),
                message: e.to_string(),
            })?;
            progress.inc(read as u64);
        }
    }

    /// Reads a small body (one record) into memory.
    fn bytes(self, limit: u64) -> Result<Vec<u8>, DbError> {
        let mut out = Vec::new();
        self.copy_to(&mut out, limit, &crate::NoProgress)?;
        Ok(out)
    }
}

/// One ecosystem's sync.
struct Sync<'a> {
    store: &'a mut dyn Store,
    client: &'a Client,
    config: &'a UpdateConfig,
    progress: &'a dyn Progress,
    base: &'a str,
    ecosystem: &'a str,
    temp_dir: &'a Path,
}

/// Records listed in `modified_id.csv` since the cursor.
struct Changes {
    /// `(id, modified ns)`, newest first, without duplicates.
    ids: Vec<(String, i64)>,
    /// The first (newest) time in the index: the next cursor.
    newest_ns: Option<i64>,
    /// More changes than the threshold: stop listing and download everything.
    too_many: bool,
    bytes: u64,
}

impl Sync<'_> {
    fn url(&self, file: &str) -> String {
        format!("{}/{}/{}", self.base, path_segment(self.ecosystem), file)
    }

    fn run(mut self) -> Result<EcosystemUpdate, DbError> {
        let state = self.store.sync_row(self.ecosystem)?;
        // A cursor only means something for the source that produced it.
        let cursor = state
            .filter(|s| s.source == self.base && !self.config.force_full)
            .and_then(|s| s.last_modified_ns);
        let Some(cursor) = cursor else {
            return self.full();
        };
        let changes = self.list_changes(cursor)?;
        if changes.too_many {
            let mut result = self.full()?;
            result.downloaded_bytes += changes.bytes;
            return Ok(result);
        }
        self.incremental(cursor, changes)
    }

    /// Downloads `all.zip` to a temporary file beside the database and imports it.
    fn full(&mut self) -> Result<EcosystemUpdate, DbError> {
        let url = self.url("all.zip");
        let download = self.client.get_required(&url)?;
        let mut temp = tempfile::Builder::new()
            .prefix(".mlvet-download-")
            .suffix(".zip")
            .tempfile_in(self.temp_dir)
            .map_err(|e| DbError::io(self.temp_dir, e))?;
        self.progress.start(
            &format!("{}: downloading all.zip", self.ecosystem),
            download.length,
        );
        let downloaded = {
            let mut writer = std::io::BufWriter::new(temp.as_file_mut());
            let copied =
                download.copy_to(&mut writer, self.config.max_download_bytes, self.progress)?;
            writer.flush().map_err(|e| DbError::io(self.temp_dir, e))?;
            copied
        };
        self.progress.finish();
        let file = temp.reopen().map_err(|e| DbError::io(temp.path(), e))?;
        let (ecosystem, base, progress) = (self.ecosystem, self.base, self.progress);
        let mut stats = ImportStats::default();
        self.store.write(&mut |tx| {
            let mut importer = Importer::new(tx, progress, "update", base);
            importer.seen = Some(std::collections::HashSet::new());
            importer.import_zip(std::io::BufReader::new(&file), &url)?;
            // A full sync mirrors the export: records it no longer holds are gone upstream.
            importer.remove_unseen(ecosystem)?;
            let cursor = importer.stats.newest_modified_ns;
            record_sync(&mut importer, ecosystem, base, cursor, SyncMethod::Full)?;
            importer.stats.generation = importer.generation();
            stats = std::mem::take(&mut importer.stats);
            Ok(())
        })?;
        Ok(EcosystemUpdate {
            ecosystem: self.ecosystem.to_string(),
            method: SyncMethod::Full,
            downloaded_bytes: downloaded,
            listed_changes: 0,
            missing: 0,
            import: stats,
        })
    }

    /// Reads `modified_id.csv` (newest first) down to the cursor. Entries as old as the cursor are
    /// fetched again: another record may share the cursor's timestamp, and re-importing is
    /// idempotent.
    fn list_changes(&self, cursor: i64) -> Result<Changes, DbError> {
        let url = self.url("modified_id.csv");
        let download = self.client.get_required(&url)?;
        let mut reader = BufReader::new(download.reader.take(self.config.max_download_bytes));
        let mut changes = Changes {
            ids: Vec::new(),
            newest_ns: None,
            too_many: false,
            bytes: 0,
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut line = String::new();
        let mut number: u64 = 0;
        loop {
            line.clear();
            let read = reader.read_line(&mut line).map_err(|e| DbError::Network {
                url: url.clone(),
                message: e.to_string(),
            })?;
            if read == 0 {
                break;
            }
            changes.bytes += read as u64;
            number += 1;
            let entry = line.trim();
            if entry.is_empty() {
                continue;
            }
            let bad = |message: &str| DbError::BadIndex {
                url: url.clone(),
                line: number,
                message: message.to_string(),
            };
            let (time, id) = entry
                .split_once(',')
                .ok_or_else(|| bad("expected `<modified>,<id>`"))?;
            let time_ns =
                parse_rfc3339_nanos(time).ok_or_else(|| bad("the time is not RFC 3339"))?;
            let id = id.trim();
            if !is_valid_id(id) {
                return Err(bad("not an OSV id"));
            }
            if time_ns < cursor {
                break;
            }
            changes.newest_ns = changes.newest_ns.max(Some(time_ns));
            if seen.insert(id.to_string()) {
                changes.ids.push((id.to_string(), time_ns));
            }
            if changes.ids.len() > self.config.full_sync_threshold {
                changes.too_many = true;
                break;
            }
        }
        Ok(changes)
    }

    /// Fetches each changed record, then writes them all in one transaction.
    fn incremental(&mut self, cursor: i64, changes: Changes) -> Result<EcosystemUpdate, DbError> {
        let mut downloaded = changes.bytes;
        let mut records = Vec::with_capacity(changes.ids.len());
        let mut missing_oldest: Option<i64> = None;
        let mut missing: u64 = 0;
        let mut failures = ImportStats::default();
        self.progress.start(
            &format!("{}: downloading changed records", self.ecosystem),
            Some(changes.ids.len() as u64),
        );
        for (id, time_ns) in &changes.ids {
            let url = self.url(&format!("{id}.json"));
            match self.client.get(&url)? {
                Some(download) => {
                    let bytes = download.bytes(mlvet_osv::MAX_RECORD_BYTES as u64)?;
                    downloaded += bytes.len() as u64;
                    match parse_record(Format::Json, &bytes).map(row_from) {
                        Ok(row) => records.push(row),
                        Err(message) => failures.fail(url, message),
                    }
                }
                None => {
                    // Listed but not exported yet: keep the cursor before it so it is retried.
                    missing += 1;
                    missing_oldest =
                        Some(missing_oldest.map_or(*time_ns, |t: i64| t.min(*time_ns)));
                }
            }
            self.progress.inc(1);
        }
        self.progress.finish();
        // Listing re-reads entries as old as the cursor, so a missing record's own time keeps it
        // in the next listing; every listed time is at least the old cursor.
        let next_cursor =
            missing_oldest.unwrap_or_else(|| changes.newest_ns.unwrap_or(cursor).max(cursor));
        let (ecosystem, base, progress) = (self.ecosystem, self.base, self.progress);
        let mut stats = ImportStats::default();
        self.store.write(&mut |tx| {
            let mut importer = Importer::new(tx, progress, "update", base);
            importer.stats = failures.clone();
            for row in &records {
                importer.store(row)?;
            }
            record_sync(
                &mut importer,
                ecosystem,
                base,
                Some(next_cursor),
                SyncMethod::Incremental,
            )?;
            importer.stats.generation = importer.generation();
            stats = std::mem::take(&mut importer.stats);
            Ok(())
        })?;
        Ok(EcosystemUpdate {
            ecosystem: self.ecosystem.to_string(),
            method: SyncMethod::Incremental,
            downloaded_bytes: downloaded,
            listed_changes: changes.ids.len() as u64,
            missing,
            import: stats,
        })
    }
}

/// Records a finished sync: the source it came from and the ecosystem's new cursor.
fn record_sync(
    importer: &mut Importer<'_>,
    ecosystem: &str,
    base: &str,
    cursor: Option<i64>,
    method: SyncMethod,
) -> Result<(), DbError> {
    let now = now_nanos();
    importer.record_source(&SourceRow {
        source: base.to_string(),
        kind: "update".into(),
        updated_at_ns: now,
        records: importer.stats.records,
    })?;
    importer.record_sync(&SyncRow {
        ecosystem: ecosystem.to_string(),
        source: base.to_string(),
        last_modified_ns: cursor,
        updated_at_ns: now,
        method: method.as_str().to_string(),
    })
}
