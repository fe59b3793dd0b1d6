//! Computation-graph formats (ONNX, TensorFlow SavedModel and GraphDef, TFLite), read by
//! `mlvet-graphs`. Protobuf has no magic number, so these are tried only for content the
//! container sniffer does not recognise, by name and a validating parse.

use std::io::{Read, Seek};
use std::path::Path;

use mlvet_core::{ArtifactReport, Location};
use mlvet_graphs::{SeekSource, SliceSource, Source};

/// Scans `src` when it is a graph file; `None` when it is not one.
fn scan<S: Source + ?Sized>(
    src: &mut S,
    display: &str,
    size: u64,
    folder: Option<&Path>,
) -> Option<ArtifactReport> {
    let identified = mlvet_graphs::identify(display, src)?;
    let location = Location::file(display);
    let checked = mlvet_graphs::check(identified, src, &location, folder);
    let mut report = ArtifactReport::new(
        display.to_string(),
        checked.format.to_string(),
        size,
        checked.fully_inspected,
        checked.findings,
    );
    report.metadata = checked.metadata;
    Some(report)
}

/// A file on disk: read through a window, tensor bodies skipped; external data resolved in
/// `folder`.
pub(crate) fn scan_reader<R: Read + Seek>(
    reader: R,
    size: u64,
    display: &str,
    folder: Option<&Path>,
) -> Option<ArtifactReport> {
    let mut src = SeekSource::new(reader, size);
    scan(&mut src, display, size, folder)
}

/// Bytes in memory (no folder: external data cannot be checked).
pub(crate) fn scan_bytes(bytes: &[u8], display: &str) -> Option<ArtifactReport> {
    scan(&mut SliceSource(bytes), display, bytes.len() as u64, None)
}
