//! Datatype, dataspace and attribute messages, and attribute values.

use crate::io::{Cursor, Source, be_uint, le_uint};
use crate::{Error, heap};

/// An HDF5 datatype, as far as mlvet needs to describe or decode it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datatype {
    Integer {
        size: u32,
        signed: bool,
        big_endian: bool,
    },
    Float {
        size: u32,
        big_endian: bool,
    },
    /// Fixed-length string of `size` bytes.
    FixedString {
        size: u32,
        utf8: bool,
    },
    /// Variable-length string (data in the global heap).
    VarString {
        utf8: bool,
    },
    /// Variable-length sequence of another type.
    VarSequence(Box<Datatype>),
    /// Any other class (compound, array, enum, reference, opaque, bitfield, time): described only.
    Other {
        class: u8,
        size: u32,
    },
}

impl Datatype {
    /// A short name in NumPy spirit (`int64`, `float32`, `str`, `bytes16`...).
    pub fn describe(&self) -> String {
        match self {
            Datatype::Integer { size, signed, .. } => {
                format!("{}int{}", if *signed { "" } else { "u" }, size * 8)
            }
            Datatype::Float { size, .. } => format!("float{}", size * 8),
            Datatype::FixedString { size, .. } => format!("string[{size}]"),
            Datatype::VarString { .. } => "vlen-string".to_string(),
            Datatype::VarSequence(inner) => format!("vlen<{}>", inner.describe()),
            Datatype::Other { class, size } => {
                let name = match class {
                    2 => "time",
                    4 => "bitfield",
                    5 => "opaque",
                    6 => "compound",
                    7 => "reference",
                    8 => "enum",
                    10 => "array",
                    _ => "class",
                };
                format!("{name}{class}[{size}]")
            }
        }
    }

    /// Bytes one element occupies in attribute or dataset storage.
    pub(crate) fn element_size(&self, offset_size: u8) -> u64 {
        match self {
            Datatype::Integer { size, .. }
            | Datatype::Float { size, .. }
            | Datatype::FixedString { size, .. }
            | Datatype::Other { size, .. } => u64::from(*size),
            // length (4) + global heap collection address + object index (4)
            Datatype::VarString { .. } | Datatype::VarSequence(_) => 8 + u64::from(offset_size),
        }
    }
}

/// Datatype nesting (a vlen of vlen of ...) allowed while parsing.
const DATATYPE_DEPTH_MAX: usize = 8;

pub(crate) fn parse_datatype(bytes: &[u8]) -> Result<Datatype, Error> {
    parse_datatype_at(&mut Cursor::new(bytes, "datatype message"), 0)
}

fn parse_datatype_at(c: &mut Cursor<'_>, depth: usize) -> Result<Datatype, Error> {
    if depth > DATATYPE_DEPTH_MAX {
        return Err(Error::Limit("datatype nested too deeply".into()));
    }
    let class_version = c.u8()?;
    let class = class_version & 0x0f;
    let bits = c.take(3)?;
    let bits0 = bits.first().copied().unwrap_or(0);
    let bits1 = bits.get(1).copied().unwrap_or(0);
    let size = c.u32()?;
    Ok(match class {
        0 => {
            c.skip(4)?; // bit offset, precision
            Datatype::Integer {
                size,
                signed: bits0 & 0x08 != 0,
                big_endian: bits0 & 0x01 != 0,
            }
        }
        1 => {
            c.skip(12)?;
            Datatype::Float {
                size,
                big_endian: bits0 & 0x01 != 0,
            }
        }
        3 => Datatype::FixedString {
            size,
            utf8: (bits0 >> 4) & 0x0f == 1,
        },
        9 => {
            let kind = bits0 & 0x0f;
            let utf8 = bits1 & 0x0f == 1;
            let base = parse_datatype_at(c, depth + 1)?;
            if kind == 1 {
                Datatype::VarString { utf8 }
            } else {
                Datatype::VarSequence(Box::new(base))
            }
        }
        other => Datatype::Other { class: other, size },
    })
}

/// The shape of an attribute or dataset; `None` for a null dataspace (no elements).
pub(crate) fn parse_dataspace(bytes: &[u8], length_size: u8) -> Result<Option<Vec<u64>>, Error> {
    let mut c = Cursor::new(bytes, "dataspace message");
    let version = c.u8()?;
    let rank = usize::from(c.u8()?);
    let _flags = c.u8()?;
    if rank > 32 {
        return Err(Error::Malformed(format!("dataspace of rank {rank}")));
    }
    match version {
        1 => {
            c.skip(5)?;
        }
        2 => {
            let kind = c.u8()?;
            if kind == 2 {
                return Ok(None);
            }
        }
        v => return Err(Error::Unsupported(format!("dataspace message version {v}"))),
    }
    let mut dims = Vec::with_capacity(rank);
    for _ in 0..rank {
        dims.push(c.uint(usize::from(length_size))?);
    }
    Ok(Some(dims))
}

/// A decoded attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Strings (fixed or variable length), one per element; bytes as stored.
    Strings(Vec<Vec<u8>>),
    Integers(Vec<i128>),
    Floats(Vec<f64>),
    /// A datatype mlvet does not decode (compound, reference...), or elements beyond the limit.
    Undecoded(String),
}

/// One attribute of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub datatype: Datatype,
    /// Dimensions; empty for a scalar; `None` for a null dataspace.
    pub shape: Option<Vec<u64>>,
    pub value: Value,
}

impl Attribute {
    /// The value as one text string when it is a single string element (what `h5py` writes for
    /// `attrs["x"] = "..."` or `b"..."`), lossily decoded as UTF-8.
    pub fn as_text(&self) -> Option<String> {
        match &self.value {
            Value::Strings(items) if items.len() == 1 => items
                .first()
                .map(|s| String::from_utf8_lossy(s).into_owned()),
            _ => None,
        }
    }

    /// Every string element, lossily decoded.
    pub fn texts(&self) -> Vec<String> {
        match &self.value {
            Value::Strings(items) => items
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Parses an attribute message (versions 1 to 3) and decodes its value.
pub(crate) fn parse_attribute(src: &mut Source<'_>, bytes: &[u8]) -> Result<Attribute, Error> {
    let mut c = Cursor::new(bytes, "attribute message");
    let version = c.u8()?;
    let flags = c.u8()?;
    let name_size = usize::from(c.u16()?);
    let type_size = usize::from(c.u16()?);
    let space_size = usize::from(c.u16()?);
    if version == 3 {
        c.skip(1)?; // name character set
    }
    let pad = |n: usize| if version == 1 { n.div_ceil(8) * 8 } else { n };
    if !(1..=3).contains(&version) {
        return Err(Error::Unsupported(format!(
            "attribute message version {version}"
        )));
    }
    let name_raw = c.take(pad(name_size))?;
    let name_raw = name_raw.get(..name_size).unwrap_or(name_raw);
    let name_end = name_raw
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(name_raw.len());
    let name = String::from_utf8_lossy(name_raw.get(..name_end).unwrap_or(&[])).into_owned();
    if flags & 0x03 != 0 {
        // Shared (committed) datatype or dataspace: the message holds a reference instead.
        return Err(Error::Unsupported(format!(
            "attribute `{name}` uses a shared datatype or dataspace"
        )));
    }
    let type_bytes = c.take(pad(type_size))?;
    let datatype = parse_datatype(type_bytes)?;
    let space_bytes = c.take(pad(space_size))?;
    let shape = parse_dataspace(space_bytes, src.length_size)?;
    let data = c.bytes.get(c.pos..).unwrap_or(&[]);
    let value = decode_value(src, &datatype, shape.as_deref(), data)?;
    Ok(Attribute {
        name,
        datatype,
        shape,
        value,
    })
}

fn element_count(shape: Option<&[u64]>) -> Option<u64> {
    match shape {
        None => Some(0),
        Some(dims) => dims.iter().try_fold(1u64, |acc, d| acc.checked_mul(*d)),
    }
}

fn decode_value(
    src: &mut Source<'_>,
    datatype: &Datatype,
    shape: Option<&[u64]>,
    data: &[u8],
) -> Result<Value, Error> {
    let count =
        element_count(shape).ok_or_else(|| Error::Malformed("dataspace overflows".into()))?;
    if count > src.limits.max_attribute_elements {
        return Ok(Value::Undecoded(format!("{count} elements")));
    }
    let elem = datatype.element_size(src.offset_size);
    let needed = count
        .checked_mul(elem)
        .ok_or_else(|| Error::Malformed("attribute size overflows".into()))?;
    if needed > data.len() as u64 {
        return Err(Error::Malformed(format!(
            "attribute data of {} bytes holds fewer than {count} elements of {elem} bytes",
            data.len()
        )));
    }
    let elem = elem as usize;
    let elements = (0..count as usize).map(|i| data.get(i * elem..(i + 1) * elem).unwrap_or(&[]));
    Ok(match datatype {
        Datatype::FixedString { .. } => Value::Strings(
            elements
                .map(|e| {
                    let end = e.iter().position(|b| *b == 0).unwrap_or(e.len());
                    e.get(..end).unwrap_or(&[]).to_vec()
                })
                .collect(),
        ),
        Datatype::VarString { .. } => {
            let mut out = Vec::new();
            for e in elements {
                out.push(read_vlen(src, e)?);
            }
            Value::Strings(out)
        }
        Datatype::Integer {
            size,
            signed,
            big_endian,
        } if *size <= 8 && *size > 0 => Value::Integers(
            elements
                .map(|e| {
                    let raw = if *big_endian { be_uint(e) } else { le_uint(e) };
                    let bits = size * 8;
                    if *signed && bits < 128 && raw >> (bits - 1) & 1 == 1 {
                        i128::from(raw) - (1i128 << bits)
                    } else {
                        i128::from(raw)
                    }
                })
                .collect(),
        ),
        Datatype::Float { size, big_endian } if *size == 4 || *size == 8 => Value::Floats(
            elements
                .map(|e| {
                    let raw = if *big_endian { be_uint(e) } else { le_uint(e) };
                    if *size == 4 {
                        f64::from(f32::from_bits(raw as u32))
                    } else {
                        f64::from_bits(raw)
                    }
                })
                .collect(),
        ),
        other => Value::Undecoded(other.describe()),
    })
}

/// One variable-length element: length, then a global heap ID.
fn read_vlen(src: &mut Source<'_>, element: &[u8]) -> Result<Vec<u8>, Error> {
    let mut c = Cursor::new(element, "variable-length element");
    let length = u64::from(c.u32()?);
    let collection = c.uint(usize::from(src.offset_size))?;
    let index = c.u32()?;
    if length == 0 || src.is_undefined(collection) || collection == 0 {
        return Ok(Vec::new());
    }
    let mut object = heap::global_heap_object(src, collection, index)?;
    if object.len() as u64 > length {
        object.truncate(length as usize);
    }
    Ok(object)
}
