//! Deciding, exactly, which dependencies an advisory affects, and turning that into findings.

use std::collections::{BTreeMap, BTreeSet};

use mlvet_core::{AdvisoryRef, Finding, PackageRef, Severity};
use mlvet_inventory::Dependency;

use crate::ecosystem::{Ecosystem, SemKey, normalize_package_name, py_for_matching};
use crate::maven::MavenVersion;
use crate::model::{Advisory, Affected};
use crate::pep440::{PySpecifiers, PyVersion, VersionSet};
use crate::range::{AnyOf, Timeline, truncate, union_all};
use crate::rules::{
    dependency_malicious_package, dependency_not_matched, dependency_unpinned,
    dependency_unversioned, dependency_vulnerable,
};
use crate::source::AdvisorySource;
use crate::{OsvError, ml};

/// Matching options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchOptions {
    /// Let withdrawn records match too (default false: a withdrawn record is not a vulnerability).
    pub include_withdrawn: bool,
}

/// What matching a set of dependencies produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchResult {
    /// Findings in the deterministic report order.
    pub findings: Vec<Finding>,
    /// Dependencies with an exact, comparable version that were compared against advisories.
    pub matched: usize,
    /// Of those, how many at least one advisory affects.
    pub vulnerable: usize,
    /// Unpinned PyPI requirements evaluated by specifier/range intersection.
    pub unpinned: usize,
    /// Dependencies from a URL, path or VCS reference with no version.
    pub unversioned: usize,
    /// Dependencies of ecosystems mlvet cannot compare (reported, never skipped).
    pub unmatched_ecosystem: usize,
    /// Dependencies whose version or requirement is invalid for their ecosystem, or whose advisory
    /// lookup failed (reported, never skipped).
    pub unmatched_version: usize,
    /// Data-quality notes about advisory records (unparseable versions...), deduplicated, sorted.
    pub warnings: Vec<String>,
}

/// A version comparable within one ecosystem's scheme. Values of different variants are never
/// compared with each other: every value in one evaluation comes from the same [`parse_version`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Comparable {
    Py(PyVersion),
    Sem(SemKey),
    Maven(MavenVersion),
}

/// Parses `text` in `ecosystem`'s scheme, PyPI versions reduced to their public part.
pub(crate) fn parse_version(ecosystem: Ecosystem, text: &str) -> Option<Comparable> {
    match ecosystem {
        Ecosystem::PyPI => py_for_matching(text).map(Comparable::Py),
        Ecosystem::Npm | Ecosystem::Go => SemKey::parse(ecosystem, text).map(Comparable::Sem),
        Ecosystem::Maven => MavenVersion::parse(text).map(Comparable::Maven),
    }
}

/// Whether `advisory` affects `version` of the package `normalized_name` in `ecosystem`, by the
/// OSV evaluation algorithm (see the crate docs for the exact policies). Withdrawn records never
/// affect anything.
pub fn affects(
    advisory: &Advisory,
    ecosystem: &str,
    normalized_name: &str,
    version: &str,
) -> Result<bool, OsvError> {
    let eco = Ecosystem::parse(ecosystem)
        .ok_or_else(|| OsvError::UnsupportedEcosystem(ecosystem.to_string()))?;
    let v = parse_version(eco, version).ok_or_else(|| OsvError::InvalidVersion {
        version: truncate(version),
        scheme: eco.scheme(),
    })?;
    if advisory.is_withdrawn() {
        return Ok(false);
    }
    let name = normalize_package_name(ecosystem, normalized_name);
    Ok(advisory_affects(advisory, eco, &name, &v, &mut Vec::new()))
}

fn advisory_affects(
    advisory: &Advisory,
    eco: Ecosystem,
    name: &str,
    v: &Comparable,
    warnings: &mut Vec<String>,
) -> bool {
    Compiled::new(advisory, eco, name, warnings).affects(v)
}

/// The `affected[]` entries of `advisory` about this package (same ecosystem, same normalised name).
fn entries_for<'a>(
    advisory: &'a Advisory,
    eco: Ecosystem,
    name: &'a str,
) -> impl Iterator<Item = &'a Affected> + 'a {
    advisory.affected.iter().filter(move |entry| {
        Ecosystem::parse(&entry.package.ecosystem) == Some(eco)
            && normalize_package_name(eco.osv_name(), &entry.package.name) == name
    })
}

/// One record's verdict for one package, parsed once into a single step function over its
/// `versions[]` and all its ranges, so that asking about many versions (every candidate fix)
/// costs one binary search each instead of a re-parse and a pass over every range.
struct Compiled(AnyOf<Comparable>);

impl Compiled {
    fn new(advisory: &Advisory, eco: Ecosystem, name: &str, warnings: &mut Vec<String>) -> Self {
        let mut listed = Vec::new();
        let mut timelines = Vec::new();
        for entry in entries_for(advisory, eco, name) {
            for text in &entry.versions {
                match parse_version(eco, text) {
                    Some(version) => listed.push(version),
                    None => warnings.push(format!(
                        "{}: skipped unparseable version `{}` in versions[]",
                        advisory.id,
                        truncate(text)
                    )),
                }
            }
            timelines.extend(entry_timelines(entry, eco, warnings, &advisory.id));
        }
        Compiled(AnyOf::new(&timelines, &listed))
    }

    fn affects(&self, v: &Comparable) -> bool {
        self.0.contains(v)
    }
}

fn entry_timelines(
    entry: &Affected,
    eco: Ecosystem,
    warnings: &mut Vec<String>,
    id: &str,
) -> Vec<Timeline<Comparable>> {
    entry
        .ranges
        .iter()
        .filter(|range| eco.evaluates_range_type(&range.kind))
        .filter_map(|range| {
            let mut local = Vec::new();
            let timeline = Timeline::parse(range, |s| parse_version(eco, s), &mut local);
            warnings.extend(local.into_iter().map(|w| format!("{id}: {w}")));
            timeline
        })
        .collect()
}

/// Matches every dependency against `source`; see [`MatchResult`] for what is counted.
pub fn match_dependencies(
    deps: &[Dependency],
    source: &dyn AdvisorySource,
    opts: &MatchOptions,
) -> MatchResult {
    let mut result = MatchResult::default();
    let mut warnings = BTreeSet::new();
    for dep in deps {
        let mut dep_warnings = Vec::new();
        match_one(dep, source, opts, &mut result, &mut dep_warnings);
        warnings.extend(dep_warnings);
    }
    result.warnings = warnings.into_iter().collect();
    result.findings.sort_by(Finding::report_order);
    result
}

fn package_ref(dep: &Dependency, eco: Option<Ecosystem>, name: &str) -> PackageRef {
    PackageRef {
        ecosystem: dep.ecosystem.clone(),
        name: dep.name.clone(),
        version: dep.version.clone(),
        requirement: dep.requirement.clone(),
        markers: dep.markers.clone(),
        source: dep.source.clone(),
        ml: eco == Some(Ecosystem::PyPI) && ml::is_ml_package(name),
    }
}

fn match_one(
    dep: &Dependency,
    source: &dyn AdvisorySource,
    opts: &MatchOptions,
    result: &mut MatchResult,
    warnings: &mut Vec<String>,
) {
    let eco = Ecosystem::parse(&dep.ecosystem);
    let name = matching_name(dep, eco);
    let package = package_ref(dep, eco, &name);
    let Some(eco) = eco else {
        result.unmatched_ecosystem += 1;
        let reason = format!(
            "ecosystem `{}` has no version ordering mlvet can compare",
            dep.ecosystem
        );
        result
            .findings
            .push(dependency_not_matched::finding(package, &reason));
        return;
    };
    let version = dep
        .version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match version {
        Some(version) => match_pinned(eco, &name, version, package, source, opts, result, warnings),
        None if dep.direct_url.is_some() => {
            result.unversioned += 1;
            result.findings.push(dependency_unversioned::finding(
                package,
                dep.direct_url.as_deref(),
            ));
        }
        None if eco == Ecosystem::PyPI => {
            match_unpinned(dep, &name, package, source, opts, result, warnings)
        }
        None => {
            result.unmatched_version += 1;
            let reason = format!(
                "no exact version; unpinned requirements are evaluated for PyPI only, not {}",
                eco.osv_name()
            );
            result
                .findings
                .push(dependency_not_matched::finding(package, &reason));
        }
    }
}

/// The name a dependency is looked up under. For PyPI it is the inventory's normalised name: that
/// is where a conda, SBOM or installed-metadata name was mapped to its PyPI project (conda
/// `pytorch` is PyPI `torch`), and re-normalising the name as written would lose the mapping.
/// Other ecosystems compare names as written (npm, Go and Maven names are case-sensitive), so
/// their raw name is kept.
fn matching_name(dep: &Dependency, eco: Option<Ecosystem>) -> String {
    match eco {
        Some(Ecosystem::PyPI) if !dep.normalized_name.trim().is_empty() => {
            normalize_package_name(Ecosystem::PyPI.osv_name(), &dep.normalized_name)
        }
        _ => normalize_package_name(&dep.ecosystem, &dep.name),
    }
}

/// Looks up the records for a package, dropping withdrawn ones unless asked.
fn lookup(
    source: &dyn AdvisorySource,
    eco: Ecosystem,
    name: &str,
    opts: &MatchOptions,
) -> Result<Vec<Advisory>, OsvError> {
    let mut advisories = source.advisories_for(eco.osv_name(), name)?;
    advisories.retain(|a| opts.include_withdrawn || !a.is_withdrawn());
    advisories.sort_by(|a, b| a.id.cmp(&b.id));
    advisories.dedup_by(|a, b| a.id == b.id);
    Ok(advisories)
}

#[allow(clippy::too_many_arguments)]
fn match_pinned(
    eco: Ecosystem,
    name: &str,
    version: &str,
    package: PackageRef,
    source: &dyn AdvisorySource,
    opts: &MatchOptions,
    result: &mut MatchResult,
    warnings: &mut Vec<String>,
) {
    let Some(v) = parse_version(eco, version) else {
        result.unmatched_version += 1;
        let reason = format!(
            "version `{}` is not a valid {} version",
            truncate(version),
            eco.scheme()
        );
        result
            .findings
            .push(dependency_not_matched::finding(package, &reason));
        return;
    };
    let advisories = match lookup(source, eco, name, opts) {
        Ok(advisories) => advisories,
        Err(error) => {
            result.unmatched_version += 1;
            result.findings.push(dependency_not_matched::finding(
                package,
                &format!("advisory lookup failed: {error}"),
            ));
            return;
        }
    };
    result.matched += 1;
    let hits: Vec<&Advisory> = advisories
        .iter()
        .filter(|a| advisory_affects(a, eco, name, &v, warnings))
        .collect();
    if hits.is_empty() {
        return;
    }
    result.vulnerable += 1;
    for group in group_by_alias(&hits) {
        let rated = rate(&group, eco, name);
        let fixed = lowest_fix_above(&group, eco, name, &v);
        let ceiling = if fixed.is_none() {
            last_affected_ceiling(&group, eco, name)
        } else {
            None
        };
        let advisory = advisory_ref(&group, &rated, fixed, None);
        if is_malware(&group) {
            result.findings.push(dependency_malicious_package::finding(
                package.clone(),
                advisory,
            ));
            continue;
        }
        result.findings.push(dependency_vulnerable::finding(
            package.clone(),
            advisory,
            rated.severity,
            rated.known,
            ceiling.as_deref(),
        ));
    }
}

fn match_unpinned(
    dep: &Dependency,
    name: &str,
    package: PackageRef,
    source: &dyn AdvisorySource,
    opts: &MatchOptions,
    result: &mut MatchResult,
    warnings: &mut Vec<String>,
) {
    let requirement = dep.requirement.as_deref().map(str::trim).unwrap_or("");
    let specifiers = strip_name(requirement, &dep.name);
    let Some(spec) = PySpecifiers::parse(specifiers) else {
        result.unmatched_version += 1;
        let reason = format!(
            "requirement `{}` is not a valid PEP 440 specifier set",
            truncate(requirement)
        );
        result
            .findings
            .push(dependency_not_matched::finding(package, &reason));
        return;
    };
    let advisories = match lookup(source, Ecosystem::PyPI, name, opts) {
        Ok(advisories) => advisories,
        Err(error) => {
            result.unmatched_version += 1;
            result.findings.push(dependency_not_matched::finding(
                package,
                &format!("advisory lookup failed: {error}"),
            ));
            return;
        }
    };
    result.unpinned += 1;
    let allowed = spec.to_ranges();
    let mut hits = Vec::new();
    for advisory in &advisories {
        let affected = affected_set(advisory, name, warnings);
        let overlap = affected.intersection(&allowed);
        if !overlap.is_empty() {
            hits.push(advisory);
        }
    }
    if hits.is_empty() {
        result.findings.push(dependency_unpinned::clean_finding(
            package,
            advisories.len(),
        ));
        return;
    }
    for group in group_by_alias(&hits) {
        let affected = group.iter().fold(VersionSet::empty(), |acc, a| {
            acc.union(&affected_set(a, name, &mut Vec::new()))
        });
        let overlap = affected.intersection(&allowed);
        let floor = safe_floor(&group, name, &allowed, &affected);
        let ceiling = if floor.is_none() {
            last_affected_ceiling(&group, Ecosystem::PyPI, name)
        } else {
            None
        };
        let rated = rate(&group, Ecosystem::PyPI, name);
        let advisory = advisory_ref(&group, &rated, floor.clone(), Some(overlap.to_string()));
        if is_malware(&group) {
            result.findings.push(dependency_malicious_package::finding(
                package.clone(),
                advisory,
            ));
            continue;
        }
        result
            .findings
            .push(dependency_unpinned::vulnerable_finding(
                package.clone(),
                advisory,
                rated.severity,
                floor.as_deref(),
                ceiling.as_deref(),
            ));
    }
}

/// A requirement may arrive as `torch>=2.0` or as `>=2.0`; keep the specifier part. Extras and
/// markers are the inventory's business and are cut if still present.
fn strip_name<'a>(requirement: &'a str, name: &str) -> &'a str {
    let requirement = requirement.split(';').next().unwrap_or("").trim();
    let name_here = requirement.get(..name.len()).is_some_and(|prefix| {
        normalize_package_name("PyPI", prefix) == normalize_package_name("PyPI", name)
            && !requirement
                .get(name.len()..)
                .and_then(|rest| rest.chars().next())
                .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    });
    let rest = if name_here {
        requirement.get(name.len()..).unwrap_or("")
    } else {
        requirement
    };
    let rest = rest.trim_start();
    match rest.strip_prefix('[') {
        Some(after) => after.split_once(']').map(|(_, tail)| tail).unwrap_or(""),
        None => rest,
    }
    .trim()
}

/// The PyPI versions an advisory affects for `name`, as intervals.
fn affected_set(advisory: &Advisory, name: &str, warnings: &mut Vec<String>) -> VersionSet {
    let mut pieces = Vec::new();
    for entry in entries_for(advisory, Ecosystem::PyPI, name) {
        for text in &entry.versions {
            match PyVersion::parse(text) {
                Some(v) => pieces.push(VersionSet::public_singleton(&v)),
                None => warnings.push(format!(
                    "{}: skipped unparseable version `{}` in versions[]",
                    advisory.id,
                    truncate(text)
                )),
            }
        }
        for range in entry
            .ranges
            .iter()
            .filter(|r| Ecosystem::PyPI.evaluates_range_type(&r.kind))
        {
            let mut local = Vec::new();
            if let Some(timeline) = Timeline::parse(range, py_for_matching, &mut local) {
                pieces.push(timeline.affected_set());
            }
            warnings.extend(local.into_iter().map(|w| format!("{}: {w}", advisory.id)));
        }
    }
    union_all(pieces)
}

/// The lowest `fixed` version F such that requiring `>=F` keeps some allowed version and excludes
/// every affected one; failing that, the lowest F above which nothing is affected.
fn safe_floor(
    group: &[&Advisory],
    name: &str,
    allowed: &VersionSet,
    affected: &VersionSet,
) -> Option<String> {
    let candidates: Vec<(PyVersion, String)> = fixed_candidates(group, Ecosystem::PyPI, name)
        .into_iter()
        .filter_map(|(v, text)| match v {
            Comparable::Py(v) => Some((v, text)),
            _ => None,
        })
        .collect();
    // Candidates ascend and every condition below is monotone in F: "`>=F` leaves no affected
    // version (among the allowed ones)" holds from some candidate on, "`>=F` keeps an allowed
    // version" holds up to some candidate. So the first candidate passing the first condition
    // is the only one that can pass both: a binary search, one set check per step.
    let first_clearing = |within: Option<&VersionSet>| {
        candidates.partition_point(|(v, _)| {
            let above = VersionSet::at_least(v);
            let above = match within {
                Some(allowed) => above.intersection(allowed),
                None => above,
            };
            !above.intersection(affected).is_empty()
        })
    };
    let keeps = |index: usize, within: Option<&VersionSet>| {
        candidates.get(index).filter(|(v, _)| {
            let above = VersionSet::at_least(v);
            match within {
                Some(allowed) => !above.intersection(allowed).is_empty(),
                None => !above.is_empty(),
            }
        })
    };
    keeps(first_clearing(Some(allowed)), Some(allowed))
        // Failing that, the lowest F above which nothing is affected at all.
        .or_else(|| keeps(first_clearing(None), None))
        .map(|(_, text)| text.clone())
}

/// Every `fixed` version of the group's records for this package, parsed, sorted ascending, with
/// the text as the record wrote it.
fn fixed_candidates(group: &[&Advisory], eco: Ecosystem, name: &str) -> Vec<(Comparable, String)> {
    let mut out: Vec<(Comparable, String)> = Vec::new();
    for advisory in group {
        for entry in entries_for(advisory, eco, name) {
            for range in entry
                .ranges
                .iter()
                .filter(|r| eco.evaluates_range_type(&r.kind))
            {
                for event in &range.events {
                    if let Some(text) = event.fixed.as_deref()
                        && let Some(v) = parse_version(eco, text)
                    {
                        out.push((v, text.trim().to_string()));
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// The highest `last_affected` version of the group's records for this package: with no `fixed`
/// event, versions above it are the only ones the records do not list as affected.
fn last_affected_ceiling(group: &[&Advisory], eco: Ecosystem, name: &str) -> Option<String> {
    let mut best: Option<(Comparable, String)> = None;
    for advisory in group {
        for entry in entries_for(advisory, eco, name) {
            for range in entry
                .ranges
                .iter()
                .filter(|r| eco.evaluates_range_type(&r.kind))
            {
                for text in range
                    .events
                    .iter()
                    .filter_map(|e| e.last_affected.as_deref())
                {
                    if let Some(v) = parse_version(eco, text)
                        && best.as_ref().is_none_or(|(b, _)| &v > b)
                    {
                        best = Some((v, text.trim().to_string()));
                    }
                }
            }
        }
    }
    best.map(|(_, text)| text)
}

/// The lowest fixed version above `v` that no record of the group still lists as affected.
/// Each record is compiled once, so every candidate costs a binary search per range.
fn lowest_fix_above(
    group: &[&Advisory],
    eco: Ecosystem,
    name: &str,
    v: &Comparable,
) -> Option<String> {
    let compiled: Vec<Compiled> = group
        .iter()
        .map(|a| Compiled::new(a, eco, name, &mut Vec::new()))
        .collect();
    fixed_candidates(group, eco, name)
        .into_iter()
        .filter(|(candidate, _)| candidate > v)
        .find(|(candidate, _)| !compiled.iter().any(|c| c.affects(candidate)))
        .map(|(_, text)| text)
}

/// Groups records that describe the same vulnerability: records sharing an id or alias, taken
/// transitively. Each group is ordered with its preferred record first (see [`preference`]);
/// groups are ordered by that record's id.
/// Whether a merged group names an OSV malicious-packages record (`MAL-` ids).
fn is_malware(group: &[&Advisory]) -> bool {
    group.iter().any(|advisory| {
        advisory.id.starts_with("MAL-")
            || advisory
                .aliases
                .iter()
                .any(|alias| alias.starts_with("MAL-"))
    })
}

pub(crate) fn group_by_alias<'a>(advisories: &[&'a Advisory]) -> Vec<Vec<&'a Advisory>> {
    let mut parent: Vec<usize> = (0..advisories.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while let Some(&p) = parent.get(i) {
            if p == i {
                break;
            }
            let grandparent = parent.get(p).copied().unwrap_or(p);
            if let Some(slot) = parent.get_mut(i) {
                *slot = grandparent;
            }
            i = p;
        }
        i
    }
    let mut first_seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, advisory) in advisories.iter().enumerate() {
        for id in std::iter::once(&advisory.id).chain(advisory.aliases.iter()) {
            let id = id.trim();
            if id.is_empty() {
                continue;
            }
            match first_seen.get(id) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    if let Some(slot) = parent.get_mut(a) {
                        *slot = b;
                    }
                }
                None => {
                    first_seen.insert(id, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<&'a Advisory>> = BTreeMap::new();
    for (i, advisory) in advisories.iter().enumerate() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(advisory);
    }
    let mut groups: Vec<Vec<&'a Advisory>> = groups.into_values().collect();
    for group in &mut groups {
        group.sort_by(|a, b| preference(a).cmp(&preference(b)));
    }
    groups.sort_by(|a, b| a.first().map(|x| &x.id).cmp(&b.first().map(|x| &x.id)));
    groups
}

/// Which record of a merged group names the finding: GHSA first (reviewed, carries CVSS and a
/// rating, and is the id most tools and users quote for PyPI), then PYSEC (PyPA's own), then
/// MAL, then anything else (CVE, OSV...); ties broken by id. Deterministic whatever order the
/// source returns records in.
fn preference(advisory: &Advisory) -> (u8, &str) {
    let id = advisory.id.as_str();
    let rank = if id.starts_with("GHSA-") {
        0
    } else if id.starts_with("PYSEC-") {
        1
    } else if id.starts_with("MAL-") {
        2
    } else {
        3
    };
    (rank, id)
}

/// The severity of a merged group.
pub(crate) struct Rated {
    pub(crate) severity: Severity,
    /// False when no record carried a CVSS vector or a rating (severity then defaults to medium).
    pub(crate) known: bool,
    pub(crate) score: Option<f64>,
    pub(crate) vector: Option<String>,
}

/// Highest CVSS base score over the group's vectors (top level and the package's `affected[]`
/// entries), else the highest rating a record states (`database_specific.severity`, GHSA's
/// LOW/MODERATE/HIGH/CRITICAL, or the same key in the entry's `ecosystem_specific` /
/// `database_specific`), else medium, flagged unknown.
pub(crate) fn rate(group: &[&Advisory], eco: Ecosystem, name: &str) -> Rated {
    // CVSS v3.x/v4.0 first; a v2 vector only when no record has a newer one (v2 scores run
    // higher and its scale has no "critical").
    let best = best_cvss(group, eco, name, |kind| {
        kind == "CVSS_V3" || kind == "CVSS_V4"
    })
    .or_else(|| {
        best_cvss(group, eco, name, |kind| kind == "CVSS_V2")
            .map(|(score, _, vector)| (score, v2_rating(score), vector))
    });
    let mut stated: Option<Severity> = None;
    for advisory in group {
        let entry_ratings = entries_for(advisory, eco, name)
            .flat_map(|e| [e.database_specific.as_ref(), e.ecosystem_specific.as_ref()])
            .flatten();
        for value in std::iter::once(advisory.database_specific.as_ref())
            .flatten()
            .chain(entry_ratings)
        {
            if let Some(rating) = value
                .get("severity")
                .and_then(|s| s.as_str())
                .and_then(parse_rating)
            {
                stated = stated.max(Some(rating));
            }
        }
    }
    match (best, stated) {
        (Some((score, severity, vector)), _) => Rated {
            severity,
            known: true,
            score: Some(score),
            vector: Some(vector),
        },
        (None, Some(severity)) => Rated {
            severity,
            known: true,
            score: None,
            vector: None,
        },
        (None, None) => Rated {
            severity: Severity::Medium,
            known: false,
            score: None,
            vector: None,
        },
    }
}

/// The highest-scoring parseable vector of the accepted types over the group's top-level and
/// package-level `severity[]` (ties: the smallest vector string, for determinism).
fn best_cvss(
    group: &[&Advisory],
    eco: Ecosystem,
    name: &str,
    accept: impl Fn(&str) -> bool,
) -> Option<(f64, Severity, String)> {
    let mut best: Option<(f64, Severity, String)> = None;
    for advisory in group {
        let entry_severities = entries_for(advisory, eco, name).flat_map(|e| e.severity.iter());
        for entry in advisory.severity.iter().chain(entry_severities) {
            if !accept(entry.kind.trim().to_ascii_uppercase().as_str()) {
                continue;
            }
            let Some((score, severity)) = crate::cvss::base_score(&entry.score) else {
                continue;
            };
            let vector = entry.score.trim().to_string();
            let better = match &best {
                Some((s, _, v)) => score > *s || (score == *s && vector < *v),
                None => true,
            };
            if better {
                best = Some((score, severity, vector));
            }
        }
    }
    best
}

/// The CVSS v2 rating scale: low below 4.0, medium below 7.0, high otherwise.
fn v2_rating(score: f64) -> Severity {
    if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else if score > 0.0 {
        Severity::Low
    } else {
        Severity::Info
    }
}

fn parse_rating(text: &str) -> Option<Severity> {
    match text.trim().to_ascii_uppercase().as_str() {
        "CRITICAL" => Some(Severity::Critical),
        "HIGH" | "IMPORTANT" => Some(Severity::High),
        "MODERATE" | "MEDIUM" => Some(Severity::Medium),
        "LOW" => Some(Severity::Low),
        _ => None,
    }
}

fn advisory_ref(
    group: &[&Advisory],
    rated: &Rated,
    fixed: Option<String>,
    affected_allowed: Option<String>,
) -> AdvisoryRef {
    let primary = group.first();
    let id = primary.map(|a| a.id.clone()).unwrap_or_default();
    let mut aliases: BTreeSet<String> = BTreeSet::new();
    for advisory in group {
        aliases.insert(advisory.id.trim().to_string());
        aliases.extend(
            advisory
                .aliases
                .iter()
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty()),
        );
    }
    aliases.remove(&id);
    let summary = group
        .iter()
        .find_map(|a| a.summary.clone().filter(|s| !s.trim().is_empty()))
        .or_else(|| {
            group.iter().find_map(|a| {
                a.details
                    .as_deref()
                    .map(first_line)
                    .filter(|s| !s.is_empty())
            })
        });
    AdvisoryRef {
        id,
        aliases: aliases.into_iter().collect(),
        summary,
        fixed,
        severity: Some(rated.severity),
        cvss_score: rated.score,
        cvss_vector: rated.vector.clone(),
        published: primary.and_then(|a| a.published.clone()),
        modified: group.iter().filter_map(|a| a.modified.clone()).max(),
        affected_allowed,
    }
}

/// PYSEC records have no summary; the first sentence of the details stands in (at most 160
/// characters).
fn first_line(details: &str) -> String {
    let line = details.trim().lines().next().unwrap_or("").trim();
    let sentence = match line.find(". ") {
        Some(end) => line.get(..=end).unwrap_or(line),
        None => line,
    };
    truncate_chars(sentence.trim(), 160)
}

fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_specifier_extraction() {
        assert_eq!(strip_name("torch>=2.0", "torch"), ">=2.0");
        assert_eq!(
            strip_name("Torch[cuda] >=2.0,<3 ; python_version>'3.8'", "torch"),
            ">=2.0,<3"
        );
        assert_eq!(strip_name(">=2.0", "torch"), ">=2.0");
        assert_eq!(strip_name("", "torch"), "");
        assert_eq!(
            strip_name("huggingface_hub==0.20", "huggingface-hub"),
            "==0.20"
        );
    }

    #[test]
    fn cvss_v3_and_v4_outrank_v2_and_ratings() {
        let json = r#"{"id":"X-1","severity":[{"type":"CVSS_V2","score":"AV:N/AC:L/Au:N/C:C/I:C/A:C"},
            {"type":"CVSS_V3","score":"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:L"}],
            "database_specific":{"severity":"CRITICAL"},
            "affected":[{"package":{"ecosystem":"PyPI","name":"a"}}]}"#;
        let advisory = crate::parse_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let rated = rate(&[&advisory], Ecosystem::PyPI, "a");
        assert_eq!((rated.severity, rated.score), (Severity::Low, Some(3.3)));
        let v2_only = crate::parse_json(
            br#"{"id":"X-2","severity":[{"type":"CVSS_V2","score":"AV:N/AC:L/Au:N/C:C/I:C/A:C"}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let rated = rate(&[&v2_only], Ecosystem::PyPI, "a");
        assert_eq!(
            (rated.severity, rated.score),
            (Severity::High, Some(10.0)),
            "v2 has no critical"
        );
        let rated_only =
            crate::parse_json(br#"{"id":"X-3","database_specific":{"severity":"MODERATE"}}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        let rated = rate(&[&rated_only], Ecosystem::PyPI, "a");
        assert!(rated.known && rated.severity == Severity::Medium && rated.score.is_none());
    }

    #[test]
    fn details_first_sentence() {
        assert_eq!(
            first_line("In PyTorch before x, eval is used. More text."),
            "In PyTorch before x, eval is used."
        );
    }
}
