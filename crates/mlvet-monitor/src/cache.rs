//! Matches already computed against one state of the advisory database, shared by every
//! re-match a process runs.
//!
//! A service holds thousands of inventories that share most of their `(ecosystem, name,
//! version)` triples. Matching each project on its own looks up (and parses) the advisories of
//! every package key once per project: a full re-match after a matcher upgrade, or a stream of
//! uploads, repeats the same lookups tens of thousands of times. Matching is a pure function of
//! the triple and the advisory records, so the result is kept per triple for as long as the
//! database holds the same records, named by a caller-supplied *stamp* (the service uses the
//! database file, its newest generation and that generation's creation time). A new stamp
//! empties the cache; so does reaching its size bound, which keeps memory bounded whatever
//! the portfolio.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use mlvet_db::PackageKey;
use mlvet_osv::{AdvisorySource, MemorySource};

use crate::MonitorError;
use crate::rematch::{Match, Triple, matches_against};

/// Triples kept by default: every distinct version of a 10,000-project portfolio fits several
/// times over (its matches are a few hundred bytes each).
pub const DEFAULT_MAX_TRIPLES: usize = 200_000;

/// Package keys whose parsed advisory records are kept by default.
pub const DEFAULT_MAX_KEYS: usize = 20_000;

/// See the module documentation. Safe to share between threads: the lock is held for lookups
/// and inserts only, never while records are read or matched.
pub struct MatchCache {
    state: Mutex<CacheState>,
    max_triples: usize,
    max_keys: usize,
}

#[derive(Default)]
struct CacheState {
    stamp: Option<String>,
    matches: HashMap<Triple, Arc<Vec<Match>>>,
    records: HashMap<PackageKey, Arc<MemorySource>>,
    hits: u64,
    misses: u64,
}

impl CacheState {
    /// Empties the cache unless it holds results for `stamp`.
    fn align(&mut self, stamp: &str) {
        if self.stamp.as_deref() != Some(stamp) {
            self.matches.clear();
            self.records.clear();
            self.stamp = Some(stamp.to_string());
        }
    }
}

/// How much the cache served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Triples answered from the cache.
    pub hits: u64,
    /// Triples matched against the records.
    pub misses: u64,
    /// Triples held now.
    pub triples: usize,
}

impl Default for MatchCache {
    fn default() -> Self {
        MatchCache::new(DEFAULT_MAX_TRIPLES, DEFAULT_MAX_KEYS)
    }
}

impl MatchCache {
    /// A cache holding at most `max_triples` results and `max_keys` parsed record sets.
    pub fn new(max_triples: usize, max_keys: usize) -> MatchCache {
        MatchCache {
            state: Mutex::new(CacheState::default()),
            max_triples: max_triples.max(1),
            max_keys: max_keys.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, CacheState> {
        // A panic while holding the lock leaves plain maps behind: still consistent.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What [`crate::match_triples`] returns for `triples` against `source`, whose records
    /// `stamp` names: equal stamps must mean equal records. Sorted by triple.
    pub fn match_triples(
        &self,
        stamp: &str,
        source: &dyn AdvisorySource,
        triples: &[Triple],
    ) -> Result<Vec<(Triple, Vec<Match>)>, MonitorError> {
        let mut out = Vec::with_capacity(triples.len());
        let mut missing: BTreeMap<PackageKey, Vec<&Triple>> = BTreeMap::new();
        {
            let mut state = self.lock();
            state.align(stamp);
            for triple in triples {
                match state.matches.get(triple) {
                    Some(found) => out.push((triple.clone(), found.as_ref().clone())),
                    None => missing.entry(triple.key()).or_default().push(triple),
                }
            }
            let missed: usize = missing.values().map(Vec::len).sum();
            state.hits += (triples.len() - missed) as u64;
            state.misses += missed as u64;
        }
        for (key, versions) in missing {
            let records = self.records(stamp, source, &key)?;
            let computed: Vec<(Triple, Vec<Match>)> = versions
                .into_iter()
                .map(|triple| (triple.clone(), matches_against(&records, triple)))
                .collect();
            let mut state = self.lock();
            // Another stamp arrived meanwhile: the results are still right for `source` (the
            // caller's snapshot) but must not be kept under the new stamp.
            if state.stamp.as_deref() == Some(stamp) {
                if state.matches.len() + computed.len() > self.max_triples {
                    state.matches.clear();
                }
                for (triple, matches) in &computed {
                    state
                        .matches
                        .insert(triple.clone(), Arc::new(matches.clone()));
                }
            }
            drop(state);
            out.extend(computed);
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The advisory records naming `key` in `source` (named by `stamp`), parsed once.
    pub fn records(
        &self,
        stamp: &str,
        source: &dyn AdvisorySource,
        key: &PackageKey,
    ) -> Result<Arc<MemorySource>, MonitorError> {
        {
            let mut state = self.lock();
            state.align(stamp);
            if let Some(found) = state.records.get(key) {
                return Ok(Arc::clone(found));
            }
        }
        let records = Arc::new(MemorySource::new(
            source.advisories_for(&key.ecosystem, &key.name)?,
        ));
        let mut state = self.lock();
        if state.stamp.as_deref() == Some(stamp) {
            if state.records.len() >= self.max_keys {
                state.records.clear();
            }
            state.records.insert(key.clone(), Arc::clone(&records));
        }
        Ok(records)
    }

    /// Hits, misses and size so far.
    pub fn stats(&self) -> CacheStats {
        let state = self.lock();
        CacheStats {
            hits: state.hits,
            misses: state.misses,
            triples: state.matches.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlvet_osv::{Advisory, OsvError};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts lookups, so that a test can see what the cache saved.
    struct Counting {
        inner: MemorySource,
        lookups: AtomicUsize,
    }

    impl AdvisorySource for Counting {
        fn advisories_for(
            &self,
            ecosystem: &str,
            normalized_name: &str,
        ) -> Result<Vec<Advisory>, OsvError> {
            self.lookups.fetch_add(1, Ordering::Relaxed);
            self.inner.advisories_for(ecosystem, normalized_name)
        }
    }

    fn advisory(id: &str, name: &str, fixed: &str) -> Advisory {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "modified": "2026-01-01T00:00:00Z",
            "affected": [{
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
            }]
        }))
        .expect("advisory")
    }

    fn source(advisories: Vec<Advisory>) -> Counting {
        Counting {
            inner: MemorySource::new(advisories),
            lookups: AtomicUsize::new(0),
        }
    }

    fn triples(versions: &[(&str, &str)]) -> Vec<Triple> {
        versions
            .iter()
            .map(|(name, version)| Triple::new("PyPI", name, version))
            .collect()
    }

    #[test]
    fn answers_what_the_uncached_matcher_answers_and_looks_each_key_up_once() {
        let source = source(vec![
            advisory("PYSEC-1", "torch", "2.6.0"),
            advisory("PYSEC-2", "numpy", "1.22.0"),
        ]);
        let cache = MatchCache::default();
        let first = triples(&[("torch", "2.5.1"), ("numpy", "1.21.0"), ("numpy", "2.0.0")]);
        let second = triples(&[
            ("torch", "2.5.1"),
            ("numpy", "1.21.0"),
            ("requests", "2.0.0"),
        ]);
        for project in [&first, &second, &first] {
            let cached = cache
                .match_triples("db@1", &source, project)
                .expect("cached");
            let direct = crate::match_triples(&source.inner, project).expect("direct");
            assert_eq!(cached, direct);
        }
        // torch, numpy, requests: one lookup each across the three projects.
        assert_eq!(source.lookups.load(Ordering::Relaxed), 3);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (5, 4));
    }

    #[test]
    fn a_new_stamp_forgets_everything() {
        let before = source(vec![advisory("PYSEC-1", "torch", "2.6.0")]);
        let after = source(vec![advisory("PYSEC-1", "torch", "2.4.0")]);
        let cache = MatchCache::default();
        let held = triples(&[("torch", "2.5.1")]);
        let old = cache.match_triples("db@1", &before, &held).expect("old");
        assert_eq!(old[0].1.len(), 1);
        let new = cache.match_triples("db@2", &after, &held).expect("new");
        assert!(new[0].1.is_empty(), "the narrowed range is seen: {new:?}");
        assert_eq!(after.lookups.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn stays_within_its_bounds() {
        let source = source(vec![advisory("PYSEC-1", "torch", "2.6.0")]);
        let cache = MatchCache::new(4, 2);
        for minor in 0..20 {
            let held = triples(&[
                ("torch", &format!("2.{minor}.0")),
                (&format!("pkg{minor}"), "1.0"),
            ]);
            let got = cache.match_triples("db@1", &source, &held).expect("match");
            let want = crate::match_triples(&source.inner, &held).expect("direct");
            assert_eq!(got, want);
            assert!(cache.stats().triples <= 4);
            assert!(cache.lock().records.len() <= 2);
        }
    }

    #[test]
    fn a_failing_lookup_is_an_error_not_an_empty_result() {
        struct Broken;
        impl AdvisorySource for Broken {
            fn advisories_for(&self, _: &str, _: &str) -> Result<Vec<Advisory>, OsvError> {
                Err(OsvError::Source("unreadable".into()))
            }
        }
        let cache = MatchCache::default();
        let held = triples(&[("torch", "2.5.1")]);
        assert!(cache.match_triples("db@1", &Broken, &held).is_err());
        // Nothing was kept for the failed key: the next call looks again.
        assert!(cache.match_triples("db@1", &Broken, &held).is_err());
    }
}
