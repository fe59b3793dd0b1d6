//! GGUF (llama.cpp's model format) header parsing, without reading tensor data.
//!
//! A GGUF file is `GGUF`, a version, the tensor and key-value counts, the metadata key-values,
//! the tensor infos (name, dimensions, ggml type, offset), padding to `general.alignment`, then
//! the tensor data. [`parse`] reads everything up to the data section and checks every tensor
//! against the file size by arithmetic alone, so a multi-gigabyte model costs a few reads.
//!
//! - Versions 1 to 3. Version 1 wrote counts, string and array lengths and dimensions as `u32`;
//!   later versions as `u64`.
//! - Little- and big-endian files (`GGUFWriter(endianess=BIG)`): the byte order is told by the
//!   version field, which reads as a small number in only one of them.
//! - Every count and length is checked against the bytes that remain before anything is
//!   allocated for it; arrays nest at most [`Limits::max_array_depth`] deep; at most
//!   [`Limits::max_stored_array_items`] elements of an array are kept (the rest are walked and
//!   skipped) and strings longer than [`Limits::max_string_bytes`] are skipped and only measured.
//!
//! Problems after the fixed header do not discard what was read before them: the result carries
//! the key-values and tensors parsed so far and the [`GgufError`] that stopped the parse in
//! [`GgufFile::error`], so a caller can still inspect a chat template stored before the damage.

mod reader;
mod types;

#[cfg(test)]
mod properties;

use std::collections::BTreeMap;
use std::io::{Read, Seek};

pub use reader::parse;
pub use types::{GgmlType, file_type_name, ggml_type};

/// Bounds of one parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most metadata key-values.
    pub max_kv: u64,
    /// Most tensors.
    pub max_tensors: u64,
    /// Deepest nesting of arrays in arrays.
    pub max_array_depth: usize,
    /// Array elements kept per array (all of them are still read or skipped by structure).
    pub max_stored_array_items: usize,
    /// Longest string value kept; longer ones become [`Value::LongString`].
    pub max_string_bytes: u64,
    /// Longest key or tensor name.
    pub max_name_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_kv: 1 << 20,
            max_tensors: 1 << 20,
            max_array_depth: 8,
            max_stored_array_items: 64,
            max_string_bytes: 8 * 1024 * 1024,
            max_name_bytes: 64 * 1024,
        }
    }
}

/// Byte order of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

/// GGUF metadata value types (`gguf_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    Bool,
    String,
    Array,
    U64,
    I64,
    F64,
}

impl ValueType {
    pub fn from_code(code: u32) -> Option<ValueType> {
        Some(match code {
            0 => ValueType::U8,
            1 => ValueType::I8,
            2 => ValueType::U16,
            3 => ValueType::I16,
            4 => ValueType::U32,
            5 => ValueType::I32,
            6 => ValueType::F32,
            7 => ValueType::Bool,
            8 => ValueType::String,
            9 => ValueType::Array,
            10 => ValueType::U64,
            11 => ValueType::I64,
            12 => ValueType::F64,
            _ => return None,
        })
    }

    /// Encoded size of a fixed-size value.
    pub fn fixed_size(self) -> Option<u64> {
        Some(match self {
            ValueType::U8 | ValueType::I8 | ValueType::Bool => 1,
            ValueType::U16 | ValueType::I16 => 2,
            ValueType::U32 | ValueType::I32 | ValueType::F32 => 4,
            ValueType::U64 | ValueType::I64 | ValueType::F64 => 8,
            ValueType::String | ValueType::Array => return None,
        })
    }
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    /// A UTF-8 string (invalid sequences replaced; see [`GgufFile::anomalies`]).
    String(String),
    /// A string longer than [`Limits::max_string_bytes`]: skipped, only its length known.
    LongString {
        len: u64,
    },
    Array(Array),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// An array value: its element type, its full length, and its first elements.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub element_type: ValueType,
    pub len: u64,
    /// The first [`Limits::max_stored_array_items`] elements.
    pub items: Vec<Value>,
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Integer values of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(u64::from(v)),
            Value::U16(v) => Some(u64::from(v)),
            Value::U32(v) => Some(u64::from(v)),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
}

/// One tensor info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    /// ggml type code (see [`ggml_type`]).
    pub ggml_type: u32,
    /// Offset of the data, relative to [`GgufFile::data_offset`].
    pub offset: u64,
    /// Byte offset of this tensor info in the file.
    pub info_offset: u64,
}

impl TensorInfo {
    /// Number of elements, `None` on overflow.
    pub fn elements(&self) -> Option<u64> {
        self.dims
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(*d))
    }

    /// Bytes of data, when the type is known and the size does not overflow.
    pub fn data_bytes(&self) -> Option<u64> {
        let ty = ggml_type(self.ggml_type)?;
        let elements = self.elements()?;
        (elements / ty.block_size).checked_mul(ty.type_size)
    }
}

/// A structural problem that does not stop the parse (a tensor outside the file, misaligned
/// data, an unknown ggml type, invalid UTF-8, a duplicated key...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// Byte offset in the file the problem is at.
    pub offset: u64,
    pub message: String,
}

/// A parsed GGUF header.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufFile {
    pub version: u32,
    pub endian: Endian,
    /// Tensor count from the header.
    pub tensor_count: u64,
    /// Key-value count from the header.
    pub kv_count: u64,
    /// Metadata in file order; each entry with the offset of its key.
    pub metadata: Vec<(String, Value, u64)>,
    pub tensors: Vec<TensorInfo>,
    /// `general.alignment`, or 32.
    pub alignment: u64,
    /// Start of the tensor data section (end of the header, aligned). `None` when the header
    /// could not be read to its end.
    pub data_offset: Option<u64>,
    /// Size of the file.
    pub file_size: u64,
    pub anomalies: Vec<Anomaly>,
    /// What stopped the parse before the end of the header, if anything.
    pub error: Option<GgufError>,
}

impl GgufFile {
    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v)
    }

    /// Sum of the tensors' element counts (saturating).
    pub fn parameter_count(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| t.elements().unwrap_or(u64::MAX))
            .fold(0u64, u64::saturating_add)
    }

    /// Facts for a model card: `architecture`, `name`, `license`, `quantization`, `parameters`,
    /// `tensors`, `dtype`, `gguf_version`, `context_length`...
    pub fn facts(&self) -> BTreeMap<String, String> {
        let mut facts = BTreeMap::new();
        facts.insert("framework".into(), "gguf".into());
        facts.insert("gguf_version".into(), self.version.to_string());
        if self.endian == Endian::Big {
            facts.insert("byte_order".into(), "big-endian".into());
        }
        let text = |key: &str| self.get(key).and_then(Value::as_str).map(str::to_string);
        for (fact, key) in [
            ("architecture", "general.architecture"),
            ("name", "general.name"),
            ("license", "general.license"),
            ("organization", "general.organization"),
            ("base_model", "general.base_model.0.name"),
            ("size_label", "general.size_label"),
        ] {
            if let Some(value) = text(key) {
                facts.insert(fact.into(), value.chars().take(256).collect());
            }
        }
        if let Some(ft) = self.get("general.file_type").and_then(Value::as_u64) {
            let name = u32::try_from(ft).ok().and_then(file_type_name);
            facts.insert(
                "quantization".into(),
                name.map_or_else(|| format!("file_type {ft}"), str::to_string),
            );
        }
        if let Some(arch) = text("general.architecture")
            && let Some(ctx) = self
                .get(&format!("{arch}.context_length"))
                .and_then(Value::as_u64)
        {
            facts.insert("context_length".into(), ctx.to_string());
        }
        facts.insert("tensors".into(), self.tensors.len().to_string());
        if !self.tensors.is_empty() {
            facts.insert("parameters".into(), self.parameter_count().to_string());
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for t in &self.tensors {
                *counts
                    .entry(ggml_type(t.ggml_type).map_or("unknown", |ty| ty.name))
                    .or_default() += 1;
            }
            let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let dtypes: Vec<&str> = by_count.iter().map(|(n, _)| *n).collect();
            facts.insert("dtype".into(), dtypes.join(","));
        }
        facts
    }
}

/// Why a GGUF header could not be read (completely).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GgufError {
    #[error("not a GGUF file (no GGUF magic)")]
    BadMagic,
    #[error("unsupported GGUF version {0}")]
    UnsupportedVersion(u32),
    #[error("truncated at byte {offset}: {what} needs {needed} bytes, {available} remain")]
    Truncated {
        offset: u64,
        what: String,
        needed: u64,
        available: u64,
    },
    #[error("at byte {offset}: {what} is {value}, more than {limit}")]
    TooLarge {
        offset: u64,
        what: String,
        value: u64,
        limit: u64,
    },
    #[error("at byte {offset}: unknown value type {code}")]
    UnknownValueType { offset: u64, code: u32 },
    #[error("at byte {offset}: {message}")]
    Invalid { offset: u64, message: String },
    #[error("read failed at byte {offset}: {message}")]
    Io { offset: u64, message: String },
}

/// Random-access input.
pub trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// Whether `prefix` starts with the GGUF magic.
pub fn is_gguf(prefix: &[u8]) -> bool {
    prefix.starts_with(b"GGUF")
}
