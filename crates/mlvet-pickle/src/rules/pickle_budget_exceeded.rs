use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "pickle-budget-exceeded",
    category: "pickle",
    summary: "The simulation stopped because a resource budget (stack, memo, marks, nesting, opcodes, pickles, memory) was exhausted.",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
The simulator is bounded: stack size, memo entries, mark depth, value nesting, opcode count and the
number of pickles in one stream all have limits, and so has memory: the bytes the simulation holds
(stack, memo, tuples, references) may exceed the bytes of input read so far by at most a fixed
allowance (64 MiB), so a small pickle cannot make the scanner hold much more than its own size.
When a budget is hit, the scan stops and reports what it saw so far; references and calls found
before that point keep their findings.

## Why is this bad?
Resource-exhaustion pickles (billion-laughs style `DUP`/memo expansion, huge stacks) can hang or
crash scanners; a scan that stopped early did not inspect the rest of the file, which may hold a
payload.

## Remediation
Raise the limits if the file is a legitimately huge pickle, and re-scan."#,
};

pub(crate) fn finding(
    location: mlvet_core::Location,
    what: &str,
    limit: u64,
) -> mlvet_core::Finding {
    mlvet_core::Finding::new(
        &RULE,
        location,
        format!("simulation stopped: {what} budget of {limit} exhausted"),
    )
    .evidence("budget", what)
    .evidence("limit", limit.to_string())
}
