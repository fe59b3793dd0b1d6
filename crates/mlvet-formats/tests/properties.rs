//! Property tests: arbitrary bytes never panic, and wrapping never changes a verdict.

use std::io::Write;

use mlvet_formats::{ScanOptions, parse_literal, parse_npy_header, scan_bytes, sniff};
use proptest::prelude::*;

fn small_opts() -> ScanOptions {
    ScanOptions {
        max_member_size: 1 << 20,
        max_stream_size: 1 << 22,
        max_total_uncompressed: 1 << 23,
        ..ScanOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), name in "[a-z]{1,6}\\.(pkl|pt|zip|npy|bin|gz|joblib|txt)") {
        let report = scan_bytes(&bytes, &name, &small_opts());
        // Never safe while not fully inspected.
        prop_assert!(report.fully_inspected || report.verdict != mlvet_core::Verdict::Safe);
    }

    #[test]
    fn magic_prefixed_garbage_never_panics(kind in 0usize..8, tail in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let magic: &[u8] = [&b"PK\x03\x04"[..], b"7z\xbc\xaf\x27\x1c", b"\x93NUMPY\x01\x00", b"\x1f\x8b\x08", b"BZh9", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"\x80\x04\x95"][kind];
        let mut bytes = magic.to_vec();
        bytes.extend(tail);
        let _ = scan_bytes(&bytes, "x.bin", &small_opts());
    }

    #[test]
    fn npy_header_parser_never_panics(text in "\\PC{0,200}") {
        let _ = parse_literal(&text);
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((text.len() as u16).to_le_bytes());
        bytes.extend(text.as_bytes());
        let _ = parse_npy_header(&bytes);
    }

    /// Compression is transparent: a gzip-wrapped pickle gets the verdict of the pickle.
    #[test]
    fn gzip_wrapping_preserves_the_verdict(module in "(os|posix|collections|builtins)", name in "(system|OrderedDict|eval|getattr)") {
        let pickle = format!("c{module}\n{name}\n(S'x'\ntR.").into_bytes();
        let plain = scan_bytes(&pickle, "a.pkl", &small_opts());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&pickle).expect("gzip");
        let wrapped = scan_bytes(&gz.finish().expect("gzip"), "a.pkl.gz", &small_opts());
        prop_assert_eq!(plain.verdict, wrapped.verdict);
    }

    /// Sniffing depends on content only.
    #[test]
    fn sniff_is_a_function_of_the_prefix(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
        prop_assert_eq!(sniff(&bytes), sniff(&bytes.clone()));
    }
}
