//! NumPy `.npy` headers, parsed the way `numpy.lib.format` does (`ast.literal_eval` of a dict
//! literal) with our own bounded literal parser: nothing is ever evaluated.

/// The largest header mlvet reads (numpy itself refuses more than 10 000 bytes unless told
/// otherwise; versions 2 and 3 allow 4 GiB).
pub const HEADER_MAX: u64 = 1024 * 1024;
const DEPTH_MAX: usize = 32;
const ITEMS_MAX: usize = 100_000;

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    pub version: (u8, u8),
    /// Offset of the array data (= end of the header).
    pub data_offset: u64,
    pub descr: Literal,
    pub fortran_order: bool,
    pub shape: Vec<u64>,
}

/// A Python literal as it can appear in an `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    Tuple(Vec<Literal>),
    List(Vec<Literal>),
    Dict(Vec<(Literal, Literal)>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpyError {
    #[error("not an .npy file (bad magic)")]
    BadMagic,
    #[error("unsupported .npy format version {0}.{1}")]
    Version(u8, u8),
    #[error("truncated .npy header")]
    Truncated,
    #[error("header of {0} bytes is larger than mlvet reads")]
    TooLarge(u64),
    #[error("header is not a Python literal: {0}")]
    Syntax(String),
    #[error("header dict lacks or mistypes `{0}`")]
    Field(&'static str),
}

/// Header length and data offset from the fixed preamble: `\x93NUMPY`, major, minor, length.
pub fn preamble(prefix: &[u8]) -> Result<((u8, u8), u64, u64), NpyError> {
    if !prefix.starts_with(b"\x93NUMPY") {
        return Err(NpyError::BadMagic);
    }
    let major = *prefix.get(6).ok_or(NpyError::Truncated)?;
    let minor = *prefix.get(7).ok_or(NpyError::Truncated)?;
    let (len, start) = match major {
        1 => {
            let b = prefix.get(8..10).ok_or(NpyError::Truncated)?;
            (u64::from(u16::from_le_bytes([b[0], b[1]])), 10u64)
        }
        2 | 3 => {
            let b = prefix.get(8..12).ok_or(NpyError::Truncated)?;
            (
                u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                12u64,
            )
        }
        _ => return Err(NpyError::Version(major, minor)),
    };
    if len > HEADER_MAX {
        return Err(NpyError::TooLarge(len));
    }
    Ok(((major, minor), start, start + len))
}

/// Parses a complete header (`bytes` holds at least the preamble and the header text).
pub fn parse_header(bytes: &[u8]) -> Result<NpyHeader, NpyError> {
    let (version, start, end) = preamble(bytes)?;
    let text = bytes
        .get(
            usize::try_from(start).map_err(|_| NpyError::Truncated)?
                ..usize::try_from(end).map_err(|_| NpyError::Truncated)?,
        )
        .ok_or(NpyError::Truncated)?;
    // Version 1 and 2 headers are latin-1, version 3 utf-8.
    let text: String = if version.0 >= 3 {
        String::from_utf8(text.to_vec()).map_err(|_| NpyError::Syntax("invalid utf-8".into()))?
    } else {
        text.iter().map(|b| char::from(*b)).collect()
    };
    let literal = parse_literal(&text)?;
    let Literal::Dict(items) = literal else {
        return Err(NpyError::Syntax("not a dict".into()));
    };
    let get = |key: &str| {
        items
            .iter()
            .find(|(k, _)| matches!(k, Literal::Str(s) if s == key))
            .map(|(_, v)| v)
    };
    if items.len() != 3 {
        return Err(NpyError::Syntax(
            "header dict must have exactly descr, fortran_order and shape".into(),
        ));
    }
    let descr = get("descr").ok_or(NpyError::Field("descr"))?.clone();
    let fortran_order = match get("fortran_order") {
        Some(Literal::Bool(b)) => *b,
        _ => return Err(NpyError::Field("fortran_order")),
    };
    let shape = match get("shape") {
        Some(Literal::Tuple(dims)) => dims
            .iter()
            .map(|d| match d {
                Literal::Int(v) => u64::try_from(*v).ok(),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(NpyError::Field("shape"))?,
        _ => return Err(NpyError::Field("shape")),
    };
    Ok(NpyHeader {
        version,
        data_offset: end,
        descr,
        fortran_order,
        shape,
    })
}

impl NpyHeader {
    /// Whether the dtype holds Python objects (the body is then a pickle).
    pub fn has_object(&self) -> Option<bool> {
        descr_info(&self.descr, 0).map(|(object, _)| object)
    }

    /// Bytes of array data for a non-object dtype, `None` if not computable.
    pub fn data_len(&self) -> Option<u64> {
        let (_, itemsize) = descr_info(&self.descr, 0)?;
        self.shape
            .iter()
            .try_fold(itemsize, |acc, d| acc.checked_mul(*d))
    }
}

/// `(has_object, itemsize)` of a descr: a type string, or a list of `(name, descr[, shape])`.
fn descr_info(descr: &Literal, depth: usize) -> Option<(bool, u64)> {
    if depth > DEPTH_MAX {
        return None;
    }
    match descr {
        Literal::Str(s) => typestr_info(s),
        Literal::List(fields) => {
            let mut object = false;
            let mut size: u64 = 0;
            for field in fields {
                let Literal::Tuple(parts) = field else {
                    return None;
                };
                let (field_object, field_size) = descr_info(parts.get(1)?, depth + 1)?;
                let count = match parts.get(2) {
                    None => 1,
                    Some(Literal::Tuple(dims)) => dims.iter().try_fold(1u64, |acc, d| match d {
                        Literal::Int(v) => acc.checked_mul(u64::try_from(*v).ok()?),
                        _ => None,
                    })?,
                    Some(Literal::Int(v)) => u64::try_from(*v).ok()?,
                    Some(_) => return None,
                };
                object |= field_object;
                size = size.checked_add(field_size.checked_mul(count)?)?;
            }
            Some((object, size))
        }
        _ => None,
    }
}

fn typestr_info(s: &str) -> Option<(bool, u64)> {
    let body = s.strip_prefix(['<', '>', '|', '=']).unwrap_or(s);
    let mut chars = body.chars();
    let kind = chars.next()?;
    let rest: String = chars.collect();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: Option<u64> = digits.parse().ok();
    match kind {
        'O' => Some((true, n.unwrap_or(8))),
        'U' => Some((false, n?.checked_mul(4)?)),
        'b' | 'i' | 'u' | 'f' | 'c' | 'M' | 'm' | 'S' | 'a' | 'V' => Some((false, n?)),
        '?' => Some((false, 1)),
        _ => None,
    }
}

/// Parses one Python literal (dict/list/tuple/str/int/bool/None), bounded in depth and size.
pub fn parse_literal(text: &str) -> Result<Literal, NpyError> {
    let mut parser = Parser {
        chars: text.char_indices().peekable(),
        text,
        items: 0,
    };
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.chars.peek().is_some() {
        return Err(NpyError::Syntax(
            "trailing characters after the literal".into(),
        ));
    }
    Ok(value)
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    text: &'a str,
    items: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            self.chars.next();
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, NpyError> {
        Err(NpyError::Syntax(what.to_string()))
    }

    fn value(&mut self, depth: usize) -> Result<Literal, NpyError> {
        if depth > DEPTH_MAX {
            return self.err("nested too deep");
        }
        self.items += 1;
        if self.items > ITEMS_MAX {
            return self.err("too many items");
        }
        self.skip_ws();
        let Some(&(start, c)) = self.chars.peek() else {
            return self.err("unexpected end");
        };
        match c {
            '{' => {
                self.chars.next();
                let items = self.sequence('}', depth, true)?;
                let mut pairs = Vec::new();
                let mut iter = items.into_iter();
                while let (Some(k), Some(v)) = (iter.next(), iter.next()) {
                    pairs.push((k, v));
                }
                Ok(Literal::Dict(pairs))
            }
            '[' => {
                self.chars.next();
                Ok(Literal::List(self.sequence(']', depth, false)?))
            }
            '(' => {
                self.chars.next();
                Ok(Literal::Tuple(self.sequence(')', depth, false)?))
            }
            '\'' | '"' => self.string(c),
            '-' | '+' | '0'..='9' => self.number(start),
            _ => {
                let word = self.word();
                match word.as_str() {
                    "True" => Ok(Literal::Bool(true)),
                    "False" => Ok(Literal::Bool(false)),
                    "None" => Ok(Literal::None),
                    _ => self.err(&format!(
                        "`{}` is not a literal",
                        word.chars().take(40).collect::<String>()
                    )),
                }
            }
        }
    }

    fn word(&mut self) -> String {
        let mut word = String::new();
        while let Some(&(_, c)) = self.chars.peek() {
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
                self.chars.next();
            } else {
                break;
            }
        }
        word
    }

    /// Items up to `close`; for dicts, alternating key and value separated by `:`.
    fn sequence(
        &mut self,
        close: char,
        depth: usize,
        dict: bool,
    ) -> Result<Vec<Literal>, NpyError> {
        let mut items = Vec::new();
        let mut trailing_comma = false;
        loop {
            self.skip_ws();
            match self.chars.peek() {
                Some(&(_, c)) if c == close => {
                    self.chars.next();
                    // `(1)` is not a tuple in Python; only `(1,)` is.
                    if close == ')' && items.len() == 1 && !trailing_comma {
                        return self.err("parenthesised expression is not a tuple");
                    }
                    return Ok(items);
                }
                None => return self.err("unclosed bracket"),
                _ => {}
            }
            items.push(self.value(depth + 1)?);
            if dict {
                self.skip_ws();
                match self.chars.next() {
                    Some((_, ':')) => {}
                    _ => return self.err("expected `:` in dict"),
                }
                items.push(self.value(depth + 1)?);
            }
            self.skip_ws();
            match self.chars.peek() {
                Some(&(_, ',')) => {
                    self.chars.next();
                    trailing_comma = true;
                }
                Some(&(_, c)) if c == close => trailing_comma = false,
                _ => return self.err("expected `,` or closing bracket"),
            }
        }
    }

    fn string(&mut self, quote: char) -> Result<Literal, NpyError> {
        self.chars.next();
        let mut out = String::new();
        loop {
            let Some((_, c)) = self.chars.next() else {
                return self.err("unterminated string");
            };
            match c {
                c if c == quote => return Ok(Literal::Str(out)),
                '\\' => {
                    let Some((_, e)) = self.chars.next() else {
                        return self.err("unterminated escape");
                    };
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        '\\' | '\'' | '"' => out.push(e),
                        _ => return self.err("unsupported escape"),
                    }
                }
                '\n' => return self.err("newline in string"),
                c => out.push(c),
            }
        }
    }

    fn number(&mut self, start: usize) -> Result<Literal, NpyError> {
        let mut end = start;
        while let Some(&(i, c)) = self.chars.peek() {
            if c.is_ascii_digit() || ((c == '-' || c == '+') && i == start) || c == '_' {
                end = i + c.len_utf8();
                self.chars.next();
            } else {
                break;
            }
        }
        // numpy writes `3L` in headers from Python 2.
        if self.chars.peek().is_some_and(|(_, c)| *c == 'L') {
            self.chars.next();
        }
        let digits: String = self
            .text
            .get(start..end)
            .unwrap_or("")
            .chars()
            .filter(|c| *c != '_')
            .collect();
        digits
            .parse::<i128>()
            .map(Literal::Int)
            .or_else(|_| self.err("bad integer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str) -> Vec<u8> {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes
    }

    #[test]
    fn parses_the_header_numpy_writes() {
        let h = parse_header(&npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }      \n",
        ))
        .expect("valid header");
        assert_eq!(h.shape, vec![3, 4]);
        assert_eq!(h.has_object(), Some(false));
        assert_eq!(h.data_len(), Some(96));
    }

    #[test]
    fn object_and_structured_dtypes() {
        let h = parse_header(&npy(
            "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
        ))
        .expect("valid");
        assert_eq!(h.has_object(), Some(true));
        let h = parse_header(&npy(
            "{'descr': [('a', '<i4'), ('b', [('c', '|O')]), ('d', '<f8', (2, 3))], 'fortran_order': False, 'shape': (), }",
        ))
        .expect("valid");
        assert_eq!(h.has_object(), Some(true));
        let h = parse_header(&npy(
            "{'descr': [('a', '<i4'), ('d', '<f8', (2,))], 'fortran_order': True, 'shape': (5,)}",
        ))
        .expect("valid");
        assert_eq!(h.data_len(), Some(5 * 20));
    }

    #[test]
    fn code_in_the_header_is_rejected_not_run() {
        let err = parse_header(&npy(
            "{'descr': __import__('os').system('id'), 'fortran_order': False, 'shape': ()}",
        ))
        .expect_err("not a literal");
        assert!(matches!(err, NpyError::Syntax(_)));
        assert!(parse_literal("(1)").is_err());
        assert_eq!(
            parse_literal("(1,)"),
            Ok(Literal::Tuple(vec![Literal::Int(1)]))
        );
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let deep = "[".repeat(10_000);
        assert!(parse_literal(&deep).is_err());
    }
}
