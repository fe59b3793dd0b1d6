#![no_main]
//! Every container path of mlvet-formats on arbitrary bytes (crate: mlvet-formats).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = mlvet_formats::ScanOptions {
        max_member_size: 1 << 20,
        max_stream_size: 1 << 22,
        max_total_uncompressed: 1 << 23,
        ..mlvet_formats::ScanOptions::default()
    };
    for name in ["fuzz.pkl", "fuzz.bin", "fuzz.txt"] {
        let _ = mlvet_formats::scan_bytes(data, name, &opts);
    }
});
