use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

use crate::Ambiguity;

pub static RULE: RuleMeta = RuleMeta {
    id: "safetensors-header-ambiguity",
    category: "safetensors",
    summary: "A safetensors header the loader accepts but other parsers read differently (duplicate keys, odd encodings, padding)",
    default_severity: Severity::Low,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports header constructs that the `safetensors` loader accepts but that the format specification
forbids or that other JSON parsers read differently: a tensor name or `__metadata__` key defined twice
(serde keeps the last definition, as Python's `json` does; streaming parsers and validators that stop
at the first match keep the first), a tensor entry written as a JSON array or a
dtype written as `{"F32": null}` (serde's sequence and enum forms), fields the loader ignores, a header
that does not start with `{`, and padding that is not spaces.

## Why is this bad?
Writers never produce these. They are how a file shows one set of tensors or metadata to a scanner or a
model-card generator and another to the loader (a parser differential), or how data is hidden in a
header that tools display as clean.

## Example
`{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "I32", ...}}`

## Remediation
Re-export the weights with the `safetensors` library and compare with the publisher's hashes.

## References
- safetensors format specification: huggingface/safetensors `README.md` ("Format")
- Bishop Fox, "An Exploration of JSON Interoperability Vulnerabilities" (duplicate keys)
- <https://github.com/huggingface/safetensors#format>
"#,
};

pub fn finding(location: Location, ambiguity: &Ambiguity) -> Finding {
    let kind = match ambiguity {
        Ambiguity::DuplicateTensor { .. } => "duplicate-tensor",
        Ambiguity::DuplicateMetadataKey { .. } => "duplicate-metadata-key",
        Ambiguity::LeadingWhitespace { .. } => "leading-whitespace",
        Ambiguity::NonSpacePadding { .. } => "non-space-padding",
        Ambiguity::UnknownTensorFields { .. } => "unknown-tensor-fields",
        Ambiguity::TensorAsArray { .. } => "tensor-as-array",
        Ambiguity::DtypeAsObject { .. } => "dtype-as-object",
    };
    Finding::new(&RULE, location, format!("safetensors header: {ambiguity}"))
        .evidence("ambiguity", kind)
}

pub fn more(location: Location, count: usize) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("{count} more header ambiguities were not listed"),
    )
    .evidence("ambiguity", "more")
}
