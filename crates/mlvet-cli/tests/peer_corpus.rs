//! Acceptance test over the peer scanners' own corpora (../shared/corpus/peers): every file gets
//! the verdict its label demands, through the real binary on the whole directory.

mod common;

use std::collections::BTreeMap;

use common::{json_report, mlvet, repo_root};

#[test]
fn every_peer_corpus_file_gets_its_labelled_verdict() {
    let corpus = repo_root().join("../shared/corpus/peers");
    let labels = std::fs::read_to_string(corpus.join("labels.tsv")).expect("labels.tsv");
    let data = tempfile::tempdir().expect("tempdir");
    let corpus_arg = corpus.to_str().expect("utf-8 path");
    let out = mlvet(
        data.path(),
        &[
            "scan",
            corpus_arg,
            "--format",
            "json",
            "--no-deps",
            "--fail-on",
            "never",
        ],
    );
    let report = json_report(&out);
    let verdicts: BTreeMap<String, String> = report["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| {
            let path = a["path"].as_str().expect("path");
            let relative = path
                .strip_prefix(corpus_arg)
                .expect("paths keep the input prefix")
                .trim_start_matches('/');
            (
                relative.to_string(),
                a["verdict"].as_str().expect("verdict").to_string(),
            )
        })
        .collect();
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in labels
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut cols = line.split('\t');
        let (Some(path), Some(label)) = (cols.next(), cols.next()) else {
            continue;
        };
        checked += 1;
        let verdict = verdicts
            .get(path)
            .map(String::as_str)
            .unwrap_or("<not reported>");
        let ok = match label {
            "malicious" => verdict == "malicious",
            "benign" => verdict == "safe",
            "notmal" => verdict != "malicious" && verdict != "<not reported>",
            other => panic!("unknown label {other}"),
        };
        if !ok {
            failures.push(format!("{path}: labelled {label}, got {verdict}"));
        }
    }
    assert!(checked >= 100, "labels.tsv lists the corpus");
    assert!(
        failures.is_empty(),
        "{} of {checked} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
