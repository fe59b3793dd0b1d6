//! safetensors files: the header checked by `mlvet-safetensors`, the body never read.

use std::io::Read;

use mlvet_core::Location;

use crate::engine::{ReadSeek, Scan};
use crate::rules::{container_resource_limit, container_uninspectable_member};

/// A safetensors file or member with random access: reads the length and the header only.
pub(crate) fn scan_seekable(
    scan: &mut Scan<'_>,
    src: &mut dyn ReadSeek,
    size: u64,
    loc: &Location,
) -> &'static str {
    match mlvet_safetensors::inspect(src, size) {
        Ok(inspection) => absorb(scan, &inspection, loc),
        Err(e) => scan.incomplete(container_uninspectable_member::finding(
            loc.clone(),
            e.to_string(),
        )),
    }
    "safetensors"
}

/// A safetensors member streamed out of an archive or a decompressor: the header is read, the
/// rest only counted.
pub(crate) fn scan_stream(scan: &mut Scan<'_>, src: &mut dyn Read, loc: &Location) -> &'static str {
    match mlvet_safetensors::inspect_stream(src, None) {
        Ok(inspection) => absorb(scan, &inspection, loc),
        Err(e) => scan.incomplete(container_uninspectable_member::finding(
            loc.clone(),
            e.to_string(),
        )),
    }
    "safetensors"
}

/// A sequential reader of a file whose size is known (no counting pass).
pub(crate) fn scan_stream_sized(
    scan: &mut Scan<'_>,
    src: &mut dyn Read,
    size: u64,
    loc: &Location,
) -> &'static str {
    match mlvet_safetensors::inspect_stream(src, Some(size)) {
        Ok(inspection) => absorb(scan, &inspection, loc),
        Err(e) => scan.incomplete(container_uninspectable_member::finding(
            loc.clone(),
            e.to_string(),
        )),
    }
    "safetensors"
}

fn absorb(scan: &mut Scan<'_>, inspection: &mlvet_safetensors::Inspection, loc: &Location) {
    scan.findings
        .extend(mlvet_safetensors::findings(inspection, loc));
    if !inspection.complete {
        let why = inspection
            .incomplete_reason
            .clone()
            .unwrap_or_else(|| "the safetensors header was not fully checked".to_string());
        scan.incomplete(container_resource_limit::finding(loc.clone(), why));
    }
    // Facts describe the artefact itself, not a member inside it.
    if loc.members.is_empty() {
        for (key, value) in mlvet_safetensors::facts(inspection) {
            scan.metadata.insert(key.to_string(), value);
        }
        scan.metadata
            .insert("framework_format".to_string(), "safetensors".to_string());
    }
}
