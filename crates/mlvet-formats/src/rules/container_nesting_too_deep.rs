use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-nesting-too-deep",
    category: "container",
    summary: "Containers are nested deeper than the scan limit; the innermost were not inspected",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports an archive or compressed stream found inside more levels of containers than mlvet opens
(`max_nesting`).

## Why is this bad?
Model files are at most a few levels deep (a torch zip inside a tarball). Deep nesting is a known
way to get past scanners that open one level only, and a way to multiply decompression cost.

## Remediation
Extract the outer levels yourself and scan the result, or obtain a flatter copy.
"#,
};

pub fn finding(location: Location, depth: usize) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("container nested {depth} levels deep was not opened"),
    )
    .evidence("depth", depth.to_string())
}
