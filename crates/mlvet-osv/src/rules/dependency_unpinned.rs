use mlvet_core::{AdvisoryRef, Confidence, Finding, PackageRef, RuleMeta, Severity, Verdict};

use super::{display_package, location_of};

pub static RULE: RuleMeta = RuleMeta {
    id: "dependency-unpinned",
    category: "dependency",
    summary: "A requirement is not pinned to one version; reports which advisories some allowed version would hit",
    default_severity: Severity::Low,
    verdict: Verdict::Safe,
    docs: r#"## What it does
For a requirement that allows a range of versions (`torch>=2.0`, `transformers~=4.40`, or a bare
name), mlvet intersects the allowed versions with the affected versions of every advisory for the
package, exactly (PEP 440 intervals, pre-releases included, local versions compared on their
public part). Each vulnerability that some allowed version would hit is one finding with the
advisory's severity, medium confidence (the version actually installed may not be affected) and
the verdict `vulnerable`; the finding names the affected allowed versions and the lowest floor
that would exclude them. A requirement no advisory can hit gives one informational, `safe`
finding (an unpinned requirement still makes builds unreproducible, but it is not a
vulnerability; the terminal report folds these away unless `--verbose`).

mlvet does not guess a version from a range (osv-scanner treats `>=2.10.0` as exactly 2.10.0;
syft and trivy skip ranges), and does not resolve the requirement against the package index.

## Why is this bad?
Whatever the installer picks today decides whether you run vulnerable code, and the pick changes
over time. A range that admits a vulnerable version will install it wherever that version is the
newest available (an offline mirror, a pinned index snapshot, a constraint elsewhere).

## Example
```text
torch>=1.10          # admits 1.13.0, affected by CVE-2022-45907 (fixed in 1.13.1)
```

## Remediation
Raise the lower bound above the affected versions (`torch>=2.6.0`) and pin exact versions in a
lockfile (`uv lock`, `pip-compile`, `poetry lock`); scan the lockfile.

## References
- [pip: repeatable installs](https://pip.pypa.io/en/stable/topics/repeatable-installs/)
"#,
};

/// An unpinned requirement that some affected version satisfies.
/// `floor` is the lowest fixed version that excludes the affected allowed versions; without one,
/// `last_affected` (the highest version the records call last affected) shapes the advice.
pub fn vulnerable_finding(
    package: PackageRef,
    advisory: AdvisoryRef,
    severity: Severity,
    floor: Option<&str>,
    last_affected: Option<&str>,
) -> Finding {
    let allowed = advisory.affected_allowed.clone().unwrap_or_default();
    let summary = advisory
        .summary
        .as_deref()
        .map(|s| format!(": {}", s.trim().trim_end_matches('.')))
        .unwrap_or_default();
    let message = format!(
        "{} allows versions affected by {}{summary} (affected allowed versions: {allowed})",
        display_package(&package),
        advisory.id
    );
    let remediation = match (floor, last_affected) {
        (Some(floor), _) => format!("require {}>={floor} and pin an exact version in a lockfile", package.name),
        (None, Some(last)) => format!(
            "no fixed version is recorded; versions above {last} are not listed as affected: require {}>{last} once such a release exists, or pin a version not affected",
            package.name
        ),
        (None, None) => "no fixed version excludes the affected versions; pin a version not affected, or replace the package".to_string(),
    };
    Finding::new(&RULE, location_of(&package), message)
        .severity(severity)
        .confidence(Confidence::Medium)
        .verdict(Verdict::Vulnerable)
        .remediation(remediation)
        .package(package)
        .advisory(advisory)
}

/// An unpinned requirement no known advisory can hit.
pub fn clean_finding(package: PackageRef, advisories_checked: usize) -> Finding {
    let known = match advisories_checked {
        0 => "no advisory is known for it".to_string(),
        1 => "the one advisory for it affects no allowed version".to_string(),
        n => format!("none of the {n} advisories for it affects an allowed version"),
    };
    let message = format!(
        "{} is not pinned to one version; {known}",
        display_package(&package)
    );
    Finding::new(&RULE, location_of(&package), message)
        .severity(Severity::Info)
        .remediation("pin exact versions in a lockfile and scan the lockfile")
        .package(package)
}
