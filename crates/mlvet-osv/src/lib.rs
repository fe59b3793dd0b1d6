//! OSV advisories and the exact matcher that decides which dependencies they affect.
//!
//! - [`Advisory`] models an OSV record (schema 1.x); [`parse_json`] and [`parse_yaml`] read one,
//!   leniently on input, and [`Advisory::to_canonical_json`] writes the form the database stores.
//! - [`match_dependencies`] compares an inventory against an [`AdvisorySource`] and returns
//!   findings of the rules in [`rules()`]; [`affects`] answers the single question.
//!
//! # Matching policies (all documented on the rules too)
//! - OSV semantics exactly: `ECOSYSTEM` and `SEMVER` ranges evaluated as the schema's
//!   `IsVulnerable` pseudo-code (sorted events, `introduced: "0"`, `fixed`, `last_affected`,
//!   `limit`), OR the `versions[]` list compared by parsed value (`1.0` == `1.0.0` in PyPI).
//!   `GIT` ranges are commit graphs and never take part in version matching, whatever their
//!   position in the record (osv-scalibr stops at a leading GIT range; PyPA records always list
//!   GIT first).
//! - Withdrawn records never match unless [`MatchOptions::include_withdrawn`].
//! - Names are normalised on both sides ([`normalize_package_name`]: PEP 503 for PyPI); ecosystems
//!   compare by exact OSV name (ASCII case-insensitive), so `Root:PyPI` or `Debian:12` records
//!   never match PyPI packages.
//! - PEP 440 via `uv-pep440`, wrapped in `pep440.rs` and differential-tested against Python's
//!   `packaging`. Local versions (`2.5.1+cu121`) are matched on their public version.
//! - Record versions that do not parse: an `introduced` or `versions[]` entry is skipped; a
//!   `fixed`/`last_affected`/`limit` drops its whole range. Either way a warning is recorded and
//!   bad data never makes a package match everything.
//! - Records linked by `aliases` (transitively) are one finding per package, named by the GHSA id
//!   when there is one, else PYSEC, else MAL, else the smallest id.
//! - Severity: highest CVSS base score of the merged records (v3.x/v4.0, computed; v2 only when
//!   no newer vector exists, on the v2 scale), else the records' own rating (GHSA `MODERATE` is
//!   medium), else medium with an evidence line saying it is unknown. Confidence stays high: it
//!   says whether the match is real, not how bad it is.
//! - Fix: the lowest `fixed` version above the one in use that no merged record lists as affected.
//! - Unpinned PyPI requirements: the specifier set is intersected with each advisory's affected
//!   intervals; dependencies without a version from a URL/VCS are `dependency-unversioned`;
//!   anything that cannot be compared is `dependency-not-matched`, never silently skipped.
//! - Ecosystems compared: PyPI (PEP 440), npm (SemVer precedence), Go (SemVer after stripping
//!   `v`; `+incompatible` is build metadata; pseudo-versions are pre-releases), Maven
//!   (`ComparableVersion`, 3.8 semantics). Other ecosystems (Rust crates among them, for now) are
//!   reported as `dependency-not-matched`.
//! - A withdrawn or non-matching record never produces a finding; a dependency that could not be
//!   compared always does. The counters in [`MatchResult`] say how many of each there were.

pub mod cvss;
mod ecosystem;
mod error;
mod matcher;
mod maven;
pub mod ml;
mod model;
pub mod pep440;
mod range;
pub mod rules;
mod source;

pub use ecosystem::{Ecosystem, ecosystem_key, normalize_package_name};
pub use error::OsvError;
pub use matcher::{MatchOptions, MatchResult, affects, match_dependencies};
pub use maven::MavenVersion;
pub use model::{
    Advisory, Affected, Credit, Event, MAX_DETAILS_CHARS, MAX_ID_BYTES, MAX_KEYWORD_BYTES,
    MAX_NAME_BYTES, MAX_RECORD_BYTES, MAX_SUMMARY_CHARS, MAX_URL_BYTES, MAX_VERSION_BYTES, Package,
    Range, Reference, SeverityEntry, parse_json, parse_yaml,
};
pub use source::{AdvisorySource, MemorySource};

use mlvet_core::RuleMeta;

/// Every rule this crate emits findings for.
pub fn rules() -> Vec<&'static RuleMeta> {
    vec![
        &rules::dependency_vulnerable::RULE,
        &rules::dependency_malicious_package::RULE,
        &rules::dependency_unpinned::RULE,
        &rules::dependency_unversioned::RULE,
        &rules::dependency_not_matched::RULE,
    ]
}

#[doc(hidden)]
/// Internals exposed for the property tests and the fuzz target only; not a stable API.
pub mod internals {
    use crate::model::Range;
    use crate::pep440::PyVersion;
    use crate::range::Timeline;

    /// Evaluates one range for `version` both ways (pseudo-code walk, interval set); returns
    /// `None` when the range does not parse.
    pub fn evaluate_range_both_ways(range: &Range, version: &PyVersion) -> Option<(bool, bool)> {
        let parse = |s: &str| PyVersion::parse(s).map(|v| v.public());
        let timeline = Timeline::parse(range, parse, &mut Vec::new())?;
        let public = version.public();
        Some((
            timeline.contains(&public),
            timeline.affected_set().contains(&public),
        ))
    }
}
