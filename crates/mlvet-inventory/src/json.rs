//! A small JSON parser that keeps the byte offset of every value, so that records read from
//! Pipfile.lock, conda-meta, CycloneDX and SPDX JSON can be given their line.
//!
//! Strict RFC 8259 (no comments, no trailing commas), nesting bounded by [`MAX_NESTING`], never
//! panics. Object members keep document order; duplicate keys keep the first (`get`).

use crate::MAX_NESTING;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// The number as written (it is never needed as a number here).
    Number(String),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// A value and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub offset: usize,
    pub value: Value,
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn str_at(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::as_str)
    }

    pub fn as_array(&self) -> &[Node] {
        match &self.value {
            Value::Array(items) => items,
            _ => &[],
        }
    }

    pub fn is_object(&self) -> bool {
        matches!(self.value, Value::Object(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error {
    pub offset: usize,
    pub message: String,
}

/// What [`stream`] does with one top-level member of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// Validate it without building anything.
    Skip,
    /// Build it whole (small sections: metadata, short id lists).
    Whole,
    /// When it is an array, build and hand over its elements one at a time.
    Elements,
    /// When it is an object, build and hand over its members one at a time.
    Members,
}

/// One piece of a streamed document.
pub(crate) enum Streamed {
    Whole(Node),
    Element(Node),
    Member(String, Node),
}

/// Reads a document whose root is an object without building it: each top-level member is
/// skipped or handed to `each` (whole, or one element or member at a time) as `select` says,
/// so memory holds one element at a time, not the tree of a million-package lockfile. Same
/// grammar, nesting limit and duplicate-key rule (the first wins) as [`parse`]; pieces before
/// a syntax error have been handed over when the error is returned. `Ok(false)`: the document
/// is valid JSON but not an object.
pub(crate) fn stream(
    text: &str,
    select: impl Fn(&str) -> Take,
    mut each: impl FnMut(&str, Streamed),
) -> Result<bool, Error> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        pos: 0,
    };
    parser.skip_ws();
    let is_object = parser.peek() == Some(b'{');
    if is_object {
        let mut seen = std::collections::BTreeSet::new();
        parser.each_member(0, |parser, key| {
            let take = if seen.insert(key.clone()) {
                select(&key)
            } else {
                Take::Skip
            };
            parser.stream_value(&key, take, &mut each)
        })?;
    } else {
        parser.skip_value(0)?;
    }
    parser.skip_ws();
    if parser.pos < parser.bytes.len() {
        return Err(parser.error("unexpected data after the JSON document"));
    }
    Ok(is_object)
}

pub(crate) fn parse(text: &str) -> Result<Node, Error> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        pos: 0,
    };
    parser.skip_ws();
    let node = parser.value(0)?;
    parser.skip_ws();
    if parser.pos < parser.bytes.len() {
        return Err(parser.error("unexpected data after the JSON document"));
    }
    Ok(node)
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> Error {
        Error {
            offset: self.pos,
            message: message.into(),
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

    fn expect(&mut self, byte: u8) -> Result<(), Error> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected `{}`", byte as char)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, Error> {
        if depth > MAX_NESTING {
            return Err(self.error(format!("nested deeper than {MAX_NESTING} levels")));
        }
        let offset = self.pos;
        let value = match self.peek() {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Value::String(self.string()?),
            Some(b't') => self.literal("true", Value::Bool(true))?,
            Some(b'f') => self.literal("false", Value::Bool(false))?,
            Some(b'n') => self.literal("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return Err(self.error("unexpected character")),
            None => return Err(self.error("unexpected end of input")),
        };
        Ok(Node { offset, value })
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, Error> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn number(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number"));
            }
            self.digits();
        }
        Ok(Value::Number(
            self.text.get(start..self.pos).unwrap_or("").to_string(),
        ))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn string(&mut self) -> Result<String, Error> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            // Copy the run of plain characters in one go.
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(
                self.text
                    .get(run_start..self.pos)
                    .ok_or_else(|| self.error("invalid UTF-8 boundary"))?,
            );
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => return Err(self.error("control character in string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), Error> {
        let c = self
            .peek()
            .ok_or_else(|| self.error("unterminated escape"))?;
        self.pos += 1;
        match c {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let first = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&first) {
                    if self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u") {
                        self.pos += 2;
                        let second = self.hex4()?;
                        if (0xDC00..0xE000).contains(&second) {
                            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                        } else {
                            return Err(self.error("invalid surrogate pair"));
                        }
                    } else {
                        return Err(self.error("lone surrogate"));
                    }
                } else {
                    first
                };
                out.push(char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))?);
            }
            _ => return Err(self.error("invalid escape")),
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let hex = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("short \\u escape"))?;
        let hex = std::str::from_utf8(hex).map_err(|_| self.error("invalid \\u escape"))?;
        let value = u32::from_str_radix(hex, 16).map_err(|_| self.error("invalid \\u escape"))?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.error("invalid \\u escape"));
        }
        self.pos += 4;
        Ok(value)
    }

    fn array(&mut self, depth: usize) -> Result<Value, Error> {
        let mut items = Vec::new();
        self.each_element(depth, |parser| {
            items.push(parser.value(depth + 1)?);
            Ok(())
        })?;
        Ok(Value::Array(items))
    }

    fn object(&mut self, depth: usize) -> Result<Value, Error> {
        let mut members = Vec::new();
        self.each_member(depth, |parser, key| {
            members.push((key, parser.value(depth + 1)?));
            Ok(())
        })?;
        Ok(Value::Object(members))
    }

    /// Walks an array at `depth`; `element` reads each element (at `depth + 1`).
    fn each_element(
        &mut self,
        depth: usize,
        mut element: impl FnMut(&mut Self) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.expect(b'[')?;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            if depth + 1 > MAX_NESTING {
                return Err(self.error(format!("nested deeper than {MAX_NESTING} levels")));
            }
            element(self)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    /// Walks an object at `depth`; `member` reads each value (at `depth + 1`) given its key.
    fn each_member(
        &mut self,
        depth: usize,
        mut member: impl FnMut(&mut Self, String) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            if depth + 1 > MAX_NESTING {
                return Err(self.error(format!("nested deeper than {MAX_NESTING} levels")));
            }
            member(self, key)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    /// Validates one value without keeping it (strings and numbers are read and dropped).
    fn skip_value(&mut self, depth: usize) -> Result<(), Error> {
        if depth > MAX_NESTING {
            return Err(self.error(format!("nested deeper than {MAX_NESTING} levels")));
        }
        match self.peek() {
            Some(b'{') => self.each_member(depth, |parser, _| parser.skip_value(depth + 1)),
            Some(b'[') => self.each_element(depth, |parser| parser.skip_value(depth + 1)),
            _ => self.value(depth).map(drop),
        }
    }

    /// One top-level member's value (at depth 1), streamed as `take` says.
    fn stream_value(
        &mut self,
        key: &str,
        take: Take,
        each: &mut impl FnMut(&str, Streamed),
    ) -> Result<(), Error> {
        match (take, self.peek()) {
            (Take::Whole, _) => {
                let node = self.value(1)?;
                each(key, Streamed::Whole(node));
                Ok(())
            }
            (Take::Elements, Some(b'[')) => self.each_element(1, |parser| {
                let node = parser.value(2)?;
                each(key, Streamed::Element(node));
                Ok(())
            }),
            (Take::Members, Some(b'{')) => self.each_member(1, |parser, name| {
                let node = parser.value(2)?;
                each(key, Streamed::Member(name, node));
                Ok(())
            }),
            _ => self.skip_value(1),
        }
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    fn streamed(text: &str, select: impl Fn(&str) -> Take) -> Result<Vec<String>, Error> {
        let mut seen = Vec::new();
        stream(text, select, |key, piece| {
            seen.push(match piece {
                Streamed::Whole(node) => format!("{key}={}", to_serde(&node)),
                Streamed::Element(node) => format!("{key}[{}]={}", node.offset, to_serde(&node)),
                Streamed::Member(name, node) => format!("{key}.{name}={}", to_serde(&node)),
            });
        })
        .map(|_| seen)
    }

    #[test]
    fn streaming_hands_over_the_selected_pieces_with_their_offsets() {
        let text =
            r#"{"a": [1, {"x": 2}], "b": {"p": "==1", "q": null}, "c": {"deep": [[]]}, "a": [9]}"#;
        let pieces = streamed(text, |key| match key {
            "a" => Take::Elements,
            "b" => Take::Members,
            _ => Take::Whole,
        })
        .expect("valid");
        assert_eq!(
            pieces,
            [
                "a[7]=1",
                "a[10]={\"x\":2}",
                "b.p=\"==1\"",
                "b.q=null",
                "c={\"deep\":[[]]}",
            ],
            "the duplicate `a` is skipped, as `get` keeps the first"
        );
    }

    #[test]
    fn streaming_validates_what_it_skips_and_agrees_with_parse() {
        for text in [
            r#"{"a": [1, 2,]}"#,
            r#"{"a": "\ud800"}"#,
            r#"{"a": 01}"#,
            r#"{"a": 1} x"#,
            r#"{"a" 1}"#,
            "[1, 2]",
            "\"text\"",
            r#"{"a": {"b": [true, false, null, -1.5e3, "\u00e9"]}}"#,
        ] {
            let streamed = stream(text, |_| Take::Skip, |_, _| {});
            match parse(text) {
                Ok(node) => assert_eq!(streamed, Ok(node.is_object()), "{text}"),
                Err(error) => assert_eq!(streamed, Err(error), "{text}"),
            }
        }
    }

    #[test]
    fn streaming_keeps_the_nesting_limit() {
        let deep = format!(
            "{{\"a\": {}{}}}",
            "[".repeat(MAX_NESTING + 5),
            "]".repeat(MAX_NESTING + 5)
        );
        for take in [Take::Skip, Take::Whole, Take::Elements] {
            let error = stream(&deep, |_| take, |_, _| {}).expect_err("too deep");
            assert!(
                error.message.contains("nested deeper"),
                "{take:?}: {error:?}"
            );
            assert_eq!(Err(error), parse(&deep).map(|_| ()), "{take:?}");
        }
    }
}

#[cfg(test)]
pub(crate) fn to_serde(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => serde_json::from_str(n).unwrap_or(serde_json::Value::Null),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(to_serde).collect()),
        Value::Object(members) => {
            let mut map = serde_json::Map::new();
            for (k, v) in members {
                map.entry(k.clone()).or_insert_with(|| to_serde(v));
            }
            serde_json::Value::Object(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offsets_and_escapes() {
        let text = "{\n  \"a\": [1, \"x\\u00e9\\ud83d\\ude00\\/\"],\n  \"b\": {\"c\": null}\n}";
        let node = parse(text).expect("valid");
        let a = node.get("a").expect("a");
        assert_eq!(a.offset, text.find('[').unwrap_or(0));
        assert_eq!(a.as_array().get(1).and_then(Node::as_str), Some("xé😀/"));
        assert!(
            node.get("b")
                .and_then(|b| b.get("c"))
                .is_some_and(|c| c.value == Value::Null)
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "\"\\ud800\"",
            "01x",
            "[1] 2",
            "nul",
            "\"\u{1}\"",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(MAX_NESTING + 5);
        assert!(parse(&deep).is_err());
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            ".*".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(".*", inner, 0..8)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json(value in arb_json(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) };
            let text = text.unwrap_or_default();
            let node = parse(&text).map_err(|e| TestCaseError::fail(e.message))?;
            prop_assert_eq!(to_serde(&node), value);
        }

        #[test]
        fn never_panics(text in ".{0,200}") {
            let _ = parse(&text);
        }
    }
}
