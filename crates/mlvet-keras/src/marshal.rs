//! A bounded reader of Python `marshal` data, enough to list what a marshalled code object names
//! (`co_names`, string constants, nested code objects). It never builds or runs code.

/// What a marshalled code object (and the code objects nested in it) names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeSummary {
    /// The function's name (`<lambda>` for lambdas).
    pub name: String,
    /// Global and attribute names the bytecode loads (`co_names`), in order, deduplicated.
    pub names: Vec<String>,
    /// String and bytes constants, deduplicated.
    pub strings: Vec<String>,
    /// Code objects read (the function and any nested comprehension or lambda).
    pub code_objects: usize,
}

/// Why marshal data could not be summarised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarshalError {
    #[error("marshal data is truncated")]
    Truncated,
    #[error("unknown marshal type {0:#04x}")]
    UnknownType(u8),
    #[error("marshal data nests deeper than {0}")]
    TooDeep(usize),
    #[error("marshal data holds more than {0} objects")]
    TooMany(usize),
    #[error("not a code object")]
    NotCode,
}

const DEPTH_MAX: usize = 64;
const OBJECTS_MAX: usize = 200_000;
const KEPT_MAX: usize = 512;

#[derive(Debug, Clone)]
enum Obj {
    Str(String),
    Tuple(Vec<Obj>),
    Code,
    Other,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    refs: Vec<Obj>,
    objects: usize,
    summary: CodeSummary,
}

/// Summarises marshalled code (what `marshal.dumps(func.__code__)` writes). Layouts of
/// CPython 3.8 to 3.14 are recognised; the newest is tried first.
pub fn summarize_code(bytes: &[u8]) -> Result<CodeSummary, MarshalError> {
    let mut last = MarshalError::NotCode;
    for layout in [Layout::Py311, Layout::Py38] {
        let mut reader = Reader {
            bytes,
            pos: 0,
            refs: Vec::new(),
            objects: 0,
            summary: CodeSummary::default(),
        };
        match reader.object(0, layout) {
            Ok(Obj::Code) if reader.pos == bytes.len() => return Ok(reader.summary),
            Ok(Obj::Code) => last = MarshalError::NotCode,
            Ok(_) => return Err(MarshalError::NotCode),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// 3.8-3.10: six int fields, then code, consts, names, varnames, freevars, cellvars,
    /// filename, name, firstlineno, lnotab.
    Py38,
    /// 3.11+: five int fields, then code, consts, names, localsplusnames, localspluskinds,
    /// filename, name, qualname, firstlineno, linetable, exceptiontable.
    Py311,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], MarshalError> {
        let end = self.pos.checked_add(n).ok_or(MarshalError::Truncated)?;
        let out = self
            .bytes
            .get(self.pos..end)
            .ok_or(MarshalError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, MarshalError> {
        Ok(*self.take(1)?.first().ok_or(MarshalError::Truncated)?)
    }

    fn i32(&mut self) -> Result<i32, MarshalError> {
        let b = self.take(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn len32(&mut self) -> Result<usize, MarshalError> {
        let n = self.i32()?;
        let n = usize::try_from(n).map_err(|_| MarshalError::Truncated)?;
        if n > self.bytes.len().saturating_sub(self.pos) {
            return Err(MarshalError::Truncated);
        }
        Ok(n)
    }

    fn object(&mut self, depth: usize, layout: Layout) -> Result<Obj, MarshalError> {
        if depth > DEPTH_MAX {
            return Err(MarshalError::TooDeep(DEPTH_MAX));
        }
        self.objects += 1;
        if self.objects > OBJECTS_MAX {
            return Err(MarshalError::TooMany(OBJECTS_MAX));
        }
        let code = self.u8()?;
        let flag_ref = code & 0x80 != 0;
        let kind = code & 0x7f;
        // Python reserves the reference slot before reading an object's children.
        let slot = if flag_ref {
            self.refs.push(Obj::Other);
            Some(self.refs.len() - 1)
        } else {
            None
        };
        let obj = match kind {
            b'0' | b'N' | b'F' | b'T' | b'S' | b'.' => Obj::Other,
            b'i' => {
                self.take(4)?;
                Obj::Other
            }
            b'l' => {
                let digits = self.i32()?.unsigned_abs() as usize;
                self.take(digits.checked_mul(2).ok_or(MarshalError::Truncated)?)?;
                Obj::Other
            }
            b'g' => {
                self.take(8)?;
                Obj::Other
            }
            b'y' => {
                self.take(16)?;
                Obj::Other
            }
            b'f' => {
                let n = usize::from(self.u8()?);
                self.take(n)?;
                Obj::Other
            }
            b'x' => {
                for _ in 0..2 {
                    let n = usize::from(self.u8()?);
                    self.take(n)?;
                }
                Obj::Other
            }
            b's' | b't' | b'u' | b'a' | b'A' => {
                let n = self.len32()?;
                let raw = self.take(n)?;
                Obj::Str(String::from_utf8_lossy(raw).into_owned())
            }
            b'z' | b'Z' => {
                let n = usize::from(self.u8()?);
                let raw = self.take(n)?;
                Obj::Str(String::from_utf8_lossy(raw).into_owned())
            }
            b')' => {
                let n = usize::from(self.u8()?);
                self.sequence(n, depth, layout)?
            }
            b'(' | b'[' | b'<' | b'>' => {
                let n = self.len32()?;
                self.sequence(n, depth, layout)?
            }
            b'{' => {
                loop {
                    if self.bytes.get(self.pos) == Some(&b'0') {
                        self.pos += 1;
                        break;
                    }
                    self.object(depth + 1, layout)?;
                    self.object(depth + 1, layout)?;
                }
                Obj::Other
            }
            b'r' => {
                let index = self.len32_index()?;
                self.refs
                    .get(index)
                    .cloned()
                    .ok_or(MarshalError::Truncated)?
            }
            b'c' => self.code(depth, layout)?,
            other => return Err(MarshalError::UnknownType(other)),
        };
        if let Some(slot) = slot
            && let Some(entry) = self.refs.get_mut(slot)
        {
            *entry = obj.clone();
        }
        Ok(obj)
    }

    fn len32_index(&mut self) -> Result<usize, MarshalError> {
        let n = self.i32()?;
        usize::try_from(n).map_err(|_| MarshalError::Truncated)
    }

    fn sequence(&mut self, n: usize, depth: usize, layout: Layout) -> Result<Obj, MarshalError> {
        let mut items = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            items.push(self.object(depth + 1, layout)?);
        }
        Ok(Obj::Tuple(items))
    }

    fn code(&mut self, depth: usize, layout: Layout) -> Result<Obj, MarshalError> {
        let ints = if layout == Layout::Py311 { 5 } else { 6 };
        self.take(4 * ints)?;
        self.summary.code_objects += 1;
        let _bytecode = self.object(depth + 1, layout)?;
        let consts = self.object(depth + 1, layout)?;
        let names = self.object(depth + 1, layout)?;
        let rest_before_name = if layout == Layout::Py311 { 3 } else { 4 };
        for _ in 0..rest_before_name {
            self.object(depth + 1, layout)?;
        }
        let name = self.object(depth + 1, layout)?;
        if layout == Layout::Py311 {
            self.object(depth + 1, layout)?; // qualname
        }
        self.take(4)?; // firstlineno
        self.object(depth + 1, layout)?;
        if layout == Layout::Py311 {
            self.object(depth + 1, layout)?;
        }
        if let Obj::Tuple(items) = names {
            for item in items {
                if let Obj::Str(s) = item {
                    push_unique(&mut self.summary.names, s);
                }
            }
        }
        if let Obj::Tuple(items) = consts {
            for item in items {
                if let Obj::Str(s) = item {
                    push_unique(&mut self.summary.strings, s);
                }
            }
        }
        if self.summary.name.is_empty()
            && let Obj::Str(s) = name
        {
            // Nested code objects are read first; the outermost name is read last.
            self.summary.name = s;
        } else if let Obj::Str(s) = name {
            self.summary.name = s;
        }
        Ok(Obj::Code)
    }
}

fn push_unique(list: &mut Vec<String>, s: String) {
    if list.len() < KEPT_MAX && !list.contains(&s) {
        list.push(s);
    }
}
