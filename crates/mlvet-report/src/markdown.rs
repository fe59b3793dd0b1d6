//! A Markdown summary for pull-request comments (`mlvet scan --format markdown`).
//!
//! Verdict counts, a table of the findings that reach `--fail-on`, the other findings and the
//! suppressed ones in collapsed `<details>`, then scan errors and warnings.
//!
//! Everything that comes from the scanned files (paths, member names, messages, evidence) is
//! escaped so that no file name can inject Markdown, HTML, links, mentions or table cells: names
//! and evidence go in code spans (a fence longer than any backtick run inside), prose has every
//! Markdown punctuation character backslash-escaped and `<`, `>`, `&`, `@`, `:` written as
//! entities (no tags, no autolinks, no mentions); control characters and line breaks become
//! spaces. The output never exceeds [`MARKDOWN_MAX_CHARS`] characters (GitHub's comment limit):
//! rows that do not fit are counted in a closing note instead.

use std::fmt::Write as _;

use mlvet_core::{Finding, ScanReport, Severity, Verdict};

use crate::{RunMeta, exit_status};

/// The most characters the Markdown report holds: GitHub rejects longer comments.
pub const MARKDOWN_MAX_CHARS: usize = 65_536;
/// Room kept for closing tags and the truncation note.
const RESERVE_CHARS: usize = 1_024;
/// Longest cell text (characters) before it is cut with `…`.
const MAX_CELL_CHARS: usize = 300;

const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// Renders the pull-request summary.
pub fn render_markdown(report: &ScanReport, meta: &RunMeta) -> String {
    let mut out = Budgeted::new(MARKDOWN_MAX_CHARS - RESERVE_CHARS);
    let status = exit_status(report, meta.fail_on);
    let verdicts = [
        Verdict::Malicious,
        Verdict::Vulnerable,
        Verdict::Suspicious,
        Verdict::Safe,
    ]
    .map(|v| {
        (
            v,
            report.artifacts.iter().filter(|a| a.verdict == v).count(),
        )
    });

    let headline = match status {
        crate::ExitStatus::Clean => "passed",
        crate::ExitStatus::FindingsAtOrAboveThreshold => "failed",
        crate::ExitStatus::ScanErrors => "incomplete (scan errors)",
    };
    out.push(&format!("### mlvet scan: {headline}\n\n"));
    let counts: Vec<String> = verdicts
        .iter()
        .map(|(verdict, n)| format!("**{n}** {verdict}"))
        .collect();
    out.push(&format!(
        "{} · {} artefacts, {} packages\n\n",
        counts.join(" · "),
        report.artifacts.len(),
        report.packages.len()
    ));

    let mut findings: Vec<&Finding> = report.findings().collect();
    findings.sort_by(|a, b| Finding::report_order(a, b));
    let reaches = |f: &Finding| meta.fail_on.is_some_and(|level| f.severity >= level);
    let failing: Vec<&Finding> = findings
        .iter()
        .copied()
        .filter(|f| f.suppression.is_none() && reaches(f))
        .collect();
    let other: Vec<&Finding> = findings
        .iter()
        .copied()
        .filter(|f| f.suppression.is_none() && !reaches(f))
        .collect();
    let suppressed: Vec<&Finding> = findings
        .iter()
        .copied()
        .filter(|f| f.suppression.is_some())
        .collect();

    let threshold = meta
        .fail_on
        .map_or_else(|| "never".to_string(), |s| s.as_str().to_string());
    let mut omitted = 0usize;
    if failing.is_empty() {
        out.push(&format!("No finding reaches `--fail-on {threshold}`.\n\n"));
    } else {
        out.push(&format!(
            "**{} finding{} at or above `--fail-on {threshold}`:**\n\n",
            failing.len(),
            plural(failing.len())
        ));
        omitted += table(&mut out, &failing, false);
        out.push("\n");
    }
    if !other.is_empty() {
        out.push(&format!(
            "<details><summary>{} other finding{} below the threshold</summary>\n\n",
            other.len(),
            plural(other.len())
        ));
        omitted += table(&mut out, &other, false);
        out.push_always("\n</details>\n\n");
    }
    if !suppressed.is_empty() {
        out.push(&format!(
            "<details><summary>{} suppressed finding{}</summary>\n\n",
            suppressed.len(),
            plural(suppressed.len())
        ));
        omitted += table(&mut out, &suppressed, true);
        out.push_always("\n</details>\n\n");
    }
    if !report.errors.is_empty() {
        out.push(&format!(
            "**{} path{} could not be scanned:**\n\n",
            report.errors.len(),
            plural(report.errors.len())
        ));
        for error in &report.errors {
            if !out.push(&format!(
                "- {}: {}\n",
                code(&error.path),
                prose(&error.message)
            )) {
                omitted += 1;
            }
        }
        out.push("\n");
    }
    for warning in &report.warnings {
        if !out.push(&format!("> **Warning:** {}\n\n", prose(warning))) {
            omitted += 1;
        }
    }
    if omitted > 0 {
        out.push_always(&format!(
            "_{omitted} more entr{} not shown: the comment would exceed GitHub's {MARKDOWN_MAX_CHARS}-character limit. \
             See the JSON or SARIF report for everything._\n",
            if omitted == 1 { "y" } else { "ies" }
        ));
    }
    out.push_always(&format!(
        "<sub>mlvet {} · [rules]({REPOSITORY}/blob/main/docs/rules.md)</sub>\n",
        prose(&meta.tool_version)
    ));
    out.text
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Writes a findings table; returns how many rows did not fit.
fn table(out: &mut Budgeted, findings: &[&Finding], with_reason: bool) -> usize {
    if with_reason {
        out.push("| severity | rule | location | finding | suppressed because |\n|---|---|---|---|---|\n");
    } else {
        out.push("| severity | rule | location | finding |\n|---|---|---|---|\n");
    }
    let mut omitted = 0;
    for finding in findings {
        let mut row = format!(
            "| {} | [`{}`]({REPOSITORY}/blob/main/docs/rules.md#{}) | {} | {} |",
            severity_badge(finding.severity),
            finding.rule,
            finding.rule,
            code(&location_text(finding)),
            finding_cell(finding),
        );
        if with_reason && let Some(suppression) = &finding.suppression {
            let _ = write!(
                row,
                " {} ({}) |",
                prose(&suppression.reason),
                suppression.kind.as_str()
            );
        }
        row.push('\n');
        if !out.push(&row) {
            omitted += 1;
        }
    }
    omitted
}

fn severity_badge(severity: Severity) -> String {
    match severity {
        Severity::Critical | Severity::High => format!("**{severity}**"),
        _ => severity.to_string(),
    }
}

fn location_text(finding: &Finding) -> String {
    let location = &finding.location;
    let mut text = location.path.clone();
    for member in &location.members {
        text.push_str(" ▸ ");
        text.push_str(member);
    }
    if let Some(line) = location.line {
        let _ = write!(text, ":{line}");
        if let Some(column) = location.column {
            let _ = write!(text, ":{column}");
        }
    }
    text
}

fn finding_cell(finding: &Finding) -> String {
    let mut cell = prose(&finding.message);
    for evidence in finding.evidence.iter().take(3) {
        let _ = write!(
            cell,
            "<br>{}: {}",
            prose(&evidence.label),
            code(&evidence.value)
        );
    }
    if let Some(advisory) = &finding.advisory
        && let Some(fixed) = &advisory.fixed
    {
        let _ = write!(cell, "<br>fixed in {}", code(fixed));
    }
    cell
}

/// Text limited to [`MAX_CELL_CHARS`], control characters and line breaks turned into spaces.
fn flatten(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .take(MAX_CELL_CHARS)
        .collect();
    if text.chars().nth(MAX_CELL_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// A code span that shows `text` literally, safe inside a table cell.
pub(crate) fn code(text: &str) -> String {
    let text = flatten(text).replace('|', "\\|");
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    // A space on each side keeps a leading or trailing backtick from joining the fence; an
    // all-space span would lose it, so that case shows the spaces quoted.
    if text.trim().is_empty() {
        return format!("{fence}\"{text}\"{fence}");
    }
    format!("{fence} {text} {fence}")
}

/// Prose that renders as the same characters: Markdown punctuation backslash-escaped, HTML and
/// autolink/mention triggers as entities.
pub(crate) fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in flatten(text).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' => out.push_str("&#64;"),
            ':' => out.push_str("&#58;"),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '!'
            | '|' | '~' | '"' | '\'' | '=' | '$' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A string that refuses additions past its character budget.
struct Budgeted {
    text: String,
    chars: usize,
    budget: usize,
}

impl Budgeted {
    fn new(budget: usize) -> Self {
        Budgeted {
            text: String::new(),
            chars: 0,
            budget,
        }
    }

    /// Appends `piece` if it fits; returns whether it did.
    fn push(&mut self, piece: &str) -> bool {
        let len = piece.chars().count();
        if self.chars + len > self.budget {
            return false;
        }
        self.push_always(piece);
        true
    }

    /// Appends closing tags and notes, which the reserve is kept for.
    fn push_always(&mut self, piece: &str) {
        self.chars += piece.chars().count();
        self.text.push_str(piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("x|y"), "` x\\|y `");
        assert_eq!(code("line\nbreak"), "` line break `");
        assert_eq!(code(" "), "`\" \"`");
    }

    #[test]
    fn prose_cannot_open_tags_links_or_mentions() {
        let escaped = prose("<img src=x onerror=alert(1)> [x](https://evil.invalid) @octocat");
        assert!(!escaped.contains('<') && !escaped.contains('@'));
        assert!(!escaped.contains("https:"));
        assert!(escaped.contains("\\[x\\]\\("));
    }
}
