//! Byte offsets to 1-based lines and columns (columns in Unicode code points, as SARIF's
//! `unicodeCodePoints` column kind counts them).

/// Where something is in a Python file or a notebook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// 0-based index of the notebook cell (counting every cell, markdown included); `None` in a
    /// plain Python file.
    pub cell: Option<u32>,
    /// 1-based line (inside the cell for a notebook).
    pub line: u32,
    /// 1-based column in Unicode code points.
    pub column: u32,
}

/// The start offset of every line of one text, to turn byte offsets into positions.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr_newlines(text));
        LineIndex { text, starts }
    }

    /// The position of a byte offset; offsets past the end land on the last line.
    pub(crate) fn position(&self, offset: usize, cell: Option<u32>) -> Position {
        let offset = offset.min(self.text.len());
        let index = self.starts.partition_point(|&start| start <= offset).max(1) - 1;
        let start = self.starts.get(index).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |prefix| prefix.chars().count());
        Position {
            cell,
            line: saturating_u32(index + 1),
            column: saturating_u32(column + 1),
        }
    }

    /// The 1-based line of a byte offset.
    pub(crate) fn line(&self, offset: usize) -> u32 {
        let offset = offset.min(self.text.len());
        saturating_u32(self.starts.partition_point(|&start| start <= offset).max(1))
    }
}

/// Offsets just after each `\n` (a `\r\n` ends a line at its `\n` too; a lone `\r`, which Python
/// also accepts, is rare enough in real sources to count as part of the line).
fn memchr_newlines(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter(|(_, byte)| *byte == b'\n')
        .map(|(i, _)| i + 1)
}

pub(crate) fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_code_points_from_one() {
        let index = LineIndex::new("a = 1\nnom = \"é\"; torch.load(x)\n");
        let offset = "a = 1\nnom = \"é\"; ".len();
        let position = index.position(offset, None);
        assert_eq!((position.line, position.column), (2, 12));
        assert_eq!(index.position(0, Some(3)).cell, Some(3));
        assert_eq!(index.line(10_000), 3);
    }
}
