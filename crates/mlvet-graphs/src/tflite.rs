//! TFLite model reader: hand-written, bounded FlatBuffers reads of the `Model` table
//! (`tensorflow/lite/schema/schema.fbs`, file identifier `TFL3`). Reads the operator codes,
//! counts subgraphs, operators, tensors and buffers, and the metadata names; buffer contents
//! (the weights) are never read.

use crate::source::Source;

/// `BuiltinOperator.CUSTOM`.
pub const BUILTIN_CUSTOM: i32 = 32;

/// Bounds of one read.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Elements per vector (operator codes, subgraphs, operators...).
    pub max_vector: u64,
    /// Longest string kept.
    pub max_string: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_vector: 10_000_000,
            max_string: 4096,
        }
    }
}

/// Why a model could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TfliteError {
    #[error("not a TFLite model: no `TFL3` identifier")]
    NotTflite,
    #[error("{what} at byte {offset} is out of bounds")]
    OutOfBounds { what: &'static str, offset: u64 },
    #[error("invalid {what} at byte {offset}")]
    Invalid { what: &'static str, offset: u64 },
    #[error("limit reached: {0}")]
    Limit(String),
    #[error("read failed: {0}")]
    Io(String),
}

/// One entry of `Model.operator_codes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorCode {
    /// The effective builtin code: `max(builtin_code, deprecated_builtin_code)`, as the
    /// runtime's `GetBuiltinCode` computes it.
    pub builtin: i32,
    pub custom_code: Option<String>,
    pub version: i32,
}

impl OperatorCode {
    pub fn is_custom(&self) -> bool {
        self.builtin == BUILTIN_CUSTOM
    }
}

/// What the read found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TfliteModel {
    pub version: u32,
    pub description: Option<String>,
    pub operator_codes: Vec<OperatorCode>,
    pub subgraph_count: u64,
    pub operator_count: u64,
    pub tensor_count: u64,
    pub buffer_count: u64,
    pub metadata_names: Vec<String>,
}

/// Whether the input carries the `TFL3` file identifier at offset 4.
pub fn has_identifier<S: Source + ?Sized>(src: &mut S) -> bool {
    matches!(src.bytes_at(4, 4), Ok(b) if b == b"TFL3")
}

struct Buf<'s, S: Source + ?Sized> {
    src: &'s mut S,
    limits: Limits,
}

#[derive(Debug, Clone, Copy)]
struct Table {
    pos: u64,
    vtable: u64,
    vtable_len: u16,
}

impl<S: Source + ?Sized> Buf<'_, S> {
    fn bytes<const N: usize>(
        &mut self,
        offset: u64,
        what: &'static str,
    ) -> Result<[u8; N], TfliteError> {
        let got = self
            .src
            .bytes_at(offset, N)
            .map_err(|e| TfliteError::Io(e.to_string()))?;
        let mut out = [0u8; N];
        if got.len() < N {
            return Err(TfliteError::OutOfBounds { what, offset });
        }
        out.copy_from_slice(&got[..N]);
        Ok(out)
    }

    fn u32_at(&mut self, offset: u64, what: &'static str) -> Result<u32, TfliteError> {
        Ok(u32::from_le_bytes(self.bytes::<4>(offset, what)?))
    }

    fn table(&mut self, pos: u64) -> Result<Table, TfliteError> {
        let soffset = i32::from_le_bytes(self.bytes::<4>(pos, "table")?);
        let vtable = i64::try_from(pos)
            .ok()
            .and_then(|p| p.checked_sub(i64::from(soffset)))
            .and_then(|v| u64::try_from(v).ok())
            .ok_or(TfliteError::Invalid {
                what: "vtable offset",
                offset: pos,
            })?;
        let vtable_len = u16::from_le_bytes(self.bytes::<2>(vtable, "vtable")?);
        if vtable_len < 4 || vtable_len % 2 != 0 {
            return Err(TfliteError::Invalid {
                what: "vtable",
                offset: vtable,
            });
        }
        // The whole vtable must be inside the file.
        self.bytes::<2>(vtable + u64::from(vtable_len) - 2, "vtable")?;
        Ok(Table {
            pos,
            vtable,
            vtable_len,
        })
    }

    /// Where field `id` of `table` is stored, when present.
    fn field(&mut self, table: Table, id: u16) -> Result<Option<u64>, TfliteError> {
        let entry = 4 + 2 * u64::from(id);
        if entry + 2 > u64::from(table.vtable_len) {
            return Ok(None);
        }
        let off = u16::from_le_bytes(self.bytes::<2>(table.vtable + entry, "vtable entry")?);
        Ok((off != 0).then_some(table.pos + u64::from(off)))
    }

    /// Follows the `uoffset_t` stored at `at`.
    fn deref(&mut self, at: u64, what: &'static str) -> Result<u64, TfliteError> {
        let rel = self.u32_at(at, what)?;
        let target = at + u64::from(rel);
        if target >= self.src.len() {
            return Err(TfliteError::OutOfBounds { what, offset: at });
        }
        Ok(target)
    }

    /// A vector field: (position of the first element, element count), bounds-checked against
    /// the file for elements of `elem_size` bytes.
    fn vector(
        &mut self,
        table: Table,
        id: u16,
        elem_size: u64,
        what: &'static str,
    ) -> Result<Option<(u64, u64)>, TfliteError> {
        let Some(at) = self.field(table, id)? else {
            return Ok(None);
        };
        let start = self.deref(at, what)?;
        let len = u64::from(self.u32_at(start, what)?);
        if len > self.limits.max_vector {
            return Err(TfliteError::Limit(format!("{what}: {len} elements")));
        }
        let end = start + 4 + len * elem_size;
        if end > self.src.len() {
            return Err(TfliteError::OutOfBounds {
                what,
                offset: start,
            });
        }
        Ok(Some((start + 4, len)))
    }

    fn string_at(&mut self, start: u64) -> Result<String, TfliteError> {
        let len = u64::from(self.u32_at(start, "string")?);
        if start + 4 + len > self.src.len() {
            return Err(TfliteError::OutOfBounds {
                what: "string",
                offset: start,
            });
        }
        let take = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(self.limits.max_string);
        let bytes = self
            .src
            .read_vec(start + 4, take)
            .map_err(|e| TfliteError::Io(e.to_string()))?;
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if (take as u64) < len {
            text.push('…');
        }
        Ok(text)
    }

    fn string_field(&mut self, table: Table, id: u16) -> Result<Option<String>, TfliteError> {
        match self.field(table, id)? {
            Some(at) => {
                let start = self.deref(at, "string")?;
                self.string_at(start).map(Some)
            }
            None => Ok(None),
        }
    }

    /// The tables of a vector of tables.
    fn tables(
        &mut self,
        table: Table,
        id: u16,
        what: &'static str,
    ) -> Result<Vec<u64>, TfliteError> {
        let Some((first, len)) = self.vector(table, id, 4, what)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for i in 0..len {
            out.push(self.deref(first + 4 * i, what)?);
        }
        Ok(out)
    }
}

/// Reads a TFLite model.
pub fn parse<S: Source + ?Sized>(src: &mut S, limits: &Limits) -> Result<TfliteModel, TfliteError> {
    if !has_identifier(src) {
        return Err(TfliteError::NotTflite);
    }
    let mut buf = Buf {
        src,
        limits: *limits,
    };
    let root = buf.deref(0, "root table")?;
    let model = buf.table(root)?;
    let mut out = TfliteModel {
        version: match buf.field(model, 0)? {
            Some(at) => buf.u32_at(at, "version")?,
            None => 0,
        },
        description: buf.string_field(model, 3)?,
        ..TfliteModel::default()
    };
    for code in buf.tables(model, 1, "operator codes")? {
        let table = buf.table(code)?;
        let deprecated = match buf.field(table, 0)? {
            Some(at) => i32::from(i8::from_le_bytes(buf.bytes::<1>(at, "operator code")?)),
            None => 0,
        };
        let builtin = match buf.field(table, 3)? {
            Some(at) => i32::from_le_bytes(buf.bytes::<4>(at, "operator code")?),
            None => 0,
        };
        let version = match buf.field(table, 2)? {
            Some(at) => i32::from_le_bytes(buf.bytes::<4>(at, "operator version")?),
            None => 1,
        };
        out.operator_codes.push(OperatorCode {
            builtin: builtin.max(deprecated),
            custom_code: buf.string_field(table, 1)?,
            version,
        });
    }
    for subgraph in buf.tables(model, 2, "subgraphs")? {
        out.subgraph_count += 1;
        let table = buf.table(subgraph)?;
        if let Some((_, n)) = buf.vector(table, 0, 4, "tensors")? {
            out.tensor_count += n;
        }
        if let Some((_, n)) = buf.vector(table, 3, 4, "operators")? {
            out.operator_count += n;
        }
    }
    if let Some((_, n)) = buf.vector(model, 4, 4, "buffers")? {
        out.buffer_count = n;
    }
    for metadata in buf.tables(model, 6, "metadata")? {
        let table = buf.table(metadata)?;
        if let Some(name) = buf.string_field(table, 0)?
            && out.metadata_names.len() < 64
        {
            out.metadata_names.push(name);
        }
    }
    Ok(out)
}

/// Test helper: a minimal FlatBuffers builder for TFLite models (tests and property tests).
#[cfg(test)]
pub(crate) mod build {
    /// Builds a model with the given operator codes (builtin, custom code) and one empty
    /// subgraph. Every `uoffset` points forward, as FlatBuffers requires.
    pub fn model(codes: &[(i32, Option<&str>)]) -> Vec<u8> {
        let mut out = vec![0u8; 8];
        out[4..8].copy_from_slice(b"TFL3");
        // Model vtable: version(0) at 4, operator_codes(1) at 8, subgraphs(2) at 12.
        let model_vtable = out.len();
        for v in [4 + 2 * 3, 16, 4, 8, 12] {
            push16(&mut out, v);
        }
        let model_pos = out.len();
        push32(&mut out, (model_pos - model_vtable) as u32);
        push32(&mut out, 3);
        let codes_ref = out.len();
        push32(&mut out, 0);
        let subgraphs_ref = out.len();
        push32(&mut out, 0);
        out[0..4].copy_from_slice(&(model_pos as u32).to_le_bytes());
        // Operator-code vtable: deprecated(0) at 16, custom_code(1) at 4, version(2) at 12,
        // builtin_code(3) at 8.
        let code_vtable = out.len();
        for v in [4 + 2 * 4, 20, 16, 4, 12, 8] {
            push16(&mut out, v);
        }
        let codes_vec = out.len();
        patch(&mut out, codes_ref, codes_vec);
        push32(&mut out, codes.len() as u32);
        let elems: Vec<usize> = (0..codes.len())
            .map(|_| {
                let at = out.len();
                push32(&mut out, 0);
                at
            })
            .collect();
        let mut strings = Vec::new();
        for ((builtin, custom), elem) in codes.iter().zip(elems) {
            let pos = out.len();
            patch(&mut out, elem, pos);
            push32(&mut out, (pos - code_vtable) as u32);
            let custom_ref = out.len();
            push32(&mut out, 0);
            push32(&mut out, *builtin as u32);
            push32(&mut out, 1);
            out.push((*builtin).clamp(0, 127) as u8);
            out.extend_from_slice(&[0, 0, 0]);
            strings.push((custom_ref, custom.unwrap_or("")));
        }
        for (at, text) in strings {
            let s = out.len();
            patch(&mut out, at, s);
            push32(&mut out, text.len() as u32);
            out.extend_from_slice(text.as_bytes());
            out.push(0);
        }
        // One subgraph without fields.
        let sg_vtable = out.len();
        push16(&mut out, 4);
        push16(&mut out, 4);
        let sg_vec = out.len();
        patch(&mut out, subgraphs_ref, sg_vec);
        push32(&mut out, 1);
        let elem = out.len();
        push32(&mut out, 0);
        let sg = out.len();
        patch(&mut out, elem, sg);
        push32(&mut out, (sg - sg_vtable) as u32);
        out
    }

    fn push16(out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    fn push32(out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    fn patch(out: &mut [u8], at: usize, target: usize) {
        out[at..at + 4].copy_from_slice(&((target - at) as u32).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SliceSource;

    #[test]
    fn operator_codes_and_custom_ops_are_read() {
        let bytes = build::model(&[(0, None), (BUILTIN_CUSTOM, Some("FlexReadFile"))]);
        let m = parse(&mut SliceSource(&bytes), &Limits::default()).expect("parse");
        assert_eq!(m.version, 3);
        assert_eq!(m.operator_codes.len(), 2);
        assert!(!m.operator_codes[0].is_custom());
        assert!(m.operator_codes[1].is_custom());
        assert_eq!(
            m.operator_codes[1].custom_code.as_deref(),
            Some("FlexReadFile")
        );
        assert_eq!(m.subgraph_count, 1);
    }

    #[test]
    fn truncations_are_errors() {
        let bytes = build::model(&[(BUILTIN_CUSTOM, Some("MyOp"))]);
        for cut in 0..bytes.len() {
            let _ = parse(&mut SliceSource(&bytes[..cut]), &Limits::default());
        }
        assert_eq!(
            parse(&mut SliceSource(b"12345678"), &Limits::default()),
            Err(TfliteError::NotTflite)
        );
    }
}
