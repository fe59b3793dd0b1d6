//! `looks_like_pickle`: a cheap content sniff for the format detector.
//!
//! Heuristic (documented because the format detector's false-positive rate depends on it):
//! - Protocol 2+: `PROTO n` (`\x80` then 0..=5); if a third byte is present it must be an opcode.
//! - Protocol 0/1 (no header): the first byte must be an opcode that can legally start a pickle
//!   (`(` `)` `]` `}` `c` `I` `L` `F` `S` `V` `N` `K` `J` `M` `X` `U` `T` `G` `P`), and the prefix is
//!   decoded opcode by opcode: every byte must be an opcode, text arguments must look like what the
//!   pickler writes (identifiers for `GLOBAL`/`INST`, digits for `INT`, what `int()` accepts for
//!   the memo indices of `GET`/`PUT` (sign, underscores, whitespace: CPython parses them so), a quoted literal
//!   for `STRING`...), and a small stack model must hold: no pop below the last mark, no
//!   mark-consuming opcode without a mark, no memo `GET` of an index not `PUT` in the prefix. It is
//!   accepted when it reaches `STOP` with a value on the stack, or decodes at least three complete
//!   opcodes before the prefix runs out. Text and random binary data fail within a few bytes: only
//!   ~68 of 256 byte values are opcodes, and their arguments and stack effects are checked.

use crate::opcodes::{self, Arg};
use crate::strings;

const START_BYTES: &[u8] = b"()]}cILFSVNKJMXUTGP";
const MAX_SNIFF: usize = 4096;
/// Bytes of one unfinished argument that make a prefix plausible after a single complete opcode.
const LONG_ARGUMENT: usize = 512;

/// Does this prefix plausibly start a pickle (protocol 0–5)?
pub fn looks_like_pickle(prefix: &[u8]) -> bool {
    let prefix = prefix.get(..MAX_SNIFF).unwrap_or(prefix);
    match prefix {
        [] => false,
        [opcodes::PROTO] => false,
        [opcodes::PROTO, proto, rest @ ..] => {
            *proto <= opcodes::HIGHEST_PROTOCOL
                && rest
                    .first()
                    .is_none_or(|&op| opcodes::describe(op).is_some())
        }
        [first, ..] if START_BYTES.contains(first) => plausible_opcode_stream(prefix),
        _ => false,
    }
}

enum Step {
    /// One opcode decoded completely; the index of the next.
    Next(usize),
    Stop,
    /// The prefix ended inside this opcode's argument.
    Exhausted,
    Invalid,
}

/// Stack depth, marks and memo indices of the sniffed prefix.
#[derive(Default)]
struct Shape {
    depth: usize,
    marks: Vec<usize>,
    memo: Vec<u64>,
}

impl Shape {
    fn above_mark(&self) -> usize {
        self.depth - self.marks.last().copied().unwrap_or(0)
    }

    /// Pops `pops` values (above the last mark) and pushes `pushes`; false when impossible.
    fn effect(&mut self, pops: usize, pushes: usize) -> bool {
        if self.above_mark() < pops {
            return false;
        }
        self.depth = self.depth - pops + pushes;
        true
    }

    /// A mark-consuming opcode: drops the values above the mark, then pops/pushes more.
    fn pop_to_mark(&mut self, pops_below: usize, pushes: usize) -> bool {
        let Some(mark) = self.marks.pop() else {
            return false;
        };
        self.depth = mark;
        self.effect(pops_below, pushes)
    }

    fn apply(&mut self, op: u8, arg: &[u8]) -> bool {
        use opcodes::*;
        match op {
            MARK => {
                self.marks.push(self.depth);
                true
            }
            STOP => self.above_mark() >= 1,
            POP => {
                if self.marks.last() == Some(&self.depth) {
                    self.marks.pop();
                    true
                } else {
                    self.effect(1, 0)
                }
            }
            POP_MARK => self.pop_to_mark(0, 0),
            DUP => self.effect(1, 2),
            TUPLE | LIST | DICT | FROZENSET => self.pop_to_mark(0, 1),
            OBJ => self.marks.last().is_some_and(|&m| self.depth > m) && self.pop_to_mark(0, 1),
            INST => self.pop_to_mark(0, 1),
            APPENDS | SETITEMS | ADDITEMS => self.pop_to_mark(1, 1),
            APPEND | BUILD | REDUCE | NEWOBJ | STACK_GLOBAL | TUPLE2 => self.effect(2, 1),
            SETITEM | NEWOBJ_EX | TUPLE3 => self.effect(3, 1),
            TUPLE1 | BINPERSID | READONLY_BUFFER => self.effect(1, 1),
            PUT | BINPUT | LONG_BINPUT | MEMOIZE => {
                let index = match op {
                    MEMOIZE => self.memo.len() as u64,
                    BINPUT | LONG_BINPUT => arg
                        .iter()
                        .rev()
                        .fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
                    _ => memo_index(arg),
                };
                self.memo.push(index);
                self.above_mark() >= 1
            }
            GET | BINGET | LONG_BINGET => {
                let index = match op {
                    GET => memo_index(arg),
                    _ => arg
                        .iter()
                        .rev()
                        .fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
                };
                self.memo.contains(&index) && self.effect(0, 1)
            }
            PROTO | FRAME => true,
            _ => self.effect(0, 1),
        }
    }
}

/// A `GET`/`PUT` index as CPython parses it (`int()` rules: sign, underscores, whitespace);
/// `u64::MAX` (never put) when CPython would raise.
fn memo_index(arg: &[u8]) -> u64 {
    strings::parse_decimal(arg)
        .and_then(|i| u64::try_from(i).ok())
        .unwrap_or(u64::MAX)
}

fn plausible_opcode_stream(prefix: &[u8]) -> bool {
    let mut at = 0;
    let mut complete = 0;
    let mut shape = Shape::default();
    loop {
        match step(prefix, at) {
            Step::Next(next) => {
                let op = prefix.get(at).copied().unwrap_or(0);
                let arg = prefix.get(at + 1..next).unwrap_or(&[]);
                let arg = arg.strip_suffix(b"\n").unwrap_or(arg);
                if !shape.apply(op, arg) {
                    return false;
                }
                complete += 1;
                at = next;
                if at >= prefix.len() {
                    return complete >= 3;
                }
            }
            Step::Stop => return complete >= 1 && shape.apply(opcodes::STOP, &[]),
            // A text argument that fills the rest of a long prefix while it still looks right
            // (a memo key padded with whitespace, a long protocol-0 string) after a complete
            // opcode: CPython reads lines of any length.
            Step::Exhausted => {
                return complete >= 3 || (complete >= 1 && prefix.len() - at >= LONG_ARGUMENT);
            }
            Step::Invalid => return false,
        }
    }
}

fn step(prefix: &[u8], at: usize) -> Step {
    let Some(&op) = prefix.get(at) else {
        return Step::Exhausted;
    };
    let Some((_, arg)) = opcodes::describe(op) else {
        return Step::Invalid;
    };
    if op == opcodes::STOP {
        return Step::Stop;
    }
    let body = at + 1;
    if op == opcodes::PROTO {
        // CPython accepts PROTO anywhere, but only with a known protocol.
        return match prefix.get(body) {
            Some(&p) if p <= opcodes::HIGHEST_PROTOCOL => Step::Next(body + 1),
            Some(_) => Step::Invalid,
            None => Step::Exhausted,
        };
    }
    match arg {
        Arg::None => Step::Next(body),
        Arg::Fixed(n) => {
            if body + usize::from(n) > prefix.len() {
                Step::Exhausted
            } else {
                Step::Next(body + usize::from(n))
            }
        }
        Arg::Counted(width) => counted(prefix, body, usize::from(width)),
        Arg::Lines(count) => lines(prefix, body, op, count),
    }
}

fn counted(prefix: &[u8], body: usize, width: usize) -> Step {
    let Some(len_bytes) = prefix.get(body..body + width) else {
        return Step::Exhausted;
    };
    let mut len: u64 = 0;
    for (i, b) in len_bytes.iter().enumerate() {
        len |= u64::from(*b) << (8 * i);
    }
    // 4-byte lengths are signed for BINSTRING; absurd lengths in a sniffed prefix are junk.
    if width == 4 && len > 0x7fff_ffff {
        return Step::Invalid;
    }
    match usize::try_from(len)
        .ok()
        .and_then(|l| (body + width).checked_add(l))
    {
        Some(end) if end <= prefix.len() => Step::Next(end),
        _ => Step::Exhausted,
    }
}

fn lines(prefix: &[u8], body: usize, op: u8, count: u8) -> Step {
    let mut at = body;
    for index in 0..count {
        let Some(rest) = prefix.get(at..) else {
            return Step::Exhausted;
        };
        let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
            // Judge the partial line by its characters so far.
            return if line_ok(op, index, rest, false) {
                Step::Exhausted
            } else {
                Step::Invalid
            };
        };
        let line = rest.get(..newline).unwrap_or(&[]);
        if !line_ok(op, index, line, true) {
            return Step::Invalid;
        }
        at += newline + 1;
    }
    Step::Next(at)
}

fn line_ok(op: u8, index: u8, line: &[u8], complete: bool) -> bool {
    let identifier = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.';
    match op {
        opcodes::GLOBAL | opcodes::INST => {
            (!complete || !line.is_empty()) && line.iter().all(identifier) && index < 2
        }
        opcodes::GET | opcodes::PUT if complete => memo_index(line) != u64::MAX,
        opcodes::GET | opcodes::PUT => line
            .split(|&b| b == 0)
            .next()
            .unwrap_or(&[])
            .iter()
            .all(|b| b.is_ascii_digit() || b"_+- \t\r\x0b\x0c".contains(b)),
        opcodes::INT => {
            (!complete || !line.is_empty())
                && line
                    .iter()
                    .enumerate()
                    .all(|(i, b)| b.is_ascii_digit() || (i == 0 && *b == b'-'))
        }
        opcodes::LONG => {
            (!complete || !line.is_empty())
                && line
                    .iter()
                    .enumerate()
                    .all(|(i, b)| b.is_ascii_digit() || (i == 0 && *b == b'-') || *b == b'L')
        }
        opcodes::FLOAT => {
            (!complete || !line.is_empty())
                && line
                    .iter()
                    .all(|b| b"0123456789.eE+-infatyINFATY".contains(b))
        }
        opcodes::STRING => {
            let quoted = matches!(line.first(), Some(b'\'' | b'"'));
            quoted && (!complete || (line.len() >= 2 && line.first() == line.last()))
        }
        opcodes::UNICODE => true,
        opcodes::PERSID => line.iter().all(|b| (0x20..0x7f).contains(b)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_pickle_starts() {
        assert!(looks_like_pickle(
            b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00"
        ));
        assert!(looks_like_pickle(b"\x80\x02]q\x00."));
        assert!(looks_like_pickle(b"\x80\x05"));
        assert!(looks_like_pickle(b"(lp0\nS'a'\np1\naS'b'\np2\na."));
        assert!(looks_like_pickle(b"cposix\nsystem\n(S'id'\ntR."));
        assert!(looks_like_pickle(b"]q\x00(K\x01K\x02e."));
        assert!(looks_like_pickle(b"N."));
        assert!(looks_like_pickle(b"I42\n."));
        assert!(looks_like_pickle(b"S'os'\nS'system'\n\x93")); // truncated, but plausible so far
        assert!(looks_like_pickle(b"}q\x00(X\x01\x00\x00\x00aq\x01K\x01u."));
        let padded_key = [&b"cposix\nsystem\np"[..], &[b' '; 4000]].concat();
        assert!(looks_like_pickle(&padded_key));
        assert!(!looks_like_pickle(&padded_key[..200]));
    }

    #[test]
    fn rejects_text_and_junk() {
        for junk in [
            &b""[..],
            b"hello world",
            b"{\"a\": 1}",
            b"[1, 2, 3]",
            b"import os\n",
            b"I am a text file\n",
            b"Some words.",
            b"\x89PNG\r\n\x1a\n",
            b"PK\x03\x04",
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00\n",
            b"\x80\x09junk",
            b"\x80",
            b"cmod\n\xf8\n",
            b"(hello)",
            b"(lp0\nlp1\n)",
            b"]h\x00h\x00h\x00",
            b"N,1,2\n",
            b"\x93NUMPY",
            b"\x1f\x8b\x08\x00",
            b"GGUF\x03\x00",
        ] {
            assert!(!looks_like_pickle(junk), "{junk:?}");
        }
    }
}
