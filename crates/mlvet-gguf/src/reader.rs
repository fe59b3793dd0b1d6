//! The bounded reader behind [`parse`].

use std::collections::HashSet;
use std::io::{BufReader, Read, Seek, SeekFrom};

use crate::{
    Anomaly, Array, Endian, GgufError, GgufFile, Limits, TensorInfo, Value, ValueType, ggml_type,
};

/// Default `general.alignment`.
const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;

/// Parses the GGUF header of `src` (`size` bytes long) without reading tensor data.
///
/// `Err` only when the file is not GGUF at all (no magic, an unknown version, or too short to
/// hold them); every later problem is in [`GgufFile::error`] (fatal) or
/// [`GgufFile::anomalies`] (structural), with everything read before it kept.
pub fn parse<R: Read + Seek>(src: R, size: u64, limits: &Limits) -> Result<GgufFile, GgufError> {
    let mut src = src;
    src.seek(SeekFrom::Start(0)).map_err(|e| GgufError::Io {
        offset: 0,
        message: e.to_string(),
    })?;
    let mut r = Reader {
        inner: BufReader::with_capacity(64 * 1024, src),
        pos: 0,
        size,
        endian: Endian::Little,
        wide: true,
    };
    let magic: [u8; 4] = r.array("magic")?;
    if &magic != b"GGUF" {
        return Err(GgufError::BadMagic);
    }
    let raw: [u8; 4] = r.array("version")?;
    let (le, be) = (u32::from_le_bytes(raw), u32::from_be_bytes(raw));
    let (version, endian) = if (1..=3).contains(&le) {
        (le, Endian::Little)
    } else if (1..=3).contains(&be) {
        (be, Endian::Big)
    } else {
        return Err(GgufError::UnsupportedVersion(le));
    };
    r.endian = endian;
    r.wide = version >= 2;
    let mut file = GgufFile {
        version,
        endian,
        tensor_count: 0,
        kv_count: 0,
        metadata: Vec::new(),
        tensors: Vec::new(),
        alignment: DEFAULT_ALIGNMENT,
        data_offset: None,
        file_size: size,
        anomalies: Vec::new(),
        error: None,
    };
    if let Err(e) = read_body(&mut r, &mut file, limits) {
        file.error = Some(e);
    }
    Ok(file)
}

fn read_body<R: Read + Seek>(
    r: &mut Reader<R>,
    file: &mut GgufFile,
    limits: &Limits,
) -> Result<(), GgufError> {
    let counts_at = r.pos;
    file.tensor_count = r.count("tensor count")?;
    file.kv_count = r.count("key-value count")?;
    r.limit(
        counts_at,
        "tensor count",
        file.tensor_count,
        limits.max_tensors,
    )?;
    r.limit(counts_at, "key-value count", file.kv_count, limits.max_kv)?;
    // The smallest key-value is an empty key, a type and a one-byte value; the smallest tensor
    // info an empty name, the dimension count, the type and the offset.
    let len_size = r.len_size();
    let min_bytes = file
        .kv_count
        .saturating_mul(len_size + 4 + 1)
        .saturating_add(file.tensor_count.saturating_mul(len_size + 4 + 4 + 8));
    r.need(
        min_bytes,
        "the key-values and tensor infos the header counts",
    )?;

    let mut keys = HashSet::new();
    for _ in 0..file.kv_count {
        let key_at = r.pos;
        let key = r.string(limits.max_name_bytes, "key", &mut file.anomalies)?;
        let key = match key {
            Value::String(k) => k,
            _ => unreachable_long(key_at)?,
        };
        let type_at = r.pos;
        let code = r.u32()?;
        let ty = ValueType::from_code(code).ok_or(GgufError::UnknownValueType {
            offset: type_at,
            code,
        })?;
        let value = r.value(ty, 0, limits, &mut file.anomalies)?;
        if !keys.insert(key.clone()) {
            file.anomalies.push(Anomaly {
                offset: key_at,
                message: format!("duplicate key {key:?} (llama.cpp refuses the file)"),
            });
        }
        if key == "general.alignment" {
            match value {
                Value::U32(a) if a != 0 && a.is_power_of_two() => file.alignment = u64::from(a),
                ref other => file.anomalies.push(Anomaly {
                    offset: key_at,
                    message: format!(
                        "general.alignment must be a non-zero power of two u32, found {other:?}"
                    ),
                }),
            }
        }
        file.metadata.push((key, value, key_at));
    }

    let mut names = HashSet::new();
    for _ in 0..file.tensor_count {
        let info_at = r.pos;
        let name = match r.string(limits.max_name_bytes, "tensor name", &mut file.anomalies)? {
            Value::String(n) => n,
            _ => unreachable_long(info_at)?,
        };
        let dims_at = r.pos;
        let n_dims = r.u32()?;
        if n_dims > MAX_DIMS {
            return Err(GgufError::Invalid {
                offset: dims_at,
                message: format!("tensor {name:?} has {n_dims} dimensions, more than {MAX_DIMS}"),
            });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(r.count("tensor dimension")?);
        }
        let ggml_type = r.u32()?;
        let offset = r.u64()?;
        if !names.insert(name.clone()) {
            file.anomalies.push(Anomaly {
                offset: info_at,
                message: format!("duplicate tensor name {name:?}"),
            });
        }
        file.tensors.push(TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
            info_offset: info_at,
        });
    }
    let data_offset = r
        .pos
        .div_ceil(file.alignment)
        .saturating_mul(file.alignment);
    file.data_offset = Some(data_offset);
    check_tensors(file, data_offset);
    Ok(())
}

/// Checks every tensor against the file by arithmetic: known type, whole blocks, aligned offset,
/// data inside the file, no overlap.
fn check_tensors(file: &mut GgufFile, data_offset: u64) {
    let mut ranges: Vec<(u64, u64, usize)> = Vec::new();
    let available = file.file_size.saturating_sub(data_offset);
    for (index, t) in file.tensors.iter().enumerate() {
        let mut problem = |message: String| {
            file.anomalies.push(Anomaly {
                offset: t.info_offset,
                message: format!("tensor {:?}: {message}", t.name),
            });
        };
        let Some(ty) = ggml_type(t.ggml_type) else {
            problem(format!("unknown ggml type {}", t.ggml_type));
            continue;
        };
        let Some(elements) = t.elements() else {
            problem(format!("dimensions {:?} overflow", t.dims));
            continue;
        };
        if t.dims.first().copied().unwrap_or(1) % ty.block_size != 0 {
            problem(format!(
                "first dimension {} is not a multiple of the {} block size {}",
                t.dims.first().copied().unwrap_or(1),
                ty.name,
                ty.block_size
            ));
            continue;
        }
        let Some(bytes) = (elements / ty.block_size).checked_mul(ty.type_size) else {
            problem("data size overflows".into());
            continue;
        };
        if t.offset % file.alignment != 0 {
            problem(format!(
                "data offset {} is not aligned to {}",
                t.offset, file.alignment
            ));
        }
        match t.offset.checked_add(bytes) {
            Some(end) if end <= available => ranges.push((t.offset, end, index)),
            _ => problem(format!(
                "data [{}, +{bytes}) lies outside the {available} bytes of the data section",
                t.offset
            )),
        }
    }
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        if let [(_, a_end, a), (b_start, _, b)] = pair
            && b_start < a_end
        {
            let (a, b) = (&file.tensors[*a], &file.tensors[*b]);
            file.anomalies.push(Anomaly {
                offset: b.info_offset,
                message: format!("tensor {:?} overlaps tensor {:?}", b.name, a.name),
            });
        }
    }
}

fn unreachable_long<T>(offset: u64) -> Result<T, GgufError> {
    Err(GgufError::Invalid {
        offset,
        message: "name too long".into(),
    })
}

struct Reader<R> {
    inner: BufReader<R>,
    pos: u64,
    size: u64,
    endian: Endian,
    /// Version 2 and later: 64-bit counts and lengths.
    wide: bool,
}

impl<R: Read + Seek> Reader<R> {
    fn remaining(&self) -> u64 {
        self.size.saturating_sub(self.pos)
    }

    fn len_size(&self) -> u64 {
        if self.wide { 8 } else { 4 }
    }

    fn need(&self, n: u64, what: &str) -> Result<(), GgufError> {
        if n > self.remaining() {
            Err(GgufError::Truncated {
                offset: self.pos,
                what: what.to_string(),
                needed: n,
                available: self.remaining(),
            })
        } else {
            Ok(())
        }
    }

    fn limit(&self, offset: u64, what: &str, value: u64, limit: u64) -> Result<(), GgufError> {
        if value > limit {
            Err(GgufError::TooLarge {
                offset,
                what: what.to_string(),
                value,
                limit,
            })
        } else {
            Ok(())
        }
    }

    fn io(&self, e: &std::io::Error) -> GgufError {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            GgufError::Truncated {
                offset: self.pos,
                what: "data".into(),
                needed: 1,
                available: 0,
            }
        } else {
            GgufError::Io {
                offset: self.pos,
                message: e.to_string(),
            }
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        self.need(N as u64, what)?;
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf).map_err(|e| self.io(&e))?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), GgufError> {
        self.need(n, what)?;
        let step = i64::try_from(n).map_err(|_| GgufError::Invalid {
            offset: self.pos,
            message: format!("{what} too large"),
        })?;
        self.inner.seek_relative(step).map_err(|e| self.io(&e))?;
        self.pos += n;
        Ok(())
    }

    fn u32(&mut self) -> Result<u32, GgufError> {
        let b = self.array::<4>("u32")?;
        Ok(match self.endian {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        })
    }

    fn u64(&mut self) -> Result<u64, GgufError> {
        let b = self.array::<8>("u64")?;
        Ok(match self.endian {
            Endian::Little => u64::from_le_bytes(b),
            Endian::Big => u64::from_be_bytes(b),
        })
    }

    /// A count or length: `u32` in version 1, `u64` later.
    fn count(&mut self, what: &str) -> Result<u64, GgufError> {
        if self.wide {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
        .map_err(|e| match e {
            GgufError::Truncated {
                offset,
                needed,
                available,
                ..
            } => GgufError::Truncated {
                offset,
                what: what.to_string(),
                needed,
                available,
            },
            other => other,
        })
    }

    /// A string: kept when at most `max` bytes long, measured and skipped otherwise.
    fn string(
        &mut self,
        max: u64,
        what: &str,
        anomalies: &mut Vec<Anomaly>,
    ) -> Result<Value, GgufError> {
        let at = self.pos;
        let len = self.count(what)?;
        self.need(len, what)?;
        if len > max {
            self.skip(len, what)?;
            return Ok(Value::LongString { len });
        }
        let mut bytes = vec![0u8; len as usize];
        self.inner.read_exact(&mut bytes).map_err(|e| self.io(&e))?;
        self.pos += len;
        Ok(Value::String(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => {
                anomalies.push(Anomaly {
                    offset: at,
                    message: format!("{what} is not valid UTF-8"),
                });
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        }))
    }

    fn value(
        &mut self,
        ty: ValueType,
        depth: usize,
        limits: &Limits,
        anomalies: &mut Vec<Anomaly>,
    ) -> Result<Value, GgufError> {
        Ok(match ty {
            ValueType::U8 => Value::U8(self.array::<1>("u8")?[0]),
            ValueType::I8 => Value::I8(i8::from_ne_bytes(self.array::<1>("i8")?)),
            ValueType::Bool => Value::Bool(self.array::<1>("bool")?[0] != 0),
            ValueType::U16 => Value::U16(self.uint::<2>()? as u16),
            ValueType::I16 => Value::I16(self.uint::<2>()? as u16 as i16),
            ValueType::U32 => Value::U32(self.u32()?),
            ValueType::I32 => Value::I32(self.u32()? as i32),
            ValueType::F32 => Value::F32(f32::from_bits(self.u32()?)),
            ValueType::U64 => Value::U64(self.u64()?),
            ValueType::I64 => Value::I64(self.u64()? as i64),
            ValueType::F64 => Value::F64(f64::from_bits(self.u64()?)),
            ValueType::String => self.string(limits.max_string_bytes, "string value", anomalies)?,
            ValueType::Array => self.array_value(depth, limits, anomalies)?,
        })
    }

    fn uint<const N: usize>(&mut self) -> Result<u64, GgufError> {
        let b = self.array::<N>("integer")?;
        let mut v: u64 = 0;
        for i in 0..N {
            let byte = match self.endian {
                Endian::Little => b[N - 1 - i],
                Endian::Big => b[i],
            };
            v = (v << 8) | u64::from(byte);
        }
        Ok(v)
    }

    fn array_value(
        &mut self,
        depth: usize,
        limits: &Limits,
        anomalies: &mut Vec<Anomaly>,
    ) -> Result<Value, GgufError> {
        let at = self.pos;
        if depth >= limits.max_array_depth {
            return Err(GgufError::TooLarge {
                offset: at,
                what: "array nesting depth".into(),
                value: depth as u64 + 1,
                limit: limits.max_array_depth as u64,
            });
        }
        let code = self.u32()?;
        let element_type =
            ValueType::from_code(code).ok_or(GgufError::UnknownValueType { offset: at, code })?;
        let len = self.count("array length")?;
        let min_element = element_type.fixed_size().unwrap_or(match element_type {
            ValueType::String => self.len_size(),
            _ => 4 + self.len_size(),
        });
        self.need(len.saturating_mul(min_element), "array elements")?;
        let mut items = Vec::new();
        if let Some(size) = element_type.fixed_size() {
            let kept = len.min(limits.max_stored_array_items as u64);
            for _ in 0..kept {
                items.push(self.value(element_type, depth + 1, limits, anomalies)?);
            }
            self.skip((len - kept) * size, "array elements")?;
        } else {
            for i in 0..len {
                let keep = i < limits.max_stored_array_items as u64;
                match element_type {
                    ValueType::String if !keep => {
                        let n = self.count("string length")?;
                        self.skip(n, "string element")?;
                    }
                    _ => {
                        let value = self.value(element_type, depth + 1, limits, anomalies)?;
                        if keep {
                            items.push(value);
                        }
                    }
                }
            }
        }
        Ok(Value::Array(Array {
            element_type,
            len,
            items,
        }))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Cursor;

    /// A minimal GGUF writer for tests (the fixtures are written by gguf-py itself).
    pub(crate) struct Writer {
        pub buf: Vec<u8>,
        pub big: bool,
        pub wide: bool,
    }

    impl Writer {
        pub fn new(version: u32, big: bool) -> Self {
            let mut w = Writer {
                buf: b"GGUF".to_vec(),
                big,
                wide: version >= 2,
            };
            w.u32(version);
            w
        }
        pub fn u32(&mut self, v: u32) {
            let b = if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            self.buf.extend_from_slice(&b);
        }
        pub fn u64(&mut self, v: u64) {
            let b = if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            self.buf.extend_from_slice(&b);
        }
        pub fn count(&mut self, v: u64) {
            if self.wide {
                self.u64(v)
            } else {
                self.u32(v as u32)
            }
        }
        pub fn string(&mut self, s: &str) {
            self.count(s.len() as u64);
            self.buf.extend_from_slice(s.as_bytes());
        }
        pub fn kv_str(&mut self, k: &str, v: &str) {
            self.string(k);
            self.u32(8);
            self.string(v);
        }
    }

    fn parse_bytes(bytes: &[u8]) -> Result<GgufFile, GgufError> {
        parse(Cursor::new(bytes), bytes.len() as u64, &Limits::default())
    }

    fn sample(version: u32, big: bool) -> Vec<u8> {
        let mut w = Writer::new(version, big);
        w.count(1);
        w.count(4);
        w.kv_str("general.architecture", "llama");
        w.string("general.file_type");
        w.u32(4);
        w.u32(15);
        w.string("tokenizer.ggml.tokens");
        w.u32(9);
        w.u32(8);
        w.count(3);
        for t in ["a", "b", "c"] {
            w.string(t);
        }
        w.string("nested");
        w.u32(9);
        w.u32(9);
        w.count(1);
        w.u32(5);
        w.count(2);
        w.u32(7);
        w.u32(8);
        w.string("tok_embd.weight");
        w.u32(2);
        w.count(4);
        w.count(2);
        w.u32(0);
        w.u64(0);
        while !w.buf.len().is_multiple_of(32) {
            w.buf.push(0);
        }
        w.buf.extend_from_slice(&[0u8; 32]);
        w.buf
    }

    #[test]
    fn every_version_and_byte_order_parses() {
        for version in 1..=3 {
            for big in [false, true] {
                let file = parse_bytes(&sample(version, big)).expect("gguf");
                assert_eq!(file.error, None, "v{version} big={big}");
                assert_eq!(file.anomalies, vec![], "v{version} big={big}");
                assert_eq!(file.version, version);
                assert_eq!(file.endian, if big { Endian::Big } else { Endian::Little });
                assert_eq!(
                    file.get("general.architecture").and_then(Value::as_str),
                    Some("llama")
                );
                let Some(Value::Array(tokens)) = file.get("tokenizer.ggml.tokens") else {
                    panic!("tokens")
                };
                assert_eq!(tokens.len, 3);
                let Some(Value::Array(nested)) = file.get("nested") else {
                    panic!("nested")
                };
                assert_eq!(
                    nested.items,
                    vec![Value::Array(Array {
                        element_type: ValueType::I32,
                        len: 2,
                        items: vec![Value::I32(7), Value::I32(8)]
                    })]
                );
                assert_eq!(file.tensors[0].dims, vec![4, 2]);
                assert_eq!(file.parameter_count(), 8);
                let facts = file.facts();
                assert_eq!(facts["quantization"], "Q4_K_M");
                assert_eq!(facts["parameters"], "8");
            }
        }
    }

    #[test]
    fn not_gguf_and_unknown_versions_are_errors() {
        assert_eq!(parse_bytes(b"GGML\x03\0\0\0"), Err(GgufError::BadMagic));
        assert_eq!(
            parse_bytes(b"GGUF\x09\0\0\0"),
            Err(GgufError::UnsupportedVersion(9))
        );
        assert!(matches!(
            parse_bytes(b"GGU"),
            Err(GgufError::Truncated { .. })
        ));
    }

    #[test]
    fn every_truncation_is_reported_not_panicked() {
        let full = sample(3, false);
        for cut in 8..full.len() - 40 {
            let file = parse_bytes(&full[..cut]).expect("magic and version are there");
            assert!(
                file.error.is_some() || !file.anomalies.is_empty(),
                "cut at {cut} went unnoticed"
            );
        }
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        let mut w = Writer::new(3, false);
        w.count(0);
        w.count(1);
        w.string("k");
        w.u32(9);
        w.u32(8);
        w.count(u64::MAX / 2);
        let file = parse_bytes(&w.buf).expect("gguf");
        assert!(
            matches!(file.error, Some(GgufError::Truncated { .. })),
            "{:?}",
            file.error
        );
        let mut w = Writer::new(3, false);
        w.count(u64::MAX);
        w.count(u64::MAX);
        let file = parse_bytes(&w.buf).expect("gguf");
        assert!(matches!(file.error, Some(GgufError::TooLarge { .. })));
    }

    #[test]
    fn tensors_outside_the_file_or_misaligned_are_anomalies() {
        let mut w = Writer::new(3, false);
        w.count(2);
        w.count(0);
        w.string("a");
        w.u32(1);
        w.count(1 << 40);
        w.u32(0);
        w.u64(0);
        w.string("b");
        w.u32(1);
        w.count(8);
        w.u32(0);
        w.u64(3);
        let file = parse_bytes(&w.buf).expect("gguf");
        assert_eq!(file.error, None);
        let text: Vec<&str> = file.anomalies.iter().map(|a| a.message.as_str()).collect();
        assert!(text.iter().any(|m| m.contains("outside")), "{text:?}");
        assert!(text.iter().any(|m| m.contains("not aligned")), "{text:?}");
    }

    #[test]
    fn deep_arrays_are_bounded() {
        let mut w = Writer::new(3, false);
        w.count(0);
        w.count(1);
        w.string("deep");
        w.u32(9);
        for _ in 0..100 {
            w.u32(9);
            w.count(1);
        }
        let file = parse_bytes(&w.buf).expect("gguf");
        assert!(file.error.is_some());
    }
}
