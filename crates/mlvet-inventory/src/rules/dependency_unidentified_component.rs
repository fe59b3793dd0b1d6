use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "dependency-unidentified-component",
    category: "dependency",
    summary: "An SBOM component has no package URL, so its ecosystem is unknown and it cannot be matched",
    default_severity: Severity::Low,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports a CycloneDX component or SPDX package (a library, framework or application) that carries no
`purl`. mlvet records it by name and version with an unknown ecosystem.

## Why is this bad?
Advisories are keyed by ecosystem and package name. Without a package URL mlvet cannot know whether
`requests 2.0` is the Python package or something else, so the component is not matched against
any advisory and a vulnerable version would go unreported.

## Example
```json
{ "type": "library", "name": "numpy", "version": "1.21.0" }
```

## Remediation
Regenerate the SBOM with a tool that emits package URLs (`pkg:pypi/numpy@1.21.0`), or add them.
"#,
};
