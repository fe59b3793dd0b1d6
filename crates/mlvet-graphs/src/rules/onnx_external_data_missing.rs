use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "onnx-external-data-missing",
    category: "graph",
    summary: "An ONNX tensor's external data file is missing, is not a regular file, or is shorter than the tensor's offset and length",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
For an ONNX model scanned on disk, checks that every external-data `location` (inside the
model's folder) names an existing regular file and that the file is at least `offset + length`
bytes long. Only the file's metadata is read, never its contents. External-data entries on a
tensor not marked `data_location: EXTERNAL`, or without a `location`, are reported too.

## Why is this bad?
`onnx.load` fails on such a model, so nothing is read from a wrong place, but the scan cannot
vouch for what the loader would read once the missing file appears (a later download, a file
dropped next to the model, a device or FIFO under that name). mlvet reports it rather than
calling an incomplete model safe. A model file scanned on its own (without its data files, for
example a single file taken out of a repository) is reported the same way.

## Example
`model.onnx` naming `model.onnx.data` while only `model.onnx` was downloaded.

## Remediation
Scan the model together with its external data files (the whole folder). If they are really
missing, fetch them from the model's source and scan again.
"#,
};

/// A finding for one tensor whose external data cannot be checked.
pub fn finding(location: Location, tensor: &str, path: &str, problem: &str) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("tensor `{tensor}`: external data `{path}` {problem}"),
    )
    .evidence("tensor", tensor)
    .evidence("location", path)
    .evidence("problem", problem)
    .remediation("Scan the model together with its external data files.")
}
