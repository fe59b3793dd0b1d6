//! Opcode-level tests of the simulator on hand-assembled pickles.

use mlvet_core::{Location, Severity, Verdict};
use mlvet_pickle::{Classification, Limits, PickleScan, Policy, StreamOptions, scan_stream};

fn scan_with(bytes: &[u8], limits: &Limits, opts: &StreamOptions) -> PickleScan {
    scan_stream(
        bytes,
        &Location::file("t.pkl"),
        &Policy::builtin(),
        limits,
        opts,
    )
}

fn scan(bytes: &[u8]) -> PickleScan {
    scan_with(bytes, &Limits::default(), &StreamOptions::default())
}

fn rules(scan: &PickleScan) -> Vec<&'static str> {
    let mut rules: Vec<&str> = scan.findings.iter().map(|f| f.rule).collect();
    rules.sort();
    rules.dedup();
    rules
}

fn has(scan: &PickleScan, rule: &str) -> bool {
    scan.findings.iter().any(|f| f.rule == rule)
}

fn evidence(scan: &PickleScan, rule: &str, label: &str) -> Vec<String> {
    scan.findings
        .iter()
        .filter(|f| f.rule == rule)
        .flat_map(|f| {
            f.evidence
                .iter()
                .filter(|e| e.label == label)
                .map(|e| e.value.clone())
        })
        .collect()
}

fn dangerous(scan: &PickleScan) -> Vec<String> {
    evidence(scan, "pickle-dangerous-callable", "callable")
}

/// `SHORT_BINUNICODE s`
fn su(s: &str) -> Vec<u8> {
    let mut out = vec![0x8c, s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn stack_global_protocol_4_call_is_malicious_with_literal_arguments() {
    let p = cat(&[
        b"\x80\x04",
        &su("os"),
        &su("system"),
        b"\x93",
        &su("id"),
        b"\x85R.",
    ]);
    let s = scan(&p);
    assert_eq!(dangerous(&s), vec!["os.system"]);
    let f = s
        .findings
        .iter()
        .find(|f| f.rule == "pickle-dangerous-callable")
        .expect("finding");
    assert_eq!(
        (f.severity, f.verdict),
        (Severity::Critical, Verdict::Malicious)
    );
    assert_eq!(
        evidence(&s, "pickle-dangerous-callable", "call"),
        vec!["os.system('id') via REDUCE"]
    );
    assert!(s.fully_inspected);
    assert_eq!(
        (s.pickles, s.opcodes, s.bytes_consumed),
        (1, 8, p.len() as u64)
    );
    assert_eq!(f.location.opcode_index, Some(3));
    assert!(s.globals[0].called);
}

#[test]
fn protocol_0_global_and_referenced_but_not_called() {
    let s = scan(b"cposix\nsystem\n(S'id'\ntR.");
    assert_eq!(dangerous(&s), vec!["posix.system"]);
    let s = scan(b"cos\nsystem\n.");
    assert_eq!(dangerous(&s), vec!["os.system"]);
    assert!(evidence(&s, "pickle-dangerous-callable", "called")[0].starts_with("no"));
}

#[test]
fn compat_pickle_renames_apply_below_protocol_3_only() {
    let s = scan(b"c__builtin__\neval\n(S'1'\ntR.");
    assert_eq!(dangerous(&s), vec!["builtins.eval"]);
    assert_eq!(
        evidence(&s, "pickle-dangerous-callable", "written as"),
        vec!["__builtin__.eval (renamed by _compat_pickle)"]
    );
    let s = scan(b"ccopy_reg\n_reconstructor\n.");
    assert_eq!(
        (s.globals[0].module.as_str(), s.findings.len()),
        ("copyreg", 0)
    );
    // Protocol 3: no renaming (and __builtin__ is still denied by the policy).
    let s = scan(b"\x80\x03c__builtin__\neval\n.");
    assert_eq!(dangerous(&s), vec!["__builtin__.eval"]);
    let s = scan(b"\x80\x03ccopy_reg\n_reconstructor\n.");
    assert_eq!(s.globals[0].module, "copy_reg");
    assert!(has(&s, "pickle-unknown-callable"));
}

#[test]
fn memo_tracking_follows_put_get_memoize_and_dup() {
    // The picklescan desync: PUT after POP stores the real stack top, not the previous argument.
    let p = cat(&[
        b"\x80\x04",
        &su("os"),
        b"K\x070q\x000",
        &su("system"),
        b"q\x010h\x00h\x01\x93",
        &su("id"),
        b"\x85R.",
    ]);
    assert_eq!(dangerous(&scan(&p)), vec!["os.system"]);
    let p = cat(&[
        b"\x80\x04",
        &su("os"),
        b"K\x070\x940",
        &su("system"),
        b"\x940h\x00h\x01\x93N\x85R.",
    ]);
    assert_eq!(dangerous(&scan(&p)), vec!["os.system"]);
    // Re-PUT from a GET, long indices, text PUT/GET, DUP.
    let p = cat(&[
        b"\x80\x04",
        &su("os"),
        b"r\x05\x00\x00\x000j\x05\x00\x00\x00p7\n0g7\n2q\x000",
        &su("system"),
        b"\x93.",
    ]);
    assert_eq!(dangerous(&scan(&p)), vec!["os.system"]);
    // A dangerous reference moved through the memo is still the same reference.
    let p = cat(&[
        b"\x80\x04",
        &su("os"),
        &su("system"),
        b"\x93q\x000N0h\x00",
        &su("id"),
        b"\x85R.",
    ]);
    let s = scan(&p);
    assert_eq!(dangerous(&s), vec!["os.system"]);
    assert!(s.globals[0].called);
}

#[test]
fn stack_global_with_string_opcodes_and_escapes() {
    assert_eq!(
        dangerous(&scan(b"S'os'\nS'system'\n\x93S'ls'\n\x85R.")),
        vec!["os.system"]
    );
    assert_eq!(
        dangerous(&scan(b"S'\\x6fs'\nS\"sys\\164em\"\n\x93.")),
        vec!["os.system"]
    );
    assert_eq!(
        dangerous(&scan(b"V\\u006fs\nVsystem\n\x93.")),
        vec!["os.system"]
    );
    assert_eq!(
        dangerous(&scan(b"\x80\x02U\x02osq\x00T\x06\x00\x00\x00system\x93.")),
        vec!["os.system"]
    );
    assert_eq!(
        dangerous(&scan(
            b"\x80\x04X\x02\x00\x00\x00os\x8d\x06\x00\x00\x00\x00\x00\x00\x00system\x93."
        )),
        vec!["os.system"]
    );
}

#[test]
fn non_literal_stack_global_operands_are_critical() {
    // module name = builtins.str(...) call result
    let p = cat(&[
        b"\x80\x04",
        &su("builtins"),
        &su("str"),
        b"\x93",
        &su("os"),
        b"\x85R",
        &su("system"),
        b"\x93.",
    ]);
    let s = scan(&p);
    assert!(has(&s, "pickle-non-literal-global"));
    let f = s
        .findings
        .iter()
        .find(|f| f.rule == "pickle-non-literal-global")
        .expect("finding");
    assert_eq!(
        (f.severity, f.verdict),
        (Severity::Critical, Verdict::Malicious)
    );
    // A persistent-load result as operand.
    let p = cat(&[b"\x80\x04", &su("x"), b"Q", &su("system"), b"\x93."]);
    assert!(has(&scan(&p), "pickle-non-literal-global"));
    // Operands that are certainly not str: CPython raises.
    let s = scan(b"\x80\x04C\x02osC\x06system\x93.");
    assert!(has(&s, "pickle-parse-error") && !s.fully_inspected);
}

#[test]
fn dotted_names_are_attribute_walks() {
    let s = scan(&cat(&[
        b"\x80\x04",
        &su("pathlib"),
        &su("os.system"),
        b"\x93.",
    ]));
    assert_eq!(dangerous(&s), vec!["pathlib.os.system"]);
    assert!(evidence(&s, "pickle-dangerous-callable", "reason")[0].contains("os.system"));
    let s = scan(&cat(&[
        b"\x80\x04",
        &su("builtins"),
        &su("eval.__call__"),
        b"\x93.",
    ]));
    assert_eq!(dangerous(&s), vec!["builtins.eval.__call__"]);
    let s = scan(&cat(&[
        b"\x80\x04",
        &su("collections"),
        &su("OrderedDict.__init__.__globals__"),
        b"\x93.",
    ]));
    assert_eq!(
        dangerous(&s),
        vec!["collections.OrderedDict.__init__.__globals__"]
    );
    let s = scan(b"\x80\x02ctorch\nserialization.load\n.");
    assert_eq!(dangerous(&s), vec!["torch.serialization.load"]);
}

#[test]
fn several_pickles_in_one_stream() {
    let s = scan(b"\x80\x02]q\x00.cos\nsystem\n(S'id'\ntR.");
    assert_eq!(
        (s.pickles, dangerous(&s)),
        (2, vec!["os.system".to_string()])
    );
    assert!(s.fully_inspected && !s.trailing_data);
    // The caller can stop after N pickles (legacy torch): the rest is not read.
    let opts = StreamOptions {
        max_pickles: Some(1),
        require_pickle_start: false,
    };
    let s = scan_with(b"N.cos\nsystem\n.", &Limits::default(), &opts);
    assert_eq!(
        (
            s.pickles,
            s.bytes_consumed,
            s.trailing_data,
            s.findings.len()
        ),
        (1, 2, true, 0)
    );
}

#[test]
fn a_payload_followed_by_garbage_is_still_malicious() {
    let s = scan(b"cos\nsystem\n(S'id'\ntR\xff garbage");
    assert_eq!(dangerous(&s), vec!["os.system"]);
    assert!(has(&s, "pickle-parse-error") && !s.fully_inspected);
    assert_eq!(s.pickles, 0);
    let s = scan(b"\x80\x02cos\nsystem\nq\x00)R");
    assert!(has(&s, "pickle-parse-error") && s.is_malicious());
}

#[test]
fn trailing_non_pickle_data_is_low_and_not_an_error() {
    let s = scan(b"N.hello world");
    assert_eq!(rules(&s), vec!["pickle-trailing-data"]);
    assert!(s.fully_inspected && s.trailing_data);
    assert_eq!(s.bytes_consumed, 2);
    assert!(s.findings.iter().all(|f| f.verdict == Verdict::Safe));
}

#[test]
fn frames_are_transparent_when_well_formed() {
    let body = cat(&[b"]q\x00(K\x01K\x02e."]);
    let mut p = b"\x80\x04\x95".to_vec();
    p.extend_from_slice(&(body.len() as u64).to_le_bytes());
    p.extend_from_slice(&body);
    let s = scan(&p);
    assert!(
        s.findings.is_empty() && s.fully_inspected,
        "{:?}",
        s.findings
    );
}

#[test]
fn a_read_across_a_frame_end_follows_the_file_loader_and_is_reported() {
    // FRAME declares 3 bytes: N, X and one byte the file loader drops when X's length does not
    // fit; it then reads the length and the payload from after the frame. A sequential reader
    // would see length 0 and the invalid opcode 0x00.
    let mut p = b"\x80\x04\x95".to_vec();
    p.extend_from_slice(&3u64.to_le_bytes());
    p.extend_from_slice(b"NX\x00");
    p.extend_from_slice(b"\x00\x00\x00\x000cos\nsystem\n.");
    let s = scan(&p);
    assert!(has(&s, "pickle-frame-overrun"));
    assert_eq!(dangerous(&s), vec!["os.system"]);
}

#[test]
fn truncated_frames_are_parse_errors() {
    let mut p = b"\x80\x04\x95".to_vec();
    p.extend_from_slice(&100u64.to_le_bytes());
    p.extend_from_slice(b"N");
    let s = scan(&p);
    assert!(has(&s, "pickle-parse-error") && !s.fully_inspected);
}

#[test]
fn budgets_stop_the_scan_with_a_finding() {
    let small = |f: fn(&mut Limits)| {
        let mut limits = Limits::default();
        f(&mut limits);
        limits
    };
    let cases: Vec<(Vec<u8>, Limits)> = vec![
        (b"NNNNNNNNNNNN.".to_vec(), small(|l| l.max_stack = 10)),
        (b"NNNNNNNNNNNN.".to_vec(), small(|l| l.max_opcodes = 5)),
        (
            b"Nq\x00q\x01q\x02q\x03.".to_vec(),
            small(|l| l.max_memo = 2),
        ),
        (b"((((((N.".to_vec(), small(|l| l.max_mark_depth = 3)),
        (
            b"N\x85\x85\x85\x85\x85.".to_vec(),
            small(|l| l.max_nesting = 3),
        ),
        (b"N.N.N.N.".to_vec(), small(|l| l.max_pickles = 2)),
    ];
    for (p, limits) in cases {
        let s = scan_with(&p, &limits, &StreamOptions::default());
        assert!(has(&s, "pickle-budget-exceeded"), "{p:?}: {:?}", s.findings);
        assert!(!s.fully_inspected);
    }
    // A DUP/memo expansion stays bounded by the stack budget.
    let mut p = b"N".to_vec();
    p.extend(std::iter::repeat_n(b'2', 100_000));
    let s = scan_with(
        &p,
        &small(|l| l.max_stack = 1000),
        &StreamOptions::default(),
    );
    assert!(has(&s, "pickle-budget-exceeded"));
}

#[test]
fn extension_codes_are_malicious() {
    // No model writer emits EXT codes: a file that does targets a process-registered callable.
    let s = scan(b"\x80\x02\x82\x01)R.");
    assert!(has(&s, "pickle-extension-code") && has(&s, "pickle-dynamic-call"));
    assert_eq!(s.extension_codes, 1);
    assert!(s.is_malicious());
    let s = scan(b"\x80\x02\x83\x00\x01N.");
    assert_eq!(
        evidence(&s, "pickle-extension-code", "extension code"),
        vec!["256"]
    );
    let s = scan(b"\x80\x02\x82\x00.");
    assert!(has(&s, "pickle-parse-error"));
}

#[test]
fn inst_obj_newobj_and_build_record_calls() {
    let s = scan(b"(S'id'\nios\nsystem\n.");
    assert_eq!(
        evidence(&s, "pickle-dangerous-callable", "call"),
        vec!["os.system('id') via INST"]
    );
    let s = scan(b"(cos\nsystem\nS'id'\no.");
    assert_eq!(
        evidence(&s, "pickle-dangerous-callable", "call"),
        vec!["os.system('id') via OBJ"]
    );
    let s = scan(b"\x80\x02csubprocess\nPopen\n]\x85\x81.");
    assert_eq!(dangerous(&s), vec!["subprocess.Popen"]);
    assert!(s.globals[0].called);
    // INST imports before it looks for the mark: the reference counts even though CPython raises.
    let s = scan(b"ios\nsystem\n.");
    assert_eq!(dangerous(&s), vec!["os.system"]);
    assert!(has(&s, "pickle-parse-error"));
    // BUILD on an instance of an unknown class adds evidence.
    let s = scan(b"\x80\x02cmypkg\nModel\n)\x81}b.");
    assert!(evidence(&s, "pickle-unknown-callable", "state")[0].contains("BUILD"));
}

#[test]
fn mutating_an_imported_object_is_malicious() {
    let p = cat(&[
        b"\x80\x04",
        &su("collections"),
        &su("OrderedDict"),
        b"\x93N}\x86b.",
    ]);
    let s = scan(&p);
    assert!(has(&s, "pickle-global-mutation") && s.is_malicious());
    let p = cat(&[
        b"\x80\x04",
        &su("collections"),
        &su("OrderedDict"),
        b"\x93",
        &su("a"),
        &su("b"),
        b"s.",
    ]);
    assert!(has(&scan(&p), "pickle-global-mutation"));
}

#[test]
fn persistent_ids_are_recorded_not_flagged() {
    let s = scan(b"\x80\x02X\x01\x00\x00\x00aQ.");
    assert_eq!((s.persistent_ids, s.findings.len()), (1, 0));
    let s = scan(b"Pabc\n.");
    assert_eq!((s.persistent_ids, s.findings.len()), (1, 0));
}

#[test]
fn torch_style_tensor_rebuild_is_safe() {
    let p = cat(&[
        b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x06\x00\x00\x00weightq\x02ctorch._utils\n_rebuild_tensor_v2\nq\x03(",
        b"(X\x07\x00\x00\x00storageq\x04ctorch\nFloatStorage\nq\x05X\x01\x00\x00\x000q\x06X\x03\x00\x00\x00cpuq\x07K\x04tq\x08Q",
        b"K\x00K\x04\x85q\tK\x01\x85q\n\x89h\x00)Rq\x0btq\x0cRq\rs.",
    ]);
    let s = scan(&p);
    assert!(s.findings.is_empty(), "{:?}", s.findings);
    assert!(s.fully_inspected);
    assert_eq!(s.persistent_ids, 1);
    assert!(
        s.globals
            .iter()
            .all(|g| matches!(g.classification, Classification::Allowed { .. }))
    );
}

#[test]
fn structural_errors_cpython_rejects() {
    for p in [
        &b"0."[..],
        b"h\x00.",
        b"\xff",
        b"\x80\x06N.",
        b"t.",
        b"N",
        b"",
        b"(.",
        b"]N\x85s.",
        b"S'a\n.",
        b"X\x05\x00\x00\x00ab",
    ] {
        let s = scan(p);
        assert!(has(&s, "pickle-parse-error"), "{p:?}: {:?}", s.findings);
        assert!(!s.fully_inspected);
    }
}

#[test]
fn structural_anomalies_cpython_accepts() {
    assert!(has(&scan(b"N\x80\x02."), "pickle-structural-anomaly"));
    assert!(has(&scan(b"NN."), "pickle-structural-anomaly"));
    // POP of a mark on top of the stack removes the mark.
    let s = scan(b"N(0.");
    assert!(
        s.findings.is_empty() && s.fully_inspected,
        "{:?}",
        s.findings
    );
}

#[test]
fn large_payloads_are_skipped_not_kept() {
    let mut p = b"\x80\x04\x8e".to_vec();
    let len: u64 = 20 * 1024 * 1024;
    p.extend_from_slice(&len.to_le_bytes());
    p.resize(p.len() + len as usize, 0);
    p.extend_from_slice(b"0N.");
    let s = scan(&p);
    assert!(s.findings.is_empty() && s.fully_inspected);
}

#[test]
fn a_policy_extension_changes_the_verdict() {
    let mut policy = Policy::builtin();
    policy.extend(
        Policy::from_toml_str(
            "[[allow]]\nmodule = \"mypkg\"\nnames = [\"Model\"]\nreason = \"ours\"\n",
        )
        .expect("valid"),
    );
    let s = scan_stream(
        &b"cmypkg\nModel\n."[..],
        &Location::file("x"),
        &policy,
        &Limits::default(),
        &StreamOptions::default(),
    );
    assert!(s.findings.is_empty());
    assert!(has(&scan(b"cmypkg\nModel\n."), "pickle-unknown-callable"));
}

#[test]
fn require_pickle_start_rejects_non_pickles() {
    let opts = StreamOptions {
        max_pickles: None,
        require_pickle_start: true,
    };
    let s = scan_with(b"hello world", &Limits::default(), &opts);
    assert!(has(&s, "pickle-parse-error") && s.pickles == 0 && !s.fully_inspected);
}

#[test]
fn locations_carry_the_base_offset() {
    let base = Location::file("a.pt")
        .member("archive/data.pkl")
        .with_offset(100);
    let s = scan_stream(
        &b"cos\nsystem\n."[..],
        &base,
        &Policy::builtin(),
        &Limits::default(),
        &StreamOptions::default(),
    );
    let f = &s.findings[0];
    assert_eq!(
        (f.location.offset, f.location.opcode_index),
        (Some(100), Some(0))
    );
    assert_eq!(f.location.members, vec!["archive/data.pkl"]);
}

#[test]
fn every_rule_is_documented() {
    let rules = mlvet_pickle::rules();
    assert!(rules.len() >= 11);
    for rule in rules {
        // `container-staged-pickle` kept its public id when it moved here to cover pickle values.
        assert!(rule.id.starts_with("pickle-") || rule.id == "container-staged-pickle");
        for section in ["## What it does", "## Why is this bad?", "## Remediation"] {
            assert!(rule.docs.contains(section), "{} lacks {section}", rule.id);
        }
    }
}

#[test]
fn a_frame_extending_past_stop_is_reported() {
    let mut p = b"\x80\x04\x95".to_vec();
    p.extend_from_slice(&6u64.to_le_bytes());
    p.extend_from_slice(b"N.cos\nsystem\n.");
    let s = scan(&p);
    assert!(has(&s, "pickle-frame-overrun"));
    assert_eq!(dangerous(&s), vec!["os.system"]);
}

/// What joblib writes for `{"w": <array>}`: the wrapper's BUILD, then the array data inline.
fn joblib_file(descr: &str, flags: u8, shape: u8, payload: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut p = b"\x80\x04}\x94(".to_vec();
    p.extend(su("w"));
    p.extend_from_slice(b"cjoblib.numpy_pickle\nNumpyArrayWrapper\n\x94)\x81\x94}\x94(");
    p.extend(su("subclass"));
    p.extend_from_slice(b"cnumpy\nndarray\n\x94");
    p.extend(su("shape"));
    p.extend_from_slice(&[b'K', shape, 0x85]);
    p.extend(su("order"));
    p.extend(su("C"));
    p.extend(su("dtype"));
    p.extend_from_slice(b"cnumpy\ndtype\n\x94");
    p.extend(su(descr));
    p.extend_from_slice(b"\x89\x88\x87R\x94(K\x03");
    p.extend(su("<"));
    p.extend_from_slice(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK");
    p.push(flags);
    p.extend_from_slice(b"tb");
    p.extend(su("allow_mmap"));
    p.push(0x89);
    p.extend(su("numpy_array_alignment_bytes"));
    p.extend_from_slice(b"K\x10ub");
    p.extend_from_slice(payload);
    p.extend_from_slice(tail);
    p
}

#[test]
fn joblib_inline_arrays_are_skipped_in_joblib_mode() {
    let mut payload = vec![3u8, 0xff, 0xff, 0xff];
    payload.extend_from_slice(&[0x2e; 24]); // 3 float64 whose bytes look like STOP opcodes
    let p = joblib_file("f8", 0, 3, &payload, b"u.");
    let base = Location::file("m.joblib");
    let joblib = |p: &[u8]| {
        mlvet_pickle::scan_joblib_stream(
            p,
            &base,
            &Policy::builtin(),
            &Limits::default(),
            &StreamOptions::default(),
        )
    };
    let s = joblib(&p);
    assert!(
        s.findings.is_empty() && s.fully_inspected,
        "{:?}",
        s.findings
    );
    assert_eq!((s.pickles, s.bytes_consumed), (1, p.len() as u64));
    // Read as a plain pickle, the array bytes are opcodes: the scan does not come out clean.
    let plain = scan(&p);
    assert!(!plain.findings.is_empty());
    // A payload after the array is found.
    let p = joblib_file("f8", 0, 3, &payload, b"0cos\nsystem\n.");
    assert_eq!(dangerous(&joblib(&p)), vec!["os.system"]);
    // Object arrays are a nested pickle, simulated in place.
    let nested = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00id\x85R.";
    let p = joblib_file("O8", 63, 1, nested, b"u.");
    let s = joblib(&p);
    assert_eq!(dangerous(&s), vec!["os.system"]);
    assert!(s.fully_inspected, "{:?}", s.findings);
    // A wrapper whose state cannot be understood is reported, not guessed.
    let p = joblib_file("x?", 0, 1, b"", b"u.");
    assert!(has(&joblib(&p), "pickle-parse-error"));
}

/// `getattr(zoneinfo.ZoneInfo, "_unpickle")` then a call of the result: what pickle writes for a
/// classmethod under protocol 2 (pandas time-zone-aware frames).
fn getattr_classmethod_call() -> Vec<u8> {
    cat(&[
        b"\x80\x02cbuiltins\ngetattr\nczoneinfo\nZoneInfo\n",
        &su("_unpickle"),
        b"\x86R",
        &su("Europe/Paris"),
        b"K\x01\x86R.",
    ])
}

#[test]
fn getattr_of_a_global_and_a_literal_resolves_to_the_attribute() {
    let s = scan(&getattr_classmethod_call());
    assert!(dangerous(&s).is_empty(), "{:?}", rules(&s));
    assert!(!has(&s, "pickle-dynamic-call"), "{:?}", rules(&s));
    let folded = s
        .globals
        .iter()
        .find(|g| g.module == "zoneinfo" && g.name == "ZoneInfo._unpickle")
        .expect("the attribute is a reference of its own");
    assert!(folded.called);
    assert!(matches!(
        folded.classification,
        Classification::Allowed { .. }
    ));
}

#[test]
fn getattr_folding_classifies_the_reached_attribute() {
    // getattr(pathlib.Path, "unlink")("/tmp/x"): the folded reference is denied on its own.
    let p = cat(&[
        b"\x80\x04",
        &su("builtins"),
        &su("getattr"),
        b"\x93",
        &su("pathlib"),
        &su("Path"),
        b"\x93",
        &su("unlink"),
        b"\x86R",
        &su("/tmp/x"),
        b"\x85R.",
    ]);
    assert_eq!(dangerous(&scan(&p)), vec!["pathlib.Path.unlink"]);
}

#[test]
fn getattr_stays_a_trampoline_when_any_use_is_not_folded() {
    // Folded once, then fetched again from the memo and applied to a computed object.
    let p = cat(&[
        b"\x80\x04",
        &su("builtins"),
        &su("getattr"),
        b"\x93\x94",
        &su("zoneinfo"),
        &su("ZoneInfo"),
        b"\x93",
        &su("_unpickle"),
        b"\x86R0h\x00",
        &su("collections"),
        &su("OrderedDict"),
        b"\x93)R",
        &su("keys"),
        b"\x86R.",
    ]);
    assert_eq!(dangerous(&scan(&p)), vec!["builtins.getattr"]);
    // Passed as data to another callable: never folded.
    let q = cat(&[
        b"\x80\x04",
        &su("collections"),
        &su("defaultdict"),
        b"\x93",
        &su("builtins"),
        &su("getattr"),
        b"\x93\x85R.",
    ]);
    assert_eq!(dangerous(&scan(&q)), vec!["builtins.getattr"]);
}

#[test]
fn legacy_torch_module_persistent_id_yields_its_class() {
    // ("module", cls, file, source) as BINPERSID, then NEWOBJ of the result: the class is called.
    let p = cat(&[
        b"\x80\x02(X\x06\x00\x00\x00module",
        b"ctorch.nn.modules.linear\nLinear\n",
        b"NNtQ)\x81.",
    ]);
    let s = scan(&p);
    assert!(!has(&s, "pickle-dynamic-call"), "{:?}", rules(&s));
    let linear = s
        .globals
        .iter()
        .find(|g| g.name == "Linear")
        .expect("class reference");
    assert!(linear.called);
    // A dangerous callable smuggled in the same place is still reported by name.
    let evil = cat(&[
        b"\x80\x02(X\x06\x00\x00\x00module",
        b"cos\nsystem\n",
        b"NNtQX\x02\x00\x00\x00id\x85R.",
    ]);
    assert_eq!(dangerous(&scan(&evil)), vec!["os.system"]);
}

#[test]
fn torchscript_class_types_are_not_python_imports() {
    let policy = mlvet_pickle::Policy::builtin();
    for (module, name) in [
        ("__torch__.torch.nn.modules.linear", "Linear"),
        ("__torch__", "MyModule"),
    ] {
        assert!(
            matches!(
                policy.classify(module, name),
                mlvet_pickle::Classification::Allowed { .. }
            ),
            "{module}.{name}"
        );
    }
    // Only the namespace itself, not look-alikes.
    assert_eq!(
        policy.classify("__torch__x", "Y"),
        mlvet_pickle::Classification::Unknown
    );
}

#[test]
fn platform_os_modules_are_named_as_os_too() {
    let s = scan(b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.");
    assert_eq!(
        evidence(&s, "pickle-dangerous-callable", "known as"),
        vec!["os.system"]
    );
    let s = scan(b"\x80\x02csubprocess\nPopen\nX\x02\x00\x00\x00id\x85R.");
    assert!(evidence(&s, "pickle-dangerous-callable", "known as").is_empty());
}
