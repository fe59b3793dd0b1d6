//! The header checks against hand-built files (the fixtures made with the real library are
//! tested end to end in `mlvet-cli/tests/formats_folders.rs`).

use mlvet_safetensors::{Ambiguity, Problem, inspect, inspect_bytes, looks_like_safetensors};
use proptest::prelude::*;

/// A file: header length, header text padded with spaces to 8 bytes, then `body` bytes.
fn file(header: &str, body: usize) -> Vec<u8> {
    let mut text = header.as_bytes().to_vec();
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend(std::iter::repeat_n(0u8, body));
    out
}

#[test]
fn a_valid_file_loads_and_yields_facts() {
    let bytes = file(
        r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F16","shape":[2,3],"data_offsets":[16,28]},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#,
        28,
    );
    assert!(looks_like_safetensors(&bytes));
    let inspection = inspect_bytes(&bytes);
    assert!(inspection.loads(), "{inspection:?}");
    assert!(inspection.ambiguities.is_empty());
    assert_eq!(inspection.tensors.len(), 2);
    assert_eq!(inspection.tensors[0].name, "a");
    assert_eq!(inspection.parameters(), 10);
    assert_eq!(inspection.format(), Some("pt"));
    let facts = mlvet_safetensors::facts(&inspection);
    assert!(
        facts.contains(&("dtype", "F16,F32".to_string())),
        "{facts:?}"
    );
    // The seekable reader agrees with the in-memory one.
    let mut cursor = std::io::Cursor::new(&bytes);
    assert_eq!(
        inspect(&mut cursor, bytes.len() as u64).expect("read"),
        inspection
    );
}

#[test]
fn empty_tensors_and_sub_byte_dtypes() {
    let ok = file(
        r#"{"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"f4":{"dtype":"F4","shape":[4],"data_offsets":[0,2]}}"#,
        2,
    );
    assert!(inspect_bytes(&ok).loads());
    let odd = file(
        r#"{"f4":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#,
        2,
    );
    assert!(matches!(
        inspect_bytes(&odd).problems.as_slice(),
        [Problem::Misaligned { .. }, ..]
    ));
}

#[test]
fn each_loader_refusal_is_named() {
    type Case = (Vec<u8>, fn(&Problem) -> bool);
    let cases: Vec<Case> = vec![
        (b"\x01\x00".to_vec(), |p| {
            matches!(p, Problem::HeaderTooSmall { .. })
        }),
        (
            [200_000_000u64.to_le_bytes().as_slice(), b"{}"].concat(),
            |p| matches!(p, Problem::HeaderTooLarge { .. }),
        ),
        (
            [64u64.to_le_bytes().as_slice(), b"{}      "].concat(),
            |p| matches!(p, Problem::HeaderPastEnd { .. }),
        ),
        (file("{\"a\":\u{0}}", 0), |p| {
            matches!(p, Problem::InvalidJson { .. })
        }),
        (
            [8u64.to_le_bytes().as_slice(), b"{\"\xff\":1}  "].concat(),
            |p| matches!(p, Problem::InvalidUtf8 { .. }),
        ),
        (file("[]", 0), |p| matches!(p, Problem::NotAnObject { .. })),
        (file(r#"{"__metadata__":{"k":1}}"#, 0), |p| {
            matches!(p, Problem::MetadataValueNotString { .. })
        }),
        (file(r#"{"__metadata__":{},"__metadata__":{}}"#, 0), |p| {
            matches!(p, Problem::DuplicateMetadata { count: 2 })
        }),
        (
            file(
                r#"{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}"#,
                4,
            ),
            |p| matches!(p, Problem::UnknownDtype { .. }),
        ),
        (
            file(
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
                4,
            ),
            |p| {
                matches!(
                    p,
                    Problem::SizeMismatch {
                        expected: 8,
                        actual: 4,
                        ..
                    }
                )
            },
        ),
        (
            file(
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                12,
            ),
            |p| matches!(p, Problem::Gap { gap: 4, .. }),
        ),
        (
            file(
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                8,
            ),
            |p| matches!(p, Problem::Overlap { .. }),
        ),
        (
            file(
                r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,0]}}"#,
                4,
            ),
            |p| matches!(p, Problem::ReversedOffsets { .. }),
        ),
        (
            file(
                r#"{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#,
                8,
            ),
            |p| matches!(p, Problem::Overflow { .. }),
        ),
        (
            file(
                r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#,
                10,
            ),
            |p| matches!(p, Problem::TrailingData { trailing: 6, .. }),
        ),
        (
            file(
                r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#,
                2,
            ),
            |p| matches!(p, Problem::Truncated { .. }),
        ),
        (
            file(
                r#"{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,4]}}"#,
                4,
            ),
            |p| matches!(p, Problem::InvalidTensor { .. }),
        ),
        (
            file(
                r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4,4]}}"#,
                4,
            ),
            |p| matches!(p, Problem::InvalidTensor { .. }),
        ),
        (
            file(
                r#"{"a":{"dtype":"U8","dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#,
                4,
            ),
            |p| matches!(p, Problem::InvalidTensor { .. }),
        ),
        (
            file(r#"{"a":{"dtype":"U8","data_offsets":[0,4]}}"#, 4),
            |p| matches!(p, Problem::InvalidTensor { .. }),
        ),
    ];
    for (index, (bytes, expected)) in cases.into_iter().enumerate() {
        let inspection = inspect_bytes(&bytes);
        assert!(!inspection.loads(), "case {index} loads: {inspection:?}");
        assert!(
            inspection.problems.iter().any(expected),
            "case {index}: {:?}",
            inspection.problems
        );
    }
}

#[test]
fn ambiguities_the_loader_accepts_are_reported() {
    let dup = file(
        r#"{"a":{"dtype":"U8","shape":[9],"data_offsets":[0,9]},"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#,
        4,
    );
    let inspection = inspect_bytes(&dup);
    // The loader keeps the last definition, which is consistent with the body.
    assert!(inspection.loads(), "{inspection:?}");
    assert!(matches!(
        inspection.ambiguities.as_slice(),
        [Ambiguity::DuplicateTensor { count: 2, .. }]
    ));
    let forms = file(
        r#"{"a":["U8",[4],[0,4]],"b":{"dtype":{"U8":null},"shape":[1],"data_offsets":[4,5],"x":1}}"#,
        5,
    );
    let inspection = inspect_bytes(&forms);
    assert!(inspection.loads(), "{inspection:?}");
    assert_eq!(
        inspection.ambiguities.len(),
        3,
        "{:?}",
        inspection.ambiguities
    );
    let mut padded = (8u64).to_le_bytes().to_vec();
    padded.extend(b" {}\n\t   ");
    let inspection = inspect_bytes(&padded);
    assert!(inspection.loads());
    assert!(
        inspection
            .ambiguities
            .iter()
            .any(|a| matches!(a, Ambiguity::LeadingWhitespace { leading: 1 }))
    );
    assert!(
        inspection
            .ambiguities
            .iter()
            .any(|a| matches!(a, Ambiguity::NonSpacePadding { count: 2 }))
    );
}

#[test]
fn only_the_header_is_read() {
    // A reader that fails past the header proves the body is never touched.
    struct HeaderOnly {
        inner: std::io::Cursor<Vec<u8>>,
        limit: u64,
    }
    impl std::io::Read for HeaderOnly {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.inner.position() >= self.limit {
                return Err(std::io::Error::other("body read"));
            }
            let room = usize::try_from(self.limit - self.inner.position()).unwrap_or(0);
            let n = buf.len().min(room);
            self.inner.read(&mut buf[..n])
        }
    }
    impl std::io::Seek for HeaderOnly {
        fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
            self.inner.seek(pos)
        }
    }
    let header = r#"{"a":{"dtype":"U8","shape":[1000000],"data_offsets":[0,1000000]}}"#;
    let bytes = file(header, 0);
    let limit = bytes.len() as u64;
    let mut reader = HeaderOnly {
        inner: std::io::Cursor::new(bytes),
        limit,
    };
    let inspection = inspect(&mut reader, limit + 1_000_000).expect("header only");
    assert!(inspection.loads(), "{inspection:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let inspection = inspect_bytes(&bytes);
        let _ = mlvet_safetensors::findings(&inspection, &mlvet_core::Location::file("x"));
        let _ = mlvet_safetensors::facts(&inspection);
        let _ = looks_like_safetensors(&bytes);
    }

    #[test]
    fn never_panics_on_mutated_headers(
        flips in proptest::collection::vec((0usize..200, any::<u8>()), 0..8),
        cut in 0usize..220,
        body in 0usize..64,
    ) {
        let mut bytes = file(
            r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}}"#,
            body,
        );
        for (at, value) in flips {
            if let Some(byte) = bytes.get_mut(at) {
                *byte = value;
            }
        }
        bytes.truncate(cut.max(1).min(bytes.len()));
        let inspection = inspect_bytes(&bytes);
        let mut cursor = std::io::Cursor::new(&bytes);
        let streamed = inspect(&mut cursor, bytes.len() as u64).expect("in memory");
        prop_assert_eq!(&streamed, &inspection);
        let _ = mlvet_safetensors::findings(&inspection, &mlvet_core::Location::file("x"));
    }
}
