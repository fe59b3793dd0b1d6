//! The Markdown pull-request summary: counts, the failing findings in a table, the rest
//! collapsed, everything user-controlled escaped, bounded length.

mod common;

use common::*;
use mlvet_core::{ArtifactReport, Finding, Location, ScanReport, Severity};
use mlvet_report::{MARKDOWN_MAX_CHARS, render_markdown};

#[test]
fn failing_findings_are_a_table_and_the_rest_is_collapsed() {
    let md = render_markdown(&full_report(), &meta(Some(Severity::High)));
    assert!(
        md.starts_with("### mlvet scan: incomplete (scan errors)\n"),
        "{md}"
    );
    assert!(md.contains("**1** malicious"), "{md}");
    let table_start = md.find("| severity | rule |").expect("table");
    let details = md
        .find("<details><summary>1 other finding below the threshold")
        .expect("details");
    assert!(table_start < details);
    let failing = &md[table_start..details];
    assert!(failing.contains("pickle-dangerous-callable"));
    assert!(!failing.contains("pickle-unknown-global"));
    assert!(md.contains("<details><summary>1 suppressed finding</summary>"));
    assert!(md.contains("never calls the affected loader"));
    assert!(md.contains("` models/bundle.tar ▸ weights.zip ▸ archive/data.pkl `"));
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
}

fn hostile_report(name: &str, evidence: &str, count: usize) -> ScanReport {
    let findings: Vec<Finding> = (0..count)
        .map(|i| {
            Finding::new(
                &DANGEROUS_CALLABLE,
                Location::file(name).with_opcode(i as u64, i as u64),
                format!("{evidence} #{i}"),
            )
            .evidence("callable", evidence)
        })
        .collect();
    ScanReport {
        artifacts: vec![ArtifactReport::new(
            name.into(),
            "pickle".into(),
            1,
            true,
            findings,
        )],
        ..ScanReport::default()
    }
}

#[test]
fn user_controlled_text_cannot_inject_markdown_or_html() {
    let name = "evil|</details><img src=x onerror=alert(1)>`[link](https://evil.invalid)`@team\n\n# heading";
    let md = render_markdown(
        &hostile_report(name, "<script>x</script> | @admin", 1),
        &meta(Some(Severity::High)),
    );
    // Outside code spans (which render literally) no tag, link or mention survives.
    let prose = outside_code_spans(&md);
    for needle in [
        "<img",
        "<script",
        "</details><img",
        "](https://evil",
        "@team",
        "@admin",
    ] {
        assert!(
            !prose.contains(needle),
            "`{needle}` outside a code span:\n{md}"
        );
    }
    assert!(!md.contains("\n# heading"), "{md}");
    // The table keeps four cells on the finding's row: every `|` inside is escaped.
    let row = md
        .lines()
        .find(|l| l.contains("pickle-dangerous-callable"))
        .expect("row");
    let cells = row.replace("\\|", "").matches('|').count();
    assert_eq!(cells, 5, "{row}");
    assert_eq!(
        prose.matches("<details>").count(),
        prose.matches("</details>").count()
    );
}

#[test]
fn output_is_bounded_with_a_note() {
    let long = "x".repeat(400);
    let md = render_markdown(
        &hostile_report("big.pkl", &long, 2_000),
        &meta(Some(Severity::High)),
    );
    assert!(
        md.chars().count() <= MARKDOWN_MAX_CHARS,
        "{}",
        md.chars().count()
    );
    assert!(
        md.contains("more entries not shown"),
        "{}",
        &md[md.len() - 400..]
    );
}

#[test]
fn a_clean_scan_says_so() {
    let report = ScanReport {
        artifacts: vec![safe_artifact("a.safetensors")],
        ..ScanReport::default()
    };
    let md = render_markdown(&report, &meta(Some(Severity::High)));
    assert!(md.contains("### mlvet scan: passed"));
    assert!(md.contains("No finding reaches `--fail-on high`."));
    assert!(!md.contains("<details>"));
}

/// The text with every code span (a run of n backticks up to the next run of exactly n) removed,
/// as CommonMark reads them.
fn outside_code_spans(md: &str) -> String {
    let chars: Vec<char> = md.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut n = 0;
        while i + n < chars.len() && chars[i + n] == '`' {
            n += 1;
        }
        // Find the closing run of exactly n backticks.
        let mut j = i + n;
        let mut closed = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let mut m = 0;
                while j + m < chars.len() && chars[j + m] == '`' {
                    m += 1;
                }
                if m == n {
                    closed = Some(j + m);
                    break;
                }
                j += m;
            } else {
                j += 1;
            }
        }
        match closed {
            Some(end) => i = end,
            None => {
                out.extend(std::iter::repeat_n('`', n));
                i += n;
            }
        }
    }
    out
}
