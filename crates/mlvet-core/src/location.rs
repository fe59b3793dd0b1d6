use std::fmt;

/// Where a finding points: an artefact on disk, a chain of members inside nested containers, and
/// a position inside the innermost one.
///
/// `path` is the outer file as the user named it (a file inside a scanned directory appears as
/// `DIR/sub/file`). `members` is the chain of container members from outer to inner, e.g.
/// `["weights.zip", "archive/data.pkl"]` for a zip inside a tar.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub path: String,
    pub members: Vec<String>,
    /// Byte offset inside the innermost member (or the file when `members` is empty).
    pub offset: Option<u64>,
    /// Index of the pickle opcode, counted from 0 over the whole pickle stream.
    pub opcode_index: Option<u64>,
    /// 1-based line in a text file (manifests, lockfiles, source code).
    pub line: Option<u32>,
    /// 1-based column (in Unicode code points) on `line`, where the analysis knows it (source code).
    pub column: Option<u32>,
}

impl Location {
    pub fn file(path: impl Into<String>) -> Self {
        Location {
            path: path.into(),
            ..Location::default()
        }
    }

    /// The same location one container level deeper.
    pub fn member(&self, name: impl Into<String>) -> Self {
        let mut members = self.members.clone();
        members.push(name.into());
        Location {
            path: self.path.clone(),
            members,
            offset: None,
            opcode_index: None,
            line: None,
            column: None,
        }
    }

    pub fn with_offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    pub fn with_opcode(mut self, opcode_index: u64, offset: u64) -> Self {
        self.opcode_index = Some(opcode_index);
        self.offset = Some(offset);
        self
    }

    pub fn with_line(mut self, line: u32) -> Self {
        self.line = Some(line);
        self
    }

    /// Sets the 1-based column (Unicode code points) on the location's line.
    pub fn with_column(mut self, column: u32) -> Self {
        self.column = Some(column);
        self
    }

    /// The member chain joined for display (`outer ▸ inner`), or `None` for a plain file.
    pub fn member_display(&self) -> Option<String> {
        if self.members.is_empty() {
            None
        } else {
            Some(self.members.join(" ▸ "))
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        for member in &self.members {
            write!(f, " ▸ {member}")?;
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        match (self.opcode_index, self.offset) {
            (Some(op), Some(offset)) => write!(f, " @ opcode {op} (byte {offset})"),
            (Some(op), None) => write!(f, " @ opcode {op}"),
            (None, Some(offset)) => write!(f, " @ byte {offset}"),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_locations_display_as_a_chain() {
        let loc = Location::file("models/a.tar")
            .member("w.zip")
            .member("archive/data.pkl")
            .with_opcode(7, 42);
        assert_eq!(
            loc.to_string(),
            "models/a.tar ▸ w.zip ▸ archive/data.pkl @ opcode 7 (byte 42)"
        );
        assert_eq!(
            loc.member_display().as_deref(),
            Some("w.zip ▸ archive/data.pkl")
        );
        assert_eq!(Location::file("x").member_display(), None);
    }

    #[test]
    fn columns_display_after_the_line() {
        let loc = Location::file("train.py").with_line(3).with_column(9);
        assert_eq!(loc.to_string(), "train.py:3:9");
        assert_eq!(loc.member("x").column, None);
    }
}
