use mlvet_core::{Finding, PackageRef, RuleMeta, Severity, Verdict};

use super::location_of;

pub static RULE: RuleMeta = RuleMeta {
    id: "dependency-unversioned",
    category: "dependency",
    summary: "A dependency installed from a URL, path or VCS reference has no version to match advisories against",
    default_severity: Severity::Low,
    verdict: Verdict::Safe,
    docs: r#"## What it does
Reports dependencies given as a direct URL, local path or VCS reference
(`torch @ https://example.invalid/torch-2.5.1.whl`, `git+https://…@main`) without a version.

## Why is this bad?
Advisories name package versions. Without one, mlvet cannot tell whether the code is affected;
a branch reference (`@main`) can also change under you between two installs, and the source
bypasses the package index's own checks.

## Example
```text
transformers @ git+https://github.com/huggingface/transformers@main
```

## Remediation
Depend on a released version from the package index (`transformers==4.46.3`), or pin the VCS
reference to a full commit hash and scan the installed environment (its `*.dist-info` metadata
records the version) so that advisories can be matched.
"#,
};

pub fn finding(package: PackageRef, direct_url: Option<&str>) -> Finding {
    let source = direct_url
        .map(|u| format!(" from `{u}`"))
        .unwrap_or_default();
    let message = format!(
        "{}{source} has no version: it cannot be matched against advisories",
        package.name
    );
    let mut finding = Finding::new(&RULE, location_of(&package), message)
        .remediation("depend on a released version, or pin the reference to a commit and scan the installed environment");
    if let Some(url) = direct_url {
        finding = finding.evidence("direct_url", url);
    }
    finding.package(package)
}
