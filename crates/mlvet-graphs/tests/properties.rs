//! Property tests: no parser panics, loops or over-allocates on arbitrary bytes or on mutations
//! of valid models, and everything the parsers report stays within their limits.

use mlvet_core::Location;
use mlvet_graphs::{GraphFormat, Identified, SeekSource, SliceSource, check, identify};
use proptest::prelude::*;

fn fixture(path: &str) -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/graphs");
    std::fs::read(root.join(path)).unwrap_or_default()
}

fn every_format(bytes: &[u8]) {
    let loc = Location::file("x");
    for format in [
        GraphFormat::Onnx,
        GraphFormat::SavedModel,
        GraphFormat::GraphDef,
        GraphFormat::Tflite,
        GraphFormat::TextGraph,
    ] {
        let report = check(
            Identified::Claimed(format),
            &mut SliceSource(bytes),
            &loc,
            None,
        );
        if !report.fully_inspected {
            assert!(!report.findings.is_empty(), "incomplete without a finding");
        }
        let _ = check(
            Identified::Valid(format),
            &mut SliceSource(bytes),
            &loc,
            None,
        );
    }
    for name in [
        "m.onnx",
        "saved_model.pb",
        "g.pb",
        "m.tflite",
        "g.pbtxt",
        "m.bin",
    ] {
        let _ = identify(name, &mut SliceSource(bytes));
        let mut seek = SeekSource::new(std::io::Cursor::new(bytes), bytes.len() as u64);
        let _ = identify(name, &mut seek);
    }
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    for (at, value) in edits {
        let i = at % bytes.len();
        bytes[i] = *value;
    }
    let keep = bytes.len() - cut % bytes.len();
    bytes.truncate(keep);
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        every_format(&bytes);
    }

    #[test]
    fn mutated_onnx_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut in any::<usize>()) {
        every_format(&mutate(fixture("onnx/control_flow_escape.onnx"), &edits, cut));
        every_format(&mutate(fixture("onnx/skl2onnx_logreg.onnx"), &edits, cut));
    }

    #[test]
    fn mutated_tensorflow_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut in any::<usize>()) {
        every_format(&mutate(fixture("tensorflow/read_file_absolute/saved_model.pb"), &edits, cut));
        every_format(&mutate(fixture("tensorflow/frozen_read_file.pb"), &edits, cut));
    }

    #[test]
    fn mutated_tflite_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut in any::<usize>()) {
        every_format(&mutate(fixture("tflite/flex_read_file.tflite"), &edits, cut));
    }
}

#[test]
fn the_fixtures_used_above_exist() {
    for path in [
        "onnx/control_flow_escape.onnx",
        "onnx/skl2onnx_logreg.onnx",
        "tensorflow/read_file_absolute/saved_model.pb",
        "tensorflow/frozen_read_file.pb",
        "tflite/flex_read_file.tflite",
    ] {
        assert!(!fixture(path).is_empty(), "{path}");
    }
}
