use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "pickle-extension-code",
    category: "pickle",
    summary: "The pickle uses an EXT1/EXT2/EXT4 copyreg extension code, which resolves a callable without naming it.",
    default_severity: Severity::High,
    verdict: Verdict::Malicious,
    docs: r#"## What it does
Reports `EXT1`, `EXT2` and `EXT4` opcodes. They push the object registered under an integer code in
the loading process's `copyreg` extension registry.

## Why is this bad?
CPython registers no extension codes by default, so a standard loader fails on them; but in a process
that registered codes (directly or through an imported library) the code names a callable that no
scanner can see in the file.

No model writer emits extension codes (the pickler only does for codes a program registered
itself), so a model file that carries them is built to reach a callable a scanner cannot name: mlvet
reports the file as malicious, like a denied callable, graded high because a stock loader fails.

## Remediation
Do not load the file. Ordinary model files never use extension codes; ask the publisher how it was
produced."#,
};

pub(crate) fn finding(location: mlvet_core::Location, code: i64) -> mlvet_core::Finding {
    mlvet_core::Finding::new(
        &RULE,
        location,
        format!("extension code {code} resolves a callable registered in the loading process"),
    )
    .evidence("extension code", code.to_string())
    .evidence(
        "default registry",
        "empty in CPython: a stock loader raises ValueError",
    )
}
