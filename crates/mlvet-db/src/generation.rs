//! Advisory generations: the history of what each import or update changed.
//!
//! Every `db import` or `db update` transaction that changes at least one record allocates the
//! next generation number and records, per advisory id, how it changed (`added`, `modified`,
//! `withdrawn`, `removed`), its state, `modified` time and affected package keys before and
//! after, and the record as it was before. An import that changes nothing records no generation,
//! so a monitor watching the generation number only wakes up for real changes.
//!
//! From that history two things follow, both needed to re-match stored inventories on a change
//! instead of re-scanning everything (research notes, monitoring §2.8):
//! - [`Delta`]: the changes between two generations, collapsed per advisory (first "before", last
//!   "after"), with the package keys they touch — like grype's `db diff`, but between generations
//!   of one database;
//! - [`GenerationView`]: the advisory set as of an earlier generation, an
//!   [`AdvisorySource`](mlvet_osv::AdvisorySource) the matcher can run against, so that "what
//!   matched before" and "what matches now" are both computed by the same exact matcher.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use mlvet_osv::{Advisory, AdvisorySource, OsvError, ecosystem_key, normalize_package_name};
use serde::Serialize;

use crate::DbError;
use crate::store::ChangeRow;

/// How one advisory changed between two generations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// New to the database (and not withdrawn).
    Added,
    /// Replaced by a newer version (a withdrawn record modified again included).
    Modified,
    /// Withdrawn upstream: it no longer matches anything (also a record that arrived withdrawn).
    Withdrawn,
    /// Gone from the database: a full sync no longer found it upstream.
    Removed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Modified => "modified",
            ChangeKind::Withdrawn => "withdrawn",
            ChangeKind::Removed => "removed",
        }
    }

    /// The kind of change from one state to another; `None` when nothing exists on either side.
    pub fn classify(old: RecordState, new: RecordState) -> Option<ChangeKind> {
        use RecordState::{Absent, Current, Withdrawn};
        match (old, new) {
            (Absent, Absent) => None,
            (Absent, Current) => Some(ChangeKind::Added),
            (_, Absent) => Some(ChangeKind::Removed),
            (Absent | Current, Withdrawn) => Some(ChangeKind::Withdrawn),
            (Current | Withdrawn, Current) | (Withdrawn, Withdrawn) => Some(ChangeKind::Modified),
        }
    }
}

/// Whether a record exists, and whether it is withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordState {
    Absent,
    Current,
    Withdrawn,
}

impl RecordState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::Absent => "absent",
            RecordState::Current => "current",
            RecordState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<RecordState> {
        match text {
            "absent" => Some(RecordState::Absent),
            "current" => Some(RecordState::Current),
            "withdrawn" => Some(RecordState::Withdrawn),
            _ => None,
        }
    }
}

/// One generation: one import or update that changed the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Generation {
    /// Increasing from 1; 0 stands for "before the first recorded generation".
    pub id: u64,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// `import` or `update`.
    pub kind: String,
    /// The imported path or the update's base URL.
    pub source: String,
    pub added: u64,
    pub modified: u64,
    pub withdrawn: u64,
    pub removed: u64,
}

/// An `(ecosystem, normalised name)` package key, as the index and the matcher use it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PackageKey {
    pub ecosystem: String,
    pub name: String,
}

impl PackageKey {
    /// The key of a package as written (ecosystem canonicalised, name normalised).
    pub fn new(ecosystem: &str, name: &str) -> PackageKey {
        PackageKey {
            ecosystem: ecosystem_key(ecosystem),
            name: normalize_package_name(ecosystem, name),
        }
    }
}

/// One side of an advisory change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSide {
    pub state: RecordState,
    pub modified: Option<String>,
    /// Affected package keys, sorted.
    pub packages: Vec<PackageKey>,
}

/// How one advisory changed between two generations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdvisoryChange {
    pub id: String,
    pub change: ChangeKind,
    pub old: RecordSide,
    pub new: RecordSide,
}

impl AdvisoryChange {
    /// Package keys named before or after: every package whose matches may have changed.
    pub fn touched(&self) -> impl Iterator<Item = &PackageKey> {
        self.old.packages.iter().chain(&self.new.packages)
    }
}

/// The changes between generation `from` (exclusive) and `to` (inclusive), one per advisory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delta {
    pub from: u64,
    pub to: u64,
    /// Sorted by advisory id.
    pub changes: Vec<AdvisoryChange>,
}

impl Delta {
    /// Every package key a change names, before or after, sorted.
    pub fn touched_packages(&self) -> BTreeSet<PackageKey> {
        self.changes
            .iter()
            .flat_map(AdvisoryChange::touched)
            .cloned()
            .collect()
    }

    /// How many changes of each kind.
    pub fn count(&self, kind: ChangeKind) -> usize {
        self.changes.iter().filter(|c| c.change == kind).count()
    }

    /// Per package key, the ids of the advisories added, modified, withdrawn or removed for it
    /// (grype's `db diff` view). An advisory that starts or stops naming a package counts as
    /// added or removed for that package.
    pub fn by_package(&self) -> BTreeMap<PackageKey, BTreeMap<ChangeKind, Vec<String>>> {
        let mut out: BTreeMap<PackageKey, BTreeMap<ChangeKind, Vec<String>>> = BTreeMap::new();
        for change in &self.changes {
            let old: BTreeSet<&PackageKey> = change.old.packages.iter().collect();
            let new: BTreeSet<&PackageKey> = change.new.packages.iter().collect();
            for key in old.union(&new) {
                let kind = match (old.contains(key), new.contains(key), change.change) {
                    (_, _, ChangeKind::Withdrawn | ChangeKind::Removed) => change.change,
                    (false, true, _) => ChangeKind::Added,
                    (true, false, _) => ChangeKind::Removed,
                    _ => change.change,
                };
                out.entry((*key).clone())
                    .or_default()
                    .entry(kind)
                    .or_default()
                    .push(change.id.clone());
            }
        }
        out
    }
}

fn parse_packages(json: &str) -> Vec<PackageKey> {
    let pairs: Vec<(String, String)> = serde_json::from_str(json).unwrap_or_default();
    pairs
        .into_iter()
        .map(|(ecosystem, name)| PackageKey { ecosystem, name })
        .collect()
}

fn side(state: &str, modified: Option<String>, packages: &str) -> RecordSide {
    RecordSide {
        state: RecordState::parse(state).unwrap_or(RecordState::Absent),
        modified,
        packages: parse_packages(packages),
    }
}

/// Collapses change rows (ordered by id, then generation) into one change per advisory.
pub(crate) fn collapse(from: u64, to: u64, rows: Vec<ChangeRow>) -> Delta {
    let mut changes = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while let Some(first) = rows.next() {
        let mut last_new = (first.new_state, first.new_modified, first.new_packages);
        while let Some(next) = rows.next_if(|r| r.advisory_id == first.advisory_id) {
            last_new = (next.new_state, next.new_modified, next.new_packages);
        }
        let old = side(&first.old_state, first.old_modified, &first.old_packages);
        let new = side(&last_new.0, last_new.1, &last_new.2);
        if let Some(change) = ChangeKind::classify(old.state, new.state) {
            changes.push(AdvisoryChange {
                id: first.advisory_id,
                change,
                old,
                new,
            });
        }
    }
    Delta { from, to, changes }
}

/// The advisory database as of an earlier generation: the current records, with every record
/// changed since replaced by its earlier version (or hidden, when it did not exist yet).
pub struct GenerationView<'a> {
    current: &'a dyn AdvisorySource,
    generation: u64,
    /// Ids changed after the generation: their current versions are not part of the view.
    changed: HashSet<String>,
    /// The earlier versions of changed records, by the package keys they named then.
    earlier: HashMap<PackageKey, Vec<Advisory>>,
}

impl<'a> GenerationView<'a> {
    pub(crate) fn new(
        current: &'a dyn AdvisorySource,
        generation: u64,
        records: Vec<(String, Option<Advisory>)>,
    ) -> GenerationView<'a> {
        let mut changed = HashSet::new();
        let mut earlier: HashMap<PackageKey, Vec<Advisory>> = HashMap::new();
        for (id, record) in records {
            changed.insert(id);
            let Some(record) = record else { continue };
            let keys: BTreeSet<PackageKey> = record
                .affected
                .iter()
                .filter(|a| !a.package.name.trim().is_empty())
                .map(|a| PackageKey::new(&a.package.ecosystem, &a.package.name))
                .collect();
            for key in keys {
                earlier.entry(key).or_default().push(record.clone());
            }
        }
        GenerationView {
            current,
            generation,
            changed,
            earlier,
        }
    }

    /// The generation this view shows.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl AdvisorySource for GenerationView<'_> {
    fn advisories_for(
        &self,
        ecosystem: &str,
        normalized_name: &str,
    ) -> Result<Vec<Advisory>, OsvError> {
        let mut records: Vec<Advisory> = self
            .current
            .advisories_for(ecosystem, normalized_name)?
            .into_iter()
            .filter(|a| !self.changed.contains(&a.id))
            .collect();
        let key = PackageKey::new(ecosystem, normalized_name);
        if let Some(earlier) = self.earlier.get(&key) {
            records.extend(earlier.iter().cloned());
        }
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
    }
}

pub(crate) fn parse_stored(origin: &str, json: &[u8]) -> Result<Advisory, DbError> {
    mlvet_osv::parse_json(json).map_err(|e| DbError::InvalidRecord {
        origin: origin.to_string(),
        message: format!("stored record unreadable: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_covers_every_pair() {
        use RecordState::*;
        let kind = |a, b| ChangeKind::classify(a, b);
        assert_eq!(kind(Absent, Absent), None);
        assert_eq!(kind(Absent, Current), Some(ChangeKind::Added));
        assert_eq!(kind(Absent, Withdrawn), Some(ChangeKind::Withdrawn));
        assert_eq!(kind(Current, Current), Some(ChangeKind::Modified));
        assert_eq!(kind(Current, Withdrawn), Some(ChangeKind::Withdrawn));
        assert_eq!(kind(Withdrawn, Current), Some(ChangeKind::Modified));
        assert_eq!(kind(Withdrawn, Withdrawn), Some(ChangeKind::Modified));
        assert_eq!(kind(Current, Absent), Some(ChangeKind::Removed));
        assert_eq!(kind(Withdrawn, Absent), Some(ChangeKind::Removed));
    }
}
