use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "pickle-dynamic-call",
    category: "pickle",
    summary: "The pickle calls a value that is not a resolved global reference (the result of another call, a persistent id, an extension code...).",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports `REDUCE`, `NEWOBJ`, `NEWOBJ_EX` and `OBJ` whose callee was not produced by a
`GLOBAL`/`STACK_GLOBAL`/`INST` that mlvet resolved (for example the return value of another call).

## Why is this bad?
Trampolines such as `pkgutil.resolve_name` or `operator.attrgetter` return arbitrary callables that
the pickle then calls; the real callee is invisible to a static reading.

## Remediation
Review what produces the callee; treat the file as untrusted unless it is explained.

## References
- [Python `pickle` documentation: restricting globals](https://docs.python.org/3/library/pickle.html#restricting-globals)
"#,
};

pub(crate) fn finding(
    location: mlvet_core::Location,
    how: &str,
    callee: &str,
    args: &str,
) -> mlvet_core::Finding {
    mlvet_core::Finding::new(
        &RULE,
        location,
        format!("{how} calls a computed callable {callee}"),
    )
    .evidence("callee", callee)
    .evidence("arguments", args)
    .evidence("opcode", how)
}
