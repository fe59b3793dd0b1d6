//! The parsers on the real-library fixtures: the facts they read, not just the verdicts.

use mlvet_graphs::{SliceSource, onnx, tensorflow, tflite};

fn fixture(path: &str) -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/graphs");
    std::fs::read(root.join(path)).expect("fixture")
}

#[test]
fn skl2onnx_model_facts() {
    let bytes = fixture("onnx/skl2onnx_logreg.onnx");
    let m = onnx::parse(&mut SliceSource(&bytes), &onnx::Limits::default());
    assert_eq!(m.error, None);
    assert_eq!(m.producer_name.as_deref(), Some("skl2onnx"));
    assert!(m.opsets.contains_key("ai.onnx.ml"));
    assert!(
        m.ops
            .keys()
            .any(|(d, op)| d == "ai.onnx.ml" && op == "LinearClassifier")
    );
    assert!(m.node_count >= 2);
}

#[test]
fn external_data_entries_are_read_without_data() {
    let bytes = fixture("onnx/external_ok/model.onnx");
    let m = onnx::parse(&mut SliceSource(&bytes), &onnx::Limits::default());
    assert_eq!(m.external_count, 2);
    let weight = m
        .external
        .iter()
        .find(|t| t.tensor == "weight")
        .expect("weight");
    assert_eq!(weight.location.as_deref(), Some("model.onnx.data"));
    assert_eq!(weight.length, Some(48));
    assert!(weight.marked_external);
}

#[test]
fn saved_model_functions_and_literals() {
    let bytes = fixture("tensorflow/read_file_absolute/saved_model.pb");
    let g = tensorflow::parse_saved_model(&mut SliceSource(&bytes), &tensorflow::Limits::default());
    assert_eq!(g.error, None);
    assert_eq!(g.tags, vec!["serve".to_string()]);
    assert!(g.tensorflow_version.is_some());
    let (scope, node) = g
        .scopes
        .iter()
        .flat_map(|s| s.nodes.iter().map(move |n| (s, n)))
        .find(|(_, n)| n.op == "ReadFile")
        .expect("ReadFile node");
    assert_eq!(scope.literal(&node.inputs[0]), Some("/etc/passwd"));
    // The checkpoint ops every SavedModel has are there, fed by a placeholder.
    assert!(
        g.scopes
            .iter()
            .flat_map(|s| &s.nodes)
            .any(|n| n.op == "SaveV2")
    );
}

#[test]
fn tflite_operator_codes() {
    let bytes = fixture("tflite/flex_read_file.tflite");
    let m = tflite::parse(&mut SliceSource(&bytes), &tflite::Limits::default()).expect("parse");
    assert!(
        m.operator_codes
            .iter()
            .any(|c| c.is_custom() && c.custom_code.as_deref() == Some("FlexReadFile"))
    );
    let benign = fixture("tflite/benign.tflite");
    let m = tflite::parse(&mut SliceSource(&benign), &tflite::Limits::default()).expect("parse");
    assert!(m.operator_codes.iter().all(|c| !c.is_custom()));
    assert_eq!(m.subgraph_count, 1);
    assert!(m.operator_count >= 1);
}
