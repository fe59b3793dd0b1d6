//! The terminal report, for people.
//!
//! Layout (normal mode):
//! 1. warnings (from the report, plus a stale-database warning), one `warning:` line each;
//! 2. one block per artefact that is not safe or has findings, worst verdict first: a header
//!    (verdict badge, path, format) and its findings worst first, each with its location,
//!    evidence, package, advisory and `fix:` lines;
//! 3. safe artefacts without findings: counted in one line, or listed one per line when verbose;
//! 4. errors (paths that could not be scanned);
//! 5. the one-line summary.
//!
//! Quiet mode keeps only what fails the run: one line per finding at or above the `fail_on`
//! threshold (none when there is no threshold), errors, and the summary (which counts warnings).
//!
//! Suppressed findings (an ignore in the configuration, a VEX statement) are shown only in
//! verbose mode, marked `suppressed`; otherwise they are only counted in the summary.
//!
//! All text that comes from scanned content is passed through [`sanitize`] so a hostile file
//! cannot inject escape sequences; without colour the output contains no escape codes at all.

use std::collections::BTreeMap;

use mlvet_core::{
    AdvisoryRef, ArtifactReport, Confidence, Finding, Location, PackageRef, ScanReport, Severity,
    Verdict,
};
use owo_colors::{OwoColorize, Style};

use crate::text::{pad, sanitize, width, wrap};
use crate::{ExitStatus, RunMeta, TerminalOptions, count_at_or_above, exit_status};

const DEFAULT_WIDTH: usize = 80;
/// Narrower than this and hanging indents would leave no room for text.
const MIN_WIDTH: usize = 40;
/// Findings start at this column, their detail lines at twice it.
const INDENT: usize = 2;
/// Evidence labels longer than this do not push every value of the finding to the right.
const MAX_LABEL_COLUMN: usize = 14;
/// The widest verdict badge (`VULNERABLE`) and severity (`critical`), for alignment.
const VERDICT_WIDTH: usize = 10;
const SEVERITY_WIDTH: usize = 8;

/// Renders the human report; see the module documentation for the layout.
pub fn render_terminal(report: &ScanReport, meta: &RunMeta, opts: &TerminalOptions) -> String {
    let out = Terminal {
        paint: Paint { color: opts.color },
        width: opts.width.unwrap_or(DEFAULT_WIDTH).max(MIN_WIDTH),
        verbose: opts.verbose && !opts.quiet,
    };
    let warnings = warnings(report);
    let mut blocks: Vec<Vec<String>> = Vec::new();

    if !warnings.is_empty() && !opts.quiet {
        blocks.push(out.warnings(&warnings));
    }
    if opts.quiet {
        let failing = out.failing_findings(report, meta.fail_on);
        if !failing.is_empty() {
            blocks.push(failing);
        }
    } else {
        if out.verbose
            && let Some(db) = &report.database
        {
            blocks.push(out.database(db));
        }
        blocks.extend(out.artifacts(report));
    }
    if !report.errors.is_empty() {
        blocks.push(out.errors(report));
    }
    blocks.push(vec![out.summary(report, meta, warnings.len())]);

    let mut text = blocks
        .into_iter()
        .map(|block| block.join("\n"))
        .collect::<Vec<_>>()
        .join("\n\n");
    text.push('\n');
    text
}

/// The report's warnings, plus one for a stale advisory database (it is not a finding, but the
/// reader must know that recent advisories may be missing).
fn warnings(report: &ScanReport) -> Vec<String> {
    let mut warnings = report.warnings.clone();
    if let Some(db) = report.database.as_ref().filter(|db| db.stale) {
        let updated = db.updated.as_deref().unwrap_or("an unknown date");
        warnings.push(format!(
            "advisory database is stale (last updated {updated}): recent advisories may be missing"
        ));
    }
    warnings
}

/// Applies styles only when colour is on.
struct Paint {
    color: bool,
}

impl Paint {
    fn paint(&self, text: &str, style: Style) -> String {
        if self.color {
            text.style(style).to_string()
        } else {
            text.to_string()
        }
    }

    fn verdict_badge(&self, verdict: Verdict) -> String {
        let style = match verdict {
            Verdict::Malicious => Style::new().bold().white().on_red(),
            Verdict::Vulnerable => Style::new().bold().white().on_magenta(),
            Verdict::Suspicious => Style::new().bold().black().on_yellow(),
            Verdict::Safe => Style::new().bold().green(),
        };
        self.paint(&verdict.as_str().to_ascii_uppercase(), style)
    }

    fn verdict_text(&self, text: &str, verdict: Verdict) -> String {
        let style = match verdict {
            Verdict::Malicious => Style::new().bold().red(),
            Verdict::Vulnerable => Style::new().bold().magenta(),
            Verdict::Suspicious => Style::new().yellow(),
            Verdict::Safe => Style::new().green(),
        };
        self.paint(text, style)
    }

    fn severity(&self, text: &str, severity: Severity) -> String {
        let style = match severity {
            Severity::Critical => Style::new().bold().red(),
            Severity::High => Style::new().red(),
            Severity::Medium => Style::new().yellow(),
            Severity::Low => Style::new().cyan(),
            Severity::Info => Style::new().dimmed(),
        };
        self.paint(text, style)
    }
}

struct Terminal {
    paint: Paint,
    width: usize,
    verbose: bool,
}

impl Terminal {
    /// `prefix` (already styled, `prefix_width` columns wide) followed by `text` wrapped with a
    /// hanging indent of `indent` columns.
    fn hanging(&self, prefix: &str, prefix_width: usize, indent: usize, text: &str) -> Vec<String> {
        let first = self.width.saturating_sub(prefix_width);
        let rest = self.width.saturating_sub(indent);
        wrap(text, first, rest)
            .into_iter()
            .enumerate()
            .map(|(i, line)| {
                let lead = if i == 0 {
                    prefix.to_string()
                } else {
                    " ".repeat(indent)
                };
                format!("{lead}{line}").trim_end().to_string()
            })
            .collect()
    }

    fn warnings(&self, warnings: &[String]) -> Vec<String> {
        let label = self.paint.paint("warning:", Style::new().bold().yellow());
        warnings
            .iter()
            .flat_map(|w| self.hanging(&format!("{label} "), 9, 9, &sanitize(w)))
            .collect()
    }

    fn database(&self, db: &mlvet_core::DatabaseInfo) -> Vec<String> {
        let mut text = format!("{} · {} records", sanitize(&db.source), db.records);
        if let Some(updated) = &db.updated {
            text.push_str(&format!(" · updated {}", sanitize(updated)));
        }
        if db.stale {
            text.push_str(" · stale");
        }
        self.hanging("advisory database: ", 19, 19, &text)
    }

    /// One block per artefact worth showing, then the safe ones (listed or counted).
    fn artifacts(&self, report: &ScanReport) -> Vec<Vec<String>> {
        let mut artifacts: Vec<&ArtifactReport> = report.artifacts.iter().collect();
        artifacts.sort_by(|a, b| b.verdict.cmp(&a.verdict).then_with(|| a.path.cmp(&b.path)));
        // Without --verbose, a safe artefact whose findings are all informational (e.g. the
        // bundled Rust crates a wheel's SBOM lists, which mlvet does not match) is only counted.
        let verbose = self.verbose;
        let (quiet_safe, shown): (Vec<&ArtifactReport>, Vec<&ArtifactReport>) =
            artifacts.into_iter().partition(|a| {
                a.verdict == Verdict::Safe
                    && if verbose {
                        a.findings.is_empty()
                    } else {
                        a.findings
                            .iter()
                            .all(|f| f.severity == Severity::Info || f.suppression.is_some())
                    }
            });

        let mut blocks: Vec<Vec<String>> = shown.iter().map(|a| self.artifact(a)).collect();
        if quiet_safe.is_empty() {
            return blocks;
        }
        if self.verbose {
            blocks.push(
                quiet_safe
                    .iter()
                    .flat_map(|a| self.artifact_header(a))
                    .collect(),
            );
        } else {
            let n = quiet_safe.len();
            let noun = if n == 1 { "artifact" } else { "artifacts" };
            let count = self
                .paint
                .verdict_text(&format!("{n} safe {noun}"), Verdict::Safe);
            blocks.push(vec![format!(
                "{count} not listed (use --verbose to list them)"
            )]);
        }
        blocks
    }

    fn artifact(&self, artifact: &ArtifactReport) -> Vec<String> {
        let mut lines = self.artifact_header(artifact);
        let mut findings: Vec<&Finding> = artifact
            .findings
            .iter()
            .filter(|f| self.verbose || f.suppression.is_none())
            .collect();
        findings.sort_by(|a, b| Finding::report_order(a, b));
        let hidden = if self.verbose {
            Vec::new()
        } else {
            collapse_info(&mut findings)
        };
        let details: Vec<(&Finding, Vec<(String, String)>)> = findings
            .into_iter()
            .map(|f| (f, self.finding_fields(f, &artifact.path)))
            .collect();
        // One value column for the whole artefact, so its findings read as one table.
        let label_column = details
            .iter()
            .flat_map(|(_, fields)| fields.iter().map(|(label, _)| width(label) + 2))
            .max()
            .unwrap_or(0)
            .min(MAX_LABEL_COLUMN);
        for (finding, fields) in &details {
            lines.extend(self.finding(finding, fields, label_column));
        }
        for (rule, count) in hidden {
            let text = format!(
                "… and {} more info {} of {rule} (use --verbose to list them)",
                count,
                if count == 1 { "finding" } else { "findings" }
            );
            lines.extend(self.hanging("  ", 2, 2, &text));
        }
        lines
    }

    /// `VERDICT  path  (format, notes)`.
    fn artifact_header(&self, artifact: &ArtifactReport) -> Vec<String> {
        let badge = self.paint.verdict_badge(artifact.verdict);
        let padding = " ".repeat(VERDICT_WIDTH.saturating_sub(artifact.verdict.as_str().len()));
        let mut notes = vec![sanitize(&artifact.format).into_owned()];
        if !artifact.fully_inspected {
            notes.push("not fully inspected".to_string());
        }
        if self.verbose {
            notes.push(human_size(artifact.size));
        }
        if let Some(read) = hub_read_note(artifact) {
            notes.push(read);
        }
        let path = self
            .paint
            .paint(&sanitize(&artifact.path), Style::new().bold());
        let prefix = format!("{badge}{padding}  ");
        let text = format!("{path}  ({})", notes.join(", "));
        // The path is not wrapped: a broken path is harder to copy than a long line.
        vec![format!("{prefix}{text}")]
    }

    fn finding(
        &self,
        finding: &Finding,
        fields: &[(String, String)],
        label_column: usize,
    ) -> Vec<String> {
        let detail_indent = 2 * INDENT;
        let mut lines = vec![self.finding_head(finding)];
        lines.extend(self.hanging(
            &" ".repeat(detail_indent),
            detail_indent,
            detail_indent,
            &sanitize(&finding.message),
        ));
        for (label, value) in fields {
            lines.extend(self.field(label, value, detail_indent, label_column));
        }
        lines
    }

    /// `  critical  rule-id`.
    fn finding_head(&self, finding: &Finding) -> String {
        let severity = self.paint.severity(
            &pad(finding.severity.as_str(), SEVERITY_WIDTH),
            finding.severity,
        );
        let rule = self
            .paint
            .paint(&sanitize(finding.rule), Style::new().bold());
        format!("{}{severity}  {rule}", " ".repeat(INDENT))
    }

    /// The labelled detail lines of a finding, in display order.
    fn finding_fields(&self, finding: &Finding, artifact_path: &str) -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> = Vec::new();
        if let Some(suppression) = &finding.suppression {
            let source = suppression
                .source
                .as_deref()
                .map(|s| format!(", {s}"))
                .unwrap_or_default();
            fields.push((
                "suppressed".to_string(),
                format!(
                    "{} ({}{source})",
                    suppression.reason,
                    suppression.kind.as_str()
                ),
            ));
        }
        if let Some(at) = location_detail(&finding.location, artifact_path) {
            fields.push(("at".to_string(), at));
        }
        // High confidence is the norm; anything less is worth saying without --verbose.
        if self.verbose || finding.confidence != Confidence::High {
            fields.push(("confidence".to_string(), finding.confidence.to_string()));
        }
        for evidence in &finding.evidence {
            fields.push((
                sanitize(&evidence.label).into_owned(),
                sanitize(&evidence.value).into_owned(),
            ));
        }
        if let Some(package) = &finding.package {
            fields.push(("package".to_string(), package_detail(package)));
        }
        if let Some(advisory) = &finding.advisory {
            fields.extend(self.advisory_fields(advisory));
        }
        if let Some(fix) = &finding.remediation {
            fields.push(("fix".to_string(), sanitize(fix).into_owned()));
        }
        if let Some(suppression) = &finding.suppression {
            let mut text = format!(
                "{}: {}",
                suppression.kind.as_str(),
                sanitize(&suppression.reason)
            );
            if let Some(source) = &suppression.source {
                text.push_str(&format!(" ({})", sanitize(source)));
            }
            fields.push(("suppressed".to_string(), text));
        }
        fields
    }

    fn advisory_fields(&self, advisory: &AdvisoryRef) -> Vec<(String, String)> {
        let mut fields = vec![("advisory".to_string(), advisory_detail(advisory))];
        if let Some(affected) = &advisory.affected_allowed {
            fields.push((
                "affected".to_string(),
                format!("allowed versions include {}", sanitize(affected)),
            ));
        }
        if self.verbose {
            if let Some(summary) = &advisory.summary {
                fields.push(("summary".to_string(), sanitize(summary).into_owned()));
            }
            if let Some(vector) = &advisory.cvss_vector {
                fields.push(("cvss".to_string(), sanitize(vector).into_owned()));
            }
            let dates: Vec<String> = [
                ("published", &advisory.published),
                ("modified", &advisory.modified),
            ]
            .into_iter()
            .filter_map(|(what, date)| date.as_ref().map(|d| format!("{what} {}", sanitize(d))))
            .collect();
            if !dates.is_empty() {
                fields.push(("dates".to_string(), dates.join(" · ")));
            }
        }
        fields
    }

    /// `label:` padded to `label_column`, then the value wrapped under itself.
    fn field(&self, label: &str, value: &str, indent: usize, label_column: usize) -> Vec<String> {
        let plain = format!("{label}:");
        let label_width = width(&plain);
        let style = if label == "fix" {
            Style::new().bold().green()
        } else {
            Style::new().bold()
        };
        let styled = self.paint.paint(&plain, style);
        let gap = if label_width < label_column {
            label_column - label_width
        } else {
            1
        };
        let prefix = format!("{}{styled}{}", " ".repeat(indent), " ".repeat(gap));
        let value_column = indent + label_column.max(label_width + 1);
        self.hanging(&prefix, indent + label_width + gap, value_column, value)
    }

    /// Quiet mode: one line per finding that fails the run.
    fn failing_findings(&self, report: &ScanReport, fail_on: Option<Severity>) -> Vec<String> {
        let Some(threshold) = fail_on else {
            return Vec::new();
        };
        let mut failing: Vec<&Finding> = report
            .active_findings()
            .filter(|f| f.severity >= threshold)
            .collect();
        failing.sort_by(|a, b| Finding::report_order(a, b));
        failing
            .into_iter()
            .flat_map(|finding| {
                let severity = self.paint.severity(
                    &pad(finding.severity.as_str(), SEVERITY_WIDTH),
                    finding.severity,
                );
                let text = format!(
                    "{} at {}: {}",
                    sanitize(finding.rule),
                    sanitize(&finding.location.to_string()),
                    sanitize(&finding.message)
                );
                self.hanging(
                    &format!("{severity}  "),
                    SEVERITY_WIDTH + 2,
                    SEVERITY_WIDTH + 2,
                    &text,
                )
            })
            .collect()
    }

    fn errors(&self, report: &ScanReport) -> Vec<String> {
        let mut errors = report.errors.clone();
        errors.sort();
        let n = errors.len();
        let heading = format!(
            "{n} {} could not be scanned:",
            if n == 1 { "path" } else { "paths" }
        );
        let mut lines = vec![self.paint.paint(&heading, Style::new().bold().red())];
        for error in &errors {
            let text = format!("{}: {}", sanitize(&error.path), sanitize(&error.message));
            lines.extend(self.hanging(&" ".repeat(INDENT), INDENT, 2 * INDENT, &text));
        }
        lines
    }

    /// `mlvet: 12 artifacts scanned — 2 malicious, … · 5 findings (2 critical, …) · 0 errors`.
    /// One line by design (easy to grep in CI logs), so it is not wrapped.
    fn summary(&self, report: &ScanReport, meta: &RunMeta, warning_count: usize) -> String {
        let artifacts = report.artifacts.len();
        let mut line = format!(
            "{} {}",
            self.paint.paint("mlvet:", Style::new().bold()),
            plural(artifacts, "artifact")
        );
        line.push_str(" scanned");
        let verdicts: Vec<String> = [
            Verdict::Malicious,
            Verdict::Vulnerable,
            Verdict::Suspicious,
            Verdict::Safe,
        ]
        .into_iter()
        .filter_map(|verdict| {
            let n = report
                .artifacts
                .iter()
                .filter(|a| a.verdict == verdict)
                .count();
            (n > 0).then(|| self.paint.verdict_text(&format!("{n} {verdict}"), verdict))
        })
        .collect();
        if !verdicts.is_empty() {
            line.push_str(&format!(" — {}", verdicts.join(", ")));
        }

        line.push_str(&format!(
            " · {}",
            plural(report.active_findings().count(), "finding")
        ));
        let severities: Vec<String> = Severity::ALL
            .into_iter()
            .rev()
            .filter_map(|severity| {
                let n = report
                    .active_findings()
                    .filter(|f| f.severity == severity)
                    .count();
                (n > 0).then(|| self.paint.severity(&format!("{n} {severity}"), severity))
            })
            .collect();
        if !severities.is_empty() {
            line.push_str(&format!(" ({})", severities.join(", ")));
        }
        let suppressed = report.findings().count() - report.active_findings().count();
        if suppressed > 0 {
            line.push_str(&format!(" · {suppressed} suppressed"));
        }

        let errors = plural(report.errors.len(), "error");
        line.push_str(" · ");
        line.push_str(&if report.errors.is_empty() {
            errors
        } else {
            self.paint.paint(&errors, Style::new().bold().red())
        });
        if warning_count > 0 {
            let warnings = plural(warning_count, "warning");
            line.push_str(&format!(
                " · {}",
                self.paint.paint(&warnings, Style::new().bold().yellow())
            ));
        }
        if let Some(verdict) = self.failure(report, meta) {
            line.push_str(&format!(
                " · {}",
                self.paint.paint(&verdict, Style::new().bold().red())
            ));
        }
        if self.verbose
            && let Some(ms) = meta.duration_ms
        {
            line.push_str(&format!(" · {}.{:02} s", ms / 1000, (ms % 1000) / 10));
        }
        line
    }

    /// Why the run fails, if it does.
    fn failure(&self, report: &ScanReport, meta: &RunMeta) -> Option<String> {
        match exit_status(report, meta.fail_on) {
            ExitStatus::Clean => None,
            ExitStatus::ScanErrors => Some("FAILED: scan errors".to_string()),
            ExitStatus::FindingsAtOrAboveThreshold => {
                let n = count_at_or_above(report, meta.fail_on);
                let threshold = meta.fail_on.map(Severity::as_str).unwrap_or_default();
                Some(format!(
                    "FAILED: {} at or above {threshold}",
                    plural(n, "finding")
                ))
            }
        }
    }
}

/// Info findings shown per rule and artefact without --verbose.
const INFO_SHOWN_PER_RULE: usize = 3;

/// Keeps at most [`INFO_SHOWN_PER_RULE`] info findings of each rule (in report order) and returns
/// how many of each rule were left out, by rule id.
fn collapse_info(findings: &mut Vec<&Finding>) -> Vec<(&'static str, usize)> {
    let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
    findings.retain(|f| {
        if f.severity != Severity::Info {
            return true;
        }
        let count = seen.entry(f.rule).or_default();
        *count += 1;
        *count <= INFO_SHOWN_PER_RULE
    });
    seen.into_iter()
        .filter(|&(_, n)| n > INFO_SHOWN_PER_RULE)
        .map(|(rule, n)| (rule, n - INFO_SHOWN_PER_RULE))
        .collect()
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `a.zip ▸ archive/data.pkl · opcode 7 · byte 42`, or `None` when the finding points at the
/// artefact itself with no position. The outer path is repeated only if it differs from the
/// artefact's (it normally does not).
fn location_detail(location: &Location, artifact_path: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut place: Vec<String> = Vec::new();
    if location.path != artifact_path {
        place.push(sanitize(&location.path).into_owned());
    }
    place.extend(location.members.iter().map(|m| sanitize(m).into_owned()));
    if !place.is_empty() {
        parts.push(place.join(" ▸ "));
    }
    if let Some(line) = location.line {
        match location.column {
            Some(column) => parts.push(format!("line {line}, column {column}")),
            None => parts.push(format!("line {line}")),
        }
    }
    if let Some(op) = location.opcode_index {
        parts.push(format!("opcode {op}"));
    }
    if let Some(offset) = location.offset {
        parts.push(format!("byte {offset}"));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// `torch 1.13.1 (PyPI) · requirements.txt:3 · ML`.
fn package_detail(package: &PackageRef) -> String {
    let what = match (&package.version, &package.requirement) {
        (Some(version), _) => format!("{} {}", sanitize(&package.name), sanitize(version)),
        // The requirement may be written with or without the name (`torch>=2` or `>=2`).
        (None, Some(requirement))
            if requirement.trim_start().starts_with(package.name.as_str()) =>
        {
            sanitize(requirement).into_owned()
        }
        (None, Some(requirement)) => {
            format!("{} {}", sanitize(&package.name), sanitize(requirement))
        }
        (None, None) => format!("{} (any version)", sanitize(&package.name)),
    };
    let mut parts = vec![format!("{what} ({})", sanitize(&package.ecosystem))];
    if let Some(markers) = &package.markers {
        parts.push(format!("when {}", sanitize(markers)));
    }
    let source = &package.source;
    parts.push(match source.line {
        Some(line) => format!("{}:{line}", sanitize(&source.file)),
        None => sanitize(&source.file).into_owned(),
    });
    if package.ml {
        parts.push("ML".to_string());
    }
    parts.join(" · ")
}

/// `GHSA-… (CVE-…, PYSEC-…) · fixed in 2.6.0 · CVSS 9.8 (critical)`.
fn advisory_detail(advisory: &AdvisoryRef) -> String {
    let mut head = sanitize(&advisory.id).into_owned();
    if !advisory.aliases.is_empty() {
        let aliases: Vec<String> = advisory
            .aliases
            .iter()
            .map(|a| sanitize(a).into_owned())
            .collect();
        head.push_str(&format!(" ({})", aliases.join(", ")));
    }
    let mut parts = vec![head];
    parts.push(match &advisory.fixed {
        Some(fixed) => format!("fixed in {}", sanitize(fixed)),
        None => "no fixed version".to_string(),
    });
    match (
        advisory.cvss_score.filter(|s| s.is_finite()),
        advisory.severity,
    ) {
        (Some(score), Some(severity)) => parts.push(format!("CVSS {score:.1} ({severity})")),
        (Some(score), None) => parts.push(format!("CVSS {score:.1}")),
        (None, Some(severity)) => parts.push(format!("severity {severity}")),
        (None, None) => {}
    }
    parts.join(" · ")
}

/// Sizes in binary units with one decimal: `812 B`, `1.5 KiB`, `3.0 GiB`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("PiB"))
}

/// For a file scanned on the Hub by range reads (`mlvet scan hf://…`): what was read, how, and
/// the Hub's own scan status beside mlvet's verdict.
fn hub_read_note(artifact: &ArtifactReport) -> Option<String> {
    let meta = &artifact.metadata;
    let bytes: u64 = meta.get("hub_bytes_read")?.parse().ok()?;
    let requests = meta.get("hub_requests").map_or("?", String::as_str);
    let mut note = format!(
        "read {} of {} in {requests} request{}",
        human_size(bytes),
        human_size(artifact.size),
        if requests == "1" { "" } else { "s" }
    );
    if let Some(integrity) = meta.get("hub_integrity") {
        note.push_str(&format!("; {}", sanitize(integrity)));
    }
    if let Some(status) = meta.get("hub_scan") {
        note.push_str(&format!("; Hub scan: {}", sanitize(status)));
    }
    Some(note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(human_size(u64::MAX), "16384.0 PiB");
    }

    #[test]
    fn location_detail_omits_what_the_header_already_says() {
        assert_eq!(location_detail(&Location::file("a.pt"), "a.pt"), None);
        let nested = Location::file("a.pt")
            .member("w.zip")
            .member("archive/data.pkl")
            .with_opcode(7, 42);
        assert_eq!(
            location_detail(&nested, "a.pt").as_deref(),
            Some("w.zip ▸ archive/data.pkl · opcode 7 · byte 42")
        );
        assert_eq!(
            location_detail(&Location::file("b").with_line(3), "a").as_deref(),
            Some("b · line 3")
        );
    }
}
