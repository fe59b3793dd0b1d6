//! Acceptance test: every file of the peer scanners' corpora gets the verdict its label says
//! (`malicious` → Malicious, `benign` → Safe, `notmal` → anything but Malicious).

mod common;

use std::path::PathBuf;

use mlvet_core::Verdict;
use mlvet_formats::{ScanOptions, scan_file, walk};

fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/peers"
    ))
}

#[test]
fn every_peer_corpus_file_gets_its_labelled_verdict() {
    let root = corpus();
    let labels = std::fs::read_to_string(root.join("labels.tsv")).expect("labels.tsv");
    let (files, errors) = walk(std::slice::from_ref(&root));
    assert!(errors.is_empty(), "walk errors: {errors:?}");
    let opts = ScanOptions::default();
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in labels
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut cols = line.split('\t');
        let (Some(rel), Some(label)) = (cols.next(), cols.next()) else {
            continue;
        };
        let file = files
            .iter()
            .find(|f| f.path.ends_with(rel))
            .unwrap_or_else(|| panic!("{rel} not walked"));
        let report = scan_file(&file.path, &file.display, &opts).expect("readable");
        let verdict = report.as_ref().map(|r| r.verdict).unwrap_or(Verdict::Safe);
        let ok = match label {
            "malicious" => verdict == Verdict::Malicious,
            "benign" => verdict == Verdict::Safe,
            "notmal" => verdict != Verdict::Malicious,
            other => panic!("unknown label {other}"),
        };
        checked += 1;
        if !ok {
            let detail = common::describe(report.as_ref());
            failures.push(format!("{rel}: expected {label}, got {verdict} [{detail}]"));
        }
    }
    assert_eq!(checked, 111, "every labelled file is checked");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
