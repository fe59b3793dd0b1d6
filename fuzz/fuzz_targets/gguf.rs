#![no_main]
//! The GGUF header parser on arbitrary input (crate: mlvet-gguf), and the whole GGUF scan
//! (chat templates included) through mlvet-formats.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mlvet_gguf::parse(
        std::io::Cursor::new(data),
        data.len() as u64,
        &mlvet_gguf::Limits::default(),
    );
    // The same bytes behind a valid magic and version, so the fuzzer reaches the key-values.
    let mut bytes = b"GGUF\x03\x00\x00\x00".to_vec();
    bytes.extend_from_slice(data);
    let opts = mlvet_formats::ScanOptions::default();
    let _ = mlvet_formats::scan_bytes(&bytes, "fuzz.gguf", &opts);
});
