use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-malformed",
    category: "container",
    summary: "A model file or container is corrupt or structurally inconsistent",
    default_severity: Severity::Low,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports structural problems found while parsing a model file or container: an unparseable NumPy
header (mlvet parses it as a literal, never evaluates it), a truncated archive or array, an
inconsistent joblib array record, trailing data a loader ignores.

## Why is this bad?
Tools that write these formats do not produce such files. Corruption is sometimes accidental, but
crafted inconsistencies are how parser differentials between scanners and loaders are built. Parts
after the damage may not have been inspected.

## Remediation
Re-download or re-create the file from a trusted source.
"#,
};

pub fn finding(location: Location, what: impl Into<String>) -> Finding {
    let what = what.into();
    Finding::new(&RULE, location, format!("malformed content: {what}")).evidence("problem", what)
}
