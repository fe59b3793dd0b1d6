//! The storage boundary. Everything above it (import, update, status, lookups) talks to a
//! [`Store`]; SQLite ([`sqlite::SqliteStore`]) is the embedded backend. A PostgreSQL backend for
//! the monitoring service implements the same trait (research notes, monitoring §3.2: rusqlite is
//! pinned to `=0.39` so that it can share one workspace with sqlx 0.9's `libsqlite3-sys`).

pub(crate) mod cow;
pub(crate) mod sqlite;

use crate::DbError;

/// One advisory as stored: the index columns plus the record itself as OSV JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdvisoryRow {
    pub id: String,
    /// `modified` as written in the record.
    pub modified: Option<String>,
    /// `modified` as UTC nanoseconds since the epoch: "newer wins" compares this. A record whose
    /// `modified` is missing or unreadable counts as the oldest possible (`i64::MIN`), so that any
    /// dated version of it replaces it.
    pub modified_ns: i64,
    pub published: Option<String>,
    pub withdrawn: Option<String>,
    /// Sorted, deduplicated.
    pub aliases: Vec<String>,
    /// `(ecosystem, normalized name)` of every affected package; sorted, deduplicated.
    pub packages: Vec<(String, String)>,
    /// The OSV record as JSON.
    pub json: Vec<u8>,
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upserted {
    Inserted,
    /// Replaced an older version of the record.
    Updated,
    /// The stored version is as new or newer: nothing changed.
    Unchanged,
}

/// Where a named source (an imported path, an update base URL) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceRow {
    pub source: String,
    /// `import` or `update`.
    pub kind: String,
    pub updated_at_ns: i64,
    /// Records the last run from this source read.
    pub records: u64,
}

/// The incremental-update cursor of one ecosystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncRow {
    pub ecosystem: String,
    /// The base URL the ecosystem was synced from: a cursor is only valid for its own source.
    pub source: String,
    /// The newest `modified` seen (UTC nanoseconds); `None` when the export had no record.
    pub last_modified_ns: Option<i64>,
    pub updated_at_ns: i64,
    /// `full` or `incremental`: how the last sync ran.
    pub method: String,
}

/// Record counts, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub records: u64,
    pub withdrawn: u64,
    /// Distinct advisories naming a package of each ecosystem (withdrawn ones excluded).
    pub per_ecosystem: Vec<(String, u64)>,
}

/// Writes inside one transaction.
pub(crate) trait StoreTx {
    /// Inserts the record, or replaces the stored one if this one's `modified` is newer.
    fn upsert(&mut self, row: &AdvisoryRow) -> Result<Upserted, DbError>;
    fn record_source(&mut self, source: &SourceRow) -> Result<(), DbError>;
    fn record_sync(&mut self, sync: &SyncRow) -> Result<(), DbError>;
}

/// A storage backend for the advisory database.
pub(crate) trait Store: Send {
    /// Runs `work` in one transaction: committed if it returns `Ok`, rolled back otherwise.
    fn write(
        &mut self,
        work: &mut dyn FnMut(&mut dyn StoreTx) -> Result<(), DbError>,
    ) -> Result<(), DbError>;
    /// The JSON of every advisory naming `(ecosystem, normalized_name)`, withdrawn ones included
    /// (the matcher decides about those), sorted by id.
    fn advisory_json_for(
        &self,
        ecosystem: &str,
        normalized_name: &str,
    ) -> Result<Vec<Vec<u8>>, DbError>;
    /// Every distinct normalized package name of an ecosystem that some advisory names.
    fn package_names(&self, ecosystem: &str) -> Result<Vec<String>, DbError>;
    fn counts(&self) -> Result<Counts, DbError>;
    fn sources(&self) -> Result<Vec<SourceRow>, DbError>;
    fn sync_rows(&self) -> Result<Vec<SyncRow>, DbError>;
    fn sync_row(&self, ecosystem: &str) -> Result<Option<SyncRow>, DbError>;
}
