use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-resource-limit",
    category: "container",
    summary: "A container exceeded a scan limit (size, compression ratio, entry count): possible bomb",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Stops decompressing or enumerating when a member or archive exceeds mlvet's limits: declared or
actual uncompressed size, compression ratio, total uncompressed bytes, number of entries.

## Why is this bad?
Decompression bombs and archives with absurd declared sizes exist to exhaust the memory or time of
whatever opens them, scanners included. The part beyond the limit was not inspected, so the
artefact cannot be called safe.

## Remediation
Inspect the archive by hand; raise the limits only for a source you trust.
"#,
};

pub fn finding(location: Location, what: impl Into<String>) -> Finding {
    let what = what.into();
    Finding::new(&RULE, location, format!("scan limit reached: {what}")).evidence("limit", what)
}
