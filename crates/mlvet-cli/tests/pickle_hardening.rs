//! End-to-end tests of the pickle VM's robustness (issue 13: protocol-0 text arguments, memo keys
//! spelled the way `int()` reads them, deep nesting on worker threads, memory budgets and
//! aggregated findings), through the `mlvet` binary.

mod common;

use std::path::Path;
use std::process::Output;

use common::{artifact, findings_for, json_report, mlvet};

const FIXTURES: &str = "tests/fixtures/pickle-hardening";

/// `posix.system('echo pwned')` at protocol 0, without its leading opcodes' context.
const SYSTEM_CALL_P0: &[u8] = b"cposix\nsystem\n(S'echo pwned'\ntR";

fn scan(data: &Path, target: &str) -> (Output, serde_json::Value) {
    let out = mlvet(data, &["scan", target, "--format", "json", "--no-deps"]);
    let report = json_report(&out);
    (out, report)
}

fn rules_of(report: &serde_json::Value, path: &str) -> Vec<String> {
    findings_for(report, path)
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Writes `bytes` as `name` in `dir` and returns the path as a string.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write pickle");
    path.to_str().expect("utf-8 path").to_string()
}

fn assert_malicious_system_call(out: &Output, report: &serde_json::Value, path: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{path}: stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(artifact(report, path)["verdict"], "malicious", "{report:#}");
    let findings = findings_for(report, path);
    let call = findings
        .iter()
        .find(|f| f["rule"] == "pickle-dangerous-callable")
        .unwrap_or_else(|| panic!("{path}: no dangerous callable in {report:#}"));
    assert!(call.to_string().contains("posix.system"), "{call}");
}

#[test]
fn real_protocol_0_files_with_long_text_arguments_are_safe() {
    let data = tempfile::tempdir().expect("tempdir");
    for name in ["numpy_array_p0.pkl", "sklearn_scaler_p0.pkl"] {
        let path = format!("{FIXTURES}/safe/{name}");
        let (out, report) = scan(data.path(), &path);
        assert_eq!(out.status.code(), Some(0), "{path}: {report:#}");
        assert_eq!(artifact(&report, &path)["verdict"], "safe", "{report:#}");
        assert!(rules_of(&report, &path).is_empty(), "{report:#}");
    }
}

#[test]
fn a_long_protocol_0_string_before_a_system_call_is_malicious() {
    let data = tempfile::tempdir().expect("tempdir");
    for name in [
        "long_string_then_system_p0.pkl",
        "long_unicode_then_system_p0.pkl",
    ] {
        let path = format!("{FIXTURES}/malicious/{name}");
        let (out, report) = scan(data.path(), &path);
        assert_malicious_system_call(&out, &report, &path);
        assert!(
            !rules_of(&report, &path).contains(&"pickle-parse-error".to_string()),
            "CPython reads the whole file: {report:#}"
        );
    }
}

/// STRING and UNICODE arguments of every size class up to 1 MiB, escaped, with the escapes cut at
/// every position relative to the old 1 KiB capture: CPython's readline has no length limit.
#[test]
fn text_arguments_of_any_length_decode_like_cpython() {
    let data = tempfile::tempdir().expect("tempdir");
    for len in [1_021, 1_022, 1_023, 1_024, 1_025, 70_000, 1 << 20] {
        let mut string = b"S'".to_vec();
        string.extend(std::iter::repeat_n(b'a', len % 7));
        while string.len() < len {
            string.extend_from_slice(b"\\x41\\'\\n\\101");
        }
        string.extend_from_slice(b"'\n0");
        let mut unicode = b"V".to_vec();
        unicode.extend(std::iter::repeat_n(b'b', len % 5));
        while unicode.len() < len {
            unicode.extend_from_slice(b"\\u00e9\\U0001F600\xe9\\x");
        }
        unicode.extend_from_slice(b"\n0");
        for (kind, prefix) in [("string", string), ("unicode", unicode)] {
            let mut pickle = prefix;
            pickle.extend_from_slice(SYSTEM_CALL_P0);
            pickle.push(b'.');
            let path = write(data.path(), &format!("{kind}_{len}.pkl"), &pickle);
            let (out, report) = scan(data.path(), &path);
            assert_malicious_system_call(&out, &report, &path);
            assert!(
                !rules_of(&report, &path).contains(&"pickle-parse-error".to_string()),
                "{kind} {len}: {report:#}"
            );
        }
    }
}

/// A callable reduced before the point where CPython raises still ran: malicious, whatever error
/// follows (invalid opcode, bad escape in a long STRING, unterminated line).
#[test]
fn a_call_before_a_parse_error_still_counts() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut long_bad_escape = b"S'".to_vec();
    long_bad_escape.extend(std::iter::repeat_n(b'x', 5_000));
    long_bad_escape.extend_from_slice(b"\\x4'\n.");
    for (name, tail) in [
        ("garbage", &b"\xff\xfe garbage"[..]),
        ("bad_escape", &long_bad_escape[..]),
        ("unterminated", &b"V\\u00e9 no newline"[..]),
        ("unquoted", &b"S'quote missing\n."[..]),
    ] {
        let mut pickle = SYSTEM_CALL_P0.to_vec();
        pickle.extend_from_slice(tail);
        let path = write(data.path(), &format!("{name}.pkl"), &pickle);
        let (out, report) = scan(data.path(), &path);
        assert_malicious_system_call(&out, &report, &path);
        let rules = rules_of(&report, &path);
        assert!(
            rules.contains(&"pickle-parse-error".to_string()),
            "{name}: {report:#}"
        );
    }
}

#[test]
fn memo_keys_spelled_with_underscores_signs_and_whitespace_follow_cpython() {
    let data = tempfile::tempdir().expect("tempdir");
    let fixture = format!("{FIXTURES}/malicious/memo_keys_underscore_sign_p0.pkl");
    let (out, report) = scan(data.path(), &fixture);
    assert_malicious_system_call(&out, &report, &fixture);
    assert_eq!(rules_of(&report, &fixture), ["pickle-dangerous-callable"]);

    // The same spellings in files whose name says nothing: the content sniff must recognise them.
    for (name, put, get) in [
        ("underscore", &b"p0_1\n"[..], &b"g1\n"[..]),
        ("sign", b"p+1\n", b"g+0_1\n"),
        ("whitespace", b"p \x0b1\t\n", b"g1 \x0c\n"),
        ("nul", b"p1\x00ignored\n", b"g1\x00\xff\n"),
        (
            "padded",
            &[b"p".as_slice(), &[b' '; 5_000], b"1\n"].concat(),
            b"g1\n",
        ),
    ] {
        let pickle = [
            &b"cposix\nsystem\n"[..],
            put,
            b"0",
            get,
            b"(S'echo pwned'\ntR.",
        ]
        .concat();
        let path = write(data.path(), &format!("memo_{name}.bin"), &pickle);
        let (out, report) = scan(data.path(), &path);
        assert_malicious_system_call(&out, &report, &path);
        assert!(
            !rules_of(&report, &path).contains(&"container-unrecognized-model-file".to_string()),
            "{name}: recognised as a pickle: {report:#}"
        );
    }

    // CPython's errors: a negative PUT raises, a GET of another slot raises; the callable before
    // still counts, and the file stays recognised as a pickle.
    let negative = write(
        data.path(),
        "negative_put.pkl",
        b"cposix\nsystem\n(S'echo pwned'\ntRp-1\n.",
    );
    let (out, report) = scan(data.path(), &negative);
    assert_malicious_system_call(&out, &report, &negative);
    let error = findings_for(&report, &negative)
        .into_iter()
        .find(|f| f["rule"] == "pickle-parse-error")
        .map(|f| f.to_string())
        .unwrap_or_default();
    assert!(error.contains("negative PUT argument"), "{report:#}");
}

/// A 1,000,000-deep nest of tuples, scanned as a file argument and inside a directory (where a
/// worker thread with a smaller stack than the main thread scans it): no crash, never safe.
#[test]
fn a_million_deep_nesting_neither_crashes_nor_passes() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    let depth = 1_000_000;
    let mut tuples = vec![b'\x80', 2, b')'];
    tuples.extend(std::iter::repeat_n(b'\x85', depth));
    tuples.push(b'.');
    let single = write(data.path(), "deep_tuples.pkl", &tuples);
    write(dir.path(), "deep_tuples.pkl", &tuples);
    write(dir.path(), "neighbour.pkl", b"\x80\x02K\x01.");
    let (out, report) = scan(data.path(), &single);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(artifact(&report, &single)["verdict"], "suspicious");
    assert!(rules_of(&report, &single).contains(&"pickle-budget-exceeded".to_string()));

    let dir_arg = dir.path().to_str().expect("utf-8");
    let (out, report) = scan(data.path(), dir_arg);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nested = format!("{dir_arg}/deep_tuples.pkl");
    assert_eq!(artifact(&report, &nested)["verdict"], "suspicious");
}

/// `LONG_BINPUT 0x00FFFFFF` and `0xFFFFFFFF`: a far memo index costs one entry, not a table up to
/// it (the old dense memo allocated 391 MiB for this 10-byte file).
#[test]
fn far_memo_indices_are_stored_sparsely() {
    let data = tempfile::tempdir().expect("tempdir");
    let pickle = b"\x80\x04Nr\xff\xff\xff\x00r\xff\xff\xff\xff0j\xff\xff\xff\x00.";
    let path = write(data.path(), "far_memo.pkl", pickle);
    let started = std::time::Instant::now();
    let (out, report) = scan(data.path(), &path);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(artifact(&report, &path)["verdict"], "safe", "{report:#}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// 200,000 distinct unknown globals after a deny-listed call: the dangerous callable is reported
/// on its own, the unknown ones are listed up to a cap and then aggregated with their count, and
/// the report stays small (it was 177 MB).
#[test]
fn many_distinct_globals_give_a_small_report_that_keeps_the_dangerous_one() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut pickle = SYSTEM_CALL_P0.to_vec();
    pickle.push(b'0');
    for i in 0..200_000u32 {
        pickle.extend_from_slice(format!("cmod{i}\nf\n0").as_bytes());
    }
    pickle.extend_from_slice(b"N.");
    let path = write(data.path(), "many_globals.pkl", &pickle);
    let (out, report) = scan(data.path(), &path);
    assert_malicious_system_call(&out, &report, &path);
    assert!(
        out.stdout.len() < 1 << 20,
        "report of {} bytes",
        out.stdout.len()
    );
    let findings = findings_for(&report, &path);
    let unknown: Vec<_> = findings
        .iter()
        .filter(|f| f["rule"] == "pickle-unknown-callable")
        .collect();
    assert!(unknown.len() <= 101, "{} unknown findings", unknown.len());
    let aggregate = unknown
        .iter()
        .find(|f| f.to_string().contains("further callables"))
        .unwrap_or_else(|| panic!("no aggregate finding among {}", unknown.len()));
    assert!(aggregate.to_string().contains("mod100."), "{aggregate}");
}

/// Many deny-listed references: past the cap they are aggregated, never dropped, and the
/// aggregate keeps the most severe grade.
#[test]
fn many_dangerous_globals_are_aggregated_not_dropped() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut pickle = Vec::new();
    for i in 0..5_000u32 {
        pickle.extend_from_slice(format!("cos\nfunction{i}\n0").as_bytes());
    }
    pickle.extend_from_slice(SYSTEM_CALL_P0);
    pickle.push(b'.');
    let path = write(data.path(), "many_dangerous.pkl", &pickle);
    let (out, report) = scan(data.path(), &path);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(artifact(&report, &path)["verdict"], "malicious");
    let dangerous: Vec<_> = findings_for(&report, &path)
        .into_iter()
        .filter(|f| f["rule"] == "pickle-dangerous-callable")
        .collect();
    assert!(dangerous.len() <= 101, "{}", dangerous.len());
    let aggregate = dangerous
        .iter()
        .find(|f| f.to_string().contains("further deny-listed callables"))
        .expect("an aggregate finding");
    let text = aggregate.to_string();
    assert!(text.contains("4901 further"), "{text}");
    assert!(text.contains("0 of them called"), "{text}");
    assert_eq!(aggregate["severity"], "critical");
    // The called one is listed on its own, whatever its position among the references.
    assert!(
        dangerous.iter().any(|f| f["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("calls posix.system"))),
        "{dangerous:?}"
    );
}

/// One finding per opcode (BUILD on a global) repeated 100,000 times: at most a capped number is
/// listed, the last says how many more there were.
#[test]
fn repeated_per_opcode_findings_are_capped_and_counted() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut pickle = b"\x80\x02cmymodule\nThing\n".to_vec();
    for _ in 0..100_000 {
        pickle.extend_from_slice(b"}b");
    }
    pickle.push(b'.');
    let path = write(data.path(), "many_mutations.pkl", &pickle);
    let (_, report) = scan(data.path(), &path);
    let mutations: Vec<_> = findings_for(&report, &path)
        .into_iter()
        .filter(|f| f["rule"] == "pickle-global-mutation")
        .collect();
    assert!(
        !mutations.is_empty() && mutations.len() <= 64,
        "{}",
        mutations.len()
    );
    assert!(
        mutations
            .iter()
            .any(|f| f.to_string().contains("99936 more like it")),
        "{mutations:?}"
    );
}

/// Two million one-byte `EMPTY_TUPLE`s: each allocates far more than the byte it costs. The
/// simulation stops at its memory budget (held bytes beyond the input read) instead of growing.
#[test]
fn values_that_outgrow_the_input_hit_the_memory_budget() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut pickle = b"\x80\x04".to_vec();
    pickle.extend(std::iter::repeat_n(b')', 2_000_000));
    pickle.push(b'.');
    let path = write(data.path(), "tuples.pkl", &pickle);
    let (out, report) = scan(data.path(), &path);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(artifact(&report, &path)["verdict"], "suspicious");
    let budget = findings_for(&report, &path)
        .into_iter()
        .find(|f| f["rule"] == "pickle-budget-exceeded")
        .map(|f| f.to_string())
        .unwrap_or_default();
    assert!(budget.contains("memory"), "{report:#}");
}
