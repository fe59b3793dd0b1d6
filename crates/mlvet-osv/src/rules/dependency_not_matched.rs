use mlvet_core::{Confidence, Finding, PackageRef, RuleMeta, Severity, Verdict};

use super::{display_package, location_of};

pub static RULE: RuleMeta = RuleMeta {
    id: "dependency-not-matched",
    category: "dependency",
    summary: "A dependency could not be compared against advisories (unsupported ecosystem, unparseable version, lookup failure)",
    default_severity: Severity::Info,
    verdict: Verdict::Safe,
    docs: r#"## What it does
Reports every dependency mlvet could not check against the advisory database, with the reason:
its ecosystem has no version ordering mlvet implements (for example conda packages, Debian
packages or Maven coordinates when Maven comparison is unavailable), its version string is not
valid for its ecosystem (e.g. `2013-01-21T20:33:09+0100` for a PyPI package), its requirement is
not a valid PEP 440 specifier, or the advisory lookup itself failed.

## Why is this bad?
A dependency that was not compared may well be vulnerable. Other scanners skip such packages
silently (pip-audit skips versions it cannot find, osv-scanner drops unsupported lines), so a
clean report looks better than it is. mlvet lists them instead, so the gap is visible.

## Remediation
Pin the package to a valid version of its ecosystem, scan a lockfile or an installed environment
instead of a loose manifest, or check the package by hand. For packages from ecosystems mlvet does
not compare, use that ecosystem's own audit tool.
"#,
};

/// A finding for `package`, which could not be matched for `reason`.
pub fn finding(package: PackageRef, reason: &str) -> Finding {
    let message = format!(
        "{} was not checked against advisories: {reason}",
        display_package(&package)
    );
    Finding::new(&RULE, location_of(&package), message)
        .confidence(Confidence::High)
        .evidence("ecosystem", package.ecosystem.clone())
        .evidence("reason", reason)
        .remediation("pin a version valid for the package's ecosystem, or check this package with its ecosystem's own audit tool")
        .package(package)
}
