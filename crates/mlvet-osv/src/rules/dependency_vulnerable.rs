use mlvet_core::{AdvisoryRef, Finding, PackageRef, RuleMeta, Severity, Verdict};

use super::location_of;

pub static RULE: RuleMeta = RuleMeta {
    id: "dependency-vulnerable",
    category: "dependency",
    summary: "A pinned or installed dependency version is affected by a known advisory",
    default_severity: Severity::Medium,
    verdict: Verdict::Vulnerable,
    docs: r#"## What it does
Matches each dependency with an exact version (a `==` pin, a lockfile entry, an installed
`*.dist-info`, an SBOM component) against OSV advisories, exactly as the OSV schema's evaluation
algorithm says: `ECOSYSTEM`/`SEMVER` ranges with `introduced`, `fixed`, `last_affected` and
`limit` events, plus the explicit `versions` list compared by parsed value (`1.0` equals `1.0.0`).
`GIT` ranges never take part in version matching. Withdrawn records never match. Records for the
same vulnerability (PYSEC, GHSA, CVE ids linked by `aliases`, transitively) give one finding per
package.

PyPI versions are compared with PEP 440 semantics; a local version (`2.5.1+cu121`) is matched
on its public version (`2.5.1`), because advisories are published against public versions and
the local label names a build variant (CUDA, CPU, ROCm) of the same source.

The severity is the highest CVSS base score (v3.x or v4.0) of the merged records, else the
record's own rating (GHSA `MODERATE` is medium), else `medium` with an evidence line saying the
advisory carries no severity: unknown severity must not hide a known vulnerability.

## Why is this bad?
The installed code contains a publicly documented vulnerability; for ML libraries these are
often code execution on model or data load.

## Example
```text
torch==2.5.1+cu121   # GHSA-53q9-r3pm-6pq6: torch.load with weights_only=True leads to RCE; fixed in 2.6.0
```

## Remediation
Upgrade to the fixed version named in the finding (the lowest fixed version above the one in
use that no merged record still lists as affected). When no fix exists, the message says so:
mitigate as the advisory describes, or replace the package.

## References
- [OSV schema: evaluating affected versions](https://ossf.github.io/osv-schema/)
- [PyPA advisory database](https://github.com/pypa/advisory-database)
"#,
};

/// `last_affected` is the highest version the records call last affected, passed when no fixed
/// version is known.
pub fn finding(
    package: PackageRef,
    advisory: AdvisoryRef,
    severity: Severity,
    severity_known: bool,
    last_affected: Option<&str>,
) -> Finding {
    let version = package.version.clone().unwrap_or_default();
    let aliases = if advisory.aliases.is_empty() {
        String::new()
    } else {
        format!(" ({})", advisory.aliases.join(", "))
    };
    let summary = advisory
        .summary
        .as_deref()
        .map(|s| format!(": {}", s.trim().trim_end_matches('.')))
        .unwrap_or_default();
    let fix = match &advisory.fixed {
        Some(fixed) => format!("; fixed in {fixed}"),
        None => "; no fixed version is known".to_string(),
    };
    let message = format!(
        "{} {version} is affected by {}{aliases}{summary}{fix}",
        package.name, advisory.id
    );
    let remediation = match (&advisory.fixed, last_affected) {
        (Some(fixed), _) => format!("upgrade {} to {fixed}", package.name),
        (None, Some(last)) => format!(
            "no fixed release of {} is recorded for {}; {last} is the last version listed as affected: upgrade past it once a later release exists, or apply the advisory's mitigations",
            package.name, advisory.id
        ),
        (None, None) => format!(
            "no fixed release of {} is known for {}: apply the advisory's mitigations or replace the package",
            package.name, advisory.id
        ),
    };
    // The version, advisory id, fix and CVSS score travel in `package` and `advisory`: evidence
    // carries only what those fields cannot say.
    let mut finding = Finding::new(&RULE, location_of(&package), message)
        .severity(severity)
        .remediation(remediation);
    if !severity_known {
        finding = finding.evidence(
            "severity",
            "unknown: the advisory carries no CVSS vector or rating; reported as medium",
        );
    }
    finding.package(package).advisory(advisory)
}
