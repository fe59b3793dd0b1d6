use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "keras-custom-object",
    category: "keras",
    summary: "A Keras config needs a custom object (`registered_name` `package>Name`) the user must supply as code",
    default_severity: Severity::Low,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports serialised objects whose `registered_name` names a custom class or function registered
with `keras.saving.register_keras_serializable` (`package>Name`), or that carry no module at all.

## Why is this bad?
The model cannot be loaded without code from outside the file: whoever ships the model also
ships (or tells you to install) the package that defines the object, and that code runs at load
time. The file itself is not proof of harm, but its behaviour depends on code mlvet did not see.

## Remediation
Load it only with custom objects from a source you trust and have reviewed.
"#,
};

pub fn finding(location: Location, registered: &str) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("config needs the custom object `{registered}` (code supplied by the user)"),
    )
    .evidence("registered_name", registered)
}
