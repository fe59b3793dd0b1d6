//! A bounded protocol-buffers wire-format walker (no generated code, no schema).
//!
//! Messages are walked field by field over a [`Source`]: length-delimited payloads are returned
//! as spans, and the caller decides whether to descend into one, read it (bounded), or step over
//! it without reading a byte. Fields whose wire type does not match what the caller expects are
//! unknown fields to protobuf's own parsers, and callers ignore them the same way. Groups (wire
//! types 3 and 4, deprecated, used by no format mlvet reads) are stepped over the way the C++
//! parser skips an unknown group: by walking to the matching end tag, within a depth bound.

use crate::source::Source;

/// Most nested groups stepped over inside one unknown field.
const GROUP_DEPTH_MAX: usize = 32;

/// Why a byte range is not a valid protobuf message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated at byte {offset}")]
    Truncated { offset: u64 },
    #[error("varint longer than 10 bytes at byte {offset}")]
    VarintTooLong { offset: u64 },
    #[error("invalid wire type {wire_type} at byte {offset}")]
    InvalidWireType { wire_type: u8, offset: u64 },
    #[error("field number 0 at byte {offset}")]
    FieldZero { offset: u64 },
    #[error("length {len} at byte {offset} runs past the end of its message")]
    LengthOutOfBounds { offset: u64, len: u64 },
    #[error("unmatched group tag at byte {offset}")]
    Group { offset: u64 },
    #[error("read failed at byte {offset}: {message}")]
    Io { offset: u64, message: String },
}

/// A byte range of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// The value of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    /// A length-delimited payload: a string, bytes, a nested message or a packed array.
    Bytes(Span),
    /// A group, stepped over.
    Group,
}

/// One field of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub number: u32,
    pub value: Value,
    /// Where the field's tag starts (for locations).
    pub offset: u64,
}

impl Field {
    /// The payload span when the field is length-delimited.
    pub fn bytes(&self) -> Option<Span> {
        match self.value {
            Value::Bytes(span) => Some(span),
            _ => None,
        }
    }

    /// The value when the field is a varint.
    pub fn varint(&self) -> Option<u64> {
        match self.value {
            Value::Varint(v) => Some(v),
            _ => None,
        }
    }
}

/// Iterates over the fields of the message occupying `span`.
pub struct Fields<'s, S: Source + ?Sized> {
    src: &'s mut S,
    pos: u64,
    end: u64,
    failed: bool,
}

/// Walks the fields of the message in `span` of `src`.
pub fn fields<S: Source + ?Sized>(src: &mut S, span: Span) -> Fields<'_, S> {
    let len = src.len();
    Fields {
        src,
        pos: span.start.min(len),
        end: span.end.min(len),
        failed: span.end > len || span.start > span.end,
    }
}

impl<S: Source + ?Sized> Fields<'_, S> {
    /// The source, to read a field's payload between two steps of the iteration.
    pub fn source(&mut self) -> &mut S {
        self.src
    }

    fn read_varint(&mut self) -> Result<u64, WireError> {
        let offset = self.pos;
        let want = usize::try_from((self.end - self.pos).min(10)).unwrap_or(10);
        let bytes = self.src.bytes_at(offset, want).map_err(|e| WireError::Io {
            offset,
            message: e.to_string(),
        })?;
        let mut value: u64 = 0;
        for (i, byte) in bytes.iter().enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i as u32);
            if byte & 0x80 == 0 {
                self.pos += i as u64 + 1;
                return Ok(value);
            }
        }
        if bytes.len() == 10 {
            Err(WireError::VarintTooLong { offset })
        } else {
            Err(WireError::Truncated { offset })
        }
    }

    fn advance(&mut self, n: u64, offset: u64) -> Result<(), WireError> {
        if n > self.end - self.pos {
            return Err(WireError::Truncated { offset });
        }
        self.pos += n;
        Ok(())
    }

    fn next_field(&mut self) -> Result<Field, WireError> {
        let offset = self.pos;
        let (number, wire_type) = self.read_tag()?;
        let value = match wire_type {
            0 => Value::Varint(self.read_varint()?),
            1 => {
                let bytes = self.fixed(8, offset)?;
                let mut le = [0u8; 8];
                le.copy_from_slice(&bytes[..8]);
                Value::Fixed64(u64::from_le_bytes(le))
            }
            2 => {
                let len_at = self.pos;
                let len = self.read_varint()?;
                if len > self.end - self.pos {
                    return Err(WireError::LengthOutOfBounds {
                        offset: len_at,
                        len,
                    });
                }
                let span = Span {
                    start: self.pos,
                    end: self.pos + len,
                };
                self.pos += len;
                Value::Bytes(span)
            }
            3 => {
                self.skip_group(number, offset)?;
                Value::Group
            }
            5 => {
                let bytes = self.fixed(4, offset)?;
                let mut le = [0u8; 4];
                le.copy_from_slice(&bytes[..4]);
                Value::Fixed32(u32::from_le_bytes(le))
            }
            4 => return Err(WireError::Group { offset }),
            other => {
                return Err(WireError::InvalidWireType {
                    wire_type: other,
                    offset,
                });
            }
        };
        Ok(Field {
            number,
            value,
            offset,
        })
    }

    fn read_tag(&mut self) -> Result<(u32, u8), WireError> {
        let offset = self.pos;
        let tag = self.read_varint()?;
        let number = tag >> 3;
        if number == 0 {
            return Err(WireError::FieldZero { offset });
        }
        // Field numbers are at most 2^29 - 1; protobuf refuses larger tags.
        let number = u32::try_from(number)
            .ok()
            .filter(|n| *n < (1 << 29))
            .ok_or(WireError::InvalidWireType {
                wire_type: (tag & 7) as u8,
                offset,
            })?;
        Ok((number, (tag & 7) as u8))
    }

    fn fixed(&mut self, n: usize, offset: u64) -> Result<Vec<u8>, WireError> {
        let at = self.pos;
        self.advance(n as u64, offset)?;
        let bytes = self.src.bytes_at(at, n).map_err(|e| WireError::Io {
            offset,
            message: e.to_string(),
        })?;
        if bytes.len() < n {
            return Err(WireError::Truncated { offset });
        }
        Ok(bytes.to_vec())
    }

    /// Steps over a group started by field `number`, up to its end tag.
    fn skip_group(&mut self, number: u32, offset: u64) -> Result<(), WireError> {
        let mut open = vec![number];
        while let Some(&innermost) = open.last() {
            if open.len() > GROUP_DEPTH_MAX {
                return Err(WireError::Group { offset });
            }
            if self.pos >= self.end {
                return Err(WireError::Truncated { offset });
            }
            let (n, wire_type) = self.read_tag()?;
            match wire_type {
                0 => {
                    self.read_varint()?;
                }
                1 => self.advance(8, offset)?,
                2 => {
                    let len = self.read_varint()?;
                    self.advance(len, offset)?;
                }
                3 => open.push(n),
                4 if n == innermost => {
                    open.pop();
                }
                5 => self.advance(4, offset)?,
                _ => return Err(WireError::Group { offset }),
            }
        }
        Ok(())
    }
}

impl<S: Source + ?Sized> Iterator for Fields<'_, S> {
    type Item = Result<Field, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.end {
            if self.failed {
                self.failed = false;
                let end = self.end;
                self.end = self.pos;
                return Some(Err(WireError::Truncated { offset: end }));
            }
            return None;
        }
        let result = self.next_field();
        if result.is_err() {
            // One error ends the walk: the rest of the message cannot be framed.
            self.pos = self.end;
        }
        Some(result)
    }
}

/// Reads a length-delimited payload as text, at most `max` bytes (longer payloads are cut and
/// marked with `…`). Invalid UTF-8 is replaced, so names stay printable.
pub fn read_string<S: Source + ?Sized>(
    src: &mut S,
    span: Span,
    max: usize,
) -> Result<String, WireError> {
    let take = usize::try_from(span.len()).unwrap_or(usize::MAX).min(max);
    let bytes = src.read_vec(span.start, take).map_err(|e| WireError::Io {
        offset: span.start,
        message: e.to_string(),
    })?;
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if (take as u64) < span.len() {
        text.push('…');
    }
    Ok(text)
}

/// Reads a length-delimited payload as raw bytes when it is at most `max` bytes long.
pub fn read_bytes<S: Source + ?Sized>(
    src: &mut S,
    span: Span,
    max: usize,
) -> Result<Option<Vec<u8>>, WireError> {
    if span.len() > max as u64 {
        return Ok(None);
    }
    let len = usize::try_from(span.len()).unwrap_or(usize::MAX);
    src.read_vec(span.start, len)
        .map(Some)
        .map_err(|e| WireError::Io {
            offset: span.start,
            message: e.to_string(),
        })
}

/// The span of the whole input.
pub fn whole<S: Source + ?Sized>(src: &S) -> Span {
    Span {
        start: 0,
        end: src.len(),
    }
}

/// Test helpers: a tiny protobuf encoder (tests and property tests build messages with it).
#[cfg(test)]
pub(crate) mod encode {
    pub fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    pub fn field_varint(number: u32, v: u64, out: &mut Vec<u8>) {
        varint(u64::from(number) << 3, out);
        varint(v, out);
    }

    pub fn field_bytes(number: u32, payload: &[u8], out: &mut Vec<u8>) {
        varint((u64::from(number) << 3) | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    /// A message from (field, payload) pairs of length-delimited fields.
    pub fn message(parts: &[(u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, p) in parts {
            field_bytes(*n, p, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::encode::*;
    use super::*;
    use crate::source::SliceSource;

    fn walk(bytes: &[u8]) -> Vec<Result<Field, WireError>> {
        let mut src = SliceSource(bytes);
        let span = whole(&src);
        fields(&mut src, span).collect()
    }

    #[test]
    fn every_wire_type_is_framed() {
        let mut msg = Vec::new();
        field_varint(1, 300, &mut msg);
        field_bytes(2, b"abc", &mut msg);
        msg.extend_from_slice(&[0x19, 1, 0, 0, 0, 0, 0, 0, 0]); // field 3, fixed64
        msg.extend_from_slice(&[0x25, 2, 0, 0, 0]); // field 4, fixed32
        msg.extend_from_slice(&[0x2b, 0x08, 0x01, 0x2c]); // field 5 group { 1: 1 }
        let fields: Vec<Field> = walk(&msg).into_iter().map(|f| f.expect("field")).collect();
        assert_eq!(fields[0].varint(), Some(300));
        assert_eq!(fields[1].bytes().map(|s| s.len()), Some(3));
        assert_eq!(fields[2].value, Value::Fixed64(1));
        assert_eq!(fields[3].value, Value::Fixed32(2));
        assert_eq!(fields[4].value, Value::Group);
        assert_eq!(fields.len(), 5);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            &[0x0a, 0x05, b'a'][..], // length past the end
            &[0x08][..],             // truncated varint
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ][..],
            &[0x0e][..],             // wire type 6
            &[0x00, 0x01][..],       // field 0
            &[0x0c][..],             // stray end-group
            &[0x0b, 0x08][..],       // unterminated group
            &[0x09, 0x01, 0x02][..], // truncated fixed64
        ] {
            let result = walk(bad);
            assert!(result.iter().any(Result::is_err), "{bad:?}");
        }
    }

    #[test]
    fn strings_are_bounded() {
        let msg = message(&[(1, b"hello world")]);
        let mut src = SliceSource(&msg);
        let span = fields(
            &mut src,
            Span {
                start: 0,
                end: msg.len() as u64,
            },
        )
        .next()
        .and_then(|f| f.ok())
        .and_then(|f| f.bytes())
        .expect("span");
        assert_eq!(read_string(&mut src, span, 5).expect("read"), "hello…");
        assert_eq!(read_bytes(&mut src, span, 5).expect("read"), None);
    }
}
