//! Importing OSV records: single files (`.json`, `.yaml`, `.yml`), directories of them (searched
//! recursively; other files are counted and ignored; zip exports inside are imported too) and OSV
//! zip exports (`<ECOSYSTEM>/all.zip`, entries `*.json`).
//!
//! Records are read in chunks, parsed in parallel (rayon) and written in order through one
//! [`StoreTx`], so memory stays bounded by a chunk whatever the size of the export, and the
//! result does not depend on thread timing.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use mlvet_osv::{Advisory, Ecosystem, MAX_RECORD_BYTES, normalize_package_name};
use rayon::prelude::*;

use crate::store::{AdvisoryRow, SourceRow, StoreTx, SyncRow, Upserted};
use crate::time::parse_rfc3339_nanos;
use crate::{DbError, Progress};

/// Records parsed per parallel batch; with [`CHUNK_BYTES`] this bounds the memory an import uses.
const CHUNK_RECORDS: usize = 512;
const CHUNK_BYTES: usize = 32 * 1024 * 1024;
/// Entries of one zip archive beyond which the rest is refused (OSV's largest export, npm, has a
/// few hundred thousand records).
const MAX_ZIP_ENTRIES: usize = 5_000_000;
/// Directory depth searched below an imported directory.
const MAX_DIR_DEPTH: usize = 64;
/// Failures kept with their messages; more are only counted.
const MAX_REPORTED_FAILURES: usize = 100;
/// The largest JSON file read whole: a collection of records (a JSON array, or an OSV API
/// `{"vulns": [...]}` answer) can hold many records of up to `MAX_RECORD_BYTES` each.
const MAX_COLLECTION_BYTES: usize = 256 * 1024 * 1024;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportStats {
    /// Records read and parsed successfully.
    pub records: u64,
    /// New records stored.
    pub inserted: u64,
    /// Stored records replaced by a newer version (`modified` later).
    pub updated: u64,
    /// Records already stored at the same or a newer version: nothing changed.
    pub unchanged: u64,
    /// Of the records read, how many are withdrawn (stored, never listed as current).
    pub withdrawn: u64,
    /// Files or zip entries that are not OSV records by name (`README.md`, `.id-allocator`...).
    pub ignored: u64,
    /// Files or entries named like records that could not be read or parsed.
    pub failed: u64,
    /// The first failures with their reasons (at most 100; `failed` counts all).
    pub failures: Vec<ImportFailure>,
    /// Stored records a full sync removed because the export no longer holds them.
    pub removed: u64,
    /// The advisory generation this import or update recorded; `None` when nothing changed.
    pub generation: Option<u64>,
    /// The newest `modified` among the records read (UTC nanoseconds), the update cursor.
    pub(crate) newest_modified_ns: Option<i64>,
}

/// One file or zip entry that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFailure {
    /// The file path, or `archive.zip!entry.json` for a zip entry.
    pub origin: String,
    pub message: String,
}

impl ImportStats {
    /// Whether the import changed the database.
    pub fn changed(&self) -> bool {
        self.inserted + self.updated + self.removed > 0
    }

    pub(crate) fn fail(&mut self, origin: String, message: String) {
        self.failed += 1;
        if self.failures.len() < MAX_REPORTED_FAILURES {
            self.failures.push(ImportFailure { origin, message });
        }
    }
}

/// The serialisation of a record file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Yaml,
}

/// What a file name says a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Record(Format),
    Zip,
    Other,
}

pub(crate) fn kind_of(name: &str) -> Kind {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".json") {
        Kind::Record(Format::Json)
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        Kind::Record(Format::Yaml)
    } else if lower.ends_with(".zip") {
        Kind::Zip
    } else {
        Kind::Other
    }
}

/// A record file's bytes waiting to be parsed.
struct Pending {
    origin: String,
    format: Format,
    bytes: Vec<u8>,
}

/// Feeds records into one transaction, parsing them a chunk at a time.
pub(crate) struct Importer<'a> {
    tx: &'a mut dyn StoreTx,
    progress: &'a dyn Progress,
    pending: Vec<Pending>,
    pending_bytes: usize,
    pub(crate) stats: ImportStats,
    /// Ids of every record read, kept when a full sync will remove the records it did not see.
    pub(crate) seen: Option<std::collections::HashSet<String>>,
}

impl<'a> Importer<'a> {
    /// An importer writing into `tx`; `kind` (`import` or `update`) and `source` describe the
    /// generation the transaction records if it changes anything.
    pub(crate) fn new(
        tx: &'a mut dyn StoreTx,
        progress: &'a dyn Progress,
        kind: &str,
        source: &str,
    ) -> Self {
        tx.set_origin(kind, source);
        Importer {
            tx,
            progress,
            pending: Vec::new(),
            pending_bytes: 0,
            stats: ImportStats::default(),
            seen: None,
        }
    }

    /// Removes the stored records of `ecosystem` this import did not read (a full sync), unless
    /// some record failed to read: a record that could not be read is not known to be gone.
    pub(crate) fn remove_unseen(&mut self, ecosystem: &str) -> Result<(), DbError> {
        let Some(seen) = self.seen.as_ref() else {
            return Ok(());
        };
        if self.stats.failed > 0 {
            return Ok(());
        }
        self.stats.removed += self.tx.remove_missing(&ecosystem_key(ecosystem), seen)?;
        Ok(())
    }

    /// The generation the transaction recorded so far.
    pub(crate) fn generation(&self) -> Option<u64> {
        self.tx.recorded_generation()
    }

    /// Imports whatever `path` is: a record file, a zip export or a directory.
    pub(crate) fn import_path(&mut self, path: &Path) -> Result<(), DbError> {
        let metadata = std::fs::metadata(path).map_err(|e| DbError::io(path, e))?;
        if metadata.is_dir() {
            return self.import_dir(path);
        }
        let name = path.to_string_lossy();
        match kind_of(&name) {
            Kind::Record(format) => {
                self.progress
                    .start(&format!("importing {}", path.display()), Some(1));
                let bytes = read_bounded(path, format)?;
                self.push(name.into_owned(), format, bytes)?;
                self.flush()?;
                self.progress.finish();
                // A record the user named explicitly must not fail quietly.
                match self.stats.failures.first() {
                    Some(failure) => Err(DbError::InvalidRecord {
                        origin: failure.origin.clone(),
                        message: failure.message.clone(),
                    }),
                    None => Ok(()),
                }
            }
            Kind::Zip => {
                let file = File::open(path).map_err(|e| DbError::io(path, e))?;
                self.import_zip(file, &name)
            }
            Kind::Other => Err(DbError::UnsupportedInput {
                path: path.to_path_buf(),
            }),
        }
    }

    /// Imports the record at hand in memory (fuzzing, tests, downloads): `name` decides the format.
    pub(crate) fn import_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<(), DbError> {
        match kind_of(name) {
            Kind::Record(format) => {
                let limit = match format {
                    Format::Json => MAX_COLLECTION_BYTES,
                    Format::Yaml => MAX_RECORD_BYTES,
                };
                if bytes.len() > limit {
                    self.stats
                        .fail(name.to_string(), too_large(bytes.len() as u64));
                    return Ok(());
                }
                self.push(name.to_string(), format, bytes.to_vec())?;
                self.flush()
            }
            Kind::Zip => self.import_zip(std::io::Cursor::new(bytes), name),
            Kind::Other => Err(DbError::UnsupportedInput {
                path: PathBuf::from(name),
            }),
        }
    }

    fn import_dir(&mut self, dir: &Path) -> Result<(), DbError> {
        // List first so that progress has a total; paths are small next to the records.
        let mut files = Vec::new();
        for entry in walkdir::WalkDir::new(dir)
            .follow_links(false)
            .max_depth(MAX_DIR_DEPTH)
            .sort_by_file_name()
        {
            match entry {
                Ok(entry) if entry.file_type().is_file() => files.push(entry.into_path()),
                Ok(_) => {}
                Err(e) => {
                    let origin = e.path().unwrap_or(dir).display().to_string();
                    self.stats.fail(origin, e.to_string());
                }
            }
        }
        self.progress.start(
            &format!("importing {}", dir.display()),
            Some(files.len() as u64),
        );
        for path in files {
            let name = path.to_string_lossy().into_owned();
            match kind_of(&name) {
                Kind::Record(format) => match read_bounded(&path, format) {
                    Ok(bytes) => self.push(name, format, bytes)?,
                    Err(e) => {
                        self.stats.fail(name, e.to_string());
                        self.progress.inc(1);
                    }
                },
                Kind::Zip => {
                    self.flush()?;
                    let result = File::open(&path)
                        .map_err(|e| DbError::io(&path, e))
                        .and_then(|f| self.import_zip(f, &name));
                    if let Err(e) = result {
                        // One broken export in a directory is reported, the rest still imports;
                        // database errors are not the archive's fault and abort.
                        if matches!(e, DbError::Sqlite(_)) {
                            return Err(e);
                        }
                        self.stats.fail(name, e.to_string());
                    }
                    self.progress.inc(1);
                }
                Kind::Other => {
                    self.stats.ignored += 1;
                    self.progress.inc(1);
                }
            }
        }
        self.flush()?;
        self.progress.finish();
        Ok(())
    }

    /// Imports the `*.json` entries of a zip archive, one entry in memory at a time.
    pub(crate) fn import_zip<R: Read + Seek>(
        &mut self,
        reader: R,
        origin: &str,
    ) -> Result<(), DbError> {
        let mut archive = zip::ZipArchive::new(reader).map_err(|e| DbError::InvalidZip {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        let entries = archive.len();
        self.progress
            .start(&format!("importing {origin}"), Some(entries as u64));
        if entries > MAX_ZIP_ENTRIES {
            return Err(DbError::InvalidZip {
                path: origin.to_string(),
                message: format!("{entries} entries, over the limit of {MAX_ZIP_ENTRIES}"),
            });
        }
        for index in 0..entries {
            let mut entry = match archive.by_index(index) {
                Ok(entry) => entry,
                Err(e) => {
                    self.stats.fail(format!("{origin}!#{index}"), e.to_string());
                    self.progress.inc(1);
                    continue;
                }
            };
            if entry.is_dir() {
                self.progress.inc(1);
                continue;
            }
            let name = match entry.name() {
                Ok(name) => name.into_owned(),
                Err(e) => {
                    self.stats.fail(format!("{origin}!#{index}"), e.to_string());
                    self.progress.inc(1);
                    continue;
                }
            };
            let member = format!("{origin}!{name}");
            // Exports hold JSON only; a YAML member would be unusual but is still a record.
            let Kind::Record(format) = kind_of(&name) else {
                self.stats.ignored += 1;
                self.progress.inc(1);
                continue;
            };
            match read_entry(&mut entry) {
                Ok(bytes) => self.push(member, format, bytes)?,
                Err(message) => {
                    self.stats.fail(member, message);
                    self.progress.inc(1);
                }
            }
        }
        self.flush()?;
        self.progress.finish();
        Ok(())
    }

    fn push(&mut self, origin: String, format: Format, bytes: Vec<u8>) -> Result<(), DbError> {
        if format == Format::Json {
            match split_collection(&bytes) {
                Some(Ok(records)) if records.is_empty() => {
                    // An empty collection holds no record: nothing to import, nothing wrong.
                    self.stats.ignored += 1;
                    self.progress.inc(1);
                    return Ok(());
                }
                Some(Ok(records)) => {
                    for (index, record) in records.into_iter().enumerate() {
                        self.push_record(format!("{origin}[{index}]"), format, record)?;
                    }
                    return Ok(());
                }
                Some(Err(message)) => {
                    self.stats.fail(origin, message);
                    self.progress.inc(1);
                    return Ok(());
                }
                None => {}
            }
        }
        self.push_record(origin, format, bytes)
    }

    fn push_record(
        &mut self,
        origin: String,
        format: Format,
        bytes: Vec<u8>,
    ) -> Result<(), DbError> {
        self.pending_bytes += bytes.len();
        self.pending.push(Pending {
            origin,
            format,
            bytes,
        });
        if self.pending.len() >= CHUNK_RECORDS || self.pending_bytes >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Parses the pending records in parallel and writes them in their original order.
    pub(crate) fn flush(&mut self) -> Result<(), DbError> {
        let batch = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let parsed: Vec<(String, Result<AdvisoryRow, String>)> = batch
            .into_par_iter()
            .map(|p| (p.origin, parse_record(p.format, &p.bytes).map(row_from)))
            .collect();
        for (origin, result) in parsed {
            self.progress.inc(1);
            match result {
                Ok(row) => self.store(&row)?,
                Err(message) => self.stats.fail(origin, message),
            }
        }
        Ok(())
    }

    pub(crate) fn record_source(&mut self, source: &SourceRow) -> Result<(), DbError> {
        self.tx.record_source(source)
    }

    pub(crate) fn record_sync(&mut self, sync: &SyncRow) -> Result<(), DbError> {
        self.tx.record_sync(sync)
    }

    /// Writes one parsed record and counts what happened.
    pub(crate) fn store(&mut self, row: &AdvisoryRow) -> Result<(), DbError> {
        self.stats.records += 1;
        if let Some(seen) = self.seen.as_mut() {
            seen.insert(row.id.clone());
        }
        if row.withdrawn.is_some() {
            self.stats.withdrawn += 1;
        }
        if row.modified_ns != i64::MIN {
            self.stats.newest_modified_ns =
                self.stats.newest_modified_ns.max(Some(row.modified_ns));
        }
        match self.tx.upsert(row)? {
            Upserted::Inserted => self.stats.inserted += 1,
            Upserted::Updated => self.stats.updated += 1,
            Upserted::Unchanged => self.stats.unchanged += 1,
        }
        Ok(())
    }
}

/// Splits a JSON file that holds several records: a top-level array of records, or an object
/// with a `vulns` array and no `id` of its own (the OSV API's answer, osv-scanner's output).
/// `None` when the bytes are (or claim to be) a single record.
fn split_collection(bytes: &[u8]) -> Option<Result<Vec<Vec<u8>>, String>> {
    #[derive(serde::Deserialize)]
    struct Wrapper<'a> {
        #[serde(borrow)]
        vulns: Option<Vec<&'a serde_json::value::RawValue>>,
        id: Option<serde::de::IgnoredAny>,
    }
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let raws: Vec<&serde_json::value::RawValue> = match bytes.get(start)? {
        b'[' => match serde_json::from_slice(bytes) {
            Ok(raws) => raws,
            Err(e) => return Some(Err(format!("not a JSON array of OSV records: {e}"))),
        },
        // Only a document that mentions `vulns` near its top can be a wrapper; skip the
        // second parse for ordinary records.
        b'{' if bytes.windows(7).take(4096).any(|w| w == b"\"vulns\"") => {
            match serde_json::from_slice::<Wrapper<'_>>(bytes) {
                Ok(Wrapper {
                    vulns: Some(raws),
                    id: None,
                }) => raws,
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(Ok(raws
        .into_iter()
        .map(|raw| raw.get().as_bytes().to_vec())
        .collect()))
}

/// Parses one record in the given format.
pub(crate) fn parse_record(format: Format, bytes: &[u8]) -> Result<Advisory, String> {
    let parsed = match format {
        Format::Json => mlvet_osv::parse_json(bytes),
        Format::Yaml => {
            let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
            mlvet_osv::parse_yaml(text)
        }
    };
    parsed.map_err(|e| e.to_string())
}

/// The stored form of a record: its index keys and its canonical JSON. `mlvet-osv` already
/// refuses records with over-long identifiers, names, versions or URLs (an over-long key would
/// slow every later lookup and import); free text, which it cuts by characters, is also held to
/// a byte size here.
pub(crate) fn row_from(mut advisory: Advisory) -> AdvisoryRow {
    truncate_text(&mut advisory.summary, MAX_SUMMARY_BYTES);
    truncate_text(&mut advisory.details, MAX_DETAILS_BYTES);
    let modified_ns = advisory
        .modified
        .as_deref()
        .and_then(parse_rfc3339_nanos)
        .unwrap_or(i64::MIN);
    let mut packages: Vec<(String, String)> = advisory
        .affected
        .iter()
        .filter(|a| !a.package.name.trim().is_empty())
        .map(|a| {
            let ecosystem = &a.package.ecosystem;
            (
                ecosystem_key(ecosystem),
                normalize_package_name(ecosystem, &a.package.name),
            )
        })
        .collect();
    packages.sort();
    packages.dedup();
    let mut aliases: Vec<String> = advisory
        .aliases
        .iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    aliases.sort();
    aliases.dedup();
    AdvisoryRow {
        id: advisory.id.trim().to_string(),
        modified: advisory.modified.clone(),
        modified_ns,
        published: advisory.published.clone(),
        withdrawn: advisory
            .is_withdrawn()
            .then(|| advisory.withdrawn.clone().unwrap_or_default()),
        aliases,
        packages,
        json: advisory.to_canonical_json().into_bytes(),
    }
}

/// Free text shown to users, in bytes; longer text is truncated, not refused.
const MAX_SUMMARY_BYTES: usize = 1024;
const MAX_DETAILS_BYTES: usize = 64 * 1024;

fn truncate_text(text: &mut Option<String>, limit: usize) {
    if let Some(text) = text.as_mut().filter(|t| t.len() > limit) {
        let mut end = limit.saturating_sub('…'.len_utf8());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
}

/// The key an ecosystem is indexed under, the same as `mlvet-osv`'s in-memory index uses: the
/// canonical OSV name for ecosystems mlvet compares (`pypi` → `PyPI`), the trimmed text otherwise.
pub(crate) fn ecosystem_key(name: &str) -> String {
    match Ecosystem::parse(name) {
        Some(ecosystem) => ecosystem.osv_name().to_string(),
        None => name.trim().to_string(),
    }
}

fn too_large(size: u64) -> String {
    format!("{size} bytes, over the {MAX_RECORD_BYTES}-byte limit for one record")
}

/// Reads a record file, refusing files over the size limit before reading them: one record's
/// limit for YAML, a collection's for JSON (a file may hold an array of records).
fn read_bounded(path: &Path, format: Format) -> Result<Vec<u8>, DbError> {
    let limit = match format {
        Format::Json => MAX_COLLECTION_BYTES,
        Format::Yaml => MAX_RECORD_BYTES,
    };
    let file = File::open(path).map_err(|e| DbError::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| DbError::io(path, e))?;
    if bytes.len() > limit {
        return Err(DbError::InvalidRecord {
            origin: path.display().to_string(),
            message: format!("over the {limit}-byte limit for one file"),
        });
    }
    Ok(bytes)
}

/// Reads one zip entry, stopping past the record size limit whatever the entry header claims
/// (headers lie in zip bombs).
fn read_entry(entry: &mut impl Read) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    entry
        .take(MAX_RECORD_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}
