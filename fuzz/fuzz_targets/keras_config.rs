#![no_main]
//! The Keras config analysis and the marshal summary on arbitrary input (crate: mlvet-keras).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let location = mlvet_core::Location::file("fuzz.keras").member("config.json");
    let policy = mlvet_pickle::Policy::builtin();
    let _ = mlvet_keras::analyze_config(
        data,
        &location,
        mlvet_keras::ConfigOrigin::KerasZip,
        &policy,
        &mlvet_keras::Limits::default(),
    );
    let _ = mlvet_keras::summarize_code(data);
    let _ = mlvet_keras::read_metadata(data);
});
