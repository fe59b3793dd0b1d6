use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

use crate::Problem;

pub static RULE: RuleMeta = RuleMeta {
    id: "safetensors-invalid-header",
    category: "safetensors",
    summary: "A safetensors file the safetensors loader refuses: bad header length, JSON, dtype, shape or offsets",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Checks the header of every safetensors file exactly as the `safetensors` loader does
(`SafeTensors::read_metadata`, `Metadata::validate`): the 8-byte header length (at most 100 MB and
within the file), UTF-8 JSON that `serde_json` accepts, an object, `__metadata__` once and with string
values only, known dtypes, `shape × dtype size` equal to each tensor's byte span (overflow-checked),
spans that start at 0, follow each other without gap or overlap, and end exactly at the end of the
file. Each reason is reported with the tensor it concerns. The body is never read.

## Why is this bad?
safetensors cannot run code, so a file the loader refuses is not an attack on the loader by itself.
But real tools write valid headers: an invalid one was edited by hand or by a tool built to confuse
parsers. Bytes that belong to no tensor (a gap, trailing data) are room for a second file: a zip or a
pickle appended to a safetensors file is read by `zipfile`, `torch.load` or `pickle.load` when the file
is renamed or handed to another loader (see `container-polyglot`). Overlapping spans and size
mismatches make readers that do not validate (custom loaders, `mmap` slicers) read other tensors' bytes
or past the end of the file. An oversized or unparseable header is a denial-of-service probe.

## Example
A header whose tensor claims `[0, 16]` for `F32` shape `[2, 2]` while the body has 4096 bytes:
4080 trailing bytes belong to no tensor (here, a zip archive).

## Remediation
Re-export the weights with the `safetensors` library from a trusted source and compare hashes with
the publisher's. Do not load the file with a reader that skips validation.

## References
- safetensors format and loader: huggingface/safetensors, `safetensors/src/tensor.rs`
- <https://github.com/huggingface/safetensors/blob/main/safetensors/src/tensor.rs>
"#,
};

pub fn finding(location: Location, problem: &Problem) -> Finding {
    let kind = match problem {
        Problem::HeaderTooSmall { .. } => "header-too-small",
        Problem::HeaderTooLarge { .. } => "header-too-large",
        Problem::HeaderPastEnd { .. } => "header-past-end",
        Problem::InvalidUtf8 { .. } => "invalid-utf8",
        Problem::InvalidJson { .. } => "invalid-json",
        Problem::NotAnObject { .. } => "not-an-object",
        Problem::DuplicateMetadata { .. } => "duplicate-metadata",
        Problem::InvalidMetadata { .. } => "invalid-metadata",
        Problem::MetadataValueNotString { .. } => "metadata-not-string",
        Problem::InvalidTensor { .. } => "invalid-tensor",
        Problem::UnknownDtype { .. } => "unknown-dtype",
        Problem::ReversedOffsets { .. } => "reversed-offsets",
        Problem::Gap { .. } => "gap",
        Problem::Overlap { .. } => "overlap",
        Problem::Overflow { .. } => "overflow",
        Problem::Misaligned { .. } => "misaligned",
        Problem::SizeMismatch { .. } => "size-mismatch",
        Problem::TrailingData { .. } => "trailing-data",
        Problem::Truncated { .. } => "truncated",
    };
    let finding = Finding::new(
        &RULE,
        location,
        format!("the safetensors loader refuses this file: {problem}"),
    )
    .evidence("problem", kind)
    .remediation("Re-export the weights with the safetensors library from a trusted source.");
    match problem {
        Problem::InvalidTensor { name, .. }
        | Problem::UnknownDtype { name, .. }
        | Problem::ReversedOffsets { name, .. }
        | Problem::Gap { name, .. }
        | Problem::Overlap { name, .. }
        | Problem::Overflow { name }
        | Problem::Misaligned { name, .. }
        | Problem::SizeMismatch { name, .. } => finding.evidence("tensor", name.clone()),
        Problem::MetadataValueNotString { key, .. } => {
            finding.evidence("metadata key", key.clone())
        }
        _ => finding,
    }
}

pub fn more(location: Location, count: usize) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("{count} more reasons the safetensors loader refuses this file were not listed"),
    )
    .evidence("problem", "more")
}
