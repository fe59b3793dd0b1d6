//! The lexer: Jinja2's default delimiters, whitespace control, `raw` blocks, comments, and the
//! tokens of expressions. String literals are decoded the way Jinja2 decodes them (Python's
//! `unicode-escape`), so `'\x5f\x5fclass\x5f\x5f'` is seen as `__class__`.

use crate::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// Template data between tags.
    Data(String),
    /// Content of a `{% raw %}` block.
    Raw(String),
    /// `{{`
    VariableBegin,
    /// `}}`
    VariableEnd,
    /// `{%`
    BlockBegin,
    /// `%}`
    BlockEnd,
    Name(String),
    Str(String),
    Int(i128),
    Float(f64),
    /// An operator or punctuation: `+ - * / // % ** ~ ( ) [ ] { } == != < <= > >= = . : | , ;`
    Op(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    /// 1-based line the token starts on.
    pub line: u32,
}

const OPERATORS: [&str; 26] = [
    "//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}",
    ">", "<", "=", ".", ":", "|", ",", ";",
];

/// Splits a template into tokens. Fails on unterminated tags, comments, strings and raw blocks
/// and on characters Jinja2 does not accept inside tags.
pub fn lex(source: &str) -> Result<Vec<Token>, ParseError> {
    Lexer {
        src: source,
        pos: 0,
        line: 1,
        tokens: Vec::new(),
    }
    .run()
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    line: u32,
    tokens: Vec<Token>,
}

fn syntax(line: u32, message: impl Into<String>) -> ParseError {
    ParseError::Syntax {
        line,
        message: message.into(),
    }
}

impl<'s> Lexer<'s> {
    fn rest(&self) -> &'s str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn push(&mut self, kind: TokenKind, line: u32) {
        self.tokens.push(Token { kind, line });
    }

    /// Moves forward `n` bytes, counting newlines.
    fn advance(&mut self, n: usize) {
        let end = (self.pos + n).min(self.src.len());
        let skipped = self.src.get(self.pos..end).unwrap_or("");
        self.line = self
            .line
            .saturating_add(skipped.bytes().filter(|b| *b == b'\n').count() as u32);
        self.pos = end;
    }

    fn run(mut self) -> Result<Vec<Token>, ParseError> {
        while self.pos < self.src.len() {
            let rest = self.rest();
            let next_tag = ["{{", "{%", "{#"]
                .iter()
                .filter_map(|open| rest.find(open))
                .min();
            let data_len = next_tag.unwrap_or(rest.len());
            if data_len > 0 {
                let line = self.line;
                let data = rest.get(..data_len).unwrap_or("").to_string();
                self.push(TokenKind::Data(data), line);
                self.advance(data_len);
            }
            if next_tag.is_none() {
                break;
            }
            let rest = self.rest();
            if rest.starts_with("{#") {
                self.comment()?;
            } else if rest.starts_with("{%") {
                if let Some(len) = raw_open_len(rest) {
                    self.raw(len)?;
                } else {
                    self.tag(TokenKind::BlockBegin, TokenKind::BlockEnd, "%}")?;
                }
            } else {
                self.tag(TokenKind::VariableBegin, TokenKind::VariableEnd, "}}")?;
            }
        }
        Ok(self.tokens)
    }

    fn comment(&mut self) -> Result<(), ParseError> {
        let line = self.line;
        match self.rest().get(2..).and_then(|r| r.find("#}")) {
            Some(end) => {
                self.advance(2 + end + 2);
                Ok(())
            }
            None => Err(syntax(line, "missing end of comment tag")),
        }
    }

    fn raw(&mut self, open_len: usize) -> Result<(), ParseError> {
        let line = self.line;
        self.advance(open_len);
        let rest = self.rest();
        let mut search = 0;
        while let Some(found) = rest.get(search..).and_then(|r| r.find("{%")) {
            let at = search + found;
            if let Some(close_len) = rest.get(at..).and_then(endraw_len) {
                let content = rest.get(..at).unwrap_or("").to_string();
                self.push(TokenKind::Raw(content), line);
                self.advance(at + close_len);
                return Ok(());
            }
            search = at + 2;
        }
        Err(syntax(line, "missing end of raw directive"))
    }

    /// One `{{ ... }}` or `{% ... %}` tag: the opener (with its optional `-`/`+`), the tokens, the
    /// closer. As in Jinja2, the closer is recognised before any operator at every token boundary.
    fn tag(
        &mut self,
        begin: TokenKind,
        end: TokenKind,
        closer: &'static str,
    ) -> Result<(), ParseError> {
        let open_line = self.line;
        self.push(begin, open_line);
        self.advance(2);
        if self.rest().starts_with(['-', '+']) {
            self.advance(1);
        }
        loop {
            let ws = self
                .rest()
                .find(|c: char| !c.is_whitespace())
                .unwrap_or(self.rest().len());
            self.advance(ws);
            let rest = self.rest();
            if rest.is_empty() {
                return Err(syntax(
                    open_line,
                    format!("unexpected end of template, expected '{closer}'"),
                ));
            }
            let closer_len = if rest.starts_with(closer) {
                Some(2)
            } else if (rest.starts_with('-') || (closer == "%}" && rest.starts_with('+')))
                && rest.get(1..).is_some_and(|r| r.starts_with(closer))
            {
                Some(3)
            } else {
                None
            };
            if let Some(len) = closer_len {
                let line = self.line;
                self.push(end, line);
                self.advance(len);
                return Ok(());
            }
            self.token()?;
        }
    }

    fn token(&mut self) -> Result<(), ParseError> {
        let line = self.line;
        let rest = self.rest();
        let Some(first) = rest.chars().next() else {
            return Err(syntax(line, "unexpected end of template"));
        };
        if first == '\'' || first == '"' {
            let (value, len) = string_literal(rest, line)?;
            self.push(TokenKind::Str(value), line);
            self.advance(len);
            return Ok(());
        }
        if first.is_ascii_digit() {
            let (kind, len) = number(rest, line)?;
            self.push(kind, line);
            self.advance(len);
            return Ok(());
        }
        if first == '_' || first.is_alphabetic() {
            let len = rest
                .find(|c: char| !(c == '_' || c.is_alphanumeric()))
                .unwrap_or(rest.len());
            let name = rest.get(..len).unwrap_or("").to_string();
            self.push(TokenKind::Name(name), line);
            self.advance(len);
            return Ok(());
        }
        if let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) {
            self.push(TokenKind::Op(op), line);
            self.advance(op.len());
            return Ok(());
        }
        Err(syntax(line, format!("unexpected char {first:?}")))
    }
}

/// Length of `{%[-+]? raw [-+]?%}` at the start of `s`.
fn raw_open_len(s: &str) -> Option<usize> {
    keyword_tag_len(s, "raw")
}

fn endraw_len(s: &str) -> Option<usize> {
    keyword_tag_len(s, "endraw")
}

fn keyword_tag_len(s: &str, keyword: &str) -> Option<usize> {
    let mut i = 2;
    let bytes = s.as_bytes();
    if !s.starts_with("{%") {
        return None;
    }
    if matches!(bytes.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    if !s.get(i..)?.starts_with(keyword) {
        return None;
    }
    i += keyword.len();
    let after_keyword = i;
    while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    if matches!(bytes.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    if !s.get(i..)?.starts_with("%}") {
        return None;
    }
    // `{% rawx %}` is not a raw tag.
    if i == after_keyword && !matches!(bytes.get(i), Some(b'%')) {
        return None;
    }
    Some(i + 2)
}

/// A quoted string at the start of `s`: its decoded value and its length in the source.
fn string_literal(s: &str, line: u32) -> Result<(String, usize), ParseError> {
    let mut chars = s.char_indices();
    let Some((_, quote)) = chars.next() else {
        return Err(syntax(line, "unexpected end of string"));
    };
    let mut raw_end = None;
    let mut escaped = false;
    for (i, c) in chars {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            raw_end = Some(i);
            break;
        }
    }
    let Some(end) = raw_end else {
        return Err(syntax(line, "unterminated string"));
    };
    let body = s.get(1..end).unwrap_or("");
    let body = body.replace("\r\n", "\n").replace('\r', "\n");
    Ok((unicode_escape(&body, line)?, end + 1))
}

/// Python's `unicode-escape` decoding, as Jinja2 applies it to string literals.
fn unicode_escape(body: &str, line: u32) -> Result<String, ParseError> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        match e {
            '\n' => {}
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '0'..='7' => {
                let mut value = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            value = value * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(value).unwrap_or('\u{fffd}'));
            }
            'x' | 'u' | 'U' => {
                let digits = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut value: u32 = 0;
                for _ in 0..digits {
                    let d = chars
                        .next()
                        .and_then(|d| d.to_digit(16))
                        .ok_or_else(|| syntax(line, format!("truncated \\{e} escape")))?;
                    value = value.saturating_mul(16).saturating_add(d);
                }
                let decoded = char::from_u32(value)
                    .ok_or_else(|| syntax(line, format!("illegal Unicode character {value:#x}")))?;
                out.push(decoded);
            }
            'N' => {
                if chars.next() != Some('{') {
                    return Err(syntax(line, "malformed \\N character escape"));
                }
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) if name.len() < 128 => name.push(c),
                        _ => return Err(syntax(line, "malformed \\N character escape")),
                    }
                }
                // Python knows every Unicode name; mlvet knows the ones an attribute name can be
                // spelled with. Any other name makes the template unparseable here (never safe).
                let decoded = named_char(&name).ok_or_else(|| {
                    syntax(
                        line,
                        format!("\\N{{{name}}} is not a character name mlvet resolves"),
                    )
                })?;
                out.push(decoded);
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// Unicode names of the characters Python identifiers are spelled with (ASCII letters, digits,
/// the low line) and a few common punctuation characters.
fn named_char(name: &str) -> Option<char> {
    let upper = name.to_ascii_uppercase();
    let upper = upper.trim();
    match upper {
        "LOW LINE" => return Some('_'),
        "SPACE" => return Some(' '),
        "FULL STOP" => return Some('.'),
        "APOSTROPHE" => return Some('\''),
        "QUOTATION MARK" => return Some('"'),
        "LINE FEED" | "LF" => return Some('\n'),
        _ => {}
    }
    for (prefix, base) in [
        ("LATIN SMALL LETTER ", b'a'),
        ("LATIN CAPITAL LETTER ", b'A'),
    ] {
        if let Some(letter) = upper.strip_prefix(prefix)
            && letter.len() == 1
            && letter.as_bytes()[0].is_ascii_uppercase()
        {
            return Some(char::from(base + (letter.as_bytes()[0] - b'A')));
        }
    }
    const DIGITS: [&str; 10] = [
        "ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE",
    ];
    let digit = upper.strip_prefix("DIGIT ")?;
    DIGITS
        .iter()
        .position(|d| *d == digit)
        .and_then(|i| char::from_digit(i as u32, 10))
}

/// An integer or float literal at the start of `s` (underscores between digits, `0x`/`0o`/`0b`
/// integers, exponents).
fn number(s: &str, line: u32) -> Result<(TokenKind, usize), ParseError> {
    let bytes = s.as_bytes();
    let lower = |i: usize| bytes.get(i).map(|b| b.to_ascii_lowercase());
    if bytes.first() == Some(&b'0') && matches!(lower(1), Some(b'x' | b'o' | b'b')) {
        let radix = match lower(1) {
            Some(b'x') => 16,
            Some(b'o') => 8,
            _ => 2,
        };
        let mut i = 2;
        while bytes
            .get(i)
            .is_some_and(|b| *b == b'_' || char::from(*b).is_digit(radix))
        {
            i += 1;
        }
        let digits: String = s.get(2..i).unwrap_or("").replace('_', "");
        let value = i128::from_str_radix(&digits, radix)
            .map_err(|_| syntax(line, "invalid integer literal"))?;
        return Ok((TokenKind::Int(value), i));
    }
    let digits_end = |mut i: usize| {
        while bytes.get(i).is_some_and(|b| {
            b.is_ascii_digit() || (*b == b'_' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        }) {
            i += 1;
        }
        i
    };
    let mut i = digits_end(0);
    let mut float = false;
    if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        float = true;
        i = digits_end(i + 1);
    }
    if matches!(lower(i), Some(b'e')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if bytes.get(j).is_some_and(u8::is_ascii_digit) {
            float = true;
            i = digits_end(j);
        }
    }
    let text = s.get(..i).unwrap_or("").replace('_', "");
    if float {
        let value: f64 = text
            .parse()
            .map_err(|_| syntax(line, "invalid float literal"))?;
        Ok((TokenKind::Float(value), i))
    } else {
        // Python integers are unbounded; a literal beyond i128 is no attribute name, so its value
        // does not matter to the analysis.
        let value = text.parse::<i128>().unwrap_or(i128::MAX);
        Ok((TokenKind::Int(value), i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        lex(src)
            .expect("lexes")
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn data_tags_and_whitespace_control() {
        assert_eq!(
            kinds("a{{- x -}}b{%+ if y -%}{# c #}"),
            vec![
                TokenKind::Data("a".into()),
                TokenKind::VariableBegin,
                TokenKind::Name("x".into()),
                TokenKind::VariableEnd,
                TokenKind::Data("b".into()),
                TokenKind::BlockBegin,
                TokenKind::Name("if".into()),
                TokenKind::Name("y".into()),
                TokenKind::BlockEnd,
            ]
        );
    }

    #[test]
    fn string_escapes_are_decoded_like_python() {
        assert_eq!(
            kinds(r#"{{ '\x5f\x5fcl\u0061ss\137\N{LOW LINE}' }}"#)[1],
            TokenKind::Str("__class__".into())
        );
        assert_eq!(kinds(r"{{ '\q' }}")[1], TokenKind::Str("\\q".into()));
    }

    #[test]
    fn closer_inside_a_string_does_not_end_the_tag() {
        assert_eq!(kinds("{{ '}}' }}")[1], TokenKind::Str("}}".into()));
    }

    #[test]
    fn raw_blocks_keep_their_content() {
        assert_eq!(
            kinds("{%- raw %}{{ x }}{% endraw -%}"),
            vec![TokenKind::Raw("{{ x }}".into())]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(kinds("{{ 1_000 }}")[1], TokenKind::Int(1000));
        assert_eq!(kinds("{{ 0x1F }}")[1], TokenKind::Int(31));
        assert_eq!(kinds("{{ 1.5e3 }}")[1], TokenKind::Float(1500.0));
        assert_eq!(
            kinds("{{ a[0].b }}")[3..6],
            [TokenKind::Int(0), TokenKind::Op("]"), TokenKind::Op(".")]
        );
    }

    #[test]
    fn unterminated_constructs_fail() {
        for bad in ["{{ x", "{# x", "{% raw %}x", "{{ 'x }}", "{{ $ }}"] {
            assert!(lex(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lines_are_counted() {
        let tokens = lex("a\nb\n{{ x }}").expect("lexes");
        assert_eq!(tokens[1].line, 3);
    }
}
