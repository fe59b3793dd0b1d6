#![no_main]
//! The safetensors header checks on arbitrary bytes (crate: mlvet-safetensors), in memory and
//! through the seekable and streaming readers, which must agree.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let inspection = mlvet_safetensors::inspect_bytes(data);
    let mut cursor = std::io::Cursor::new(data);
    let seeked = mlvet_safetensors::inspect(&mut cursor, data.len() as u64).expect("in memory");
    assert_eq!(seeked, inspection);
    let mut stream = data;
    let streamed = mlvet_safetensors::inspect_stream(&mut stream, None).expect("in memory");
    assert_eq!(streamed, inspection);
    let _ = mlvet_safetensors::findings(&inspection, &mlvet_core::Location::file("f"));
    let _ = mlvet_safetensors::facts(&inspection);
    let _ = mlvet_safetensors::looks_like_safetensors(data);
});
