use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "onnx-external-data-escape",
    category: "graph",
    summary: "An ONNX tensor's external data `location` leaves the model's folder (absolute path, `..`, drive letter, UNC, or a symlink out)",
    default_severity: Severity::Critical,
    verdict: Verdict::Malicious,
    docs: r#"
## What it does
Reads the `external_data` entries of every tensor of an ONNX model (initializers, sparse
initializers, tensors in node attributes, in `If`/`Loop`/`Scan` subgraphs and in model-local
functions) and checks each `location`. The ONNX specification says it is a path relative to the
folder of the model file. mlvet reports a location that is absolute (`/etc/passwd`, `\x`), has a
Windows drive letter (`C:`), is a UNC path (`\\host\share`), starts with `~`, or contains a `..`
segment anywhere (`subdir/../../x`). When the model is scanned on disk, the location is also
resolved: a path that is a symbolic link leading out of the model's folder is reported too.

## Why is this bad?
`onnx.load` (and ONNX Runtime, which reads external data itself) opens the location and reads
`length` bytes at `offset` into the tensor. A location that escapes the folder makes loading the
model read any file the user can read (SSH keys, cloud credentials, `/etc/shadow` on a root
service) into a weight, from where inference outputs or a later `onnx.save` can exfiltrate it;
`onnx.save` of such a model writes to that path (CVE-2025-51480). This is CVE-2022-25882 (onnx <
1.13: `../` traversal), and CVE-2024-27318 (onnx < 1.16: the fix was bypassed with nested
`subdir/../../` paths). No exporter writes such locations: `onnx.save_model(...,
save_as_external_data=True)` writes a bare file name next to the model.

## Example
An initializer `weight` with `data_location: EXTERNAL` and `external_data { key: "location"
value: "../../../../etc/passwd" }`.

## Remediation
Do not load the model. If it came from a trusted exporter, re-export it; otherwise rewrite the
`location` entries to files inside the model's folder and check the data they point to.

## References
- CVE-2022-25882 (onnx external data directory traversal)
- CVE-2024-27318 (onnx path sanitisation bypass)
- CVE-2025-51480 (onnx `save_external_data` arbitrary file write)
- <https://nvd.nist.gov/vuln/detail/CVE-2022-25882>
- <https://nvd.nist.gov/vuln/detail/CVE-2024-27318>
"#,
};

/// A finding for one tensor whose external data escapes the folder.
pub fn finding(
    location: Location,
    tensor: &str,
    path: &str,
    why: &str,
    declared_in: &str,
) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!(
            "tensor `{tensor}` loads its data from `{path}` ({why}), outside the model's folder"
        ),
    )
    .evidence("tensor", tensor)
    .evidence("location", path)
    .evidence("reason", why)
    .evidence("declared in", declared_in)
    .remediation(
        "Do not load the model; its external data reads a file outside the model's folder.",
    )
}
