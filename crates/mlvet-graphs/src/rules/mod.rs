//! Every rule this crate emits, one file each: the rule's documentation and its finding builder.

pub mod graph_malformed;
pub mod onnx_custom_domain;
pub mod onnx_external_data_escape;
pub mod onnx_external_data_missing;
pub mod tensorflow_file_access;
pub mod tensorflow_python_op;
pub mod tensorflow_text_graph;
pub mod tflite_custom_op;
pub mod tflite_flex_dangerous_op;

use mlvet_core::RuleMeta;

/// All rules of this crate, sorted by id.
pub fn all() -> Vec<&'static RuleMeta> {
    let mut rules = vec![
        &graph_malformed::RULE,
        &onnx_custom_domain::RULE,
        &onnx_external_data_escape::RULE,
        &onnx_external_data_missing::RULE,
        &tensorflow_file_access::RULE,
        &tensorflow_python_op::RULE,
        &tensorflow_text_graph::RULE,
        &tflite_custom_op::RULE,
        &tflite_flex_dangerous_op::RULE,
    ];
    rules.sort_by_key(|rule| rule.id);
    rules
}
