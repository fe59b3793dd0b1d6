//! Bounded parsers for computation-graph model formats, and the rules mlvet reports on them.
//!
//! | module | reads |
//! |---|---|
//! | [`protobuf`] | the protocol-buffers wire format: varint, 64-bit, length-delimited, 32-bit; groups stepped over |
//! | [`onnx`] | ONNX `ModelProto`: opsets, nodes, subgraphs, functions, external-data entries |
//! | [`tensorflow`] | TensorFlow `SavedModel` and frozen `GraphDef`: nodes and library functions |
//! | [`tflite`] | TFLite FlatBuffers: operator codes, counts, metadata names |
//!
//! The parsers are pure functions over a [`Source`] (a slice, or a file read through a window);
//! they never read tensor data, never panic on hostile input, and bound depth, counts and string
//! lengths. [`check`] turns what they found into findings; [`rules`] documents every rule.

pub mod check;
pub mod onnx;
pub mod ops;
pub mod paths;
pub mod protobuf;
pub mod rules;
pub mod source;
pub mod tensorflow;
pub mod tflite;

pub use check::{GraphFormat, GraphReport, Identified, check, identify};
pub use source::{SeekSource, SliceSource, Source};

/// Every rule this crate can emit.
pub fn rules() -> Vec<&'static mlvet_core::RuleMeta> {
    rules::all()
}
