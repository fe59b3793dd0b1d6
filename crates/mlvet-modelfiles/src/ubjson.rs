//! A bounded UBJSON reader (the dialect XGBoost writes for `.ubj` models: big-endian numbers,
//! object keys as length + bytes, optimized containers `[$<type>#<count>` for number arrays).
//!
//! Lengths and counts are checked against the bytes that remain before anything is allocated;
//! typed number arrays are skipped by arithmetic, never decoded.

use crate::tree::{Budget, Node, SCALARS_KEPT, TreeError};

/// Reads one UBJSON value that must span all of `bytes` (trailing no-op markers allowed).
pub fn parse(bytes: &[u8]) -> Result<Node, TreeError> {
    let budget = Budget::default();
    let mut reader = Reader {
        bytes,
        pos: 0,
        budget: &budget,
    };
    let node = reader.value()?;
    while reader.peek() == Some(b'N') {
        reader.pos += 1;
    }
    if reader.pos != bytes.len() {
        return Err(reader.err(format!(
            "{} bytes after the document",
            bytes.len() - reader.pos
        )));
    }
    Ok(node)
}

struct Reader<'a, 'b> {
    bytes: &'a [u8],
    pos: usize,
    budget: &'b Budget,
}

impl Reader<'_, '_> {
    fn err(&self, what: impl Into<String>) -> TreeError {
        TreeError::Syntax(format!("UBJSON at byte {}: {}", self.pos, what.into()))
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn byte(&mut self) -> Result<u8, TreeError> {
        let b = self.peek().ok_or_else(|| self.err("unexpected end"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], TreeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| self.err(format!("{n} bytes declared, fewer remain")))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// An integer of the given type marker (lengths and counts).
    fn int_of(&mut self, marker: u8) -> Result<i64, TreeError> {
        Ok(match marker {
            b'i' => i64::from(i8::from_be_bytes([self.byte()?])),
            b'U' => i64::from(self.byte()?),
            b'I' => i64::from(i16::from_be_bytes(self.array::<2>()?)),
            b'l' => i64::from(i32::from_be_bytes(self.array::<4>()?)),
            b'L' => i64::from_be_bytes(self.array::<8>()?),
            other => {
                return Err(self.err(format!(
                    "expected an integer type, found {:?}",
                    char::from(other)
                )));
            }
        })
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], TreeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn length(&mut self) -> Result<usize, TreeError> {
        let marker = self.byte()?;
        let n = self.int_of(marker)?;
        usize::try_from(n).map_err(|_| self.err(format!("negative length {n}")))
    }

    fn string(&mut self) -> Result<String, TreeError> {
        let n = self.length()?;
        let raw = self.take(n)?;
        String::from_utf8(raw.to_vec())
            .map_err(|_| TreeError::Syntax("UBJSON string is not UTF-8".into()))
    }

    fn value(&mut self) -> Result<Node, TreeError> {
        let marker = loop {
            let m = self.byte()?;
            if m != b'N' {
                break m;
            }
        };
        self.value_of(marker)
    }

    /// Fixed size of a scalar type's payload, for typed containers.
    fn fixed_size(marker: u8) -> Option<usize> {
        match marker {
            b'i' | b'U' | b'C' => Some(1),
            b'I' => Some(2),
            b'l' | b'd' => Some(4),
            b'L' | b'D' => Some(8),
            b'Z' | b'T' | b'F' | b'N' => Some(0),
            _ => None,
        }
    }

    fn value_of(&mut self, marker: u8) -> Result<Node, TreeError> {
        Ok(match marker {
            b'Z' => Node::Null,
            b'T' => Node::Bool(true),
            b'F' => Node::Bool(false),
            b'i' | b'U' | b'I' | b'l' | b'L' => Node::Int(self.int_of(marker)?),
            b'd' => Node::Float(f64::from(f32::from_be_bytes(self.array::<4>()?))),
            b'D' => Node::Float(f64::from_be_bytes(self.array::<8>()?)),
            b'C' => Node::Int(i64::from(self.byte()?)),
            b'S' | b'H' => {
                self.budget.keep()?;
                Node::Str(self.string()?)
            }
            b'[' => self.array_value()?,
            b'{' => self.object_value()?,
            other => return Err(self.err(format!("unknown type marker {:?}", char::from(other)))),
        })
    }

    /// `$type` and `#count` of an optimized container, if present.
    fn container_header(&mut self) -> Result<(Option<u8>, Option<usize>), TreeError> {
        let mut typed = None;
        if self.peek() == Some(b'$') {
            self.pos += 1;
            let t = self.byte()?;
            if matches!(t, b'[' | b'{' | b'N') {
                return Err(self.err("typed container of containers is not supported"));
            }
            typed = Some(t);
            if self.peek() != Some(b'#') {
                return Err(self.err("`$` type without `#` count"));
            }
        }
        let mut count = None;
        if self.peek() == Some(b'#') {
            self.pos += 1;
            count = Some(self.length()?);
        }
        Ok((typed, count))
    }

    fn array_value(&mut self) -> Result<Node, TreeError> {
        self.budget.enter()?;
        self.budget.keep()?;
        let (typed, count) = self.container_header()?;
        let mut items = Vec::new();
        let mut len = 0u64;
        match (typed, count) {
            (Some(t), Some(n)) => {
                if let Some(size) = Self::fixed_size(t) {
                    // Skipped by arithmetic: every item has the same size.
                    let total = n
                        .checked_mul(size)
                        .filter(|total| *total <= self.remaining())
                        .ok_or_else(|| {
                            self.err(format!("typed array of {n} items runs past the end"))
                        })?;
                    let keep = n.min(SCALARS_KEPT);
                    for _ in 0..keep {
                        self.budget.keep()?;
                        items.push(self.value_of(t)?);
                    }
                    self.pos += total - keep * size;
                } else {
                    // Strings: each one is at least a length marker and a length byte.
                    if n > self.remaining() / 2 {
                        return Err(self.err(format!("{n} strings cannot fit in what remains")));
                    }
                    for _ in 0..n {
                        items.push(self.value_of(t)?);
                    }
                }
                len = n as u64;
            }
            (None, Some(n)) => {
                if n > self.remaining() {
                    return Err(self.err(format!("{n} items cannot fit in what remains")));
                }
                for _ in 0..n {
                    self.push_item(&mut items, &mut len)?;
                }
            }
            (_, None) => loop {
                match self.peek() {
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    Some(b'N') => self.pos += 1,
                    Some(_) => self.push_item(&mut items, &mut len)?,
                    None => return Err(self.err("unterminated array")),
                }
            },
        }
        self.budget.leave();
        Ok(Node::Array { len, items })
    }

    fn push_item(&mut self, items: &mut Vec<Node>, len: &mut u64) -> Result<(), TreeError> {
        let item = self.value()?;
        *len += 1;
        // Scalars are kept only among the first items, so the count to compare is small.
        let keep = !item.is_scalar()
            || (*len as usize <= SCALARS_KEPT * 2
                && items.iter().filter(|i| i.is_scalar()).count() < SCALARS_KEPT);
        if keep {
            self.budget.keep()?;
            items.push(item);
        }
        Ok(())
    }

    fn object_value(&mut self) -> Result<Node, TreeError> {
        self.budget.enter()?;
        self.budget.keep()?;
        let (typed, count) = self.container_header()?;
        let mut fields = Vec::new();
        let mut field = |r: &mut Self| -> Result<(), TreeError> {
            let key = r.string()?;
            let value = match typed {
                Some(t) => r.value_of(t)?,
                None => r.value()?,
            };
            fields.push((key, value));
            Ok(())
        };
        match count {
            Some(n) => {
                if n > self.remaining() {
                    return Err(self.err(format!("{n} fields cannot fit in what remains")));
                }
                for _ in 0..n {
                    field(self)?;
                }
            }
            None => loop {
                match self.peek() {
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    Some(b'N') => self.pos += 1,
                    Some(_) => field(self)?,
                    None => return Err(self.err("unterminated object")),
                }
            },
        }
        self.budget.leave();
        Ok(Node::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_objects_typed_arrays_and_strings() {
        // {"a": [$d#i3 1.0 2.0 3.0], "s": S i2 "hi"}
        let mut doc = b"{i\x01a[$d#i\x03".to_vec();
        for f in [1.0f32, 2.0, 3.0] {
            doc.extend_from_slice(&f.to_be_bytes());
        }
        doc.extend_from_slice(b"i\x01sSi\x02hi}");
        let node = parse(&doc).expect("valid");
        assert_eq!(node.get("a").and_then(Node::array_len), Some(3));
        assert_eq!(node.get("s").and_then(Node::as_str), Some("hi"));
    }

    #[test]
    fn huge_declared_counts_are_refused_before_allocation() {
        let doc = b"[$d#L\x7f\xff\xff\xff\xff\xff\xff\xff";
        assert!(parse(doc).is_err());
        let doc = b"[#L\x00\x00\x00\x00\xff\xff\xff\xff";
        assert!(parse(doc).is_err());
    }

    #[test]
    fn depth_is_bounded() {
        let doc = "[".repeat(10_000);
        assert_eq!(parse(doc.as_bytes()), Err(TreeError::TooDeep));
    }
}
