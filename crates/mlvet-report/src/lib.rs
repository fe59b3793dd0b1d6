//! mlvet's renderers: pure functions of a [`ScanReport`] and the run's metadata.
//!
//! - [`render_terminal`]: the report for people (grouped by artefact, worst first, optional colour).
//! - [`render_json`]: the versioned, frozen machine report; its shape is [`json_v1::Report`],
//!   documented field by field in `docs/json-report.md` and `docs/json-report.schema.json`.
//! - [`render_sarif`]: SARIF 2.1.0 for code-scanning tools (GitHub code scanning).
//! - [`render_cyclonedx`]: a CycloneDX 1.6 AI-BOM (packages, models with model cards,
//!   vulnerabilities), from a small serde model of the parts of the spec mlvet writes.
//! - [`render_markdown`]: a bounded summary for pull-request comments.
//! - [`exit_status`]: what the run means for the process exit code.
//!
//! Nothing here does I/O or prints: every renderer returns a `String`.

mod cyclonedx;
mod inventory;
pub mod json_v1;
mod markdown;
mod sarif;
mod terminal;
mod text;

/// Text helpers, public for the property tests; not part of the stable API.
#[doc(hidden)]
pub mod text_internals {
    pub use crate::text::{sanitize, width, wrap};
}

use mlvet_core::{ScanReport, Severity};

pub use cyclonedx::{CycloneDxOptions, render_cyclonedx};
pub use markdown::{MARKDOWN_MAX_CHARS, render_markdown};
pub use sarif::{SarifOptions, render_sarif};
pub use terminal::render_terminal;

/// The `schema_version` of the JSON report. Additive changes bump the minor part, breaking
/// changes the major part (and get a new `json_vN` module).
pub const JSON_SCHEMA_VERSION: &str = "1.2";

/// Facts about the run that are not part of the scan result itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunMeta {
    /// mlvet's version, e.g. `0.1.0`.
    pub tool_version: String,
    /// The paths the user asked to scan, as given.
    pub inputs: Vec<String>,
    /// The lowest severity that fails the run; `None` means findings never fail it.
    pub fail_on: Option<Severity>,
    /// Wall-clock time of the scan. Shown by the terminal report in verbose mode only and never
    /// written to JSON, so that JSON output is deterministic.
    pub duration_ms: Option<u64>,
}

/// How the terminal report is laid out. The caller decides `color` (TTY and `NO_COLOR`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TerminalOptions {
    /// Emit ANSI colour codes. When false the output contains no escape sequence at all.
    pub color: bool,
    /// List safe artefacts one per line and show confidence, sizes, advisory details, and the
    /// findings an ignore or a VEX statement suppressed (hidden otherwise, counted in the summary).
    pub verbose: bool,
    /// Only the findings that fail the run, errors, and the summary line (which counts warnings).
    pub quiet: bool,
    /// Terminal width in columns; `None` means 80.
    pub width: Option<usize>,
}

/// What a scan means for the exit code.
///
/// Precedence, highest first:
/// 1. [`ExitStatus::ScanErrors`] when any path could not be scanned (`report.errors` non-empty),
///    whatever was found elsewhere and whatever the threshold (even `fail_on = None`): an
///    incomplete scan must never look clean.
/// 2. [`ExitStatus::FindingsAtOrAboveThreshold`] when `fail_on` is set and at least one
///    unsuppressed finding has a severity at or above it (suppressed findings never count).
/// 3. [`ExitStatus::Clean`] otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    Clean,
    FindingsAtOrAboveThreshold,
    ScanErrors,
}

impl ExitStatus {
    /// mlvet's process exit code (public API, see the README): 0 clean, 1 findings at or above the
    /// threshold, 3 scan errors (2 is reserved for usage errors).
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Clean => 0,
            ExitStatus::FindingsAtOrAboveThreshold => 1,
            ExitStatus::ScanErrors => 3,
        }
    }

    /// Stable kebab-case name, as written to JSON `summary.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitStatus::Clean => "clean",
            ExitStatus::FindingsAtOrAboveThreshold => "findings-at-or-above-threshold",
            ExitStatus::ScanErrors => "scan-errors",
        }
    }
}

/// Decides the exit status of a scan; see [`ExitStatus`] for the precedence.
pub fn exit_status(report: &ScanReport, fail_on: Option<Severity>) -> ExitStatus {
    if !report.errors.is_empty() {
        ExitStatus::ScanErrors
    } else if count_at_or_above(report, fail_on) > 0 {
        ExitStatus::FindingsAtOrAboveThreshold
    } else {
        ExitStatus::Clean
    }
}

/// Number of unsuppressed findings whose severity is at or above `threshold` (0 when there is
/// none). Findings an ignore or a VEX statement suppressed never fail the run.
pub(crate) fn count_at_or_above(report: &ScanReport, threshold: Option<Severity>) -> usize {
    match threshold {
        Some(level) => report
            .findings()
            .filter(|f| f.suppression.is_none() && f.severity >= level)
            .count(),
        None => 0,
    }
}

/// Renders the JSON report (schema [`JSON_SCHEMA_VERSION`]), pretty-printed with a trailing
/// newline. Deterministic: the same report and metadata always give the same bytes.
pub fn render_json(report: &ScanReport, meta: &RunMeta) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_json(report, meta, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// [`render_json`] streamed into `out`: the same bytes, without holding the whole document in
/// memory (a report of 100,000 packages is tens of MB of pretty JSON, and a growing string
/// briefly needs twice that while it reallocates). Only `out`'s own errors are returned.
pub fn write_json<W: std::io::Write>(
    report: &ScanReport,
    meta: &RunMeta,
    mut out: W,
) -> std::io::Result<()> {
    let dto = json_v1::Report::new(report, meta);
    if let Err(err) = serde_json::to_writer_pretty(&mut out, &dto) {
        if err.is_io() {
            return Err(std::io::Error::other(err));
        }
        // The DTO holds only strings, integers, finite floats, booleans and sequences, which
        // serde_json always serialises; keep a valid document anyway rather than panic.
        let fallback = serde_json::json!({
            "schema_version": JSON_SCHEMA_VERSION,
            "error": format!("could not serialise the report: {err}"),
        });
        out.write_all(fallback.to_string().as_bytes())?;
    }
    out.write_all(b"\n")?;
    out.flush()
}
