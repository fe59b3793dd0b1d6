#![no_main]
//! The TFLite FlatBuffers reader and checks on arbitrary bytes.

use libfuzzer_sys::fuzz_target;
use mlvet_graphs::{GraphFormat, Identified, SliceSource, check, tflite};

fuzz_target!(|data: &[u8]| {
    let _ = tflite::parse(&mut SliceSource(data), &tflite::Limits::default());
    let loc = mlvet_core::Location::file("fuzz.tflite");
    let _ = check(Identified::Claimed(GraphFormat::Tflite), &mut SliceSource(data), &loc, None);
});
