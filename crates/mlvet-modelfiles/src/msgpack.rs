//! Flax checkpoints (`flax.serialization.to_bytes`): a msgpack tree of maps and arrays whose
//! leaves are scalars and Flax's ext types: `1` ndarray and `3` NumPy scalar (both a nested
//! msgpack `(shape, dtype name, raw bytes)`), `2` native complex (a nested `(real, imag)`).
//!
//! msgpack has no magic number, so a file is taken for Flax by its name and kept only when the
//! whole structure validates. Array bodies are skipped by their declared length (checked against
//! what remains), never read.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};

use mlvet_core::Location;

use crate::Analysis;
use crate::rules::model_structure_invalid;

/// Containers nested deeper than this are refused (a Flax param tree nests a few levels).
pub const MAX_DEPTH: usize = 64;
/// Values visited at most.
pub const MAX_VALUES: u64 = 50_000_000;

const EXT_NDARRAY: i8 = 1;
const EXT_COMPLEX: i8 = 2;
const EXT_NPSCALAR: i8 = 3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("msgpack at byte {offset}: {message}")]
pub struct MsgpackError {
    pub offset: u64,
    pub message: String,
}

/// What the walk found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlaxFacts {
    /// ndarray leaves (ext 1).
    pub arrays: u64,
    /// Elements over all array leaves.
    pub parameters: u64,
    pub dtypes: BTreeSet<String>,
    pub scalars: u64,
}

struct Walker<R> {
    src: R,
    pos: u64,
    len: u64,
    values: u64,
    facts: FlaxFacts,
}

/// Strings longer than this are skipped, not read (keys and dtype names are short).
const STRING_KEPT: u64 = 4096;

/// Item size of the dtype names NumPy (and ml_dtypes, for JAX) write.
fn itemsize(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "bool" | "int8" | "uint8" | "int4" | "uint4" | "int2" | "uint2" | "float4_e2m1fn"
        | "float8_e3m4" | "float8_e4m3" | "float8_e4m3fn" | "float8_e4m3fnuz"
        | "float8_e4m3b11fnuz" | "float8_e5m2" | "float8_e5m2fnuz" | "float8_e8m0fnu" => 1,
        "int16" | "uint16" | "float16" | "bfloat16" => 2,
        "int32" | "uint32" | "float32" => 4,
        "int64" | "uint64" | "float64" | "complex64" => 8,
        "complex128" | "float128" | "longdouble" => 16,
        _ => return None,
    })
}

impl<R: Read + Seek> Walker<R> {
    fn err(&self, message: impl Into<String>) -> MsgpackError {
        MsgpackError {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn check(&self, n: u64) -> Result<(), MsgpackError> {
        if n > self.remaining() {
            return Err(self.err(format!("{n} bytes declared, fewer remain")));
        }
        Ok(())
    }

    /// Reads `n` bytes (callers only ask for small, bounded amounts).
    fn take(&mut self, n: u64) -> Result<Vec<u8>, MsgpackError> {
        self.check(n)?;
        let mut buf = vec![0u8; usize::try_from(n).map_err(|_| self.err("length overflows"))?];
        self.src
            .read_exact(&mut buf)
            .map_err(|e| self.err(format!("read failed: {e}")))?;
        self.pos += n;
        Ok(buf)
    }

    /// Steps over `n` bytes without reading them (array bodies).
    fn skip(&mut self, n: u64) -> Result<(), MsgpackError> {
        self.check(n)?;
        let delta = i64::try_from(n).map_err(|_| self.err("length overflows"))?;
        self.src
            .seek(SeekFrom::Current(delta))
            .map_err(|e| self.err(format!("seek failed: {e}")))?;
        self.pos += n;
        Ok(())
    }

    fn byte(&mut self) -> Result<u8, MsgpackError> {
        Ok(self.take(1)?[0])
    }

    fn be(&mut self, n: u64) -> Result<u64, MsgpackError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn string(&mut self, n: u64) -> Result<Value, MsgpackError> {
        if n > STRING_KEPT {
            self.skip(n)?;
            return Ok(Value::LongStr);
        }
        Ok(Value::Str(self.take(n)?))
    }

    /// One value; `ext_ok` is false inside ext payloads and map keys (Flax never nests ext types).
    fn value(&mut self, depth: usize, ext_ok: bool) -> Result<Value, MsgpackError> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(self.err("too many values"));
        }
        let marker = self.byte()?;
        let value = match marker {
            0x00..=0x7f => Value::Int(i128::from(marker)),
            0xe0..=0xff => Value::Int(i128::from(marker as i8)),
            0x80..=0x8f => return self.map(u64::from(marker & 0x0f), depth, ext_ok),
            0x90..=0x9f => return self.array(u64::from(marker & 0x0f), depth, ext_ok),
            0xa0..=0xbf => self.string(u64::from(marker & 0x1f))?,
            0xc0 | 0xc2 | 0xc3 => Value::Other,
            0xc4..=0xc6 => {
                let n = self.be(1 << (marker - 0xc4))?;
                self.skip(n)?;
                Value::Bin(n)
            }
            0xc7..=0xc9 => {
                let n = self.be(1 << (marker - 0xc7))?;
                self.ext(n, ext_ok)?
            }
            0xca => {
                self.skip(4)?;
                Value::Other
            }
            0xcb => {
                self.skip(8)?;
                Value::Other
            }
            0xcc..=0xcf => Value::Int(i128::from(self.be(1 << (marker - 0xcc))?)),
            0xd0..=0xd3 => {
                let width = 1u32 << (marker - 0xd0);
                let raw = self.be(u64::from(width))?;
                let shift = 64 - 8 * width;
                Value::Int(i128::from(((raw << shift) as i64) >> shift))
            }
            0xd4..=0xd8 => self.ext(1 << (marker - 0xd4), ext_ok)?,
            0xd9..=0xdb => {
                let n = self.be(1 << (marker - 0xd9))?;
                self.string(n)?
            }
            0xdc | 0xdd => {
                let n = self.be(if marker == 0xdc { 2 } else { 4 })?;
                return self.array(n, depth, ext_ok);
            }
            0xde | 0xdf => {
                let n = self.be(if marker == 0xde { 2 } else { 4 })?;
                return self.map(n, depth, ext_ok);
            }
            0xc1 => return Err(self.err("reserved marker 0xc1")),
        };
        if matches!(value, Value::Int(_) | Value::Other) {
            self.facts.scalars += 1;
        }
        Ok(value)
    }

    fn array(&mut self, n: u64, depth: usize, ext_ok: bool) -> Result<Value, MsgpackError> {
        if depth >= MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        if n > self.remaining() {
            return Err(self.err(format!("array of {n} items cannot fit in what remains")));
        }
        let mut ints = Vec::new();
        let mut all_ints = true;
        for _ in 0..n {
            match self.value(depth + 1, ext_ok)? {
                Value::Int(i) if all_ints && ints.len() < 64 => ints.push(i),
                _ => all_ints = false,
            }
        }
        Ok(if all_ints && ints.len() as u64 == n {
            Value::IntArray(ints)
        } else {
            Value::Other
        })
    }

    fn map(&mut self, n: u64, depth: usize, ext_ok: bool) -> Result<Value, MsgpackError> {
        if depth >= MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        if n.saturating_mul(2) > self.remaining() {
            return Err(self.err(format!("map of {n} entries cannot fit in what remains")));
        }
        for _ in 0..n {
            match self.value(depth + 1, false)? {
                Value::Str(_) | Value::LongStr | Value::Int(_) => {}
                _ => return Err(self.err("map key is neither a string nor an integer")),
            }
            self.value(depth + 1, ext_ok)?;
        }
        Ok(Value::Map)
    }

    /// An ext value of `len` bytes; its payload is parsed in place, bounded by its length.
    fn ext(&mut self, len: u64, ext_ok: bool) -> Result<Value, MsgpackError> {
        let code = self.byte()? as i8;
        self.check(len)?;
        if !ext_ok {
            return Err(self.err("ext type where Flax never writes one"));
        }
        let end = self.pos + len;
        let outer_len = self.len;
        // Nothing inside the payload may read past it.
        self.len = end;
        let result = self.ext_payload(code);
        self.len = outer_len;
        result?;
        if self.pos != end {
            return Err(self.err(format!(
                "{} bytes left in ext type {code}",
                end.saturating_sub(self.pos)
            )));
        }
        Ok(Value::Other)
    }

    fn ext_payload(&mut self, code: i8) -> Result<(), MsgpackError> {
        match code {
            EXT_NDARRAY | EXT_NPSCALAR => {
                let (elements, dtype) = self.ndarray(code == EXT_NPSCALAR)?;
                self.facts.dtypes.insert(dtype);
                if code == EXT_NDARRAY {
                    self.facts.arrays += 1;
                    self.facts.parameters = self.facts.parameters.saturating_add(elements);
                } else {
                    self.facts.scalars += 1;
                }
            }
            EXT_COMPLEX => {
                match self.value(0, false)? {
                    Value::Other | Value::IntArray(_) => {}
                    _ => return Err(self.err("complex ext is not a (real, imag) pair")),
                }
                self.facts.scalars += 1;
            }
            other => return Err(self.err(format!("ext type {other} is not one Flax writes"))),
        }
        Ok(())
    }

    /// `(shape, dtype name, raw bytes)` with `len(raw) == prod(shape) * itemsize`; the raw bytes
    /// are skipped.
    fn ndarray(&mut self, scalar: bool) -> Result<(u64, String), MsgpackError> {
        let marker = self.byte()?;
        if marker != 0x93 {
            return Err(self.err("ndarray payload is not a 3-tuple"));
        }
        let shape = match self.value(1, false)? {
            Value::IntArray(dims) => dims,
            _ => return Err(self.err("ndarray shape is not a tuple of integers")),
        };
        if scalar && !shape.is_empty() {
            return Err(self.err("NumPy scalar with a non-empty shape"));
        }
        let dtype = match self.value(1, false)? {
            Value::Str(s) => String::from_utf8_lossy(&s).into_owned(),
            _ => return Err(self.err("ndarray dtype is not a short string")),
        };
        let size = itemsize(&dtype).ok_or_else(|| {
            self.err(format!(
                "dtype `{dtype}` is not a numeric dtype Flax writes"
            ))
        })?;
        let mut elements: u64 = 1;
        for dim in &shape {
            let dim = u64::try_from(*dim).map_err(|_| self.err("negative dimension"))?;
            elements = elements
                .checked_mul(dim)
                .ok_or_else(|| self.err("shape overflows"))?;
        }
        let data = match self.value(1, false)? {
            Value::Bin(n) => n,
            _ => return Err(self.err("ndarray data is not bytes")),
        };
        let expected = elements
            .checked_mul(size)
            .ok_or_else(|| self.err("size overflows"))?;
        // Sub-byte dtypes (int4, float4) are stored one element per byte by NumPy/ml_dtypes.
        if data != expected {
            return Err(self.err(format!(
                "ndarray of shape {shape:?} and dtype {dtype} needs {expected} bytes, has {data}"
            )));
        }
        Ok((elements, dtype))
    }
}

enum Value {
    Int(i128),
    IntArray(Vec<i128>),
    Str(Vec<u8>),
    /// A string longer than [`STRING_KEPT`], skipped.
    LongStr,
    /// Raw bytes of this length, skipped.
    Bin(u64),
    Map,
    Other,
}

/// Walks a whole Flax msgpack checkpoint in memory: one top-level map, nothing after it.
pub fn parse_flax(bytes: &[u8]) -> Result<FlaxFacts, MsgpackError> {
    parse_flax_from(std::io::Cursor::new(bytes), bytes.len() as u64)
}

/// The same walk over a seekable source of `len` bytes: array bodies are seeked over, never
/// read, so memory stays small whatever the checkpoint's size.
pub fn parse_flax_from<R: Read + Seek>(src: R, len: u64) -> Result<FlaxFacts, MsgpackError> {
    let mut walker = Walker {
        src,
        pos: 0,
        len,
        values: 0,
        facts: FlaxFacts::default(),
    };
    let top = walker.value(0, true)?;
    if !matches!(top, Value::Map) {
        return Err(MsgpackError {
            offset: 0,
            message: "the top level is not a map (Flax state dicts are maps)".into(),
        });
    }
    if walker.pos != len {
        return Err(walker.err(format!("{} bytes after the state dict", len - walker.pos)));
    }
    Ok(walker.facts)
}

pub fn analyze(bytes: &[u8], location: &Location) -> Analysis {
    analyze_from(std::io::Cursor::new(bytes), bytes.len() as u64, location)
}

/// [`analyze`] over a seekable source (a file): array bodies are never read.
pub fn analyze_from<R: Read + Seek>(src: R, len: u64, location: &Location) -> Analysis {
    let mut analysis = Analysis::complete();
    analysis.fact("framework", "flax");
    match parse_flax_from(src, len) {
        Ok(facts) => {
            analysis.fact("tensors", facts.arrays);
            analysis.fact("parameters", facts.parameters);
            if !facts.dtypes.is_empty() {
                analysis.fact(
                    "dtype",
                    facts.dtypes.iter().cloned().collect::<Vec<_>>().join(","),
                );
            }
        }
        Err(e) => analysis.incomplete(model_structure_invalid::finding(
            location.clone(),
            "flax-msgpack",
            e,
        )),
    }
    analysis
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{"params": {"w": ndarray float32 (2,)}}` as flax writes it.
    pub(crate) fn sample() -> Vec<u8> {
        let mut payload = vec![0x93, 0x91, 0x02, 0xa7];
        payload.extend_from_slice(b"float32");
        payload.extend_from_slice(&[0xc4, 0x08]);
        payload.extend_from_slice(&[0; 8]);
        let mut doc = vec![0x81, 0xa6];
        doc.extend_from_slice(b"params");
        doc.extend_from_slice(&[0x81, 0xa1, b'w', 0xc7, payload.len() as u8, 0x01]);
        doc.extend_from_slice(&payload);
        doc
    }

    #[test]
    fn a_flax_tree_validates() {
        let facts = parse_flax(&sample()).expect("valid");
        assert_eq!(facts.arrays, 1);
        assert_eq!(facts.parameters, 2);
        assert!(facts.dtypes.contains("float32"));
    }

    #[test]
    fn a_short_array_body_is_refused() {
        let mut doc = sample();
        // Declare shape (3,) instead of (2,).
        let at = doc.iter().position(|b| *b == 0x91).expect("shape");
        doc[at + 1] = 0x03;
        assert!(parse_flax(&doc).is_err());
    }

    #[test]
    fn object_dtypes_and_unknown_ext_codes_are_refused() {
        let doc = sample();
        let text = doc.clone();
        let at = text
            .windows(7)
            .position(|w| w == b"float32")
            .expect("dtype");
        let mut object = doc.clone();
        object[at..at + 7].copy_from_slice(b"object_");
        assert!(parse_flax(&object).is_err());
        let mut ext = doc;
        let code = ext.iter().position(|b| *b == 0xc7).expect("ext") + 2;
        ext[code] = 0x05;
        assert!(parse_flax(&ext).is_err());
    }

    #[test]
    fn a_top_level_scalar_is_not_flax() {
        assert!(parse_flax(&[0x01]).is_err());
        assert!(parse_flax(&[0xdf, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
