//! The peer scanners' corpus (`../shared/corpus/peers`): every bare pickle must get its label.

use std::path::{Path, PathBuf};

use mlvet_core::{Location, Verdict};
use mlvet_pickle::{Limits, Policy, StreamOptions, looks_like_pickle, scan_stream};

fn corpus_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/peers"
    ))
}

fn labels() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(corpus_dir().join("labels.tsv")).expect("labels.tsv is readable");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split_once('\t'))
        .map(|(path, label)| (path.to_string(), label.trim().to_string()))
        .collect()
}

fn scan(path: &Path) -> mlvet_pickle::PickleScan {
    let bytes = std::fs::read(path).expect("corpus file is readable");
    let opts = StreamOptions {
        max_pickles: None,
        require_pickle_start: true,
    };
    scan_stream(
        &bytes[..],
        &Location::file(path.display().to_string()),
        &Policy::builtin(),
        &Limits::default(),
        &opts,
    )
}

#[test]
fn every_bare_pickle_in_the_peer_corpus_gets_its_label() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (relative, label) in labels() {
        let path = corpus_dir().join(&relative);
        let bytes = std::fs::read(&path).expect("corpus file is readable");
        if !looks_like_pickle(&bytes) {
            continue;
        }
        checked += 1;
        let result = scan(&path);
        let worst = result
            .findings
            .iter()
            .map(|f| f.verdict)
            .max()
            .unwrap_or(Verdict::Safe);
        let ok = match label.as_str() {
            "malicious" => worst == Verdict::Malicious,
            "benign" => worst < Verdict::Suspicious && result.fully_inspected,
            "notmal" => worst != Verdict::Malicious,
            other => panic!("unknown label {other}"),
        };
        if !ok {
            let rules: Vec<String> = result
                .findings
                .iter()
                .map(|f| format!("{} {}", f.rule, f.message))
                .collect();
            failures.push(format!(
                "{relative} ({label}): worst {worst}, fully inspected {}, {rules:?}",
                result.fully_inspected
            ));
        }
    }
    assert!(
        checked >= 80,
        "only {checked} bare pickles found in the corpus"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} files mislabelled:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
