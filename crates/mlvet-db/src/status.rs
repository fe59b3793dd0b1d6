//! `mlvet db status`: what the database holds and how fresh it is.

use std::path::PathBuf;
use std::time::Duration;

use crate::DbError;
use crate::store::sqlite::SCHEMA_VERSION;
use crate::store::{Counts, SourceRow, SyncRow};
use crate::time::{elapsed, format_rfc3339};

/// The state of the advisory database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The database file.
    pub path: PathBuf,
    pub schema_version: i64,
    /// Stored records, withdrawn ones included.
    pub records: u64,
    pub withdrawn: u64,
    /// Per ecosystem named by some current record, sorted by name.
    pub ecosystems: Vec<EcosystemStatus>,
    /// Every path imported and every URL updated from, sorted.
    pub sources: Vec<SourceStatus>,
    /// RFC 3339 time of the last import or update; `None` if there never was one.
    pub updated: Option<String>,
    /// Time since `updated`.
    pub age: Option<Duration>,
    /// True when never updated, empty, or older than `stale_after`.
    pub stale: bool,
    pub stale_after: Duration,
}

/// Records of one ecosystem and its last download sync, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcosystemStatus {
    pub ecosystem: String,
    /// Current (non-withdrawn) records naming a package of this ecosystem.
    pub records: u64,
    /// Base URL of the last `update` of this ecosystem.
    pub synced_from: Option<String>,
    /// RFC 3339 time of that update.
    pub synced_at: Option<String>,
    /// `full` or `incremental`.
    pub sync_method: Option<String>,
    /// RFC 3339 time of the newest record seen by that update (the incremental cursor).
    pub newest_modified: Option<String>,
}

/// One import path or update URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    pub source: String,
    /// `import` or `update`.
    pub kind: String,
    /// RFC 3339 time of the last run from this source.
    pub updated: String,
    /// Records that run read.
    pub records: u64,
}

impl Status {
    /// The summary a scan report carries.
    pub fn info(&self) -> mlvet_core::DatabaseInfo {
        let source = if self.sources.is_empty() {
            self.path.display().to_string()
        } else {
            self.sources
                .iter()
                .map(|s| s.source.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        mlvet_core::DatabaseInfo {
            source,
            records: self.records,
            updated: self.updated.clone(),
            stale: self.stale,
        }
    }
}

pub(crate) fn build(
    path: PathBuf,
    counts: Counts,
    sources: Vec<SourceRow>,
    syncs: Vec<SyncRow>,
    now_ns: i64,
    stale_after: Duration,
) -> Result<Status, DbError> {
    let last_ns = sources
        .iter()
        .map(|s| s.updated_at_ns)
        .chain(syncs.iter().map(|s| s.updated_at_ns))
        .max();
    let age = last_ns.map(|last| elapsed(last, now_ns));
    let stale = counts.records == 0 || age.is_none_or(|age| age > stale_after);
    let mut ecosystems: Vec<EcosystemStatus> = counts
        .per_ecosystem
        .iter()
        .map(|(ecosystem, records)| EcosystemStatus {
            ecosystem: ecosystem.clone(),
            records: *records,
            synced_from: None,
            synced_at: None,
            sync_method: None,
            newest_modified: None,
        })
        .collect();
    for sync in syncs {
        let position = match ecosystems
            .iter()
            .position(|e| e.ecosystem == sync.ecosystem)
        {
            Some(position) => position,
            None => {
                // Synced but empty (or all withdrawn): still worth showing.
                ecosystems.push(EcosystemStatus {
                    ecosystem: sync.ecosystem.clone(),
                    records: 0,
                    synced_from: None,
                    synced_at: None,
                    sync_method: None,
                    newest_modified: None,
                });
                ecosystems.len() - 1
            }
        };
        if let Some(entry) = ecosystems.get_mut(position) {
            entry.synced_from = Some(sync.source);
            entry.synced_at = Some(format_rfc3339(sync.updated_at_ns));
            entry.sync_method = Some(sync.method);
            entry.newest_modified = sync.last_modified_ns.map(format_rfc3339);
        }
    }
    ecosystems.sort_by(|a, b| a.ecosystem.cmp(&b.ecosystem));
    let sources = sources
        .into_iter()
        .map(|s| SourceStatus {
            source: s.source,
            kind: s.kind,
            updated: format_rfc3339(s.updated_at_ns),
            records: s.records,
        })
        .collect();
    Ok(Status {
        path,
        schema_version: SCHEMA_VERSION,
        records: counts.records,
        withdrawn: counts.withdrawn,
        ecosystems,
        sources,
        updated: last_ns.map(format_rfc3339),
        age,
        stale,
        stale_after,
    })
}
