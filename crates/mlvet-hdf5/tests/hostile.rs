//! The reader on hostile input: mutated and truncated real files, arbitrary bytes, crafted
//! structures. It must return (an error or a partial result), never panic, never hang.

use std::io::Cursor;
use std::path::PathBuf;

use mlvet_hdf5::{Error, Limits};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/keras")
        .join(name);
    std::fs::read(path).expect("fixture")
}

const FILES: [&str; 5] = [
    "plain_earliest.h5",
    "plain_latest.h5",
    "dense_attributes.h5",
    "sequential.h5",
    "old_style_many_members.h5",
];

fn read(bytes: &[u8]) -> Result<mlvet_hdf5::File, Error> {
    let limits = Limits {
        max_total_read: 64 * 1024 * 1024,
        ..Limits::default()
    };
    mlvet_hdf5::read(&mut Cursor::new(bytes), bytes.len() as u64, &limits)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutated_real_files_never_panic(
        file in 0usize..FILES.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
    ) {
        let mut bytes = fixture(FILES[file]);
        for (at, value) in edits {
            let len = bytes.len();
            // Most edits land in the metadata at the front, where the structures are.
            let at = if at % 4 == 0 { at % len } else { at % len.min(4096) };
            bytes[at] = value;
        }
        let _ = read(&bytes);
    }

    #[test]
    fn truncated_real_files_never_panic(file in 0usize..FILES.len(), keep in 0usize..100_000) {
        let bytes = fixture(FILES[file]);
        let keep = keep % (bytes.len() + 1);
        let _ = read(&bytes[..keep]);
    }

    #[test]
    fn arbitrary_bytes_after_a_signature_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut bytes = mlvet_hdf5::SIGNATURE.to_vec();
        bytes.extend(tail);
        let _ = read(&bytes);
    }
}

#[test]
fn no_signature_is_an_error() {
    assert!(matches!(
        read(b"not an hdf5 file at all"),
        Err(Error::NoSuperblock)
    ));
    assert!(matches!(read(&[]), Err(Error::NoSuperblock)));
}

#[test]
fn truncated_real_file_is_not_fully_read() {
    let bytes = fixture("sequential.h5");
    for keep in [8, 64, 600, 2048, bytes.len() / 2, bytes.len() - 1] {
        match read(&bytes[..keep]) {
            Err(_) => {}
            Ok(file) => assert!(
                !file.fully_read() || file.root().attribute("model_config").is_some(),
                "{keep}: a truncated file read cleanly without its config"
            ),
        }
    }
}

/// A v2 superblock whose root object header is a v1 header with a continuation message that
/// points back at itself: the walk must stop at the continuation bound.
#[test]
fn self_referencing_continuation_is_bounded() {
    let mut f = Vec::new();
    f.extend_from_slice(mlvet_hdf5::SIGNATURE);
    f.extend_from_slice(&[2, 8, 8, 0]); // version 2, offsets 8, lengths 8, flags
    f.extend_from_slice(&0u64.to_le_bytes()); // base
    f.extend_from_slice(&u64::MAX.to_le_bytes()); // extension
    f.extend_from_slice(&0u64.to_le_bytes()); // end of file (not checked)
    f.extend_from_slice(&48u64.to_le_bytes()); // root object header
    f.extend_from_slice(&[0; 4]); // checksum
    assert_eq!(f.len(), 48);
    // v1 object header: version 1, reserved, 1 message, refcount 1, size 24.
    f.extend_from_slice(&[1, 0, 1, 0, 1, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0]);
    // continuation message (type 0x10, 16 bytes) -> offset 64, length 24 (this very chunk).
    f.extend_from_slice(&[0x10, 0, 16, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&64u64.to_le_bytes());
    f.extend_from_slice(&24u64.to_le_bytes());
    match read(&f) {
        Err(Error::Limit(_)) => {}
        other => panic!("expected a limit error, got {other:?}"),
    }
}

/// Two groups linking to each other (a hard-link cycle) are each read once.
#[test]
fn hard_link_cycles_are_visited_once() {
    let mut f = Vec::new();
    f.extend_from_slice(mlvet_hdf5::SIGNATURE);
    f.extend_from_slice(&[2, 8, 8, 0]);
    f.extend_from_slice(&0u64.to_le_bytes());
    f.extend_from_slice(&u64::MAX.to_le_bytes());
    f.extend_from_slice(&0u64.to_le_bytes());
    f.extend_from_slice(&48u64.to_le_bytes());
    f.extend_from_slice(&[0; 4]);
    // Group at 48 links "a" -> 48 (itself) as a v1 header with one link message.
    let link = {
        let mut m = vec![1u8, 0x00, 1, b'a']; // version 1, flags (1-byte name length), len 1, name
        m.extend_from_slice(&48u64.to_le_bytes());
        m
    };
    let size = (8 + link.len()).div_ceil(8) * 8;
    f.extend_from_slice(&[1, 0, 1, 0, 1, 0, 0, 0]);
    f.extend_from_slice(&(size as u32).to_le_bytes());
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(&[0x06, 0, link.len() as u8, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&link);
    f.resize(48 + 16 + size, 0);
    let file = read(&f).expect("readable");
    assert_eq!(file.objects.len(), 1);
    assert!(file.fully_read(), "{:?}", file.problems);
}
