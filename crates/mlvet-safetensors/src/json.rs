//! A small JSON parser that keeps every object entry in order, duplicates included, and accepts
//! exactly what `serde_json` (the parser the safetensors loader uses) accepts: RFC 8259 syntax,
//! no control characters inside strings, no lone surrogates, and at most 127 nested containers
//! (serde_json's recursion limit of 128).

/// A parsed JSON value. Objects keep their entries in file order, duplicates included.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool,
    Number(Number),
    String(String),
    Array(Vec<Value>),
    /// Entries with the byte offset of each key (relative to the parsed text).
    Object(Vec<(String, usize, Value)>),
}

/// What a number can be used for: only non-negative integers that fit a `u64` deserialize into
/// the loader's `usize` fields (serde_json turns larger integers into floats, and `-0` too).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Unsigned(u64),
    Other,
}

impl Value {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool => "a boolean",
            Value::Number(Number::Unsigned(_)) => "an integer",
            Value::Number(Number::Other) => "a number that is not a non-negative 64-bit integer",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Why the text is not JSON serde_json would accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonError {
    Syntax {
        offset: usize,
        what: &'static str,
    },
    /// More values than mlvet builds for one header: the header was not fully inspected.
    TooComplex {
        limit: usize,
    },
}

/// serde_json fails when the 128th container is entered.
const MAX_DEPTH: usize = 127;

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    nodes: usize,
    max_nodes: usize,
}

/// Parses one JSON document surrounded by optional JSON whitespace. Returns the value and the
/// offsets where the value starts and ends (for padding checks).
pub(crate) fn parse(bytes: &[u8], max_nodes: usize) -> Result<(Value, usize, usize), JsonError> {
    let mut parser = Parser {
        bytes,
        pos: 0,
        nodes: 0,
        max_nodes,
    };
    parser.skip_ws();
    let start = parser.pos;
    let value = parser.value(0)?;
    let end = parser.pos;
    parser.skip_ws();
    if parser.pos != bytes.len() {
        return Err(parser.err("trailing characters after the JSON value"));
    }
    Ok((value, start, end))
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> JsonError {
        JsonError::Syntax {
            offset: self.pos,
            what,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn count_node(&mut self) -> Result<(), JsonError> {
        self.nodes += 1;
        if self.nodes > self.max_nodes {
            return Err(JsonError::TooComplex {
                limit: self.max_nodes,
            });
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.count_node()?;
        match self.peek() {
            None => Err(self.err("unexpected end of the header")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal(b"true", Value::Bool),
            Some(b'f') => self.literal(b"false", Value::Bool),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expected a JSON value")),
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, JsonError> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("recursion limit exceeded (more than 127 nested containers)"));
        }
        self.pos += 1;
        let mut entries = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(entries));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let key_offset = self.pos;
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected `:`"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth)?;
            entries.push((key, key_offset, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(entries));
                }
                _ => return Err(self.err("expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("recursion limit exceeded (more than 127 nested containers)"));
        }
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.err("expected `,` or `]`")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.pos += 1;
                }
            }
            _ => return Err(self.err("invalid number")),
        }
        let int_end = self.pos;
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number"));
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number"));
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
        }
        if negative || !integer {
            return Ok(Value::Number(Number::Other));
        }
        let digits = self.bytes.get(int_start..int_end).unwrap_or(&[]);
        let mut value: u64 = 0;
        for digit in digits {
            match value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(digit - b'0')))
            {
                Some(v) => value = v,
                // serde_json falls back to a float: not a usize.
                None => return Ok(Value::Number(Number::Other)),
            }
        }
        Ok(Value::Number(Number::Unsigned(value)))
    }

    fn hex4(&mut self) -> Result<u16, JsonError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("truncated \\u escape"))?;
        let mut value: u16 = 0;
        for d in digits {
            let nibble = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(self.err("invalid \\u escape")),
            };
            value = value * 16 + u16::from(nibble);
        }
        self.pos += 4;
        Ok(value)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            match byte {
                b'"' => {
                    self.pos += 1;
                    // The header was checked to be UTF-8 and escapes produce valid UTF-8.
                    return String::from_utf8(out).map_err(|_| self.err("invalid UTF-8 in string"));
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(escape) = self.peek() else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.pos += 1;
                    let decoded = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(self.err("invalid escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(decoded.encode_utf8(&mut buf).as_bytes());
                }
                0x00..=0x1f => {
                    return Err(self.err("control character inside a string"));
                }
                _ => {
                    out.push(byte);
                    self.pos += 1;
                }
            }
        }
    }

    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(self.err("lone leading surrogate in \\u escape"));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.err("invalid low surrogate in \\u escape"));
                }
                0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.err("lone trailing surrogate in \\u escape")),
            other => u32::from(other),
        };
        char::from_u32(code).ok_or_else(|| self.err("invalid \\u escape"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Value {
        parse(text.as_bytes(), 1000).expect("valid").0
    }

    fn bad(text: &str) -> JsonError {
        parse(text.as_bytes(), 1000).expect_err("invalid")
    }

    #[test]
    fn duplicates_are_kept_in_order() {
        let Value::Object(entries) = ok(r#"{"a":1,"a":2}"#) else {
            panic!("object")
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].2, Value::Number(Number::Unsigned(2)));
    }

    #[test]
    fn numbers_follow_serde_json() {
        assert_eq!(
            ok("18446744073709551615"),
            Value::Number(Number::Unsigned(u64::MAX))
        );
        assert_eq!(ok("18446744073709551616"), Value::Number(Number::Other));
        assert_eq!(ok("-0"), Value::Number(Number::Other));
        assert_eq!(ok("1.0"), Value::Number(Number::Other));
        assert!(matches!(bad("01"), JsonError::Syntax { .. }));
        assert!(matches!(bad("1."), JsonError::Syntax { .. }));
    }

    #[test]
    fn strings_follow_serde_json() {
        assert_eq!(ok(r#""\u00e9\ud83d\ude00""#), Value::String("é😀".into()));
        assert!(matches!(bad(r#""\ud800""#), JsonError::Syntax { .. }));
        assert!(matches!(bad("\"a\tb\""), JsonError::Syntax { .. }));
        assert!(matches!(bad(r#""\x""#), JsonError::Syntax { .. }));
    }

    #[test]
    fn nesting_is_limited_like_serde_json() {
        let ok_text = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(parse(ok_text.as_bytes(), 1000).is_ok());
        let too_deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(matches!(
            parse(too_deep.as_bytes(), 1000),
            Err(JsonError::Syntax { .. })
        ));
    }

    #[test]
    fn whitespace_and_trailing_text() {
        let (_, start, end) = parse(b" \n{} \t", 10).expect("valid");
        assert_eq!((start, end), (2, 4));
        assert!(matches!(bad("{} x"), JsonError::Syntax { .. }));
        assert!(matches!(bad("{}\0"), JsonError::Syntax { .. }));
        assert_eq!(
            parse(b"[1,2,3]", 2),
            Err(JsonError::TooComplex { limit: 2 })
        );
    }
}
