//! mlvet's embedded advisory database.
//!
//! OSV records are imported from files, directories and zip exports ([`Database::import_path`])
//! or downloaded from an OSV export ([`Database::update`], incremental after the first sync), and
//! stored in one SQLite file indexed by `(ecosystem, normalised package name)`. The database is
//! an [`mlvet_osv::AdvisorySource`] for the matcher, and lists ML advisories for
//! `mlvet advisories --ml`.
//!
//! Storage sits behind an internal `Store` trait (see `store/mod.rs`) so that a PostgreSQL
//! backend can be added for the monitoring service; rusqlite is pinned to `=0.39` so that it can
//! share one dependency graph with sqlx 0.9.
//!
//! Failures to read or download advisories are errors, never empty results: "no database" and
//! "no network" must never look like "no vulnerabilities".

mod error;
mod generation;
mod import;
mod progress;
mod status;
mod store;
mod time;
mod update;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use mlvet_osv::{Advisory, AdvisorySource, OsvError, normalize_package_name};

pub use error::DbError;
pub use generation::{
    AdvisoryChange, ChangeKind, Delta, Generation, GenerationView, PackageKey, RecordSide,
    RecordState,
};
pub use import::{ImportFailure, ImportStats};
pub use progress::{NoProgress, Progress};
pub use status::{EcosystemStatus, SourceStatus, Status};
pub use update::{
    DEFAULT_OSV_URL, EcosystemUpdate, OSV_URL_ENV, SyncMethod, UpdateConfig, UpdateStats,
};

use import::{Importer, ecosystem_key};
use store::cow::CopyOnWriteStore;
use store::sqlite::{Opened, SqliteStore};
use store::{SourceRow, Store};
use time::{now_nanos, parse_rfc3339_nanos};

/// The environment variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = "MLVET_DATA_DIR";
/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "advisories.sqlite3";
/// A database not updated for longer than this is reported stale (see [`Database::set_stale_after`]).
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// The advisory database: one SQLite file in the data directory.
pub struct Database {
    // A mutex makes the database shareable across threads (rusqlite connections are `Send`, not
    // `Sync`); writers take `&mut self` and bypass it.
    store: Mutex<Box<dyn Store>>,
    dir: PathBuf,
    file: PathBuf,
    stale_after: Duration,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("file", &self.file)
            .field("stale_after", &self.stale_after)
            .finish()
    }
}

impl Database {
    /// The data directory: `MLVET_DATA_DIR` if set, else the per-user data directory
    /// (`$XDG_DATA_HOME/mlvet` or `~/.local/share/mlvet` on Linux, `~/Library/Application
    /// Support/mlvet` on macOS, `%APPDATA%\mlvet\data` on Windows).
    pub fn data_dir() -> Result<PathBuf, DbError> {
        if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(dir));
        }
        directories::ProjectDirs::from("", "", "mlvet")
            .map(|dirs| dirs.data_dir().to_path_buf())
            .ok_or(DbError::NoDataDir)
    }

    /// Opens the database in `data_dir` read-only, as a scan needs it: `None` when there is no
    /// database to match against (no file, a zero-length file, a SQLite file without mlvet's
    /// schema, or a database holding no record). Nothing is written, created or migrated, so this
    /// works on a read-only data directory; a file that is not a database of this mlvet's schema
    /// is an error, never an empty result.
    pub fn open(data_dir: &Path) -> Result<Option<Database>, DbError> {
        let file = data_dir.join(DATABASE_FILE);
        let metadata = match std::fs::metadata(&file) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(DbError::io(&file, e)),
        };
        if !metadata.is_file() || metadata.len() == 0 {
            return Ok(None);
        }
        let store = match SqliteStore::open_read_only(&file)? {
            Opened::Store(store) if store.has_records()? => store,
            Opened::Store(_) | Opened::NoSchema => return Ok(None),
        };
        Ok(Some(Database::from_store(
            Box::new(store),
            data_dir.to_path_buf(),
            file,
        )))
    }

    /// Opens the database in `data_dir` for importing and updating, creating the directory if
    /// needed, and waiting while another process writes to it.
    ///
    /// Writes are copy-on-write: each import or update (each ecosystem of an update) is written to
    /// a private copy in the data directory, which then replaces the database file by an atomic
    /// rename. A scan running meanwhile sees the previous database or the new one, never a
    /// partial one; the data directory needs room for a second copy of the database.
    pub fn open_or_create(data_dir: &Path) -> Result<Database, DbError> {
        std::fs::create_dir_all(data_dir).map_err(|e| DbError::io(data_dir, e))?;
        let file = data_dir.join(DATABASE_FILE);
        let store = CopyOnWriteStore::open(&file)?;
        Ok(Database::from_store(
            Box::new(store),
            data_dir.to_path_buf(),
            file,
        ))
    }

    /// A private, empty database in memory (tests, fuzzing, one-off matching). `update` still needs
    /// a directory for its download: the system temporary directory is used.
    pub fn in_memory() -> Result<Database, DbError> {
        let store = SqliteStore::in_memory()?;
        Ok(Database::from_store(
            Box::new(store),
            std::env::temp_dir(),
            PathBuf::from(":memory:"),
        ))
    }

    fn from_store(store: Box<dyn Store>, dir: PathBuf, file: PathBuf) -> Database {
        Database {
            store: Mutex::new(store),
            dir,
            file,
            stale_after: DEFAULT_STALE_AFTER,
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// How old the last update may be before [`Status::stale`] is set (default 7 days).
    pub fn set_stale_after(&mut self, age: Duration) {
        self.stale_after = age;
    }

    fn store(&self) -> MutexGuard<'_, Box<dyn Store>> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back), so a poisoned lock is still usable.
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn store_mut(&mut self) -> &mut dyn Store {
        self.store
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
    }

    /// Imports OSV records from `path`: a `.json`, `.yaml` or `.yml` record, a directory searched
    /// recursively for records and zip exports (other files are counted as ignored), or an OSV zip
    /// export (entries `*.json`). Everything is written in one transaction; a newer `modified`
    /// replaces a stored record, an older or equal one changes nothing, so re-importing is
    /// idempotent.
    ///
    /// Records inside a directory or zip that fail to parse are counted and listed in
    /// [`ImportStats::failures`]; a single record file that fails is an error.
    pub fn import_path(
        &mut self,
        path: &Path,
        progress: &dyn Progress,
    ) -> Result<ImportStats, DbError> {
        let source = std::path::absolute(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string();
        self.import_with(&source, progress, &mut |importer| {
            importer.import_path(path)
        })
    }

    /// Imports a record or zip export held in memory; `name` decides the format by its extension
    /// (`.json`, `.yaml`/`.yml`, `.zip`). Records that fail to parse are counted, not errors.
    pub fn import_bytes(
        &mut self,
        name: &str,
        bytes: &[u8],
        progress: &dyn Progress,
    ) -> Result<ImportStats, DbError> {
        self.import_with(name, progress, &mut |importer| {
            importer.import_bytes(name, bytes)
        })
    }

    fn import_with(
        &mut self,
        source: &str,
        progress: &dyn Progress,
        run: &mut dyn FnMut(&mut Importer<'_>) -> Result<(), DbError>,
    ) -> Result<ImportStats, DbError> {
        let mut stats = ImportStats::default();
        self.store_mut().write(&mut |tx| {
            let mut importer = Importer::new(tx, progress, "import", source);
            run(&mut importer)?;
            let records = importer.stats.records;
            importer.record_source(&SourceRow {
                source: source.to_string(),
                kind: "import".into(),
                updated_at_ns: now_nanos(),
                records,
            })?;
            importer.stats.generation = importer.generation();
            stats = std::mem::take(&mut importer.stats);
            Ok(())
        })?;
        Ok(stats)
    }

    /// Downloads OSV per-ecosystem exports (see [`UpdateConfig`]): `all.zip` on the first sync of
    /// an ecosystem or when many records changed, otherwise only the records `modified_id.csv`
    /// lists as modified since the last sync. Network and HTTP failures are errors; each
    /// ecosystem is written in its own transaction.
    pub fn update(
        &mut self,
        config: &UpdateConfig,
        progress: &dyn Progress,
    ) -> Result<UpdateStats, DbError> {
        let dir = self.dir.clone();
        update::update(self.store_mut(), &dir, config, progress)
    }

    /// Sources, record counts per ecosystem, last update time, age and staleness.
    pub fn status(&self) -> Result<Status, DbError> {
        let store = self.store();
        status::build(
            self.file.clone(),
            store.counts()?,
            store.sources()?,
            store.sync_rows()?,
            now_nanos(),
            self.stale_after,
        )
    }

    /// The summary a scan report carries. Never fails: an unreadable database is reported as
    /// empty and stale.
    pub fn info(&self) -> mlvet_core::DatabaseInfo {
        match self.status() {
            Ok(status) => status.info(),
            Err(e) => mlvet_core::DatabaseInfo {
                source: format!("{} (unreadable: {e})", self.file.display()),
                records: 0,
                updated: None,
                stale: true,
            },
        }
    }

    /// Every advisory generation, oldest first (see [`Generation`]).
    pub fn generations(&self) -> Result<Vec<Generation>, DbError> {
        self.store().generations()
    }

    /// The newest generation; 0 when no change was ever recorded.
    pub fn current_generation(&self) -> Result<u64, DbError> {
        Ok(self.store().head()?.map_or(0, |(id, _)| id))
    }

    /// A name for the records this handle holds: the database file, its newest generation and
    /// when that generation was recorded. Two handles with the same stamp hold the same records
    /// (every change is a new generation; a re-created database restarts the ids but not the
    /// clock), so results computed from one may be reused for the other. `None` when no
    /// generation was ever recorded (nothing to tell two such databases apart).
    pub fn content_stamp(&self) -> Result<Option<String>, DbError> {
        Ok(self
            .store()
            .head()?
            .map(|(id, created_at_ns)| format!("{}#{id}@{created_at_ns}", self.file.display())))
    }

    /// What changed after generation `from` up to and including `to`, one entry per advisory
    /// (its state before the first change, after the last). `from >= to` gives an empty delta.
    pub fn delta(&self, from: u64, to: u64) -> Result<Delta, DbError> {
        if from >= to {
            return Ok(Delta {
                from,
                to,
                changes: Vec::new(),
            });
        }
        let rows = self.store().change_rows(from, to)?;
        Ok(generation::collapse(from, to, rows))
    }

    /// The advisory set as it was at `generation` (0: before the first recorded generation), for
    /// the matcher. The view reads current records through this database and overlays the
    /// earlier versions of records changed since; it is built in memory from the history.
    pub fn view_at(&self, generation: u64) -> Result<GenerationView<'_>, DbError> {
        let rows = self.store().records_as_of(generation)?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let record = match row.json {
                Some(json) => Some(generation::parse_stored(
                    &self.file.display().to_string(),
                    &json,
                )?),
                None => None,
            };
            records.push((row.advisory_id, record));
        }
        Ok(GenerationView::new(self, generation, records))
    }

    /// Current (non-withdrawn) advisories affecting the curated ML packages
    /// ([`mlvet_osv::ml::is_ml_package`]), newest first by `published` (else `modified`), then
    /// by id. With `package_filter`, only that package's (normalised as a PyPI name; a package not
    /// on the ML list yields nothing).
    pub fn ml_advisories(&self, package_filter: Option<&str>) -> Result<Vec<Advisory>, DbError> {
        let names: Vec<String> = match package_filter {
            Some(name) => vec![normalize_package_name("PyPI", name)],
            None => self.store().package_names("PyPI")?,
        };
        let mut by_id: BTreeMap<String, Advisory> = BTreeMap::new();
        for name in names.iter().filter(|n| mlvet_osv::ml::is_ml_package(n)) {
            for advisory in self.lookup("PyPI", name)? {
                if !advisory.is_withdrawn() {
                    by_id.entry(advisory.id.clone()).or_insert(advisory);
                }
            }
        }
        let mut advisories: Vec<Advisory> = by_id.into_values().collect();
        let when = |a: &Advisory| {
            a.published
                .as_deref()
                .or(a.modified.as_deref())
                .and_then(parse_rfc3339_nanos)
                .unwrap_or(i64::MIN)
        };
        advisories.sort_by(|a, b| when(b).cmp(&when(a)).then_with(|| a.id.cmp(&b.id)));
        Ok(advisories)
    }

    /// Any stored advisory, whatever its ecosystem, by its id or by one of its aliases (a CVE,
    /// GHSA or PYSEC id): an indexed lookup, not a scan. The id is matched as written, then in its
    /// canonical spelling (`cve-2019-10906` finds `CVE-2019-10906`, `ghsa-462W-…` finds
    /// `GHSA-462w-…`). The record whose own id matches wins; among records sharing the alias,
    /// a current one before a withdrawn one, then the smallest id.
    pub fn advisory_by_id_or_alias(&self, id: &str) -> Result<Option<Advisory>, DbError> {
        let id = id.trim();
        if id.is_empty() || id.len() > 200 {
            return Ok(None);
        }
        let mut spellings = vec![id.to_string()];
        let canonical = canonical_advisory_id(id);
        if canonical != id {
            spellings.push(canonical);
        }
        for spelling in &spellings {
            let rows = self.store().advisory_json_by_id_or_alias(spelling)?;
            let mut found = rows
                .iter()
                .map(|json| self.decode(json))
                .collect::<Result<Vec<Advisory>, DbError>>()?;
            if let Some(position) = found.iter().position(|a| a.id == *spelling) {
                return Ok(Some(found.swap_remove(position)));
            }
            // Stable: keeps the id order among equals.
            found.sort_by_key(Advisory::is_withdrawn);
            if let Some(first) = found.into_iter().next() {
                return Ok(Some(first));
            }
        }
        Ok(None)
    }

    fn decode(&self, json: &[u8]) -> Result<Advisory, DbError> {
        // The database only holds JSON it serialised itself; failing to read it back means the
        // file was damaged or written by something else.
        mlvet_osv::parse_json(json).map_err(|e| DbError::InvalidRecord {
            origin: self.file.display().to_string(),
            message: format!("stored record unreadable: {e}"),
        })
    }

    /// Every stored record naming the package (withdrawn ones included: the matcher decides),
    /// sorted by id.
    fn lookup(&self, ecosystem: &str, name: &str) -> Result<Vec<Advisory>, DbError> {
        let rows = self.store().advisory_json_for(
            &ecosystem_key(ecosystem),
            &normalize_package_name(ecosystem, name),
        )?;
        rows.iter().map(|json| self.decode(json)).collect()
    }
}

/// The usual spelling of an advisory id: the prefix upper-case (`CVE`, `GHSA`, `PYSEC`, `OSV`,
/// …); CVE and PYSEC ids wholly upper-case, GHSA ids' body lower-case as GitHub writes them.
fn canonical_advisory_id(id: &str) -> String {
    let Some((prefix, rest)) = id.split_once('-') else {
        return id.to_string();
    };
    let prefix = prefix.to_ascii_uppercase();
    let rest = match prefix.as_str() {
        "GHSA" => rest.to_ascii_lowercase(),
        "CVE" | "PYSEC" => rest.to_ascii_uppercase(),
        _ => rest.to_string(),
    };
    format!("{prefix}-{rest}")
}

impl AdvisorySource for Database {
    fn advisories_for(
        &self,
        ecosystem: &str,
        normalized_name: &str,
    ) -> Result<Vec<Advisory>, OsvError> {
        self.lookup(ecosystem, normalized_name)
            .map_err(|e| OsvError::Source(e.to_string()))
    }
}
