//! Pickles stored inside pickle values, and string-to-callable resolvers, on hand-assembled input.

use mlvet_core::{Location, Verdict};
use mlvet_pickle::{Limits, PickleScan, Policy, StreamOptions, scan_stream};

fn scan(bytes: &[u8]) -> PickleScan {
    scan_stream(
        bytes,
        &Location::file("t.pkl"),
        &Policy::builtin(),
        &Limits::default(),
        &StreamOptions::default(),
    )
}

/// `BINBYTES payload` (protocol 3).
fn binbytes(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![b'B'];
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// A protocol-3 pickle whose value is the bytes `payload`.
fn bytes_pickle(payload: &[u8]) -> Vec<u8> {
    [b"\x80\x03".as_slice(), &binbytes(payload), b"."].concat()
}

const OS_SYSTEM: &[u8] = b"\x80\x02cos\nsystem\n(X\x0a\x00\x00\x00echo pwnedtR.";

fn staged_messages(scan: &PickleScan) -> Vec<String> {
    scan.findings
        .iter()
        .filter(|f| f.rule == "container-staged-pickle")
        .map(|f| f.message.clone())
        .collect()
}

#[test]
fn a_pickle_in_a_bytes_value_is_a_staged_payload() {
    let s = scan(&bytes_pickle(OS_SYSTEM));
    assert!(!s.is_malicious(), "{:#?}", s.findings);
    assert!(s.fully_inspected);
    let staged = staged_messages(&s);
    assert_eq!(staged.len(), 1, "{:#?}", s.findings);
    assert!(staged[0].contains("os.system"));
    assert!(s.findings.iter().all(|f| f.verdict != Verdict::Malicious));
}

#[test]
fn nesting_is_followed_two_levels_deep_and_no_further() {
    let two = bytes_pickle(&bytes_pickle(OS_SYSTEM));
    let s = scan(&two);
    let staged = staged_messages(&s);
    assert_eq!(staged.len(), 1, "{:#?}", s.findings);
    assert!(staged[0].contains("os.system"), "{staged:?}");
    // Three levels: the innermost bytes stay plain data (bounded work), the outer two are benign.
    let three = bytes_pickle(&bytes_pickle(&bytes_pickle(OS_SYSTEM)));
    let s = scan(&three);
    assert!(staged_messages(&s).is_empty(), "{:#?}", s.findings);
    assert!(s.fully_inspected);
}

#[test]
fn a_large_payload_that_starts_like_a_pickle_is_streamed() {
    // 16 MiB of opcodes after a valid pickle start: simulated while read, never buffered whole.
    let mut payload = b"\x80\x04".to_vec();
    for _ in 0..(8 << 20) {
        payload.extend_from_slice(b"N0");
    }
    payload.extend_from_slice(b"N.");
    let s = scan(&bytes_pickle(&payload));
    assert!(s.fully_inspected, "{:#?}", s.findings);
    assert!(!s.is_malicious());
    assert_eq!(s.bytes_consumed, payload.len() as u64 + 8);
}

#[test]
fn a_truncated_payload_fails_like_cpython() {
    let mut p = b"\x80\x03B".to_vec();
    p.extend_from_slice(&100u32.to_le_bytes());
    p.extend_from_slice(OS_SYSTEM);
    let s = scan(&p);
    assert!(!s.fully_inspected);
    assert!(s.findings.iter().any(|f| f.rule == "pickle-parse-error"));
}

#[test]
fn a_resolver_with_a_computed_argument_stays_denied() {
    // _import_dotted_name(<result of a call>): nothing to fold.
    let p = b"\x80\x02ctorch._utils\n_import_dotted_name\n(cbuiltins\nstr\n(tRtR.";
    let s = scan(p);
    assert!(s.is_malicious(), "{:#?}", s.findings);
    // Stored, never called: stays denied too.
    let p = b"\x80\x02ctorch._utils\n_import_dotted_name\n.";
    assert!(scan(p).is_malicious());
    // Folded: the resolved reference is what is judged.
    let p = b"\x80\x02ctorch._utils\n_import_dotted_name\n(X\x11\x00\x00\x00collections.dequetR.";
    let s = scan(p);
    assert!(!s.is_malicious(), "{:#?}", s.findings);
    assert!(s.findings.is_empty(), "{:#?}", s.findings);
}

#[test]
fn load_from_bytes_with_anything_but_a_complete_legacy_torch_file_stays_denied() {
    // A plain pickle, not a torch file.
    let mut p = b"\x80\x03ctorch.storage\n_load_from_bytes\n".to_vec();
    p.extend_from_slice(&binbytes(b"\x80\x02]q\x00(K\x01K\x02e."));
    p.extend_from_slice(b"\x85R.");
    assert!(scan(&p).is_malicious());
}
