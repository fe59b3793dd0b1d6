//! Text helpers for the terminal report: neutralising hostile characters and wrapping by
//! display width.

use std::borrow::Cow;

use unicode_width::UnicodeWidthStr;

/// Makes scanned-content text safe to print on a terminal.
///
/// Messages, evidence, paths and member names come from the files being scanned, i.e. from a
/// possible attacker. Control characters (ANSI escapes could rewrite the screen or hide a
/// finding), line breaks (could forge report lines) and invisible or bidirectional formatting
/// characters ("Trojan Source" reordering) are shown as escapes instead of being interpreted.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Bidirectional embeddings, overrides and isolates, directional marks.
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            // Zero-width characters and the byte-order mark.
            | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}'
        )
}

/// Display width in terminal columns.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// Pads `text` with spaces to `columns` display columns (never truncates).
pub fn pad(text: &str, columns: usize) -> String {
    let mut out = text.to_string();
    for _ in width(text)..columns {
        out.push(' ');
    }
    out
}

/// Greedy word wrap. The first line holds at most `first` columns, the following ones at most
/// `rest`. Words longer than a line (hashes, base64, long paths) are broken by character.
/// Runs of spaces between words collapse to one. Always returns at least one line.
pub fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let (first, rest) = (first.max(1), rest.max(1));
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut used = 0usize;
    let capacity = |lines: &Vec<String>| if lines.is_empty() { first } else { rest };

    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let word_width = width(word);
        let gap = usize::from(!line.is_empty());
        if used + gap + word_width <= capacity(&lines) {
            if gap == 1 {
                line.push(' ');
            }
            line.push_str(word);
            used += gap + word_width;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        if word_width <= capacity(&lines) {
            line.push_str(word);
            used = word_width;
            continue;
        }
        // Too long for any line: break it by character.
        for c in word.chars() {
            let w = width(c.encode_utf8(&mut [0u8; 4]));
            if used + w > capacity(&lines) && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push(c);
            used += w;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_terminal_controls_and_bidi() {
        assert_eq!(sanitize("os.system"), "os.system");
        assert!(matches!(sanitize("plain"), Cow::Borrowed(_)));
        assert_eq!(sanitize("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(sanitize("x\ny\tz\r"), "x\\ny\\tz\\r");
        assert_eq!(sanitize("ab\u{202e}cd"), "ab\\u{202e}cd");
        assert_eq!(sanitize("\u{9b}31m"), "\\u{9b}31m");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_hard_breaks_long_words() {
        assert_eq!(wrap("aa bb cc", 5, 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("aa bb cc", 2, 8), vec!["aa", "bb cc"]);
        assert_eq!(wrap("abcdefgh", 3, 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("x abcdefgh", 4, 4), vec!["x", "abcd", "efgh"]);
        assert_eq!(wrap("", 10, 10), vec![""]);
        assert_eq!(wrap("a   b", 10, 10), vec!["a b"]);
    }

    #[test]
    fn wrap_counts_display_columns_not_bytes() {
        // `▸` is 3 bytes but one column; CJK characters are two columns.
        assert_eq!(wrap("a ▸ b", 5, 5), vec!["a ▸ b"]);
        assert_eq!(wrap("模型模型", 4, 4), vec!["模型", "模型"]);
    }

    #[test]
    fn pad_uses_display_width() {
        assert_eq!(pad("▸", 3), "▸  ");
        assert_eq!(pad("long", 2), "long");
    }
}
