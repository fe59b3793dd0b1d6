//! Decoding of pickle text arguments exactly as CPython does it.

/// `STRING` argument: must be quoted with matching `'` or `"`; the inside is decoded with Python's
/// bytes escape rules (`codecs.escape_decode`). Returns `None` where CPython raises.
pub(crate) fn decode_string_literal(line: &[u8]) -> Option<Vec<u8>> {
    let (first, last) = (line.first()?, line.last()?);
    if line.len() < 2 || first != last || !(*first == b'\'' || *first == b'"') {
        return None;
    }
    escape_decode(line.get(1..line.len() - 1)?)
}

/// `PyBytes_DecodeEscape`: `\\ \' \" \a \b \f \n \r \t \v \ooo \xhh`, backslash-newline is a line
/// continuation, unknown escapes are kept verbatim, `\x` needs two hex digits, a trailing backslash
/// is an error.
pub(crate) fn escape_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let &e = s.get(i)?; // "Trailing \ in string"
        i += 1;
        match e {
            b'\n' => {}
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b't' => out.push(9),
            b'n' => out.push(10),
            b'r' => out.push(13),
            b'v' => out.push(11),
            b'a' => out.push(7),
            b'0'..=b'7' => {
                let mut value = u32::from(e - b'0');
                for _ in 0..2 {
                    match s.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((value & 0xff) as u8);
            }
            b'x' => {
                let hi = hex_value(*s.get(i)?)?;
                let lo = hex_value(*s.get(i + 1)?)?;
                i += 2;
                out.push(hi * 16 + lo);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `UNICODE` argument: `raw-unicode-escape`: bytes are Latin-1 code points except `\uXXXX` and
/// `\UXXXXXXXX`. Surrogates (which Rust strings cannot hold) become U+FFFD.
pub(crate) fn raw_unicode_escape(s: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(char::from(c));
            continue;
        }
        let count = match s.get(i) {
            Some(b'u') => 4,
            Some(b'U') => 8,
            Some(&other) => {
                out.push('\\');
                out.push(char::from(other));
                i += 1;
                continue;
            }
            None => {
                out.push('\\');
                continue;
            }
        };
        i += 1;
        let digits = s.get(i..i + count)?;
        let mut value: u32 = 0;
        for &d in digits {
            value = value * 16 + u32::from(hex_value(d)?);
        }
        i += count;
        if value > 0x10ffff {
            return None;
        }
        out.push(char::from_u32(value).unwrap_or('\u{fffd}'));
    }
    Some(out)
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

/// An integer argument of `GET`/`PUT` (`PyLong_FromString(s, NULL, 10)`): optional surrounding
/// whitespace and sign, digits with single underscores between them.
pub(crate) fn parse_decimal(line: &[u8]) -> Option<i128> {
    let text = std::str::from_utf8(line)
        .ok()?
        .trim_matches(|c: char| c.is_ascii_whitespace());
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, text.get(1..)?),
        b'+' => (false, text.get(1..)?),
        _ => (false, text),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut value: i128 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        value = value
            .checked_mul(10)?
            .checked_add(i128::from(c.to_digit(10)?))?;
    }
    Some(if negative { -value } else { value })
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
        assert_eq!(long_le(&[0xff]), Some(-1));
        assert_eq!(long_le(&[0x00, 0x01]), Some(256));
        assert_eq!(long_le(&[1; 9]), None);
    }
}
