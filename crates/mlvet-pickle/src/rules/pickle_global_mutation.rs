use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "pickle-global-mutation",
    category: "pickle",
    summary: "BUILD, SETITEM(S), APPEND(S) or ADDITEMS is applied to an imported class, function or module instead of an instance.",
    default_severity: Severity::Critical,
    verdict: Verdict::Malicious,
    docs: r#"## What it does
Reports state-setting opcodes whose target is a reference produced by `GLOBAL`/`STACK_GLOBAL`
itself rather than an object constructed by the pickle.

## Why is this bad?
`BUILD` with a slot-state dict calls `setattr` on its target: applied to a class or module, it
overwrites attributes of allow-listed globals (ShadowPickle), so that a later, innocent-looking
reference returns an attacker-chosen callable. Picklers never emit this.

## Remediation
Treat the file as malicious; do not load it."#,
};

pub(crate) fn finding(
    location: mlvet_core::Location,
    how: &str,
    target: &str,
    state: Option<&str>,
) -> mlvet_core::Finding {
    let mut finding = mlvet_core::Finding::new(
        &RULE,
        location,
        format!("{how} modifies the imported object {target}"),
    )
    .evidence("target", target)
    .evidence("opcode", how);
    if let Some(state) = state {
        finding = finding.evidence("state", state);
    }
    finding
}
