//! Property tests: the parser never panics on arbitrary bytes or on mutations of a valid file,
//! and metadata written by a reference writer reads back exactly, in every version and byte order.

use std::io::Cursor;

use proptest::prelude::*;

use crate::reader::tests::Writer;
use crate::{Limits, Value, parse};

fn parse_bytes(bytes: &[u8]) -> Option<crate::GgufFile> {
    parse(Cursor::new(bytes), bytes.len() as u64, &Limits::default()).ok()
}

#[derive(Debug, Clone)]
enum Gen {
    U8(u8),
    I32(i32),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(String),
    StrArray(Vec<String>),
    I16Array(Vec<i16>),
}

fn gen_value() -> impl Strategy<Value = Gen> {
    prop_oneof![
        any::<u8>().prop_map(Gen::U8),
        any::<i32>().prop_map(Gen::I32),
        any::<u64>().prop_map(Gen::U64),
        (-1e9f64..1e9).prop_map(Gen::F64),
        any::<bool>().prop_map(Gen::Bool),
        "\\PC{0,40}".prop_map(Gen::Str),
        prop::collection::vec("[a-z]{0,6}", 0..100).prop_map(Gen::StrArray),
        prop::collection::vec(any::<i16>(), 0..100).prop_map(Gen::I16Array),
    ]
}

fn write_value(w: &mut Writer, value: &Gen) {
    match value {
        Gen::U8(v) => {
            w.u32(0);
            w.buf.push(*v);
        }
        Gen::I32(v) => {
            w.u32(5);
            w.u32(*v as u32);
        }
        Gen::U64(v) => {
            w.u32(10);
            w.u64(*v);
        }
        Gen::F64(v) => {
            w.u32(12);
            w.u64(v.to_bits());
        }
        Gen::Bool(v) => {
            w.u32(7);
            w.buf.push(u8::from(*v));
        }
        Gen::Str(s) => {
            w.u32(8);
            w.string(s);
        }
        Gen::StrArray(items) => {
            w.u32(9);
            w.u32(8);
            w.count(items.len() as u64);
            for s in items {
                w.string(s);
            }
        }
        Gen::I16Array(items) => {
            w.u32(9);
            w.u32(3);
            w.count(items.len() as u64);
            for v in items {
                let b = if w.big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                w.buf.extend_from_slice(&b);
            }
        }
    }
}

fn matches(generated: &Gen, value: &Value, kept: usize) -> bool {
    match (generated, value) {
        (Gen::U8(a), Value::U8(b)) => a == b,
        (Gen::I32(a), Value::I32(b)) => a == b,
        (Gen::U64(a), Value::U64(b)) => a == b,
        (Gen::F64(a), Value::F64(b)) => a.to_bits() == b.to_bits(),
        (Gen::Bool(a), Value::Bool(b)) => a == b,
        (Gen::Str(a), Value::String(b)) => a == b,
        (Gen::StrArray(a), Value::Array(b)) => {
            b.len == a.len() as u64
                && a.iter()
                    .take(kept)
                    .map(|s| Value::String(s.clone()))
                    .collect::<Vec<_>>()
                    == b.items
        }
        (Gen::I16Array(a), Value::Array(b)) => {
            b.len == a.len() as u64
                && a.iter()
                    .take(kept)
                    .map(|v| Value::I16(*v))
                    .collect::<Vec<_>>()
                    == b.items
        }
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_arbitrary_bytes(version in 1u32..=3, big in any::<bool>(), rest in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = Writer::new(version, big).buf;
        bytes.extend_from_slice(&rest);
        let _ = parse_bytes(&bytes);
    }

    #[test]
    fn metadata_round_trips(version in 1u32..=3, big in any::<bool>(),
                            kvs in prop::collection::btree_map("[a-z.]{1,20}", gen_value(), 0..12)) {
        let mut w = Writer::new(version, big);
        w.count(0);
        w.count(kvs.len() as u64);
        for (key, value) in &kvs {
            w.string(key);
            write_value(&mut w, value);
        }
        let file = parse_bytes(&w.buf).ok_or_else(|| TestCaseError::fail("not parsed"))?;
        prop_assert_eq!(&file.error, &None);
        prop_assert_eq!(file.metadata.len(), kvs.len());
        let kept = Limits::default().max_stored_array_items;
        for ((key, generated), (got_key, got, _)) in kvs.iter().zip(&file.metadata) {
            prop_assert_eq!(key, got_key);
            prop_assert!(matches(generated, got, kept), "{:?} vs {:?}", generated, got);
        }
    }

    #[test]
    fn never_panics_on_mutations_of_a_valid_file(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut w = Writer::new(3, false);
        w.count(1);
        w.count(2);
        w.kv_str("general.architecture", "llama");
        w.kv_str("tokenizer.chat_template", "{{ x }}");
        w.string("t");
        w.u32(2);
        w.count(4);
        w.count(4);
        w.u32(0);
        w.u64(0);
        while !w.buf.len().is_multiple_of(32) {
            w.buf.push(0);
        }
        w.buf.extend_from_slice(&[0u8; 64]);
        let mut bytes = w.buf;
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep.max(8));
        let _ = parse_bytes(&bytes);
    }
}
