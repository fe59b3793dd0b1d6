//! Exit-status precedence: scan errors > findings at or above the threshold > clean.

mod common;

use common::*;
use mlvet_core::{ScanError, ScanReport, Severity};
use mlvet_report::{ExitStatus, exit_status};

fn with_error(mut report: ScanReport) -> ScanReport {
    report.errors.push(ScanError {
        path: "gone.pt".into(),
        message: "no such file or directory".into(),
    });
    report
}

#[test]
fn an_empty_scan_is_clean_at_any_threshold() {
    for fail_on in [None, Some(Severity::Info), Some(Severity::Critical)] {
        assert_eq!(
            exit_status(&ScanReport::default(), fail_on),
            ExitStatus::Clean
        );
    }
}

#[test]
fn findings_fail_at_or_above_the_threshold_only() {
    // malicious_report holds one critical and one medium finding.
    let report = malicious_report();
    assert_eq!(
        exit_status(&report, Some(Severity::Critical)),
        ExitStatus::FindingsAtOrAboveThreshold,
        "equal counts"
    );
    assert_eq!(
        exit_status(&report, Some(Severity::Medium)),
        ExitStatus::FindingsAtOrAboveThreshold
    );
    assert_eq!(
        exit_status(&report, Some(Severity::Info)),
        ExitStatus::FindingsAtOrAboveThreshold
    );
    let mut medium_only = report.clone();
    for artifact in &mut medium_only.artifacts {
        artifact.findings.retain(|f| f.severity == Severity::Medium);
    }
    assert_eq!(
        exit_status(&medium_only, Some(Severity::High)),
        ExitStatus::Clean,
        "below the threshold"
    );
    assert_eq!(
        exit_status(&medium_only, Some(Severity::Medium)),
        ExitStatus::FindingsAtOrAboveThreshold
    );
}

#[test]
fn without_a_threshold_findings_never_fail() {
    assert_eq!(
        exit_status(&full_report_without_errors(), None),
        ExitStatus::Clean
    );
}

#[test]
fn scan_errors_are_never_clean() {
    assert_eq!(
        exit_status(&with_error(ScanReport::default()), None),
        ExitStatus::ScanErrors
    );
    assert_eq!(
        exit_status(&with_error(ScanReport::default()), Some(Severity::Critical)),
        ExitStatus::ScanErrors
    );
}

#[test]
fn scan_errors_take_precedence_over_findings() {
    let report = with_error(malicious_report());
    assert_eq!(
        exit_status(&report, Some(Severity::Info)),
        ExitStatus::ScanErrors
    );
    assert_eq!(exit_status(&report, None), ExitStatus::ScanErrors);
}

#[test]
fn exit_codes_are_distinct_and_conventional() {
    assert_eq!(ExitStatus::Clean.code(), 0);
    assert_eq!(ExitStatus::FindingsAtOrAboveThreshold.code(), 1);
    assert_eq!(ExitStatus::ScanErrors.code(), 3);
}

fn full_report_without_errors() -> ScanReport {
    let mut report = full_report();
    report.errors.clear();
    report
}

/// Suppressed findings (an ignore, a VEX statement) never fail the run; scan errors still do.
#[test]
fn suppressed_findings_never_fail_the_run() {
    let mut report = malicious_report();
    for artifact in &mut report.artifacts {
        for finding in &mut artifact.findings {
            finding.suppression = Some(mlvet_core::Suppression {
                kind: mlvet_core::SuppressionKind::Config,
                reason: "reviewed".into(),
                source: Some("mlvet.toml:3".into()),
            });
        }
        artifact.refresh_verdict();
    }
    assert_eq!(
        exit_status(&report, Some(Severity::Info)),
        ExitStatus::Clean
    );
    assert_eq!(
        exit_status(&with_error(report), Some(Severity::Info)),
        ExitStatus::ScanErrors
    );
}
