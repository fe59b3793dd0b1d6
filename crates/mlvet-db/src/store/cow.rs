//! Copy-on-write storage for the database file: writers never modify the file readers open.
//!
//! Every write transaction runs on a private working copy in the same directory (a snapshot of
//! the current database, or a fresh schema when there is none) and is published by renaming the
//! copy over the database file. A rename is atomic, so a reader sees the old database or the new
//! one, never a half-written import or an empty schema, and a reader that opened the old file
//! keeps reading it. Readers therefore never wait for a writer and never need to write
//! themselves (no journal to roll back, no WAL index).
//!
//! Writers are serialised by an advisory lock on `<database>.lock`, held for the life of the
//! store: two imports at once run one after the other, each on the other's result, so no
//! update is lost and schema creation cannot race.

use std::fs::File;
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use super::sqlite::{Opened, SqliteStore};
use super::{ChangeRow, Counts, RecordAsOf, SourceRow, Store, StoreTx, SyncRow};
use crate::DbError;

pub(crate) struct CopyOnWriteStore {
    /// The published database file.
    live: PathBuf,
    dir: PathBuf,
    /// Held (locked) while the store lives; unlocked when the file is closed on drop.
    _lock: File,
    /// What reads see: the published database, or an empty one before the first publish.
    reader: SqliteStore,
}

impl CopyOnWriteStore {
    /// Opens the database file `live` for writing, waiting for any other writer to finish.
    pub(crate) fn open(live: &Path) -> Result<Self, DbError> {
        let dir = live
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let lock_path = lock_path(live);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| DbError::io(&lock_path, e))?;
        lock.lock().map_err(|e| DbError::io(&lock_path, e))?;
        remove_abandoned_copies(&dir);
        let reader = open_reader(live)?;
        Ok(CopyOnWriteStore {
            live: live.to_path_buf(),
            dir,
            _lock: lock,
            reader,
        })
    }

    /// A private copy of the published database (or an empty file when there is none yet),
    /// opened read-write with the current schema.
    fn working_copy(&self) -> Result<(TempPath, SqliteStore), DbError> {
        let temp = tempfile::Builder::new()
            .prefix(WORKING_COPY_PREFIX)
            .suffix(WORKING_COPY_SUFFIX)
            .tempfile_in(&self.dir)
            .map_err(|e| DbError::io(&self.dir, e))?
            .into_temp_path();
        if has_content(&self.live)? {
            self.reader.snapshot_into(&temp)?;
        }
        let store = SqliteStore::open_working_copy(&temp)?;
        Ok((temp, store))
    }

    /// Makes the working copy the database: flushed to disk first, then renamed into place.
    fn publish(&mut self, temp: TempPath, store: SqliteStore) -> Result<(), DbError> {
        drop(store);
        self.give_live_permissions(&temp)?;
        File::open(&temp)
            .and_then(|f| f.sync_all())
            .map_err(|e| DbError::io(&*temp, e))?;
        temp.persist(&self.live)
            .map_err(|e| DbError::io(&self.live, e.error))?;
        // Make the rename itself durable; not every platform can open a directory, and the data
        // is already safe in the file, so a failure here is not an error.
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        self.reader = open_reader(&self.live)?;
        Ok(())
    }
}

const WORKING_COPY_PREFIX: &str = ".advisories.";
const WORKING_COPY_SUFFIX: &str = ".tmp";

/// Deletes working copies a killed writer left behind. Only a writer holding the lock creates
/// them, so while we hold it none is in use. Best effort: a copy that cannot be removed only
/// wastes space.
fn remove_abandoned_copies(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(WORKING_COPY_PREFIX)
            && name.ends_with(WORKING_COPY_SUFFIX)
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl CopyOnWriteStore {
    /// The working copy is created private (0600); the database it replaces keeps its mode, and
    /// a first database is readable by all like any file SQLite creates (advisories are public
    /// data, and a shared data directory must stay readable for scans by other users).
    fn give_live_permissions(&self, temp: &Path) -> Result<(), DbError> {
        let permissions = match std::fs::metadata(&self.live) {
            Ok(metadata) => metadata.permissions(),
            Err(_) => default_permissions(temp)?,
        };
        std::fs::set_permissions(temp, permissions).map_err(|e| DbError::io(temp, e))
    }
}

#[cfg(unix)]
fn default_permissions(_: &Path) -> Result<std::fs::Permissions, DbError> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn default_permissions(temp: &Path) -> Result<std::fs::Permissions, DbError> {
    std::fs::metadata(temp)
        .map(|m| m.permissions())
        .map_err(|e| DbError::io(temp, e))
}

/// The lock file serialising the writers of `live`.
fn lock_path(live: &Path) -> PathBuf {
    let mut name = live.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Whether `path` is a file with something in it (a zero-length file is no database).
fn has_content(path: &Path) -> Result<bool, DbError> {
    match std::fs::metadata(path) {
        Ok(metadata) => Ok(metadata.len() > 0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(DbError::io(path, e)),
    }
}

/// A read-only view of the published database; an empty in-memory one when there is none.
fn open_reader(live: &Path) -> Result<SqliteStore, DbError> {
    if has_content(live)?
        && let Opened::Store(store) = SqliteStore::open_read_only(live)?
    {
        return Ok(store);
    }
    SqliteStore::in_memory()
}

impl Store for CopyOnWriteStore {
    fn write(
        &mut self,
        work: &mut dyn FnMut(&mut dyn StoreTx) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        let (temp, mut store) = self.working_copy()?;
        // On failure the working copy is deleted when `temp` drops: nothing is published.
        store.write(work)?;
        self.publish(temp, store)
    }

    fn advisory_json_for(
        &self,
        ecosystem: &str,
        normalized_name: &str,
    ) -> Result<Vec<Vec<u8>>, DbError> {
        self.reader.advisory_json_for(ecosystem, normalized_name)
    }

    fn advisory_json_by_id_or_alias(&self, id: &str) -> Result<Vec<Vec<u8>>, DbError> {
        self.reader.advisory_json_by_id_or_alias(id)
    }

    fn package_names(&self, ecosystem: &str) -> Result<Vec<String>, DbError> {
        self.reader.package_names(ecosystem)
    }

    fn counts(&self) -> Result<Counts, DbError> {
        self.reader.counts()
    }

    fn sources(&self) -> Result<Vec<SourceRow>, DbError> {
        self.reader.sources()
    }

    fn sync_rows(&self) -> Result<Vec<SyncRow>, DbError> {
        self.reader.sync_rows()
    }

    fn sync_row(&self, ecosystem: &str) -> Result<Option<SyncRow>, DbError> {
        self.reader.sync_row(ecosystem)
    }

    fn generations(&self) -> Result<Vec<crate::generation::Generation>, DbError> {
        self.reader.generations()
    }

    fn head(&self) -> Result<Option<(u64, i64)>, DbError> {
        self.reader.head()
    }

    fn change_rows(&self, from: u64, to: u64) -> Result<Vec<ChangeRow>, DbError> {
        self.reader.change_rows(from, to)
    }

    fn records_as_of(&self, after: u64) -> Result<Vec<RecordAsOf>, DbError> {
        self.reader.records_as_of(after)
    }
}
