//! The header checks of the safetensors loader (`safetensors::SafeTensors::read_metadata` and
//! `Metadata::validate`), plus the places where that loader and other parsers of the same bytes
//! disagree.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};

use crate::json::{self, JsonError, Number, Value};

/// The loader refuses headers above 100 MB (`MAX_HEADER_SIZE`).
pub const MAX_HEADER_SIZE: u64 = 100_000_000;

/// JSON values built for one header. A real header needs about five per tensor; a million
/// tensors fit. Beyond this the header is reported as not fully inspected.
pub const MAX_JSON_VALUES: usize = 8_000_000;

/// Problems listed per file; the rest are counted.
pub const MAX_LISTED: usize = 64;

/// Every element type the loader knows (`safetensors::Dtype`, 0.7/0.8), with its size in bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dtype {
    Bool,
    F4,
    F6E2m3,
    F6E3m2,
    U8,
    I8,
    F8E5m2,
    F8E4m3,
    F8E8m0,
    F8E4m3Fnuz,
    F8E5m2Fnuz,
    I16,
    U16,
    F16,
    Bf16,
    I32,
    U32,
    F32,
    C64,
    F64,
    I64,
    U64,
}

impl Dtype {
    pub const ALL: [Dtype; 22] = [
        Dtype::Bool,
        Dtype::F4,
        Dtype::F6E2m3,
        Dtype::F6E3m2,
        Dtype::U8,
        Dtype::I8,
        Dtype::F8E5m2,
        Dtype::F8E4m3,
        Dtype::F8E8m0,
        Dtype::F8E4m3Fnuz,
        Dtype::F8E5m2Fnuz,
        Dtype::I16,
        Dtype::U16,
        Dtype::F16,
        Dtype::Bf16,
        Dtype::I32,
        Dtype::U32,
        Dtype::F32,
        Dtype::C64,
        Dtype::F64,
        Dtype::I64,
        Dtype::U64,
    ];

    /// The name as written in headers (serde's variant name: exact, case-sensitive).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Bool => "BOOL",
            Dtype::F4 => "F4",
            Dtype::F6E2m3 => "F6_E2M3",
            Dtype::F6E3m2 => "F6_E3M2",
            Dtype::U8 => "U8",
            Dtype::I8 => "I8",
            Dtype::F8E5m2 => "F8_E5M2",
            Dtype::F8E4m3 => "F8_E4M3",
            Dtype::F8E8m0 => "F8_E8M0",
            Dtype::F8E4m3Fnuz => "F8_E4M3FNUZ",
            Dtype::F8E5m2Fnuz => "F8_E5M2FNUZ",
            Dtype::I16 => "I16",
            Dtype::U16 => "U16",
            Dtype::F16 => "F16",
            Dtype::Bf16 => "BF16",
            Dtype::I32 => "I32",
            Dtype::U32 => "U32",
            Dtype::F32 => "F32",
            Dtype::C64 => "C64",
            Dtype::F64 => "F64",
            Dtype::I64 => "I64",
            Dtype::U64 => "U64",
        }
    }

    pub fn from_name(name: &str) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Size of one element in bits (`Dtype::bitsize`).
    pub fn bits(self) -> u64 {
        match self {
            Dtype::F4 => 4,
            Dtype::F6E2m3 | Dtype::F6E3m2 => 6,
            Dtype::Bool
            | Dtype::U8
            | Dtype::I8
            | Dtype::F8E5m2
            | Dtype::F8E4m3
            | Dtype::F8E8m0
            | Dtype::F8E4m3Fnuz
            | Dtype::F8E5m2Fnuz => 8,
            Dtype::I16 | Dtype::U16 | Dtype::F16 | Dtype::Bf16 => 16,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 32,
            Dtype::C64 | Dtype::F64 | Dtype::I64 | Dtype::U64 => 64,
        }
    }
}

/// One tensor entry as the loader keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<u64>,
    /// `data_offsets`, relative to the start of the body.
    pub begin: u64,
    pub end: u64,
}

impl Tensor {
    /// Number of elements, `None` on overflow.
    pub fn elements(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(*d))
    }
}

/// Something that makes the real loader refuse the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("the file has {size} bytes, fewer than the 8-byte header length")]
    HeaderTooSmall { size: u64 },
    #[error("the header declares {declared} bytes, above the loader's 100 MB cap")]
    HeaderTooLarge { declared: u64 },
    #[error("the header declares {declared} bytes but only {available} bytes follow the length")]
    HeaderPastEnd { declared: u64, available: u64 },
    #[error("the header is not valid UTF-8 (first invalid byte at header offset {offset})")]
    InvalidUtf8 { offset: u64 },
    #[error("the header is not valid JSON at header offset {offset}: {what}")]
    InvalidJson { offset: u64, what: String },
    #[error("the header is {kind}, not a JSON object")]
    NotAnObject { kind: &'static str },
    #[error("`__metadata__` appears {count} times (the loader rejects a duplicate field)")]
    DuplicateMetadata { count: usize },
    #[error("`__metadata__` is {kind}, not an object of strings")]
    InvalidMetadata { kind: &'static str },
    #[error("`__metadata__` value of `{key}` is {kind}; only strings are allowed")]
    MetadataValueNotString { key: String, kind: &'static str },
    #[error("tensor `{name}`: {why}")]
    InvalidTensor { name: String, why: String },
    #[error("tensor `{name}` has unknown dtype `{dtype}`")]
    UnknownDtype { name: String, dtype: String },
    #[error("tensor `{name}` data_offsets [{begin}, {end}] end before they begin")]
    ReversedOffsets { name: String, begin: u64, end: u64 },
    #[error(
        "tensor `{name}` starts at body offset {begin}, but the previous tensor ends at {expected}: {gap} bytes of the body belong to no tensor"
    )]
    Gap {
        name: String,
        begin: u64,
        expected: u64,
        gap: u64,
    },
    #[error(
        "tensor `{name}` starts at body offset {begin}, inside the previous tensor (which ends at {expected}): overlapping tensors"
    )]
    Overlap {
        name: String,
        begin: u64,
        expected: u64,
    },
    #[error("tensor `{name}`: shape × dtype size overflows")]
    Overflow { name: String },
    #[error("tensor `{name}`: {bits} bits is not a whole number of bytes")]
    Misaligned { name: String, bits: u64 },
    #[error(
        "tensor `{name}`: shape {shape:?} of {dtype} needs {expected} bytes but data_offsets span {actual}"
    )]
    SizeMismatch {
        name: String,
        dtype: &'static str,
        shape: Vec<u64>,
        expected: u64,
        actual: u64,
    },
    #[error(
        "the tensors cover {covered} bytes of a {body}-byte body: {trailing} bytes after the last tensor belong to no tensor"
    )]
    TrailingData {
        covered: u64,
        body: u64,
        trailing: u64,
    },
    #[error(
        "the tensors need {covered} bytes of body but the file holds {body}: the data extends past the end of the file"
    )]
    Truncated { covered: u64, body: u64 },
}

/// Something the loader accepts but other parsers of the same bytes read differently, or that
/// the format specification forbids: room for a parser differential or hidden content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ambiguity {
    #[error(
        "tensor `{name}` is defined {count} times; the loader keeps the last definition, other parsers may keep the first"
    )]
    DuplicateTensor { name: String, count: usize },
    #[error(
        "`__metadata__` key `{key}` appears {count} times; the loader keeps the last value, other parsers may keep the first"
    )]
    DuplicateMetadataKey { key: String, count: usize },
    #[error("the header does not start with `{{` ({leading} bytes of whitespace first)")]
    LeadingWhitespace { leading: u64 },
    #[error(
        "the header is padded with bytes other than spaces ({count} bytes; the specification allows only 0x20)"
    )]
    NonSpacePadding { count: u64 },
    #[error("tensor `{name}` has fields the loader ignores: {fields}")]
    UnknownTensorFields { name: String, fields: String },
    #[error(
        "tensor `{name}` is written as an array; the loader accepts it, most other parsers do not"
    )]
    TensorAsArray { name: String },
    #[error(
        "tensor `{name}` dtype is written as an object; the loader accepts it, most other parsers do not"
    )]
    DtypeAsObject { name: String },
}

/// Everything learnt from one safetensors header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inspection {
    /// File size in bytes.
    pub file_size: u64,
    /// The declared header length (`None` when the file is shorter than 8 bytes).
    pub header_len: Option<u64>,
    /// Tensors sorted by their data offsets, as the loader sorts them.
    pub tensors: Vec<Tensor>,
    /// `__metadata__` entries in file order.
    pub metadata: Vec<(String, String)>,
    /// Why the loader would refuse the file (empty when it loads).
    pub problems: Vec<Problem>,
    /// Problems beyond [`MAX_LISTED`].
    pub more_problems: usize,
    pub ambiguities: Vec<Ambiguity>,
    pub more_ambiguities: usize,
    /// False when a limit stopped the inspection (the header was too complex to check fully).
    pub complete: bool,
    /// Why the inspection is incomplete.
    pub incomplete_reason: Option<String>,
}

impl Inspection {
    fn new(file_size: u64) -> Self {
        Inspection {
            file_size,
            complete: true,
            ..Inspection::default()
        }
    }

    /// Whether the real loader accepts the file.
    pub fn loads(&self) -> bool {
        self.problems.is_empty() && self.complete
    }

    /// Total number of elements over all tensors (saturating).
    pub fn parameters(&self) -> u128 {
        self.tensors
            .iter()
            .map(|t| u128::from(t.elements().unwrap_or(0)))
            .fold(0u128, u128::saturating_add)
    }

    /// Number of tensors of each dtype, by dtype name.
    pub fn dtype_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for tensor in &self.tensors {
            *counts.entry(tensor.dtype.name()).or_insert(0) += 1;
        }
        counts
    }

    /// `__metadata__["format"]` (`pt`, `tf`, `flax`, `np`, `mlx`...), the last value like the loader.
    pub fn format(&self) -> Option<&str> {
        self.metadata
            .iter()
            .rev()
            .find(|(k, _)| k == "format")
            .map(|(_, v)| v.as_str())
    }

    fn problem(&mut self, problem: Problem) {
        if self.problems.len() < MAX_LISTED {
            self.problems.push(problem);
        } else {
            self.more_problems += 1;
        }
    }

    fn ambiguity(&mut self, ambiguity: Ambiguity) {
        if self.ambiguities.len() < MAX_LISTED {
            self.ambiguities.push(ambiguity);
        } else {
            self.more_ambiguities += 1;
        }
    }
}

/// An I/O failure while reading the header (the file's content is judged in [`Inspection`]).
#[derive(Debug, thiserror::Error)]
#[error("cannot read the safetensors header: {0}")]
pub struct ReadError(#[from] std::io::Error);

/// Reads the 8-byte length and the header of a file of `file_size` bytes and checks them; the
/// body is never read (only its size matters).
pub fn inspect<R: Read + Seek + ?Sized>(
    src: &mut R,
    file_size: u64,
) -> Result<Inspection, ReadError> {
    src.seek(SeekFrom::Start(0))?;
    inspect_stream(src, Some(file_size))
}

/// Like [`inspect`] for a sequential stream: reads the length and the header, then, when
/// `file_size` is unknown, counts the remaining bytes without keeping them.
pub fn inspect_stream<R: Read + ?Sized>(
    src: &mut R,
    file_size: Option<u64>,
) -> Result<Inspection, ReadError> {
    let mut length = Vec::with_capacity(8);
    Read::take(&mut *src, 8).read_to_end(&mut length)?;
    let Ok(length) = <[u8; 8]>::try_from(length.as_slice()) else {
        let size = length.len() as u64;
        let mut inspection = Inspection::new(size);
        inspection.problem(Problem::HeaderTooSmall { size });
        return Ok(inspection);
    };
    let declared = u64::from_le_bytes(length);
    let mut header = Vec::new();
    if declared <= MAX_HEADER_SIZE {
        // Bounded by the loader's own cap, and by what the file holds.
        let wanted = match file_size {
            Some(size) => declared.min(size.saturating_sub(8)),
            None => declared,
        };
        Read::take(&mut *src, wanted).read_to_end(&mut header)?;
    }
    let file_size = match file_size {
        Some(size) => size,
        None => {
            let rest = std::io::copy(src, &mut std::io::sink())?;
            8 + header.len() as u64 + rest
        }
    };
    Ok(check(declared, &header, file_size))
}

/// Checks a whole file held in memory.
pub fn inspect_bytes(file: &[u8]) -> Inspection {
    let size = file.len() as u64;
    let Some(length) = file.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
        let mut inspection = Inspection::new(size);
        inspection.problem(Problem::HeaderTooSmall { size });
        return inspection;
    };
    let declared = u64::from_le_bytes(length);
    let available = size - 8;
    let header_len = usize::try_from(declared.min(available).min(MAX_HEADER_SIZE)).unwrap_or(0);
    let header = file.get(8..8 + header_len).unwrap_or(&[]);
    check(declared, header, size)
}

/// The checks, given the declared header length, the header bytes that could be read (at most
/// `declared`) and the file size.
fn check(declared: u64, header: &[u8], file_size: u64) -> Inspection {
    let mut inspection = Inspection::new(file_size);
    inspection.header_len = Some(declared);
    if declared > MAX_HEADER_SIZE {
        inspection.problem(Problem::HeaderTooLarge { declared });
        return inspection;
    }
    let available = file_size.saturating_sub(8);
    if declared > available || (header.len() as u64) < declared {
        inspection.problem(Problem::HeaderPastEnd {
            declared,
            available,
        });
        return inspection;
    }
    let text = match std::str::from_utf8(header) {
        Ok(text) => text,
        Err(e) => {
            inspection.problem(Problem::InvalidUtf8 {
                offset: e.valid_up_to() as u64,
            });
            return inspection;
        }
    };
    let (root, start, end) = match json::parse(text.as_bytes(), MAX_JSON_VALUES) {
        Ok(parsed) => parsed,
        Err(JsonError::Syntax { offset, what }) => {
            inspection.problem(Problem::InvalidJson {
                offset: offset as u64,
                what: what.to_string(),
            });
            return inspection;
        }
        Err(JsonError::TooComplex { limit }) => {
            inspection.complete = false;
            inspection.incomplete_reason = Some(format!(
                "the header holds more than {limit} JSON values; mlvet stopped checking it"
            ));
            return inspection;
        }
    };
    if start > 0 {
        inspection.ambiguity(Ambiguity::LeadingWhitespace {
            leading: start as u64,
        });
    }
    let padding = text.as_bytes().get(end..).unwrap_or(&[]);
    let odd_padding = padding.iter().filter(|b| **b != b' ').count() as u64;
    if odd_padding > 0 {
        inspection.ambiguity(Ambiguity::NonSpacePadding { count: odd_padding });
    }
    let Value::Object(entries) = root else {
        inspection.problem(Problem::NotAnObject { kind: root.kind() });
        return inspection;
    };

    let mut metadata_count = 0usize;
    // name -> (definitions, last parsed tensor)
    let mut by_name: BTreeMap<String, (usize, Option<Tensor>)> = BTreeMap::new();
    for (key, _offset, value) in entries {
        if key == "__metadata__" {
            metadata_count += 1;
            read_metadata(&mut inspection, value);
            continue;
        }
        let tensor = read_tensor(&mut inspection, &key, value);
        let slot = by_name.entry(key).or_insert((0, None));
        slot.0 += 1;
        // serde's HashMap keeps the last definition.
        slot.1 = tensor;
    }
    if metadata_count > 1 {
        inspection.problem(Problem::DuplicateMetadata {
            count: metadata_count,
        });
    }
    let mut keys: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, _) in &inspection.metadata {
        *keys.entry(key.as_str()).or_insert(0) += 1;
    }
    let duplicated: Vec<(String, usize)> = keys
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    for (key, count) in duplicated {
        inspection.ambiguity(Ambiguity::DuplicateMetadataKey { key, count });
    }
    let mut tensors = Vec::with_capacity(by_name.len());
    for (name, (count, tensor)) in by_name {
        if count > 1 {
            inspection.ambiguity(Ambiguity::DuplicateTensor {
                name: name.clone(),
                count,
            });
        }
        if let Some(tensor) = tensor {
            tensors.push(tensor);
        }
    }
    // The loader sorts by (begin, end) and then walks the body from offset 0.
    tensors.sort_by(|a, b| (a.begin, a.end, &a.name).cmp(&(b.begin, b.end, &b.name)));
    let body = available - declared;
    let mut cursor = 0u64;
    for tensor in &tensors {
        if tensor.end < tensor.begin {
            inspection.problem(Problem::ReversedOffsets {
                name: tensor.name.clone(),
                begin: tensor.begin,
                end: tensor.end,
            });
            continue;
        }
        if tensor.begin > cursor {
            inspection.problem(Problem::Gap {
                name: tensor.name.clone(),
                begin: tensor.begin,
                expected: cursor,
                gap: tensor.begin - cursor,
            });
        } else if tensor.begin < cursor {
            inspection.problem(Problem::Overlap {
                name: tensor.name.clone(),
                begin: tensor.begin,
                expected: cursor,
            });
        }
        cursor = cursor.max(tensor.end);
        let Some(bits) = tensor
            .elements()
            .and_then(|n| n.checked_mul(tensor.dtype.bits()))
        else {
            inspection.problem(Problem::Overflow {
                name: tensor.name.clone(),
            });
            continue;
        };
        if bits % 8 != 0 {
            inspection.problem(Problem::Misaligned {
                name: tensor.name.clone(),
                bits,
            });
            continue;
        }
        let expected = bits / 8;
        let actual = tensor.end - tensor.begin;
        if expected != actual {
            inspection.problem(Problem::SizeMismatch {
                name: tensor.name.clone(),
                dtype: tensor.dtype.name(),
                shape: tensor.shape.clone(),
                expected,
                actual,
            });
        }
    }
    if cursor < body {
        inspection.problem(Problem::TrailingData {
            covered: cursor,
            body,
            trailing: body - cursor,
        });
    } else if cursor > body {
        inspection.problem(Problem::Truncated {
            covered: cursor,
            body,
        });
    }
    inspection.tensors = tensors;
    inspection
}

fn read_metadata(inspection: &mut Inspection, value: Value) {
    match value {
        // `Option<HashMap<..>>`: null is "no metadata".
        Value::Null => {}
        Value::Object(entries) => {
            for (key, _, value) in entries {
                match value {
                    Value::String(text) => inspection.metadata.push((key, text)),
                    other => inspection.problem(Problem::MetadataValueNotString {
                        key,
                        kind: other.kind(),
                    }),
                }
            }
        }
        other => inspection.problem(Problem::InvalidMetadata { kind: other.kind() }),
    }
}

fn invalid(inspection: &mut Inspection, name: &str, why: impl Into<String>) -> Option<Tensor> {
    inspection.problem(Problem::InvalidTensor {
        name: name.to_string(),
        why: why.into(),
    });
    None
}

/// A tensor entry as serde derives it for `TensorInfo`: an object with `dtype`, `shape`,
/// `data_offsets` (unknown fields ignored, duplicates refused), or the sequence form
/// `[dtype, shape, data_offsets]`.
fn read_tensor(inspection: &mut Inspection, name: &str, value: Value) -> Option<Tensor> {
    let (dtype, shape, offsets) = match value {
        Value::Object(fields) => {
            let mut dtype = None;
            let mut shape = None;
            let mut offsets = None;
            let mut unknown = Vec::new();
            for (field, _, value) in fields {
                let slot = match field.as_str() {
                    "dtype" => &mut dtype,
                    "shape" => &mut shape,
                    "data_offsets" => &mut offsets,
                    _ => {
                        unknown.push(format!("`{field}`"));
                        continue;
                    }
                };
                if slot.is_some() {
                    return invalid(inspection, name, format!("duplicate field `{field}`"));
                }
                *slot = Some(value);
            }
            if !unknown.is_empty() {
                inspection.ambiguity(Ambiguity::UnknownTensorFields {
                    name: name.to_string(),
                    fields: unknown.join(", "),
                });
            }
            let Some(dtype) = dtype else {
                return invalid(inspection, name, "missing field `dtype`");
            };
            let Some(shape) = shape else {
                return invalid(inspection, name, "missing field `shape`");
            };
            let Some(offsets) = offsets else {
                return invalid(inspection, name, "missing field `data_offsets`");
            };
            (dtype, shape, offsets)
        }
        Value::Array(items) => {
            if items.len() != 3 {
                return invalid(
                    inspection,
                    name,
                    format!("written as an array of {} items, not 3", items.len()),
                );
            }
            inspection.ambiguity(Ambiguity::TensorAsArray {
                name: name.to_string(),
            });
            let mut items = items.into_iter();
            match (items.next(), items.next(), items.next()) {
                (Some(d), Some(s), Some(o)) => (d, s, o),
                _ => return invalid(inspection, name, "malformed array form"),
            }
        }
        other => {
            return invalid(
                inspection,
                name,
                format!("is {}, not an object", other.kind()),
            );
        }
    };
    let dtype_name = match dtype {
        Value::String(text) => text,
        // serde also reads a unit enum variant written as `{"F32": null}`.
        Value::Object(mut entries) if entries.len() == 1 => {
            let Some((variant, _, Value::Null)) = entries.pop() else {
                return invalid(inspection, name, "dtype is an object that is not a dtype");
            };
            inspection.ambiguity(Ambiguity::DtypeAsObject {
                name: name.to_string(),
            });
            variant
        }
        other => return invalid(inspection, name, format!("dtype is {}", other.kind())),
    };
    let Some(dtype) = Dtype::from_name(&dtype_name) else {
        inspection.problem(Problem::UnknownDtype {
            name: name.to_string(),
            dtype: dtype_name.chars().take(64).collect(),
        });
        return None;
    };
    let shape = match unsigned_list(shape) {
        Ok(shape) => shape,
        Err(why) => return invalid(inspection, name, format!("shape {why}")),
    };
    let offsets = match unsigned_list(offsets) {
        Ok(offsets) => offsets,
        Err(why) => return invalid(inspection, name, format!("data_offsets {why}")),
    };
    let [begin, end] = offsets.as_slice() else {
        return invalid(
            inspection,
            name,
            format!("data_offsets has {} items, not 2", offsets.len()),
        );
    };
    Some(Tensor {
        name: name.to_string(),
        dtype,
        shape,
        begin: *begin,
        end: *end,
    })
}

fn unsigned_list(value: Value) -> Result<Vec<u64>, String> {
    let Value::Array(items) = value else {
        return Err(format!("is {}, not an array", value.kind()));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Number(Number::Unsigned(n)) => Ok(n),
            other => Err(format!(
                "holds {}, not a non-negative integer",
                other.kind()
            )),
        })
        .collect()
}
