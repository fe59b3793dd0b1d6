//! Inline suppression comments: `# mlvet: ignore[rule-id] reason` (several ids separated by
//! commas). A comment suppresses the findings of its rules on the lines of the call it sits on;
//! a comment alone on its line also covers the call that starts on the next line.

use crate::position::Position;

/// One `# mlvet: ignore[...]` comment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InlineSuppression {
    pub cell: Option<u32>,
    /// 1-based line of the comment.
    pub line: u32,
    /// True when the comment is alone on its line (it then covers the next line too).
    pub standalone: bool,
    pub rules: Vec<String>,
    /// The justification written after the brackets (may be empty).
    pub reason: String,
}

impl InlineSuppression {
    /// Whether this comment covers a finding of `rule` on a call at `position` ending on
    /// `end_line`.
    pub fn covers(&self, rule: &str, position: &Position, end_line: u32) -> bool {
        if self.cell != position.cell || !self.rules.iter().any(|r| r == rule) {
            return false;
        }
        let on_the_call = (position.line..=end_line).contains(&self.line);
        let just_above = self.standalone && self.line.saturating_add(1) == position.line;
        on_the_call || just_above
    }
}

/// Parses one comment token (`# ...`). Returns `None` for every comment that is not an mlvet
/// suppression, including malformed ones (an unclosed bracket, no rule id).
pub(crate) fn parse_comment(
    comment: &str,
    line: u32,
    cell: Option<u32>,
    standalone: bool,
) -> Option<InlineSuppression> {
    let body = comment.strip_prefix('#')?.trim_start();
    let rest = body.strip_prefix("mlvet:")?.trim_start();
    let rest = rest.strip_prefix("ignore[")?;
    let close = rest.find(']')?;
    let rules: Vec<String> = rest[..close]
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect();
    if rules.is_empty() {
        return None;
    }
    let reason = rest[close + 1..].trim().to_string();
    Some(InlineSuppression {
        cell,
        line,
        standalone,
        rules,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_parse_with_rules_and_reason() {
        let found = parse_comment(
            "# mlvet: ignore[code-torch-load, code-unpinned-hub-download] our own checkpoint",
            4,
            None,
            false,
        )
        .expect("suppression");
        assert_eq!(
            found.rules,
            ["code-torch-load", "code-unpinned-hub-download"]
        );
        assert_eq!(found.reason, "our own checkpoint");
        let at = Position {
            cell: None,
            line: 4,
            column: 1,
        };
        assert!(found.covers("code-torch-load", &at, 4));
        assert!(!found.covers("code-pickle-load", &at, 4));
        assert!(parse_comment("# mlvet: ignore[] x", 1, None, false).is_none());
        assert!(parse_comment("# noqa: S301", 1, None, false).is_none());
        assert!(parse_comment("# mlvet: ignore[code-torch-load", 1, None, false).is_none());
    }

    #[test]
    fn a_standalone_comment_covers_the_next_line_only() {
        let found =
            parse_comment("#mlvet: ignore[code-torch-load]", 3, None, true).expect("parsed");
        let next = Position {
            cell: None,
            line: 4,
            column: 5,
        };
        let later = Position { line: 5, ..next };
        assert!(found.covers("code-torch-load", &next, 4));
        assert!(!found.covers("code-torch-load", &later, 5));
    }
}
