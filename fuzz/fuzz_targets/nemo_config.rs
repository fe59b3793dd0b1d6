#![no_main]
//! The bounded YAML reader and NeMo target classification on arbitrary input (crate: mlvet-modelfiles).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let policy = mlvet_pickle::Policy::builtin();
    let loc = mlvet_core::Location::file("fuzz.nemo");
    let _ = mlvet_modelfiles::nemo::analyze_config(data, &loc, &policy);
});
