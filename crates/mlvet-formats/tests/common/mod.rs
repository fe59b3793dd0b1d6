//! Helpers shared by the corpus-style tests.

use mlvet_core::ArtifactReport;

/// One line explaining a verdict: the format, whether it was fully inspected, and every finding.
pub fn describe(report: Option<&ArtifactReport>) -> String {
    let Some(report) = report else {
        return "not a model".into();
    };
    let findings: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{} ({}): {}", f.rule, f.verdict, f.message))
        .collect();
    format!(
        "format {} inspected {} :: {}",
        report.format,
        report.fully_inspected,
        findings.join(" | ")
    )
}
