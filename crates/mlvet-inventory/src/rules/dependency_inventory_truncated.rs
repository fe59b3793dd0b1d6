use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "dependency-inventory-truncated",
    category: "dependency",
    summary: "A dependency source exceeded an inventory limit (size, entries, nesting); the rest was not read",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports a manifest, lockfile or SBOM that hit one of mlvet's bounds: more entries than the per-file
limit, components nested deeper than the nesting limit, or a document too deeply nested to parse
safely. The entries read before the limit are inventoried; the rest are not.

## Why is this bad?
Limits keep a hostile file from exhausting memory or stack, but anything past the limit is not
checked against advisories, so the result is incomplete.

## Remediation
Split the SBOM or lockfile, or check whether the file is what it claims to be: real lockfiles of
ML projects hold a few thousand entries at most.
"#,
};
