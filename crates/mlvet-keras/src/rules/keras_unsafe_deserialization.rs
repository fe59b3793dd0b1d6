use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "keras-unsafe-deserialization",
    category: "keras",
    summary: "A Keras config tries to switch off safe mode (`safe_mode: false`, `enable_unsafe_deserialization`)",
    default_severity: Severity::High,
    verdict: Verdict::Malicious,
    docs: r#"
## What it does
Reports configs that carry `"safe_mode": false` in a nested object's config, or mention
`enable_unsafe_deserialization`, the switch that disables Keras's safe mode for the rest of the
process.

## Why is this bad?
Models never need to turn safe mode off; only an attacker benefits, by making later parts of the
same file (Lambda bytecode, embedded torch modules) load.

## Remediation
Do not load the model.

## References
- CVE-2025-1550, CVE-2025-8747 (safe mode bypasses in Keras model loading)
- <https://nvd.nist.gov/vuln/detail/CVE-2025-1550>
- <https://nvd.nist.gov/vuln/detail/CVE-2025-8747>
"#,
};

pub fn finding(location: Location, what: &str) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("config tries to disable Keras safe mode: {what}"),
    )
    .evidence("found", what)
}
