use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "pickle-frame-overrun",
    category: "pickle",
    summary: "An opcode reads across the end of a protocol-4 FRAME: CPython's file and in-memory loaders then disagree on the opcode stream.",
    default_severity: Severity::Critical,
    verdict: Verdict::Malicious,
    docs: r#"## What it does
Protocol 4+ pickles are split into `FRAME`s. The C unpickler reading from a file object without
`peek` (e.g. `io.BytesIO`, PyTorch's zip records) loads the frame into its buffer; when an opcode's
argument crosses the end of the frame, it discards the rest of the frame and reads from the file
after it, while `pickle.loads` and `pickletools` read straight on. mlvet follows the file loader and
reports the divergence.

## Why is this bad?
CPython's pickler never writes an opcode across a frame end. Such a file is built to show one
opcode stream to scanners and run another (FRAME boundary divergence bypass).

## Remediation
Treat the file as malicious; do not load it."#,
};

pub(crate) fn finding(
    location: mlvet_core::Location,
    divergence_offset: u64,
) -> mlvet_core::Finding {
    mlvet_core::Finding::new(
        &RULE,
        location,
        "an opcode reads across the end of a FRAME: file-based and in-memory loaders execute different opcodes",
    )
    .evidence("divergence at byte", divergence_offset.to_string())
    .evidence("interpretation scanned", "CPython's C unpickler reading a file object without peek (io.BytesIO, torch zip records)")
    .remediation("Do not load this file: it is built to show scanners a different opcode stream than the loader runs.")
}
