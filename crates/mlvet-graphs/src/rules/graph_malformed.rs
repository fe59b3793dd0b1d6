use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "graph-malformed",
    category: "graph",
    summary: "An ONNX, TensorFlow or TFLite file cannot be parsed completely (corrupt, truncated, not what its name says, or over a limit)",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports a file named or recognised as an ONNX model (`.onnx`), a TensorFlow graph
(`saved_model.pb`, `.pb`) or a TFLite model (`.tflite`, `TFL3`) whose structure mlvet's bounded
parser cannot walk to the end: a length past the end of its message, an invalid wire type, a
FlatBuffers offset out of bounds, subgraphs nested deeper than the walk allows, more nodes than
the node limit. The artefact is marked not fully inspected: everything found before the problem
is reported, and it is never called safe.

## Why is this bad?
The libraries that load these files either refuse them (nothing runs, but the file is not what it
claims) or, worse, parse them differently from a scanner (a parser differential that hides ops or
external-data paths). Either way mlvet cannot vouch for what the loader would see.

## Remediation
Obtain the file again from its source and compare checksums; do not load a file that does not
parse.
"#,
};

/// A finding for a graph file that could not be walked completely.
pub fn finding(location: Location, format: &str, why: impl Into<String>) -> Finding {
    let why = why.into();
    Finding::new(
        &RULE,
        location,
        format!("{format} file cannot be parsed completely: {why}"),
    )
    .evidence("format", format)
    .evidence("problem", why)
    .remediation("Obtain the file again from its source; do not load a file that does not parse.")
}
