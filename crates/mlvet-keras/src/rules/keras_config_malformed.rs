use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "keras-config-malformed",
    category: "keras",
    summary: "A Keras model config cannot be read (invalid JSON, too large or too deep)",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports a `config.json` (`.keras`) or `model_config` / `training_config` attribute (`.h5`) that
mlvet cannot parse within its bounds: invalid JSON, larger than 64 MiB, nested deeper than the
JSON parser allows, or an embedded payload that cannot be decoded.

## Why is this bad?
Whatever the loader would build from it was not inspected, so the model cannot be called safe.
Crafted configs that one parser accepts and another rejects are how scanner bypasses are built.

## Remediation
Re-export the model from a trusted source.
"#,
};

pub fn finding(location: Location, what: impl Into<String>) -> Finding {
    let what = what.into();
    Finding::new(
        &RULE,
        location,
        format!("Keras config cannot be inspected: {what}"),
    )
    .evidence("problem", what)
}
