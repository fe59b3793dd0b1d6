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
///
/// Every change to a record (insert, replacement, removal) is also recorded in the transaction's
/// generation (see `generation.rs`): the first change allocates it, a transaction that changes
/// nothing records none.
pub(crate) trait StoreTx {
    /// Names what this transaction is (`import` or `update`) and where its records come from, for
    /// the generation it may record. Call before the first write.
    fn set_origin(&mut self, kind: &str, source: &str);
    /// The generation this transaction recorded so far (`None` while nothing changed).
    fn recorded_generation(&self) -> Option<u64>;
    /// Inserts the record, or replaces the stored one if this one's `modified` is newer.
    fn upsert(&mut self, row: &AdvisoryRow) -> Result<Upserted, DbError>;
    /// Removes every record naming a package of `ecosystem` whose id is not in `keep` (a full sync:
    /// records that disappeared upstream). Returns how many were removed.
    fn remove_missing(
        &mut self,
        ecosystem: &str,
        keep: &std::collections::HashSet<String>,
    ) -> Result<u64, DbError>;
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
    /// The JSON of the advisory whose id is `id` and of every advisory listing `id` as an alias
    /// (both indexed), the exact id first, then by id.
    fn advisory_json_by_id_or_alias(&self, id: &str) -> Result<Vec<Vec<u8>>, DbError>;
    /// Every distinct normalized package name of an ecosystem that some advisory names.
    fn package_names(&self, ecosystem: &str) -> Result<Vec<String>, DbError>;
    fn counts(&self) -> Result<Counts, DbError>;
    fn sources(&self) -> Result<Vec<SourceRow>, DbError>;
    fn sync_rows(&self) -> Result<Vec<SyncRow>, DbError>;
    fn sync_row(&self, ecosystem: &str) -> Result<Option<SyncRow>, DbError>;
    /// Every generation, oldest first, with its change counts.
    fn generations(&self) -> Result<Vec<crate::generation::Generation>, DbError>;
    /// The newest generation's id and creation time (ns since the epoch), without counting
    /// its changes: `None` when no generation was recorded.
    fn head(&self) -> Result<Option<(u64, i64)>, DbError>;
    /// The change rows of generations `from < g <= to`, ordered by advisory id then generation.
    fn change_rows(&self, from: u64, to: u64) -> Result<Vec<ChangeRow>, DbError>;
    /// For every advisory changed after generation `after`: its state and JSON as of `after`
    /// (the "before" side of its first later change).
    fn records_as_of(&self, after: u64) -> Result<Vec<RecordAsOf>, DbError>;
}

/// One advisory's change within one generation, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChangeRow {
    pub generation: u64,
    pub advisory_id: String,
    pub old_state: String,
    pub new_state: String,
    pub old_modified: Option<String>,
    pub new_modified: Option<String>,
    /// JSON array of `[ecosystem, name]` pairs.
    pub old_packages: String,
    pub new_packages: String,
}

/// A record as it was before a later change: `json` is `None` when it did not exist then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordAsOf {
    pub advisory_id: String,
    pub json: Option<Vec<u8>>,
}
