//! Reading inventory files as text, and mapping byte offsets to lines.

use std::io::Read;
use std::path::Path;

use crate::{InventoryError, MAX_FILE_SIZE};

pub(crate) struct Text {
    pub text: String,
    /// Invalid bytes were replaced while decoding.
    pub lossy: bool,
}

/// Reads a file of at most [`MAX_FILE_SIZE`] bytes and decodes it: UTF-8 (a byte-order mark is
/// dropped), or UTF-16 when it starts with a UTF-16 byte-order mark (pip reads both).
pub(crate) fn read_text(path: &Path, display: &str) -> Result<Text, InventoryError> {
    let io = |source| InventoryError::Io {
        path: display.to_string(),
        source,
    };
    let file = mlvet_core::fs::open_regular(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_FILE_SIZE {
        return Err(InventoryError::TooLarge {
            path: display.to_string(),
            size,
            limit: MAX_FILE_SIZE,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // Read one byte past the limit so that a file growing under us is still refused.
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(InventoryError::TooLarge {
            path: display.to_string(),
            size: bytes.len() as u64,
            limit: MAX_FILE_SIZE,
        });
    }
    Ok(decode(bytes))
}

pub(crate) fn decode(bytes: Vec<u8>) -> Text {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return decode_utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return decode_utf16(rest, u16::from_be_bytes);
    }
    let bytes = match bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    match String::from_utf8(bytes) {
        Ok(text) => Text { text, lossy: false },
        Err(err) => Text {
            text: String::from_utf8_lossy(err.as_bytes()).into_owned(),
            lossy: true,
        },
    }
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Text {
    let units = bytes.chunks_exact(2).map(|pair| {
        unit([
            pair.first().copied().unwrap_or(0),
            pair.get(1).copied().unwrap_or(0),
        ])
    });
    let mut lossy = !bytes.len().is_multiple_of(2);
    let text = char::decode_utf16(units)
        .map(|c| {
            c.unwrap_or_else(|_| {
                lossy = true;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    Text { text, lossy }
}

/// Maps byte offsets in a text to 1-based line numbers.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    /// The 1-based line holding byte `offset` (offsets past the end map to the last line).
    pub fn line(&self, offset: usize) -> u32 {
        let index = match self.starts.binary_search(&offset) {
            Ok(exact) => exact,
            Err(insert) => insert.saturating_sub(1),
        };
        u32::try_from(index + 1).unwrap_or(u32::MAX)
    }
}

/// Maps byte offsets to 1-based lines by counting newlines from the previous offset, in either
/// direction: streaming parsers ask in (almost) document order, so this costs one pass over the
/// text in total and no memory, where [`LineIndex`] keeps an offset per line.
pub(crate) struct LineCursor<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCursor<'a> {
    pub fn new(text: &'a str) -> Self {
        LineCursor {
            bytes: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line holding byte `offset` (offsets past the end map to the last line).
    pub fn line(&mut self, offset: usize) -> u32 {
        let target = offset.min(self.bytes.len());
        let newlines = |from: usize, to: usize| {
            self.bytes
                .get(from..to)
                .map_or(0, |span| span.iter().filter(|b| **b == b'\n').count())
        };
        if target >= self.offset {
            self.line += newlines(self.offset, target);
        } else {
            self.line -= newlines(target, self.offset);
        }
        self.offset = target;
        u32::try_from(self.line).unwrap_or(u32::MAX)
    }
}

/// Finds the line of successive entries of a YAML-like document by scanning forward: each call
/// searches from the line after the previous hit, so entries listed in document order get their
/// own lines even when names repeat.
pub(crate) struct ForwardLineSearch<'a> {
    lines: Vec<&'a str>,
    next: usize,
}

impl<'a> ForwardLineSearch<'a> {
    pub fn new(text: &'a str) -> Self {
        ForwardLineSearch {
            lines: text.lines().collect(),
            next: 0,
        }
    }

    /// The 1-based line of the next line (from the cursor) for which `matches` holds; advances the
    /// cursor past it. `None` (cursor unchanged) when no later line matches.
    pub fn find(&mut self, matches: impl Fn(&str) -> bool) -> Option<u32> {
        let start = self.next;
        let offset = self
            .lines
            .get(start..)?
            .iter()
            .position(|line| matches(line))?;
        let index = start + offset;
        self.next = index + 1;
        u32::try_from(index + 1).ok()
    }
}

#[cfg(test)]
mod line_cursor_tests {
    use super::*;

    #[test]
    fn the_cursor_agrees_with_the_index_in_any_order() {
        let text = "a\nbb\n\nccc\nd";
        let index = LineIndex::new(text);
        let mut cursor = LineCursor::new(text);
        for offset in [0, 5, 2, 13, 7, 1, 100, 3, 0, 11, 6] {
            assert_eq!(cursor.line(offset), index.line(offset), "offset {offset}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines() {
        let index = LineIndex::new("a\nbc\n\nd");
        assert_eq!(index.line(0), 1);
        assert_eq!(index.line(1), 1);
        assert_eq!(index.line(2), 2);
        assert_eq!(index.line(5), 3);
        assert_eq!(index.line(6), 4);
        assert_eq!(index.line(600), 4);
    }

    #[test]
    fn utf16_with_bom_decodes() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "numpy==1.0\n".encode_utf16() {
            bytes.extend(unit.to_le_bytes());
        }
        let text = decode(bytes);
        assert_eq!(text.text, "numpy==1.0\n");
        assert!(!text.lossy);
        let text = decode(b"\xEF\xBB\xBFtorch\n\xff".to_vec());
        assert!(text.lossy);
        assert!(text.text.starts_with("torch\n"));
    }

    #[test]
    fn forward_search_advances() {
        let mut search = ForwardLineSearch::new("- a\n- b\n- a\n");
        assert_eq!(search.find(|l| l.ends_with('a')), Some(1));
        assert_eq!(search.find(|l| l.ends_with('a')), Some(3));
        assert_eq!(search.find(|l| l.ends_with('a')), None);
    }
}
