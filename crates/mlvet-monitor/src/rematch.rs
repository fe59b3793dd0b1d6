//! Delta re-matching: which stored `(ecosystem, name, version)` triples gain, lose or change
//! advisory matches when the advisory database moves from one generation to another.
//!
//! Set-based: the work is one advisory lookup per touched package key (before and after) and one
//! match per *distinct* version stored for it, whatever the number of projects holding it. The
//! fan-out from triples to projects is the store's (an index on `(ecosystem, name, version)`).

use std::collections::{BTreeMap, BTreeSet};

use mlvet_core::{AdvisoryRef, Severity, SourceRef};
use mlvet_db::{Delta, PackageKey};
use mlvet_inventory::{Dependency, Origin};
use mlvet_osv::{AdvisorySource, MatchOptions, MemorySource, match_dependencies};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::MonitorError;

/// One distinct package version held by stored inventories.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Triple {
    /// Canonical OSV ecosystem name (`PyPI`).
    pub ecosystem: String,
    /// Normalised name (PEP 503 for PyPI).
    pub name: String,
    /// The exact version, as the inventory recorded it.
    pub version: String,
}

impl Triple {
    /// A triple from a package as written: ecosystem canonicalised, name normalised.
    pub fn new(ecosystem: &str, name: &str, version: &str) -> Triple {
        let key = PackageKey::new(ecosystem, name);
        Triple {
            ecosystem: key.ecosystem,
            name: key.name,
            version: version.trim().to_string(),
        }
    }

    pub fn key(&self) -> PackageKey {
        PackageKey {
            ecosystem: self.ecosystem.clone(),
            name: self.name.clone(),
        }
    }

    fn dependency(&self) -> Dependency {
        Dependency {
            ecosystem: self.ecosystem.clone(),
            name: self.name.clone(),
            normalized_name: self.name.clone(),
            version: Some(self.version.clone()),
            requirement: None,
            markers: None,
            extras: Vec::new(),
            source: SourceRef {
                file: String::new(),
                line: None,
            },
            origin: Origin::CycloneDx,
            direct_url: None,
            purl: None,
        }
    }
}

/// One vulnerability (an alias group of records, as the matcher merges them) affecting a triple.
/// Serialised as the service stores it with the finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// The id the finding is named by (GHSA, else PYSEC, else MAL, else the smallest id).
    pub advisory: String,
    /// Every other id of the group, sorted.
    pub aliases: Vec<String>,
    /// `dependency-vulnerable` or `dependency-malicious-package`.
    pub rule: String,
    pub severity: Severity,
    pub cvss_score: Option<f64>,
    pub summary: Option<String>,
    /// The lowest fixed version above the one in use.
    pub fixed: Option<String>,
    pub modified: Option<String>,
}

impl Match {
    /// The advisory id and its aliases.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.advisory.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// Whether both describe the same vulnerability: they share an id or an alias. (A group's
    /// preferred id can change when a GHSA record joins a PYSEC one; the finding stays the same.)
    pub fn same_vulnerability(&self, other: &Match) -> bool {
        let mine: BTreeSet<&str> = self.ids().collect();
        other.ids().any(|id| mine.contains(id))
    }

    fn from_finding(rule: &str, severity: Severity, advisory: &AdvisoryRef) -> Match {
        Match {
            advisory: advisory.id.clone(),
            aliases: advisory.aliases.clone(),
            rule: rule.to_string(),
            severity,
            cvss_score: advisory.cvss_score,
            summary: advisory.summary.clone(),
            fixed: advisory.fixed.clone(),
            modified: advisory.modified.clone(),
        }
    }
}

/// The distinct versions stored inventories hold per package key. The service's store
/// implements it with an index on `(ecosystem, name, version)`; [`MemoryIndex`] is the in-memory
/// implementation (tests, benchmarks, one-process mode).
pub trait InventoryIndex {
    /// The distinct versions of `key` in any stored inventory, sorted.
    fn versions(&self, key: &PackageKey) -> Result<Vec<String>, MonitorError>;
}

/// Triples and the projects holding them, in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryIndex {
    by_key: BTreeMap<PackageKey, BTreeMap<String, BTreeSet<String>>>,
}

impl MemoryIndex {
    pub fn new() -> MemoryIndex {
        MemoryIndex::default()
    }

    /// Records that `project` holds `triple`.
    pub fn add(&mut self, project: &str, triple: &Triple) {
        self.by_key
            .entry(triple.key())
            .or_default()
            .entry(triple.version.clone())
            .or_default()
            .insert(project.to_string());
    }

    /// Forgets every triple of `project` (before recording its new inventory).
    pub fn remove_project(&mut self, project: &str) {
        for versions in self.by_key.values_mut() {
            for projects in versions.values_mut() {
                projects.remove(project);
            }
            versions.retain(|_, projects| !projects.is_empty());
        }
        self.by_key.retain(|_, versions| !versions.is_empty());
    }

    /// The projects holding `triple`, sorted.
    pub fn projects(&self, triple: &Triple) -> impl Iterator<Item = &str> {
        self.by_key
            .get(&triple.key())
            .and_then(|versions| versions.get(&triple.version))
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Every distinct triple, sorted.
    pub fn triples(&self) -> Vec<Triple> {
        self.by_key
            .iter()
            .flat_map(|(key, versions)| {
                versions.keys().map(move |version| Triple {
                    ecosystem: key.ecosystem.clone(),
                    name: key.name.clone(),
                    version: version.clone(),
                })
            })
            .collect()
    }

    /// How many distinct triples are indexed.
    pub fn len(&self) -> usize {
        self.by_key.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

impl InventoryIndex for MemoryIndex {
    fn versions(&self, key: &PackageKey) -> Result<Vec<String>, MonitorError> {
        Ok(self
            .by_key
            .get(key)
            .map(|versions| versions.keys().cloned().collect())
            .unwrap_or_default())
    }
}

/// A triple whose matches changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TripleChange {
    pub triple: Triple,
    /// Matches before the delta, in the matcher's order.
    pub before: Vec<Match>,
    /// Matches after it.
    pub after: Vec<Match>,
}

/// What re-matching a delta did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RematchResult {
    /// Triples whose matches changed, sorted.
    pub changes: Vec<TripleChange>,
    /// Package keys the delta touched.
    pub keys_touched: usize,
    /// Distinct stored triples re-matched (before and after).
    pub triples_evaluated: usize,
}

/// The records naming `key`, once, in memory: every version of the key is matched against it.
fn snapshot(source: &dyn AdvisorySource, key: &PackageKey) -> Result<MemorySource, MonitorError> {
    Ok(MemorySource::new(
        source.advisories_for(&key.ecosystem, &key.name)?,
    ))
}

pub(crate) fn matches_against(source: &MemorySource, triple: &Triple) -> Vec<Match> {
    let result = match_dependencies(&[triple.dependency()], source, &MatchOptions::default());
    result
        .findings
        .iter()
        .filter_map(|finding| {
            let advisory = finding.advisory.as_ref()?;
            matches!(
                finding.rule,
                "dependency-vulnerable" | "dependency-malicious-package"
            )
            .then(|| Match::from_finding(finding.rule, finding.severity, advisory))
        })
        .collect()
}

/// The matches of one triple against `source` (a lookup failure is an error: "could not look"
/// must never read as "not affected"). A version its ecosystem cannot compare matches nothing.
pub fn match_triple(
    source: &dyn AdvisorySource,
    triple: &Triple,
) -> Result<Vec<Match>, MonitorError> {
    Ok(matches_against(&snapshot(source, &triple.key())?, triple))
}

/// The matches of many triples (a full re-match after a matcher upgrade): one lookup per package
/// key, the versions matched in parallel. Sorted by triple.
pub fn match_triples(
    source: &dyn AdvisorySource,
    triples: &[Triple],
) -> Result<Vec<(Triple, Vec<Match>)>, MonitorError> {
    let mut by_key: BTreeMap<PackageKey, Vec<&Triple>> = BTreeMap::new();
    for triple in triples {
        by_key.entry(triple.key()).or_default().push(triple);
    }
    let mut work = Vec::with_capacity(by_key.len());
    for (key, triples) in by_key {
        work.push((snapshot(source, &key)?, triples));
    }
    let mut out: Vec<(Triple, Vec<Match>)> = work
        .par_iter()
        .flat_map_iter(|(records, triples)| {
            triples
                .iter()
                .map(|t| ((*t).clone(), matches_against(records, t)))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Re-matches the stored triples a delta touches against the advisory sets before and after it,
/// and returns those whose matches changed (gained, lost, or changed severity, fix or aliases).
pub fn rematch_delta(
    delta: &Delta,
    before: &dyn AdvisorySource,
    after: &dyn AdvisorySource,
    index: &dyn InventoryIndex,
) -> Result<RematchResult, MonitorError> {
    let keys = delta.touched_packages();
    let mut work = Vec::new();
    let mut triples_evaluated = 0;
    for key in &keys {
        let versions = index.versions(key)?;
        if versions.is_empty() {
            continue;
        }
        triples_evaluated += versions.len();
        work.push((snapshot(before, key)?, snapshot(after, key)?, key, versions));
    }
    let mut changes: Vec<TripleChange> = work
        .par_iter()
        .flat_map_iter(|(old, new, key, versions)| {
            versions.iter().filter_map(move |version| {
                let triple = Triple {
                    ecosystem: key.ecosystem.clone(),
                    name: key.name.clone(),
                    version: version.clone(),
                };
                let before = matches_against(old, &triple);
                let after = matches_against(new, &triple);
                (before != after).then_some(TripleChange {
                    triple,
                    before,
                    after,
                })
            })
        })
        .collect();
    changes.sort_by(|a, b| a.triple.cmp(&b.triple));
    Ok(RematchResult {
        changes,
        keys_touched: keys.len(),
        triples_evaluated,
    })
}
