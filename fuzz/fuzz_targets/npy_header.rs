#![no_main]
//! The `.npy` header literal parser on arbitrary input (crate: mlvet-formats).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mlvet_formats::parse_literal(text);
    }
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((data.len().min(u16::MAX as usize) as u16).to_le_bytes());
    bytes.extend(data);
    let _ = mlvet_formats::parse_npy_header(&bytes);
});
