#![no_main]
//! The TensorFlow SavedModel / GraphDef walkers and checks on arbitrary bytes.

use libfuzzer_sys::fuzz_target;
use mlvet_graphs::{GraphFormat, Identified, SliceSource, check, tensorflow};

fuzz_target!(|data: &[u8]| {
    let limits = tensorflow::Limits::default();
    let _ = tensorflow::parse_saved_model(&mut SliceSource(data), &limits);
    let _ = tensorflow::parse_graphdef(&mut SliceSource(data), &limits);
    let loc = mlvet_core::Location::file("saved_model.pb");
    for format in [GraphFormat::SavedModel, GraphFormat::GraphDef, GraphFormat::TextGraph] {
        let _ = check(Identified::Claimed(format), &mut SliceSource(data), &loc, None);
    }
});
