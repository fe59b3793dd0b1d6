use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "pickle-structural-anomaly",
    category: "pickle",
    summary: "The pickle has a structure CPython accepts but no standard pickler writes (misplaced PROTO, values left on the stack at STOP).",
    default_severity: Severity::Low,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports shapes that CPython's unpickler accepts but that `pickle`, `torch.save`, `joblib`, `dill` and
`cloudpickle` never produce: a `PROTO` opcode that is not the first opcode of its pickle, and extra
values left on the stack at `STOP` (the result of a call that was executed for its side effect).

## Why is this bad?
Hand-assembled pickles use these shapes to run a payload before returning an innocent-looking object.

## Remediation
Review the file's other findings; treat the file as suspicious unless its producer is known."#,
};

pub(crate) fn leftover_values(
    location: mlvet_core::Location,
    leftover: usize,
) -> mlvet_core::Finding {
    mlvet_core::Finding::new(
        &RULE,
        location,
        format!("{leftover} value(s) left on the stack under the result at STOP"),
    )
    .confidence(mlvet_core::Confidence::Medium)
    .evidence(
        "anomaly",
        "values left on the stack at STOP (a call run only for its side effect)",
    )
}

pub(crate) fn misplaced_proto(location: mlvet_core::Location, protocol: u8) -> mlvet_core::Finding {
    mlvet_core::Finding::new(
        &RULE,
        location,
        format!("PROTO {protocol} is not the first opcode of its pickle"),
    )
    .confidence(mlvet_core::Confidence::Medium)
    .evidence(
        "anomaly",
        "misplaced PROTO (changes find_class semantics mid-stream)",
    )
}
