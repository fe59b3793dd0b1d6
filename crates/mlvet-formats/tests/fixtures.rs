//! Real-library fixtures (torch, sklearn, joblib, numpy...) from `tests/fixtures/expected.tsv`:
//! every line's file must get exactly the expected verdict.

mod common;

use std::path::PathBuf;

use mlvet_core::Verdict;
use mlvet_formats::{ScanOptions, scan_file};

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures"))
}

#[test]
fn every_fixture_gets_its_expected_verdict() {
    let root = fixtures();
    let Ok(manifest) = std::fs::read_to_string(root.join("expected.tsv")) else {
        panic!("tests/fixtures/expected.tsv is missing");
    };
    let opts = ScanOptions::default();
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut cols = line.split('\t');
        let (Some(rel), Some(expected)) = (cols.next(), cols.next()) else {
            continue;
        };
        let expected = match expected {
            "safe" => Verdict::Safe,
            "suspicious" => Verdict::Suspicious,
            "malicious" => Verdict::Malicious,
            other => panic!("unknown verdict {other} for {rel}"),
        };
        let path = root.join("models").join(rel);
        let report = scan_file(&path, rel, &opts).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let verdict = report.as_ref().map(|r| r.verdict).unwrap_or(Verdict::Safe);
        checked += 1;
        if verdict != expected {
            let detail = common::describe(report.as_ref());
            failures.push(format!(
                "{rel}: expected {expected}, got {verdict} [{detail}]"
            ));
        }
    }
    assert!(checked > 0, "no fixture lines");
    assert!(
        failures.is_empty(),
        "{} of {checked} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
