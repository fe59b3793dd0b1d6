#![no_main]
//! The skops schema walk and TorchServe manifest reader on arbitrary input (crate: mlvet-modelfiles).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let policy = mlvet_pickle::Policy::builtin();
    let loc = mlvet_core::Location::file("fuzz.skops");
    let _ = mlvet_modelfiles::skops::analyze_schema(data, &loc, &policy);
    let _ = mlvet_modelfiles::mar::analyze(data, &[], &loc);
});
