//! Navigation helpers over toml's spanned document tree (`DeTable`), which gives every key and
//! value its byte span and so every package its line.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::sink::Sink;
use crate::text::{LineCursor, LineIndex};

pub(crate) type Item<'i> = Spanned<DeValue<'i>>;

/// Parses a TOML document with recovery: syntax errors become findings and whatever could be read
/// is still returned.
pub(crate) fn parse<'i>(
    content: &'i str,
    lines: &LineIndex,
    sink: &mut Sink,
) -> Spanned<DeTable<'i>> {
    let (document, errors) = DeTable::parse_recoverable(content);
    for error in errors {
        let line = error.span().map(|span| lines.line(span.start));
        sink.parse_error(line, format!("invalid TOML: {}", error.message().trim()));
    }
    document
}

/// Parses one piece of a larger document that starts at byte `base` of it: syntax errors become
/// findings with the line in the whole document.
pub(crate) fn parse_piece<'i>(
    piece: &'i str,
    base: usize,
    lines: &mut LineCursor<'_>,
    sink: &mut Sink,
) -> Spanned<DeTable<'i>> {
    let (document, errors) = DeTable::parse_recoverable(piece);
    for error in errors {
        let line = error.span().map(|span| lines.line(base + span.start));
        sink.parse_error(line, format!("invalid TOML: {}", error.message().trim()));
    }
    document
}

/// Cuts a TOML document before every top-level `[[key]]` header, so that a lockfile of a million
/// `[[package]]` tables is parsed one table at a time instead of into one tree. Everything up to
/// the next `[[key]]` header (sub-tables such as `[package.source]` or `[[package.wheels]]`,
/// and later top-level tables) stays in the piece it follows, so each piece is a valid document
/// holding one element of the array. Headers are recognised only outside strings, multi-line
/// strings and multi-line arrays; a document the scanner cannot follow (unbalanced brackets)
/// simply stays in one piece and is parsed whole, as before. `each` gets each piece with its
/// byte offset and returns whether to go on.
pub(crate) fn for_each_piece(content: &str, key: &str, mut each: impl FnMut(usize, &str) -> bool) {
    let mut scanner = Scanner::default();
    let mut piece_start = 0;
    let mut line_start = 0;
    for line in content.split_inclusive('\n') {
        if scanner.at_top_level() && line_start > piece_start && is_array_header(line, key) {
            if !each(
                piece_start,
                content.get(piece_start..line_start).unwrap_or_default(),
            ) {
                return;
            }
            piece_start = line_start;
        }
        scanner.scan_line(line);
        line_start += line.len();
    }
    each(piece_start, content.get(piece_start..).unwrap_or_default());
}

/// Whether `line` is the header `[[key]]` (spaces and a quoted key allowed, a comment after it).
fn is_array_header(line: &str, key: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix("[[") else {
        return false;
    };
    let Some((name, _)) = rest.split_once("]]") else {
        return false;
    };
    let name = name.trim();
    let unquoted = name
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .or_else(|| name.strip_prefix('\'').and_then(|n| n.strip_suffix('\'')))
        .unwrap_or(name);
    unquoted == key
}

/// Just enough of TOML's lexical structure to know whether a line starts at the top level.
#[derive(Default)]
struct Scanner {
    /// Inside a multi-line string: its delimiter (three double or three single quotes).
    multi_line: Option<&'static str>,
    /// Open `[` and `{` of values spanning lines.
    depth: usize,
}

impl Scanner {
    fn at_top_level(&self) -> bool {
        self.multi_line.is_none() && self.depth == 0
    }

    fn scan_line(&mut self, line: &str) {
        let mut rest = line;
        while !rest.is_empty() {
            if let Some(delimiter) = self.multi_line {
                match find_closing(rest, delimiter) {
                    Some(end) => {
                        self.multi_line = None;
                        rest = rest.get(end..).unwrap_or_default();
                    }
                    None => return,
                }
                continue;
            }
            let Some(c) = rest.chars().next() else {
                return;
            };
            rest = match c {
                '#' => return,
                '"' | '\'' => {
                    let triple = if c == '"' { "\"\"\"" } else { "'''" };
                    if let Some(after) = rest.strip_prefix(triple) {
                        self.multi_line = Some(triple);
                        after
                    } else {
                        skip_single_line_string(rest, c)
                    }
                }
                '[' | '{' => {
                    self.depth += 1;
                    rest.get(1..).unwrap_or_default()
                }
                ']' | '}' => {
                    self.depth = self.depth.saturating_sub(1);
                    rest.get(1..).unwrap_or_default()
                }
                _ => rest.get(c.len_utf8()..).unwrap_or_default(),
            };
        }
    }
}

/// The offset just past the closing delimiter of a multi-line string (escapes honoured in basic
/// strings; up to two extra quotes may close it, as TOML allows).
fn find_closing(text: &str, delimiter: &str) -> Option<usize> {
    let quote = delimiter.as_bytes().first().copied()?;
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' && quote == b'"' {
            i += 2;
            continue;
        }
        if text.get(i..).is_some_and(|t| t.starts_with(delimiter)) {
            let mut end = i + 3;
            while bytes.get(end) == Some(&quote) && end < i + 5 {
                end += 1;
            }
            return Some(end);
        }
        i += 1;
    }
    None
}

/// The text after a one-line string starting at `text` (nothing if it is unterminated).
fn skip_single_line_string(text: &str, quote: char) -> &str {
    let bytes = text.as_bytes();
    let mut i = 1;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' && quote == '"' {
            i += 2;
            continue;
        }
        if b == quote as u8 {
            return text.get(i + 1..).unwrap_or_default();
        }
        if b == b'\n' {
            break;
        }
        i += 1;
    }
    ""
}

pub(crate) fn get<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Item<'i>> {
    table.get(key)
}

pub(crate) fn table<'a, 'i>(item: &'a Item<'i>) -> Option<&'a DeTable<'i>> {
    item.get_ref().as_table()
}

pub(crate) fn sub_table<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a DeTable<'i>> {
    get(table, key).and_then(self::table)
}

pub(crate) fn array<'a, 'i>(item: &'a Item<'i>) -> &'a [Item<'i>] {
    item.get_ref().as_array().map_or(&[], |a| &a[..])
}

pub(crate) fn str_at<'a>(table: &'a DeTable<'_>, key: &str) -> Option<&'a str> {
    get(table, key).and_then(|item| item.get_ref().as_str())
}

pub(crate) fn line_of(item: &Item<'_>, lines: &LineIndex) -> u32 {
    lines.line(item.span().start)
}

/// The entries of an array of tables `[[key]]`.
pub(crate) fn array_of_tables<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> &'a [Item<'i>] {
    get(table, key).map_or(&[], array)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(content: &str, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_piece(content, key, |offset, piece| {
            assert_eq!(content.get(offset..offset + piece.len()), Some(piece));
            out.push(piece.to_string());
            true
        });
        out
    }

    #[test]
    fn documents_are_cut_before_each_top_level_array_header_only() {
        let content = concat!(
            "version = 1\n\n[[package]]\nname = \"a\"\n[package.source]\nregistry = \"x\"\n",
            "[[package.wheels]]\nurl = \"u\"\n\n[[ package ]] # b\nname = \"b\"\n",
            "notes = \"\"\"\n[[package]]\n\"\"\"\nlit = '''\n[[package]]\n'''\n",
            "files = [\n  \"[[package]]\",\n  ['#', \"]\"],\n]\n",
            "[[\"package\"]]\nname = 'c'\n[metadata]\nx = 1\n"
        );
        let cut = pieces(content, "package");
        assert_eq!(cut.len(), 4, "{cut:#?}");
        assert!(cut[0].starts_with("version = 1"));
        assert!(cut[1].contains("[[package.wheels]]"));
        assert!(cut[2].starts_with("[[ package ]] # b") && cut[2].contains("files = ["));
        assert!(cut[3].starts_with("[[\"package\"]]") && cut[3].ends_with("x = 1\n"));
        assert_eq!(cut.concat(), content);
        for piece in &cut {
            assert!(DeTable::parse(piece).is_ok(), "{piece}");
        }
    }

    #[test]
    fn unbalanced_documents_stay_whole() {
        let content = "x = [\n[[package]]\nname = \"a\"\n";
        assert_eq!(pieces(content, "package"), [content]);
        let unterminated = "x = '''\n[[package]]\nname = \"a\"\n";
        assert_eq!(pieces(unterminated, "package"), [unterminated]);
    }
}
