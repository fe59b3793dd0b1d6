use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "pickle-parse-error",
    category: "pickle",
    summary: "The pickle stream is malformed where CPython's unpickler would stop with an error.",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports the first point where CPython's C unpickler would raise (unknown opcode, truncated data,
stack underflow, undefined memo index, unsupported protocol, `STACK_GLOBAL` on non-strings...). The
scan keeps every finding from before the error.

## Why is this bad?
The unpickler executes opcodes one after another: everything before the error has already run
(imports, calls). Deliberately broken streams (nullifAI) hid payloads from scanners that gave up on
errors. A file that cannot be parsed completely was not fully inspected.

## Remediation
If the file should be a valid pickle, re-download or re-export it. Review any other finding on the
file: a payload followed by garbage is still a payload."#,
};

pub(crate) fn finding(
    location: mlvet_core::Location,
    message: &str,
    opcode: Option<&str>,
) -> mlvet_core::Finding {
    let mut finding = mlvet_core::Finding::new(
        &RULE,
        location,
        format!("CPython would stop here: {message}"),
    )
    .evidence("error", message);
    if let Some(opcode) = opcode {
        finding = finding.evidence("opcode", opcode);
    }
    finding.evidence(
        "note",
        "every opcode before this point has already been executed by the loader",
    )
}
