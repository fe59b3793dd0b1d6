#![no_main]
//! The Flax msgpack walker on arbitrary input (crate: mlvet-modelfiles).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mlvet_modelfiles::msgpack::parse_flax(data);
});
