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
