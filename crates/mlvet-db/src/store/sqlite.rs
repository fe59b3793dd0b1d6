//! The SQLite backend (rusqlite, bundled SQLite): read-only connections for scans and lookups,
//! read-write connections on private working copies for imports and updates (see `cow.rs`), one
//! transaction per import or update, prepared statements reused through rusqlite's statement
//! cache.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{
    AdvisoryRow, ChangeRow, Counts, RecordAsOf, SourceRow, Store, StoreTx, SyncRow, Upserted,
};
use crate::DbError;
use crate::generation::{ChangeKind, Generation, RecordState};
use crate::time::{format_rfc3339, now_nanos};

/// Ordered schema migrations; `PRAGMA user_version` is the number applied. Append only: never edit
/// a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE advisory (
        id          TEXT PRIMARY KEY NOT NULL,
        modified    TEXT,
        modified_ns INTEGER NOT NULL,
        published   TEXT,
        withdrawn   TEXT,
        json        BLOB NOT NULL
    );
    CREATE TABLE affected_package (
        ecosystem       TEXT NOT NULL,
        normalized_name TEXT NOT NULL,
        advisory_id     TEXT NOT NULL REFERENCES advisory(id) ON DELETE CASCADE,
        PRIMARY KEY (ecosystem, normalized_name, advisory_id)
    ) WITHOUT ROWID;
    CREATE INDEX affected_package_by_advisory ON affected_package(advisory_id);
    CREATE TABLE alias (
        advisory_id TEXT NOT NULL REFERENCES advisory(id) ON DELETE CASCADE,
        alias       TEXT NOT NULL,
        PRIMARY KEY (advisory_id, alias)
    ) WITHOUT ROWID;
    CREATE INDEX alias_by_alias ON alias(alias);
    CREATE TABLE source (
        source        TEXT PRIMARY KEY NOT NULL,
        kind          TEXT NOT NULL,
        updated_at_ns INTEGER NOT NULL,
        records       INTEGER NOT NULL
    );
    CREATE TABLE sync_state (
        ecosystem        TEXT PRIMARY KEY NOT NULL,
        source           TEXT NOT NULL,
        last_modified_ns INTEGER,
        updated_at_ns    INTEGER NOT NULL,
        method           TEXT NOT NULL
    );",
    // 2: advisory generations (see `generation.rs`). A generation is one import or update that
    // changed something; each change keeps the record's state, `modified` and package keys before
    // and after, and the record itself as it was before (`old_json`), so that any earlier
    // generation's view can be rebuilt from the current records and the history.
    "CREATE TABLE generation (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at_ns INTEGER NOT NULL,
        kind          TEXT NOT NULL,
        source        TEXT NOT NULL
    );
    CREATE TABLE advisory_change (
        generation   INTEGER NOT NULL REFERENCES generation(id),
        advisory_id  TEXT NOT NULL,
        change       TEXT NOT NULL,
        old_state    TEXT NOT NULL,
        new_state    TEXT NOT NULL,
        old_modified TEXT,
        new_modified TEXT,
        old_packages TEXT NOT NULL,
        new_packages TEXT NOT NULL,
        old_json     BLOB,
        PRIMARY KEY (generation, advisory_id)
    ) WITHOUT ROWID;
    CREATE INDEX advisory_change_by_advisory ON advisory_change(advisory_id, generation);",
];

/// The schema version this build creates and understands.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) struct SqliteStore {
    conn: Connection,
}

/// What a read-only open found in the database file.
pub(crate) enum Opened {
    /// A database of this build's schema; it may hold no records.
    Store(SqliteStore),
    /// A valid SQLite file without mlvet's schema (nothing was ever imported into it).
    NoSchema,
}

impl SqliteStore {
    /// Opens an existing database file read-only: no schema change, no journal mode change, no
    /// file created next to it, so scans work on read-only data directories and never race with
    /// writers. A file of another schema version is an error, not an empty database.
    pub(crate) fn open_read_only(path: &Path) -> Result<Opened, DbError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let store = SqliteStore { conn };
        let version = store.user_version()?;
        if version == 0 && store.table_count()? == 0 {
            return Ok(Opened::NoSchema);
        }
        if version != SCHEMA_VERSION {
            return Err(schema_mismatch(path, version));
        }
        Ok(Opened::Store(store))
    }

    /// Opens a private working file read-write and brings its schema up to date. Only
    /// [`super::cow::CopyOnWriteStore`] calls this, on a copy no reader can see yet: a rollback
    /// journal in memory and no fsync per transaction are safe because a failed or interrupted
    /// write discards the whole file.
    pub(crate) fn open_working_copy(path: &Path) -> Result<Self, DbError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        // A copy of a database an older mlvet left in WAL mode is converted: readers of a WAL
        // database need `-wal` and `-shm` files, which a read-only scan must not create.
        conn.pragma_update(None, "journal_mode", "MEMORY")?;
        conn.pragma_update(None, "synchronous", "OFF")?;
        Self::configure(conn, path.to_path_buf())
    }

    /// A private database in memory (tests, fuzzing).
    pub(crate) fn in_memory() -> Result<Self, DbError> {
        Self::configure(Connection::open_in_memory()?, PathBuf::from(":memory:"))
    }

    fn configure(conn: Connection, path: PathBuf) -> Result<Self, DbError> {
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(32);
        let mut store = SqliteStore { conn };
        store.migrate(&path)?;
        Ok(store)
    }

    /// Writes a consistent snapshot of this database into `target`, an empty file (SQLite's
    /// `VACUUM INTO`: works on a read-only connection and on databases in any journal mode).
    pub(crate) fn snapshot_into(&self, target: &Path) -> Result<(), DbError> {
        let target = target.to_str().ok_or_else(|| {
            DbError::io(
                target,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the data directory path is not UTF-8",
                ),
            )
        })?;
        self.conn.execute("VACUUM INTO ?1", [target])?;
        Ok(())
    }

    fn user_version(&self) -> Result<i64, DbError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?)
    }

    fn table_count(&self) -> Result<i64, DbError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))?)
    }

    /// Whether at least one advisory is stored.
    pub(crate) fn has_records(&self) -> Result<bool, DbError> {
        Ok(self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM advisory)", [], |row| {
                row.get(0)
            })?)
    }

    fn migrate(&mut self, path: &Path) -> Result<(), DbError> {
        let current = self.user_version()?;
        if current > SCHEMA_VERSION {
            return Err(schema_mismatch(path, current));
        }
        for (index, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(current).unwrap_or(0))
        {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn schema_version(&self) -> Result<i64, DbError> {
        self.user_version()
    }
}

fn schema_mismatch(path: &Path, found: i64) -> DbError {
    if found > SCHEMA_VERSION {
        DbError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        }
    } else {
        DbError::SchemaTooOld {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        }
    }
}

struct SqliteTx<'a> {
    conn: &'a Connection,
    /// `(kind, source)` of the generation this transaction records.
    origin: (String, String),
    /// Allocated by the first change.
    generation: Option<i64>,
}

/// One side (before or after) of a record change.
struct Side {
    state: RecordState,
    modified: Option<String>,
    packages: String,
}

impl Side {
    fn absent() -> Side {
        Side {
            state: RecordState::Absent,
            modified: None,
            packages: "[]".into(),
        }
    }
}

fn packages_json(packages: &[(String, String)]) -> String {
    serde_json::to_string(packages).unwrap_or_else(|_| "[]".into())
}

impl SqliteTx<'_> {
    fn generation(&mut self) -> Result<i64, DbError> {
        if let Some(id) = self.generation {
            return Ok(id);
        }
        self.conn
            .prepare_cached(
                "INSERT INTO generation (created_at_ns, kind, source) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![now_nanos(), self.origin.0, self.origin.1])?;
        let id = self.conn.last_insert_rowid();
        self.generation = Some(id);
        Ok(id)
    }

    /// Records one change of `id` in this transaction's generation. A record changed twice in
    /// one generation (two copies in one import) keeps its first "before" side.
    fn record_change(
        &mut self,
        id: &str,
        old: Side,
        old_json: Option<Vec<u8>>,
        new: Side,
    ) -> Result<(), DbError> {
        let generation = self.generation()?;
        let earlier: Option<(String, Option<String>, String)> = self
            .conn
            .prepare_cached(
                "SELECT old_state, old_modified, old_packages FROM advisory_change \
                 WHERE generation = ?1 AND advisory_id = ?2",
            )?
            .query_row(params![generation, id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let old = match earlier {
            Some((state, modified, packages)) => Side {
                state: RecordState::parse(&state).unwrap_or(RecordState::Absent),
                modified,
                packages,
            },
            None => old,
        };
        let Some(kind) = ChangeKind::classify(old.state, new.state) else {
            // Inserted and removed within one generation: nothing happened.
            self.conn
                .prepare_cached(
                    "DELETE FROM advisory_change WHERE generation = ?1 AND advisory_id = ?2",
                )?
                .execute(params![generation, id])?;
            return Ok(());
        };
        self.conn
            .prepare_cached(
                "INSERT INTO advisory_change (generation, advisory_id, change, old_state, new_state, \
                 old_modified, new_modified, old_packages, new_packages, old_json) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT(generation, advisory_id) DO UPDATE SET change = ?3, new_state = ?5, \
                 new_modified = ?7, new_packages = ?9",
            )?
            .execute(params![
                generation,
                id,
                kind.as_str(),
                old.state.as_str(),
                new.state.as_str(),
                old.modified,
                new.modified,
                old.packages,
                new.packages,
                old_json
            ])?;
        Ok(())
    }

    /// The stored record's side and JSON, read before it is replaced or removed.
    fn stored_side(&self, id: &str) -> Result<Option<(Side, Vec<u8>)>, DbError> {
        let stored: Option<(Option<String>, Option<String>, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT modified, withdrawn, json FROM advisory WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((modified, withdrawn, json)) = stored else {
            return Ok(None);
        };
        let mut statement = self.conn.prepare_cached(
            "SELECT ecosystem, normalized_name FROM affected_package WHERE advisory_id = ?1 \
             ORDER BY ecosystem, normalized_name",
        )?;
        let packages: Vec<(String, String)> = statement
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let state = if withdrawn.is_some() {
            RecordState::Withdrawn
        } else {
            RecordState::Current
        };
        Ok(Some((
            Side {
                state,
                modified,
                packages: packages_json(&packages),
            },
            json,
        )))
    }

    fn insert_children(&self, row: &AdvisoryRow) -> Result<(), DbError> {
        let mut package = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO affected_package (ecosystem, normalized_name, advisory_id) VALUES (?1, ?2, ?3)",
        )?;
        for (ecosystem, name) in &row.packages {
            package.execute(params![ecosystem, name, row.id])?;
        }
        let mut alias = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO alias (advisory_id, alias) VALUES (?1, ?2)")?;
        for name in &row.aliases {
            alias.execute(params![row.id, name])?;
        }
        Ok(())
    }
}

impl StoreTx for SqliteTx<'_> {
    fn set_origin(&mut self, kind: &str, source: &str) {
        self.origin = (kind.to_string(), source.to_string());
    }

    fn recorded_generation(&self) -> Option<u64> {
        self.generation.map(|g| g.max(0) as u64)
    }

    fn remove_missing(
        &mut self,
        ecosystem: &str,
        keep: &std::collections::HashSet<String>,
    ) -> Result<u64, DbError> {
        let ids: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT advisory_id FROM affected_package WHERE ecosystem = ?1 \
                 ORDER BY advisory_id",
            )?
            .query_map([ecosystem], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut removed = 0;
        for id in ids.iter().filter(|id| !keep.contains(*id)) {
            let Some((old, json)) = self.stored_side(id)? else {
                continue;
            };
            self.record_change(id, old, Some(json), Side::absent())?;
            self.conn
                .prepare_cached("DELETE FROM advisory WHERE id = ?1")?
                .execute([id])?;
            removed += 1;
        }
        Ok(removed)
    }

    fn upsert(&mut self, row: &AdvisoryRow) -> Result<Upserted, DbError> {
        let stored: Option<i64> = self
            .conn
            .prepare_cached("SELECT modified_ns FROM advisory WHERE id = ?1")?
            .query_row([&row.id], |r| r.get(0))
            .optional()?;
        if stored.is_some_and(|stored| stored >= row.modified_ns) {
            return Ok(Upserted::Unchanged);
        }
        let (old, old_json) = match self.stored_side(&row.id)? {
            Some((side, json)) => (side, Some(json)),
            None => (Side::absent(), None),
        };
        let new = Side {
            state: if row.withdrawn.is_some() {
                RecordState::Withdrawn
            } else {
                RecordState::Current
            },
            modified: row.modified.clone(),
            packages: packages_json(&row.packages),
        };
        self.record_change(&row.id, old, old_json, new)?;
        let outcome = match stored {
            Some(_) => {
                self.conn
                    .prepare_cached(
                        "UPDATE advisory SET modified = ?2, modified_ns = ?3, published = ?4, withdrawn = ?5, json = ?6 \
                         WHERE id = ?1",
                    )?
                    .execute(params![row.id, row.modified, row.modified_ns, row.published, row.withdrawn, row.json])?;
                self.conn
                    .prepare_cached("DELETE FROM affected_package WHERE advisory_id = ?1")?
                    .execute([&row.id])?;
                self.conn
                    .prepare_cached("DELETE FROM alias WHERE advisory_id = ?1")?
                    .execute([&row.id])?;
                Upserted::Updated
            }
            None => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO advisory (id, modified, modified_ns, published, withdrawn, json) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![row.id, row.modified, row.modified_ns, row.published, row.withdrawn, row.json])?;
                Upserted::Inserted
            }
        };
        self.insert_children(row)?;
        Ok(outcome)
    }

    fn record_source(&mut self, source: &SourceRow) -> Result<(), DbError> {
        self.conn
            .prepare_cached(
                "INSERT INTO source (source, kind, updated_at_ns, records) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(source) DO UPDATE SET kind = ?2, updated_at_ns = ?3, records = ?4",
            )?
            .execute(params![
                source.source,
                source.kind,
                source.updated_at_ns,
                source.records as i64
            ])?;
        Ok(())
    }

    fn record_sync(&mut self, sync: &SyncRow) -> Result<(), DbError> {
        self.conn
            .prepare_cached(
                "INSERT INTO sync_state (ecosystem, source, last_modified_ns, updated_at_ns, method) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(ecosystem) DO UPDATE SET source = ?2, last_modified_ns = ?3, updated_at_ns = ?4, method = ?5",
            )?
            .execute(params![sync.ecosystem, sync.source, sync.last_modified_ns, sync.updated_at_ns, sync.method])?;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn write(
        &mut self,
        work: &mut dyn FnMut(&mut dyn StoreTx) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        let tx = self.conn.transaction()?;
        work(&mut SqliteTx {
            conn: &tx,
            origin: ("import".into(), String::new()),
            generation: None,
        })?;
        tx.commit()?;
        Ok(())
    }

    fn advisory_json_for(
        &self,
        ecosystem: &str,
        normalized_name: &str,
    ) -> Result<Vec<Vec<u8>>, DbError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT a.json FROM affected_package p JOIN advisory a ON a.id = p.advisory_id \
             WHERE p.ecosystem = ?1 AND p.normalized_name = ?2 ORDER BY a.id",
        )?;
        let rows =
            statement.query_map([ecosystem, normalized_name], |row| row.get::<_, Vec<u8>>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn advisory_json_by_id_or_alias(&self, id: &str) -> Result<Vec<Vec<u8>>, DbError> {
        // Both arms are index lookups: `advisory`'s primary key and `alias_by_alias`.
        let mut statement = self.conn.prepare_cached(
            "SELECT json FROM (\
                 SELECT a.json AS json, 0 AS rank, a.id AS id FROM advisory a WHERE a.id = ?1 \
                 UNION \
                 SELECT a.json, 1, a.id FROM alias l JOIN advisory a ON a.id = l.advisory_id \
                 WHERE l.alias = ?1\
             ) ORDER BY rank, id",
        )?;
        let rows = statement.query_map([id], |row| row.get::<_, Vec<u8>>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn package_names(&self, ecosystem: &str) -> Result<Vec<String>, DbError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT DISTINCT normalized_name FROM affected_package WHERE ecosystem = ?1 ORDER BY normalized_name",
        )?;
        let rows = statement.query_map([ecosystem], |row| row.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn counts(&self) -> Result<Counts, DbError> {
        let (records, withdrawn): (i64, i64) = self.conn.query_row(
            "SELECT count(*), count(withdrawn) FROM advisory",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let mut statement = self.conn.prepare_cached(
            "SELECT p.ecosystem, count(DISTINCT p.advisory_id) FROM affected_package p \
             JOIN advisory a ON a.id = p.advisory_id WHERE a.withdrawn IS NULL \
             GROUP BY p.ecosystem ORDER BY p.ecosystem",
        )?;
        let per_ecosystem = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?.max(0) as u64,
                ))
            })?
            .collect::<Result<_, _>>()?;
        Ok(Counts {
            records: records.max(0) as u64,
            withdrawn: withdrawn.max(0) as u64,
            per_ecosystem,
        })
    }

    fn sources(&self) -> Result<Vec<SourceRow>, DbError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT source, kind, updated_at_ns, records FROM source ORDER BY source",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(SourceRow {
                source: row.get(0)?,
                kind: row.get(1)?,
                updated_at_ns: row.get(2)?,
                records: row.get::<_, i64>(3)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn sync_rows(&self) -> Result<Vec<SyncRow>, DbError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT ecosystem, source, last_modified_ns, updated_at_ns, method FROM sync_state ORDER BY ecosystem",
        )?;
        let rows = statement.query_map([], sync_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn sync_row(&self, ecosystem: &str) -> Result<Option<SyncRow>, DbError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT ecosystem, source, last_modified_ns, updated_at_ns, method FROM sync_state WHERE ecosystem = ?1",
            )?
            .query_row([ecosystem], sync_row)
            .optional()?)
    }

    fn generations(&self) -> Result<Vec<Generation>, DbError> {
        self.generations_impl()
    }

    fn head(&self) -> Result<Option<(u64, i64)>, DbError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT id, created_at_ns FROM generation ORDER BY id DESC LIMIT 1")?;
        let mut rows = statement.query([])?;
        match rows.next()? {
            Some(row) => Ok(Some((row.get::<_, i64>(0)?.max(0) as u64, row.get(1)?))),
            None => Ok(None),
        }
    }

    fn change_rows(&self, from: u64, to: u64) -> Result<Vec<ChangeRow>, DbError> {
        self.change_rows_impl(from, to)
    }

    fn records_as_of(&self, after: u64) -> Result<Vec<RecordAsOf>, DbError> {
        self.records_as_of_impl(after)
    }
}

impl SqliteStore {
    fn generations_impl(&self) -> Result<Vec<Generation>, DbError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT g.id, g.created_at_ns, g.kind, g.source, \
             count(CASE WHEN c.change = 'added' THEN 1 END), \
             count(CASE WHEN c.change = 'modified' THEN 1 END), \
             count(CASE WHEN c.change = 'withdrawn' THEN 1 END), \
             count(CASE WHEN c.change = 'removed' THEN 1 END) \
             FROM generation g LEFT JOIN advisory_change c ON c.generation = g.id \
             GROUP BY g.id ORDER BY g.id",
        )?;
        let rows = statement.query_map([], |r| {
            let count = |i: usize| r.get::<_, i64>(i).map(|n| n.max(0) as u64);
            Ok(Generation {
                id: r.get::<_, i64>(0)?.max(0) as u64,
                created_at: format_rfc3339(r.get(1)?),
                kind: r.get(2)?,
                source: r.get(3)?,
                added: count(4)?,
                modified: count(5)?,
                withdrawn: count(6)?,
                removed: count(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn change_rows_impl(&self, from: u64, to: u64) -> Result<Vec<ChangeRow>, DbError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT generation, advisory_id, old_state, new_state, old_modified, new_modified, \
             old_packages, new_packages FROM advisory_change \
             WHERE generation > ?1 AND generation <= ?2 ORDER BY advisory_id, generation",
        )?;
        let rows = statement.query_map(params![clamp(from), clamp(to)], |r| {
            Ok(ChangeRow {
                generation: r.get::<_, i64>(0)?.max(0) as u64,
                advisory_id: r.get(1)?,
                old_state: r.get(2)?,
                new_state: r.get(3)?,
                old_modified: r.get(4)?,
                new_modified: r.get(5)?,
                old_packages: r.get(6)?,
                new_packages: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn records_as_of_impl(&self, after: u64) -> Result<Vec<RecordAsOf>, DbError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT c.advisory_id, c.old_json FROM advisory_change c \
             WHERE c.generation = (SELECT min(d.generation) FROM advisory_change d \
                                   WHERE d.advisory_id = c.advisory_id AND d.generation > ?1) \
             ORDER BY c.advisory_id",
        )?;
        let rows = statement.query_map([clamp(after)], |r| {
            Ok(RecordAsOf {
                advisory_id: r.get(0)?,
                json: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn clamp(generation: u64) -> i64 {
    i64::try_from(generation).unwrap_or(i64::MAX)
}

fn sync_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SyncRow> {
    Ok(SyncRow {
        ecosystem: row.get(0)?,
        source: row.get(1)?,
        last_modified_ns: row.get(2)?,
        updated_at_ns: row.get(3)?,
        method: row.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file with the current schema, as a working copy leaves it.
    fn created(path: &Path) -> SqliteStore {
        std::fs::File::create(path).expect("create file");
        SqliteStore::open_working_copy(path).expect("working copy")
    }

    #[test]
    fn migrations_run_once_and_other_schema_versions_are_refused_read_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite3");
        let store = created(&path);
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        drop(store);
        // Reopening an up-to-date file runs nothing (a re-run would fail on CREATE TABLE).
        let store = SqliteStore::open_working_copy(&path).expect("reopen");
        for (version, newer) in [(SCHEMA_VERSION + 1, true), (SCHEMA_VERSION - 1, false)] {
            store
                .conn
                .pragma_update(None, "user_version", version)
                .expect("set version");
            match SqliteStore::open_read_only(&path) {
                Err(DbError::SchemaTooNew { found, .. }) if newer => assert_eq!(found, version),
                Err(DbError::SchemaTooOld { found, .. }) if !newer => assert_eq!(found, version),
                Err(other) => panic!("wrong error for version {version}: {other}"),
                Ok(_) => panic!("version {version} was accepted"),
            }
        }
        store
            .conn
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump");
        drop(store);
        assert!(matches!(
            SqliteStore::open_working_copy(&path),
            Err(DbError::SchemaTooNew { .. })
        ));
    }

    #[test]
    fn read_only_opens_change_nothing_and_need_an_existing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(SqliteStore::open_read_only(&dir.path().join("absent.sqlite3")).is_err());
        let empty = dir.path().join("empty.sqlite3");
        std::fs::File::create(&empty).expect("create");
        assert!(matches!(
            SqliteStore::open_read_only(&empty),
            Ok(Opened::NoSchema)
        ));
        assert_eq!(std::fs::metadata(&empty).expect("stat").len(), 0);
        let names = |dir: &Path| {
            let mut names: Vec<_> = std::fs::read_dir(dir)
                .expect("list")
                .map(|e| e.expect("entry").file_name())
                .collect();
            names.sort();
            names
        };
        let before = names(dir.path());
        // A write through a read-only connection fails instead of touching the file.
        let Ok(Opened::NoSchema) = SqliteStore::open_read_only(&empty) else {
            panic!("expected no schema");
        };
        let conn =
            Connection::open_with_flags(&empty, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
        assert!(conn.execute_batch("CREATE TABLE t (x)").is_err());
        assert_eq!(names(dir.path()), before);
    }

    #[test]
    fn garbage_is_an_error_not_an_empty_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("garbage.sqlite3");
        std::fs::write(&path, vec![0x5a; 8192]).expect("write");
        assert!(SqliteStore::open_read_only(&path).is_err());
    }

    #[test]
    fn a_failed_write_rolls_back() {
        let mut store = SqliteStore::in_memory().expect("store");
        let row = AdvisoryRow {
            id: "X-1".into(),
            modified: None,
            modified_ns: i64::MIN,
            published: None,
            withdrawn: None,
            aliases: vec!["CVE-1".into()],
            packages: vec![("PyPI".into(), "a".into())],
            json: b"{}".to_vec(),
        };
        let result = store.write(&mut |tx| {
            tx.upsert(&row)?;
            Err(DbError::NoSourceUrl)
        });
        assert!(result.is_err());
        assert_eq!(store.counts().expect("counts").records, 0);
        store
            .write(&mut |tx| tx.upsert(&row).map(|_| ()))
            .expect("write");
        assert_eq!(store.counts().expect("counts").records, 1);
        assert_eq!(store.package_names("PyPI").expect("names"), ["a"]);
    }
}
