use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "pickle-non-literal-global",
    category: "pickle",
    summary: "A STACK_GLOBAL takes its module or attribute name from a computed value instead of a string literal.",
    default_severity: Severity::Critical,
    verdict: Verdict::Malicious,
    docs: r#"## What it does
`STACK_GLOBAL` pops the attribute name and the module name from the VM stack. mlvet tracks where
every stack value came from (literals, memo `PUT`/`GET`, `DUP`, calls). If either operand is not a
string literal it could follow (for example the result of a `REDUCE` call), the imported callable
cannot be known statically.

## Why is this bad?
No legitimate pickler (`pickle`, `torch.save`, `joblib`, `dill`, `cloudpickle`) computes module or
attribute names; doing so only serves to hide the callable from scanners.

## Remediation
Treat the file as malicious; do not load it."#,
};

pub(crate) fn finding(
    location: mlvet_core::Location,
    module: &str,
    name: &str,
) -> mlvet_core::Finding {
    mlvet_core::Finding::new(
        &RULE,
        location,
        format!("STACK_GLOBAL with computed operands: module {module}, name {name}"),
    )
    .evidence("module operand", module)
    .evidence("name operand", name)
    .remediation("Do not load this file: it computes the name of what it imports to hide it.")
}
