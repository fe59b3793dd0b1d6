#![no_main]
//! The ONNX walker and its checks on arbitrary bytes: never panics, bounded work.

use libfuzzer_sys::fuzz_target;
use mlvet_graphs::{GraphFormat, Identified, SliceSource, check, onnx};

fuzz_target!(|data: &[u8]| {
    let _ = onnx::looks_like_onnx(&mut SliceSource(data));
    let _ = onnx::parse(&mut SliceSource(data), &onnx::Limits::default());
    let loc = mlvet_core::Location::file("fuzz.onnx");
    let _ = check(Identified::Claimed(GraphFormat::Onnx), &mut SliceSource(data), &loc, None);
});
