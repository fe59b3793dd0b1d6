//! Strict validation of safetensors headers, exactly as the `safetensors` loader checks them
//! (`SafeTensors::read_metadata` and `Metadata::validate` of the Rust crate that the Python
//! package also uses), without ever reading tensor data.
//!
//! A safetensors file is an 8-byte little-endian header length `n`, `n` bytes of UTF-8 JSON, and
//! the body. The loader refuses the file when:
//! - the file is shorter than 8 bytes, `n` exceeds 100 MB, or `n` runs past the end of the file;
//! - the header is not UTF-8, not JSON `serde_json` accepts, or not an object;
//! - `__metadata__` appears twice, is not an object, or holds a value that is not a string;
//! - a tensor entry is malformed (missing or duplicate field, unknown dtype, a shape or offset
//!   that is not a non-negative 64-bit integer, `data_offsets` not exactly two items);
//! - after sorting the tensors by `data_offsets`, the first does not start at 0, one does not
//!   start where the previous ended (a gap or an overlap), an end precedes its begin, `shape ×
//!   dtype bits` overflows or is not a whole number of bytes, or differs from the span;
//! - the last tensor does not end exactly at the end of the file (trailing bytes or truncation).
//!
//! The loader accepts a few things other parsers read differently ([`Ambiguity`]): duplicate
//! tensor names (serde keeps the last), duplicate `__metadata__` keys, tensors written as arrays,
//! dtypes written as `{"F32": null}`, unknown fields, leading whitespace and padding other than
//! spaces (the specification allows only trailing 0x20).
//!
//! [`inspect`] reads at most 8 + `n` bytes (`n` ≤ 100 MB, and never more than the file holds)
//! and seeks nowhere else: a 10 GiB file costs its header.

mod header;
mod json;
pub mod rules;

pub use header::{
    Ambiguity, Dtype, Inspection, MAX_HEADER_SIZE, MAX_JSON_VALUES, MAX_LISTED, Problem, ReadError,
    Tensor, inspect, inspect_bytes, inspect_stream,
};

use mlvet_core::{Finding, Location, RuleMeta};

/// Every rule this crate can emit.
pub fn rules() -> Vec<&'static RuleMeta> {
    rules::all()
}

/// The findings for one inspection: one per reason the loader refuses the file, one per
/// ambiguity. An incomplete inspection is not a finding here: the caller reports it (and must
/// not call the file safe).
pub fn findings(inspection: &Inspection, location: &Location) -> Vec<Finding> {
    let mut findings = Vec::new();
    for problem in &inspection.problems {
        let at = match problem {
            Problem::InvalidJson { offset, .. } | Problem::InvalidUtf8 { offset } => {
                location.clone().with_offset(8 + offset)
            }
            _ => location.clone(),
        };
        findings.push(rules::safetensors_invalid_header::finding(at, problem));
    }
    if inspection.more_problems > 0 {
        findings.push(rules::safetensors_invalid_header::more(
            location.clone(),
            inspection.more_problems,
        ));
    }
    for ambiguity in &inspection.ambiguities {
        findings.push(rules::safetensors_header_ambiguity::finding(
            location.clone(),
            ambiguity,
        ));
    }
    if inspection.more_ambiguities > 0 {
        findings.push(rules::safetensors_header_ambiguity::more(
            location.clone(),
            inspection.more_ambiguities,
        ));
    }
    findings
}

/// Facts for model cards and inventories (`ArtifactReport::metadata` keys): `tensors`,
/// `parameters`, `dtype` (the dtypes present, most frequent first), `framework` (from
/// `__metadata__["format"]`). Empty when the header could not be read.
pub fn facts(inspection: &Inspection) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    if inspection.header_len.is_none() || (inspection.tensors.is_empty() && !inspection.loads()) {
        return facts;
    }
    facts.push(("tensors", inspection.tensors.len().to_string()));
    facts.push(("parameters", inspection.parameters().to_string()));
    let mut dtypes: Vec<(&str, usize)> = inspection.dtype_counts().into_iter().collect();
    dtypes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if !dtypes.is_empty() {
        let names: Vec<&str> = dtypes.iter().map(|(name, _)| *name).collect();
        facts.push(("dtype", names.join(",")));
    }
    if let Some(format) = inspection.format() {
        facts.push(("framework", format.chars().take(64).collect()));
    }
    facts
}

/// Whether `prefix` (the first bytes of a file) looks like a safetensors file: a header length
/// below 4 GiB followed by optional JSON whitespace and `{`.
pub fn looks_like_safetensors(prefix: &[u8]) -> bool {
    let Some(length) = prefix.get(..8) else {
        return false;
    };
    if length.get(4..8) != Some(&[0, 0, 0, 0]) {
        return false;
    }
    let declared = u64::from(u32::from_le_bytes([
        length[0], length[1], length[2], length[3],
    ]));
    if declared < 2 {
        return false;
    }
    let rest = prefix.get(8..).unwrap_or(&[]);
    let first = rest
        .iter()
        .take(usize::try_from(declared).unwrap_or(usize::MAX).min(64))
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    first == Some(&b'{')
}
