//! Property tests: arbitrary input never panics and stays within budgets; benign structures
//! encoded by a small independent encoder are fully inspected without findings.

use mlvet_core::Location;
use mlvet_pickle::{Limits, Policy, StreamOptions, looks_like_pickle, scan_stream};
use proptest::prelude::*;

fn small_limits() -> Limits {
    Limits {
        max_stack: 256,
        max_memo: 256,
        max_mark_depth: 64,
        max_nesting: 32,
        max_opcodes: 10_000,
        max_pickles: 16,
        max_literal_capture: 64,
        max_held_bytes: 1 << 20,
    }
}

/// A benign value tree.
#[derive(Debug, Clone)]
enum Node {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Node>),
    Tuple(Vec<Node>),
    Dict(Vec<(String, Node)>),
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        Just(Node::None),
        any::<bool>().prop_map(Node::Bool),
        any::<i64>().prop_map(Node::Int),
        any::<f64>().prop_map(Node::Float),
        ".{0,40}".prop_map(Node::Str),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Node::Bytes),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Node::List),
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Node::Tuple),
            proptest::collection::vec((".{0,10}", inner), 0..8).prop_map(Node::Dict),
        ]
    })
}

/// A minimal protocol-2/4 encoder (no framing), independent of the simulator.
struct Encoder {
    out: Vec<u8>,
    memo: u32,
    protocol: u8,
}

impl Encoder {
    fn put(&mut self) {
        if self.protocol >= 4 {
            self.out.push(0x94);
        } else {
            self.out.push(b'r');
            self.out.extend_from_slice(&self.memo.to_le_bytes());
        }
        self.memo += 1;
    }

    fn str(&mut self, s: &str) {
        self.out.push(b'X');
        self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
        self.put();
    }

    fn encode(&mut self, node: &Node) {
        match node {
            Node::None => self.out.push(b'N'),
            Node::Bool(b) => self.out.push(if *b { 0x88 } else { 0x89 }),
            Node::Int(i) => match i32::try_from(*i) {
                Ok(small) => {
                    self.out.push(b'J');
                    self.out.extend_from_slice(&small.to_le_bytes());
                }
                Err(_) => {
                    self.out.extend_from_slice(&[0x8a, 8]);
                    self.out.extend_from_slice(&i.to_le_bytes());
                }
            },
            Node::Float(f) => {
                self.out.push(b'G');
                self.out.extend_from_slice(&f.to_be_bytes());
            }
            Node::Str(s) => self.str(s),
            Node::Bytes(b) => {
                self.out.push(b'B');
                self.out.extend_from_slice(&(b.len() as u32).to_le_bytes());
                self.out.extend_from_slice(b);
            }
            Node::List(items) => {
                self.out.push(b']');
                self.put();
                if !items.is_empty() {
                    self.out.push(b'(');
                    items.iter().for_each(|item| self.encode(item));
                    self.out.push(b'e');
                }
            }
            Node::Tuple(items) => {
                self.out.push(b'(');
                items.iter().for_each(|item| self.encode(item));
                self.out.push(b't');
            }
            Node::Dict(items) => {
                self.out.push(b'}');
                self.put();
                if !items.is_empty() {
                    self.out.push(b'(');
                    for (key, value) in items {
                        self.str(key);
                        self.encode(value);
                    }
                    self.out.push(b'u');
                }
            }
        }
    }
}

fn encode(node: &Node, protocol: u8) -> Vec<u8> {
    let mut encoder = Encoder {
        out: vec![0x80, protocol],
        memo: 0,
        protocol,
    };
    encoder.encode(node);
    encoder.out.push(b'.');
    encoder.out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_and_respect_budgets(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let limits = small_limits();
        let scan = scan_stream(&bytes[..], &Location::file("x"), &Policy::builtin(), &limits, &StreamOptions::default());
        prop_assert!(scan.opcodes <= limits.max_opcodes);
        prop_assert!(scan.pickles <= limits.max_pickles);
        prop_assert!(scan.bytes_consumed <= bytes.len() as u64);
        prop_assert!(scan.fully_inspected || !scan.findings.is_empty(), "an incomplete scan always says why");
        let _ = looks_like_pickle(&bytes);
    }

    #[test]
    fn arbitrary_opcode_soup_never_panics(ops in proptest::collection::vec(
        prop_oneof![
            Just(b'('), Just(b'.'), Just(b'0'), Just(b'1'), Just(b'2'), Just(b'N'), Just(b'R'), Just(b'b'), Just(b'a'),
            Just(b'e'), Just(b's'), Just(b'u'), Just(b't'), Just(b'l'), Just(b'd'), Just(b'o'), Just(b']'), Just(b'}'),
            Just(0x81u8), Just(0x85), Just(0x86), Just(0x87), Just(0x8f), Just(0x90), Just(0x91), Just(0x92), Just(0x93),
            Just(0x94), Just(b'Q'), Just(0x97), Just(0x98), Just(b'h'), Just(b'q'), Just(0x00), Just(0x01),
        ], 0..512)) {
        let mut bytes = b"\x80\x04\x8c\x02os\x8c\x06system".to_vec();
        bytes.extend(ops);
        let scan = scan_stream(&bytes[..], &Location::file("x"), &Policy::builtin(), &small_limits(), &StreamOptions::default());
        prop_assert!(scan.opcodes <= small_limits().max_opcodes);
    }

    #[test]
    fn benign_structures_are_fully_inspected_without_findings(tree in node(), protocol in 2u8..=5) {
        let bytes = encode(&tree, protocol);
        prop_assert!(looks_like_pickle(&bytes));
        let scan = scan_stream(&bytes[..], &Location::file("x"), &Policy::builtin(), &Limits::default(), &StreamOptions::default());
        prop_assert!(scan.fully_inspected, "{:?}", scan.findings);
        prop_assert!(scan.findings.is_empty(), "{:?}", scan.findings);
        prop_assert_eq!(scan.pickles, 1);
        prop_assert_eq!(scan.bytes_consumed, bytes.len() as u64);
    }

    #[test]
    fn a_payload_appended_anywhere_in_a_stream_is_found(tree in node(), protocol in 2u8..=5) {
        let mut bytes = encode(&tree, protocol);
        bytes.extend_from_slice(b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00id\x85R.");
        let scan = scan_stream(&bytes[..], &Location::file("x"), &Policy::builtin(), &Limits::default(), &StreamOptions::default());
        prop_assert!(scan.is_malicious());
        prop_assert_eq!(scan.pickles, 2);
    }
}

/// One way Python's `int()` (and so `PyLong_FromString`, which the C unpickler uses for memo keys)
/// spells `index`: optional leading zeros, single underscores between digits, an optional `+`,
/// whitespace around it, and anything after a NUL (the C string ends there).
fn int_spelling(index: u32) -> impl Strategy<Value = Vec<u8>> {
    let digits = index.to_string().into_bytes();
    (
        0usize..3,
        proptest::collection::vec(any::<bool>(), digits.len() + 2),
        any::<bool>(),
        proptest::collection::vec(
            prop_oneof![
                Just(b' '),
                Just(b'\t'),
                Just(0x0bu8),
                Just(0x0c),
                Just(b'\r')
            ],
            0..3,
        ),
        proptest::collection::vec(
            prop_oneof![Just(b' '), Just(b'\t'), Just(0x0bu8), Just(0x0c)],
            0..3,
        ),
        proptest::option::of(
            proptest::collection::vec(1u8..=255, 0..4)
                .prop_filter("no newline", |v| !v.contains(&b'\n')),
        ),
    )
        .prop_map(
            move |(zeros, underscores, plus, before, after, after_nul)| {
                let mut all_digits = vec![b'0'; zeros];
                all_digits.extend_from_slice(&digits);
                let mut out = before;
                if plus {
                    out.push(b'+');
                }
                for (i, d) in all_digits.iter().enumerate() {
                    if i > 0 && underscores.get(i).copied().unwrap_or(false) {
                        out.push(b'_');
                    }
                    out.push(*d);
                }
                out.extend(after);
                if let Some(junk) = after_nul {
                    out.push(0);
                    out.extend(junk);
                }
                out
            },
        )
}

/// Python's `repr`-style escaping of bytes for a protocol-0 `STRING` argument, choosing among the
/// escapes `escape_decode` understands.
fn escape_string(text: &[u8], style: &[u8]) -> Vec<u8> {
    let mut out = b"'".to_vec();
    for (i, &b) in text.iter().enumerate() {
        match (
            b,
            style.get(i % style.len().max(1)).copied().unwrap_or(0) % 3,
        ) {
            (b'\\', _) => out.extend_from_slice(b"\\\\"),
            (b'\'', _) => out.extend_from_slice(b"\\'"),
            (b'\n', _) => out.extend_from_slice(b"\\n"),
            (_, 0) => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            (_, 1) => out.extend_from_slice(format!("\\{b:03o}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'\'');
    out
}

/// What a `STACK_GLOBAL` of `module` and `"x"` resolves the module to (through the public API).
fn resolved_module(argument: Vec<u8>) -> (String, String) {
    let mut bytes = argument;
    bytes.extend_from_slice(b"\nS'x'\n\x93.");
    let scan = scan_stream(
        &bytes[..],
        &Location::file("x"),
        &Policy::builtin(),
        &Limits::default(),
        &StreamOptions::default(),
    );
    scan.globals
        .first()
        .map(|g| (g.module.clone(), g.name.clone()))
        .unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_int_spelling_of_a_memo_key_names_the_slot_cpython_uses(
        put in int_spelling(7),
        get_spelling in any::<bool>(),
    ) {
        // PUT at the spelled 7, GET at 7 (or 8, which was never put): only the right slot calls.
        let get: &[u8] = if get_spelling { b"7" } else { b"8" };
        let bytes = [&b"cposix\nsystem\np"[..], &put, b"\n0g", get, b"\n(S'id'\ntR."].concat();
        prop_assert!(looks_like_pickle(&bytes) || !get_spelling, "{:?}", String::from_utf8_lossy(&bytes));
        let scan = scan_stream(&bytes[..], &Location::file("x"), &Policy::builtin(), &Limits::default(), &StreamOptions::default());
        prop_assert_eq!(scan.globals.first().map(|g| g.called), Some(get_spelling), "{:?}", scan.findings);
        prop_assert_eq!(scan.fully_inspected, get_spelling);
    }

    #[test]
    fn long_string_arguments_round_trip(
        text in proptest::collection::vec(0x20u8..0x7f, 0..3000),
        style in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        let mut argument = b"S".to_vec();
        argument.extend(escape_string(&text, &style));
        let (module, name) = resolved_module(argument);
        let text = String::from_utf8(text).unwrap_or_default();
        if text.len() <= Limits::default().max_literal_capture {
            prop_assert_eq!(module, text);
            prop_assert_eq!(name, "x");
        } else {
            prop_assert_eq!(module.as_str(), &text[..Limits::default().max_literal_capture]);
            prop_assert_eq!(name, "x...");
        }
    }

    #[test]
    fn long_unicode_arguments_round_trip(text in "[a-z\u{e9}\u{3b1}\u{1f600}]{0,1500}") {
        let mut argument = b"V".to_vec();
        for c in text.chars() {
            match c as u32 {
                code @ 0x80..=0xffff => argument.extend_from_slice(format!("\\u{code:04x}").as_bytes()),
                code @ 0x10000.. => argument.extend_from_slice(format!("\\U{code:08x}").as_bytes()),
                _ => argument.push(c as u8),
            }
        }
        let (module, name) = resolved_module(argument);
        let cap = Limits::default().max_literal_capture;
        if text.len() <= cap {
            prop_assert_eq!(module, text);
        } else {
            prop_assert!(text.starts_with(&module) && module.len() + 4 > cap, "{} of {}", module.len(), text.len());
            prop_assert_eq!(name, "x...");
        }
    }
}
