//! Decoding of pickle text arguments exactly as CPython does it.

use crate::input::LineSink;

/// Why a text argument does not decode (CPython raises).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextError {
    /// `STRING`: "the STRING opcode argument must be quoted".
    Unquoted,
    /// `escape_decode`: "Trailing \ in string".
    TrailingBackslash,
    /// `escape_decode`: "invalid \x escape".
    InvalidHexEscape,
    /// `raw_unicode_escape`: a truncated or non-hex `\uXXXX`/`\UXXXXXXXX`.
    TruncatedUnicodeEscape,
    /// `raw_unicode_escape`: "\Uxxxxxxxx out of range".
    UnicodeOutOfRange,
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TextError::Unquoted => "the STRING opcode argument must be quoted",
            TextError::TrailingBackslash => "Trailing \\ in string",
            TextError::InvalidHexEscape => "invalid \\x escape",
            TextError::TruncatedUnicodeEscape => {
                "'rawunicodeescape' codec can't decode bytes: truncated \\uXXXX escape"
            }
            TextError::UnicodeOutOfRange => {
                "'rawunicodeescape' codec can't decode bytes: \\Uxxxxxxxx out of range"
            }
        })
    }
}

/// A decoded text argument: its first bytes (at most the capture limit) and whether more followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded<T> {
    pub(crate) prefix: T,
    pub(crate) truncated: bool,
}

/// Where `PyBytes_DecodeEscape` is inside an escape sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Backslash,
    /// `\o` or `\oo` read so far.
    Octal {
        value: u32,
        digits: u8,
    },
    /// `\x` read, waiting for the first hex digit.
    Hex,
    /// `\xh` read, waiting for the second.
    HexLow(u8),
}

/// `STRING` argument, decoded as the line streams in (CPython reads the whole line, however long):
/// it must be quoted with matching `'` or `"`, and the inside is decoded with Python's bytes escape
/// rules (`codecs.escape_decode`). Memory is bounded by the capture limit, not the line length.
pub(crate) struct StringLiteralDecoder {
    cap: usize,
    quote: Option<u8>,
    /// The line's last byte so far: the closing quote if the line ends here, content otherwise.
    held_back: Option<u8>,
    len: u64,
    escape: Escape,
    error: Option<TextError>,
    out: Vec<u8>,
    decoded_len: u64,
}

impl StringLiteralDecoder {
    pub(crate) fn new(cap: usize) -> Self {
        StringLiteralDecoder {
            cap,
            quote: None,
            held_back: None,
            len: 0,
            escape: Escape::None,
            error: None,
            out: Vec::new(),
            decoded_len: 0,
        }
    }

    fn emit(&mut self, byte: u8) {
        self.decoded_len += 1;
        if self.out.len() < self.cap {
            self.out.push(byte);
        }
    }

    fn content(&mut self, c: u8) {
        if self.error.is_some() {
            return;
        }
        match self.escape {
            Escape::None if c == b'\\' => self.escape = Escape::Backslash,
            Escape::None => self.emit(c),
            Escape::Backslash => {
                self.escape = Escape::None;
                match c {
                    b'\n' => {}
                    b'\\' | b'\'' | b'"' => self.emit(c),
                    b'b' => self.emit(8),
                    b'f' => self.emit(12),
                    b't' => self.emit(9),
                    b'n' => self.emit(10),
                    b'r' => self.emit(13),
                    b'v' => self.emit(11),
                    b'a' => self.emit(7),
                    b'0'..=b'7' => {
                        self.escape = Escape::Octal {
                            value: u32::from(c - b'0'),
                            digits: 1,
                        }
                    }
                    b'x' => self.escape = Escape::Hex,
                    other => {
                        self.emit(b'\\');
                        self.emit(other);
                    }
                }
            }
            Escape::Octal { value, digits } => {
                if (b'0'..=b'7').contains(&c) {
                    let value = value * 8 + u32::from(c - b'0');
                    if digits == 2 {
                        self.escape = Escape::None;
                        self.emit((value & 0xff) as u8);
                    } else {
                        self.escape = Escape::Octal {
                            value,
                            digits: digits + 1,
                        };
                    }
                } else {
                    self.escape = Escape::None;
                    self.emit((value & 0xff) as u8);
                    self.content(c);
                }
            }
            Escape::Hex => match hex_value(c) {
                Some(hi) => self.escape = Escape::HexLow(hi),
                None => self.error = Some(TextError::InvalidHexEscape),
            },
            Escape::HexLow(hi) => match hex_value(c) {
                Some(lo) => {
                    self.escape = Escape::None;
                    self.emit(hi * 16 + lo);
                }
                None => self.error = Some(TextError::InvalidHexEscape),
            },
        }
    }

    /// The decoded bytes (a prefix of at most the capture limit), or CPython's error.
    pub(crate) fn finish(mut self) -> Result<Decoded<Vec<u8>>, TextError> {
        let closing = self.held_back.take();
        if self.len < 2 || closing.is_none() || closing != self.quote {
            return Err(TextError::Unquoted);
        }
        match self.escape {
            Escape::None => {}
            Escape::Backslash => return Err(TextError::TrailingBackslash),
            Escape::Octal { value, .. } => self.emit((value & 0xff) as u8),
            Escape::Hex | Escape::HexLow(_) => return Err(TextError::InvalidHexEscape),
        }
        if let Some(error) = self.error {
            return Err(error);
        }
        let truncated = self.decoded_len > self.out.len() as u64;
        Ok(Decoded {
            prefix: self.out,
            truncated,
        })
    }
}

impl LineSink for StringLiteralDecoder {
    fn restart(&mut self) {
        *self = StringLiteralDecoder::new(self.cap);
    }

    fn feed(&mut self, chunk: &[u8]) {
        for &c in chunk {
            self.len += 1;
            if self.len == 1 {
                self.quote = matches!(c, b'\'' | b'"').then_some(c);
                continue;
            }
            if let Some(previous) = self.held_back.replace(c) {
                self.content(previous);
            }
        }
    }
}

/// `STRING` argument decoded at once (see [`StringLiteralDecoder`]). Returns `None` where CPython
/// raises.
#[cfg(test)]
pub(crate) fn decode_string_literal(line: &[u8]) -> Option<Vec<u8>> {
    let mut decoder = StringLiteralDecoder::new(usize::MAX);
    decoder.feed(line);
    decoder.finish().ok().map(|d| d.prefix)
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Where the raw-unicode-escape decoder is inside an escape sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnicodeEscape {
    None,
    Backslash,
    /// `\u`/`\U` read: `remaining` hex digits to go.
    Digits {
        remaining: u8,
        value: u32,
    },
}

/// `UNICODE` argument (`raw-unicode-escape`), decoded as the line streams in: bytes are Latin-1 code
/// points except `\uXXXX` and `\UXXXXXXXX`. Surrogates (which Rust strings cannot hold) become
/// U+FFFD. Memory is bounded by the capture limit.
pub(crate) struct RawUnicodeDecoder {
    cap: usize,
    escape: UnicodeEscape,
    error: Option<TextError>,
    out: String,
    truncated: bool,
}

impl RawUnicodeDecoder {
    pub(crate) fn new(cap: usize) -> Self {
        RawUnicodeDecoder {
            cap,
            escape: UnicodeEscape::None,
            error: None,
            out: String::new(),
            truncated: false,
        }
    }

    fn emit(&mut self, c: char) {
        if self.truncated || self.out.len() + c.len_utf8() > self.cap {
            self.truncated = true;
        } else {
            self.out.push(c);
        }
    }

    fn byte(&mut self, c: u8) {
        if self.error.is_some() {
            return;
        }
        match self.escape {
            UnicodeEscape::None if c == b'\\' => self.escape = UnicodeEscape::Backslash,
            UnicodeEscape::None => self.emit(char::from(c)),
            UnicodeEscape::Backslash => {
                self.escape = match c {
                    b'u' => UnicodeEscape::Digits {
                        remaining: 4,
                        value: 0,
                    },
                    b'U' => UnicodeEscape::Digits {
                        remaining: 8,
                        value: 0,
                    },
                    other => {
                        self.emit('\\');
                        self.emit(char::from(other));
                        UnicodeEscape::None
                    }
                }
            }
            UnicodeEscape::Digits { remaining, value } => {
                let Some(digit) = hex_value(c) else {
                    self.error = Some(TextError::TruncatedUnicodeEscape);
                    return;
                };
                let value = value * 16 + u32::from(digit);
                if remaining > 1 {
                    self.escape = UnicodeEscape::Digits {
                        remaining: remaining - 1,
                        value,
                    };
                    return;
                }
                self.escape = UnicodeEscape::None;
                if value > 0x10ffff {
                    self.error = Some(TextError::UnicodeOutOfRange);
                } else {
                    self.emit(char::from_u32(value).unwrap_or('\u{fffd}'));
                }
            }
        }
    }

    /// The decoded text (a prefix of at most the capture limit), or CPython's error.
    pub(crate) fn finish(mut self) -> Result<Decoded<String>, TextError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        match self.escape {
            UnicodeEscape::None => {}
            // A lone trailing backslash is kept.
            UnicodeEscape::Backslash => self.emit('\\'),
            UnicodeEscape::Digits { .. } => return Err(TextError::TruncatedUnicodeEscape),
        }
        Ok(Decoded {
            prefix: self.out,
            truncated: self.truncated,
        })
    }
}

impl LineSink for RawUnicodeDecoder {
    fn restart(&mut self) {
        *self = RawUnicodeDecoder::new(self.cap);
    }

    fn feed(&mut self, chunk: &[u8]) {
        for &c in chunk {
            self.byte(c);
        }
    }
}

/// `UNICODE` argument decoded at once (see [`RawUnicodeDecoder`]). Returns `None` where CPython
/// raises.
#[cfg(test)]
pub(crate) fn raw_unicode_escape(s: &[u8]) -> Option<String> {
    let mut decoder = RawUnicodeDecoder::new(usize::MAX);
    decoder.feed(s);
    decoder.finish().ok().map(|d| d.prefix)
}

/// UTF-8 as CPython's `surrogatepass` decoder accepts it: encoded surrogates are allowed (and become
/// U+FFFD here); anything else invalid is an error.
pub(crate) fn utf8_surrogatepass(bytes: &[u8]) -> Option<String> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Some(s.to_string());
    }
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return Some(out);
            }
            Err(e) => {
                let (valid, tail) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).ok()?);
                // An encoded surrogate: ED A0..BF 80..BF.
                match tail {
                    [0xed, 0xa0..=0xbf, 0x80..=0xbf, ..] => {
                        out.push('\u{fffd}');
                        rest = tail.get(3..).unwrap_or(&[]);
                    }
                    _ => return None,
                }
            }
        }
    }
}

/// CPython's limit on the digits of a decimal integer string (`sys.int_info.str_digits_check_threshold`
/// default, Python 3.11+ and the 3.7–3.10 security releases): longer strings raise `ValueError`.
const MAX_STR_DIGITS: usize = 4300;

/// `Py_ISSPACE`: the C locale's whitespace, which includes vertical tab (Rust's ASCII whitespace
/// does not).
fn is_py_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// An integer line argument as `PyLong_FromString(line, NULL, 10)` reads it (`GET`, `PUT`): the C
/// string ends at the first NUL byte; optional surrounding whitespace and one sign; ASCII digits
/// with single underscores between them; at most 4,300 digits. `None` where CPython raises.
pub(crate) fn parse_decimal(line: &[u8]) -> Option<i128> {
    let c_string = line.split(|&b| b == 0).next().unwrap_or(&[]);
    let start = c_string.iter().position(|&b| !is_py_space(b))?;
    let end = c_string.iter().rposition(|&b| !is_py_space(b))? + 1;
    let text = c_string.get(start..end)?;
    let (negative, digits) = match text.first()? {
        b'-' => (true, text.get(1..)?),
        b'+' => (false, text.get(1..)?),
        _ => (false, text),
    };
    if digits.first().is_none_or(|&b| b == b'_')
        || digits.last() == Some(&b'_')
        || digits.windows(2).any(|pair| pair == b"__")
    {
        return None;
    }
    if digits.iter().filter(|&&b| b != b'_').count() > MAX_STR_DIGITS {
        return None;
    }
    // Leading zeros do not count against the i128 range.
    let mut value: i128 = 0;
    for &c in digits.iter().filter(|&&c| c != b'_') {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

/// Longest run of sign, digits and underscores a valid decimal can have (4,300 digits, an underscore
/// between each pair, a sign), plus room for trailing whitespace.
const DECIMAL_CORE: usize = 2 * MAX_STR_DIGITS + 64;

/// Collects an integer line argument of any length for [`parse_decimal`] in bounded memory: leading
/// whitespace is skipped, everything after a NUL is ignored (the C string ends there), and a
/// non-space byte past what a valid decimal can hold makes it invalid.
pub(crate) struct DecimalLine {
    core: Vec<u8>,
    started: bool,
    ended: bool,
    overflow: bool,
}

impl DecimalLine {
    pub(crate) fn new() -> Self {
        DecimalLine {
            core: Vec::new(),
            started: false,
            ended: false,
            overflow: false,
        }
    }

    /// The value `PyLong_FromString(line, NULL, 10)` gives, or `None` where it raises.
    pub(crate) fn finish(self) -> Option<i128> {
        if self.overflow {
            return None;
        }
        parse_decimal(&self.core)
    }
}

impl LineSink for DecimalLine {
    fn restart(&mut self) {
        *self = DecimalLine::new();
    }

    fn feed(&mut self, chunk: &[u8]) {
        for &b in chunk {
            if self.ended {
                return;
            }
            if b == 0 {
                self.ended = true;
            } else if !self.started && is_py_space(b) {
                // Leading whitespace: any amount.
            } else if self.core.len() < DECIMAL_CORE {
                self.started = true;
                self.core.push(b);
            } else if !is_py_space(b) {
                self.overflow = true;
            }
        }
    }
}

/// Little-endian two's complement integer of `LONG1`/`LONG4`, if it fits in an `i64`.
pub(crate) fn long_le(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() {
        return Some(0);
    }
    if bytes.len() > 8 {
        return None;
    }
    let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
    let mut buf = if negative { [0xffu8; 8] } else { [0u8; 8] };
    buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
    Some(i64::from_le_bytes(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_decode_like_python() {
        assert_eq!(decode_string_literal(b"'os'"), Some(b"os".to_vec()));
        assert_eq!(decode_string_literal(b"\"\\x6fs\""), Some(b"os".to_vec()));
        assert_eq!(decode_string_literal(b"'\\157s'"), Some(b"os".to_vec()));
        assert_eq!(decode_string_literal(b"'a\\qb'"), Some(b"a\\qb".to_vec()));
        assert_eq!(decode_string_literal(b"'a\\\nb'"), Some(b"ab".to_vec()));
        assert_eq!(decode_string_literal(b"'os\""), None);
        assert_eq!(decode_string_literal(b"os"), None);
        assert_eq!(decode_string_literal(b"'\\x6'"), None);
        assert_eq!(decode_string_literal(b"'"), None);
    }

    #[test]
    fn string_literals_of_any_length_decode_in_bounded_memory() {
        let mut line = b"'".to_vec();
        for _ in 0..2000 {
            line.extend_from_slice(b"\\x41b");
        }
        line.extend_from_slice(b"'");
        let mut decoder = StringLiteralDecoder::new(16);
        for chunk in line.chunks(7) {
            decoder.feed(chunk);
        }
        let decoded = decoder.finish();
        assert_eq!(
            decoded,
            Ok(Decoded {
                prefix: b"AbAbAbAbAbAbAbAb".to_vec(),
                truncated: true
            })
        );
        let mut unterminated = line.clone();
        unterminated.pop();
        let mut decoder = StringLiteralDecoder::new(16);
        decoder.feed(&unterminated);
        assert_eq!(decoder.finish(), Err(TextError::Unquoted));
        let mut decoder = StringLiteralDecoder::new(16);
        decoder.feed(b"'abc\\'");
        assert_eq!(decoder.finish(), Err(TextError::TrailingBackslash));
    }

    #[test]
    fn long_unicode_arguments_with_escapes_decode() {
        let mut line = Vec::new();
        for _ in 0..1000 {
            line.extend_from_slice(b"\\u00e9\\U0001F600x");
        }
        let mut decoder = RawUnicodeDecoder::new(8);
        decoder.feed(&line);
        let decoded = decoder.finish();
        assert_eq!(
            decoded,
            Ok(Decoded {
                prefix: "\u{e9}\u{1f600}x".to_string(),
                truncated: true
            })
        );
        assert_eq!(
            raw_unicode_escape(&line).map(|s| s.chars().count()),
            Some(3000)
        );
    }

    #[test]
    fn raw_unicode_escape_decodes_only_u_escapes() {
        assert_eq!(raw_unicode_escape(b"\\u006fs").as_deref(), Some("os"));
        assert_eq!(raw_unicode_escape(b"\\U0000006fs").as_deref(), Some("os"));
        assert_eq!(raw_unicode_escape(b"a\\nb").as_deref(), Some("a\\nb"));
        assert_eq!(raw_unicode_escape(b"\xe9").as_deref(), Some("\u{e9}"));
        assert_eq!(raw_unicode_escape(b"\\u12"), None);
        assert_eq!(raw_unicode_escape(b"\\U00110000"), None);
    }

    #[test]
    fn surrogatepass_accepts_encoded_surrogates_only() {
        assert_eq!(utf8_surrogatepass(b"abc").as_deref(), Some("abc"));
        assert_eq!(
            utf8_surrogatepass(b"a\xed\xa0\x80b").as_deref(),
            Some("a\u{fffd}b")
        );
        assert_eq!(utf8_surrogatepass(b"a\xffb"), None);
    }

    #[test]
    fn decimals_and_longs() {
        assert_eq!(parse_decimal(b" 12 "), Some(12));
        assert_eq!(parse_decimal(b"-1_0"), Some(-10));
        assert_eq!(parse_decimal(b"1__0"), None);
        assert_eq!(parse_decimal(b"x"), None);
        // The C string ends at NUL; vertical tab is whitespace to `Py_ISSPACE`.
        assert_eq!(parse_decimal(b"1\0zz"), Some(1));
        assert_eq!(parse_decimal(b"\0 1"), None);
        assert_eq!(parse_decimal(b"\x0b+0_1\x0b"), Some(1));
        assert_eq!(parse_decimal(b"_1"), None);
        assert_eq!(parse_decimal(b"+-1"), None);
        assert_eq!(parse_decimal(&[b'0'; 4300]), Some(0));
        assert_eq!(parse_decimal(&[b'0'; 4301]), None);
        let mut padded = DecimalLine::new();
        padded.feed(&[b' '; 100_000]);
        padded.feed(b"0_2");
        padded.feed(&[b' '; 100_000]);
        assert_eq!(padded.finish(), Some(2));
        let mut junk = DecimalLine::new();
        junk.feed(b"1");
        junk.feed(&[b'1'; 20_000]);
        assert_eq!(junk.finish(), None);
        assert_eq!(long_le(&[0xff]), Some(-1));
        assert_eq!(long_le(&[0x00, 0x01]), Some(256));
        assert_eq!(long_le(&[1; 9]), None);
    }
}
