//! End to end: `mlvet scan` on a project with Python sources, a notebook and a lockfile. The code
//! analysis reports risky loading with line and column in every output format, takes the torch
//! and datasets versions from the same scan's inventory, and honours inline suppressions.

mod common;

use std::path::Path;

use common::{artifact, findings_for, json_report, mlvet, repo_root};

fn fixture(name: &str) -> std::path::PathBuf {
    repo_root()
        .join("crates/mlvet-python/tests/data")
        .join(name)
}

/// A project: `train.py` (torch.load patterns), `suppressed.py`, the nbformat notebook, and a
/// requirements file pinning torch and datasets.
fn project(requirements: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        fixture("rules/code_torch_load.py"),
        dir.path().join("train.py"),
    )
    .expect("copy");
    std::fs::copy(
        fixture("rules/suppressed.py"),
        dir.path().join("suppressed.py"),
    )
    .expect("copy");
    std::fs::copy(
        fixture("notebooks/quicktour.ipynb"),
        dir.path().join("quicktour.ipynb"),
    )
    .expect("copy");
    std::fs::write(dir.path().join("requirements.txt"), requirements).expect("write");
    dir
}

fn scan_json(dir: &Path, extra: &[&str]) -> (serde_json::Value, i32) {
    let data = tempfile::tempdir().expect("data dir");
    let path = dir.to_str().expect("utf-8");
    let mut args = vec!["scan", path, "--format", "json"];
    args.extend_from_slice(extra);
    let out = mlvet(data.path(), &args);
    (json_report(&out), out.status.code().expect("exit code"))
}

fn positions(report: &serde_json::Value, path: &str, rule: &str) -> Vec<(u64, u64)> {
    let mut found: Vec<(u64, u64)> = findings_for(report, path)
        .into_iter()
        .filter(|f| f["rule"] == rule && f["suppressed"].is_null())
        .map(|f| {
            (
                f["line"].as_u64().expect("line"),
                f["column"].as_u64().expect("column"),
            )
        })
        .collect();
    found.sort();
    found
}

#[test]
fn python_findings_carry_line_column_and_the_inventory_versions() {
    let dir = project("torch==2.5.1\ndatasets==2.19.0\n");
    let (report, code) = scan_json(dir.path(), &[]);
    let train = format!("{}/train.py", dir.path().display());
    let code_artifact = artifact(&report, &train);
    assert_eq!(code_artifact["kind"], "code");
    assert_eq!(code_artifact["format"], "python");
    assert_eq!(code_artifact["verdict"], "suspicious");
    // torch 2.5.1 from requirements.txt: weights_only=True (lines 16 and 18) is CVE-2025-32434.
    assert_eq!(
        positions(&report, &train, "code-torch-load"),
        [
            (12, 15),
            (14, 9),
            (16, 15),
            (17, 14),
            (18, 9),
            (19, 9),
            (22, 9),
            (23, 9)
        ]
    );
    let cve = findings_for(&report, &train)
        .into_iter()
        .find(|f| f["line"] == 16)
        .expect("line 16");
    assert!(
        cve["message"]
            .as_str()
            .expect("message")
            .contains("CVE-2025-32434")
    );
    // datasets 2.19.0: the notebook's hub dataset runs its loading script (high).
    let notebook = format!("{}/quicktour.ipynb", dir.path().display());
    let dataset = findings_for(&report, &notebook)
        .into_iter()
        .find(|f| f["rule"] == "dataset-script-exec")
        .expect("dataset-script-exec");
    assert_eq!(dataset["severity"], "high");
    assert_eq!(dataset["member"], "cell 4");
    assert_eq!(
        (dataset["line"].as_u64(), dataset["column"].as_u64()),
        (Some(4), Some(6))
    );
    assert_eq!(artifact(&report, &notebook)["kind"], "code");
    assert_eq!(code, 1, "high findings fail the run");
}

#[test]
fn without_the_inventory_the_versions_are_unknown() {
    let dir = project("torch==2.5.1\ndatasets==4.0.0\n");
    let train = format!("{}/train.py", dir.path().display());
    let (report, _) = scan_json(dir.path(), &["--no-deps"]);
    // Unknown torch: weights_only=True is fine; bare calls stay high.
    assert_eq!(
        positions(&report, &train, "code-torch-load"),
        [(12, 15), (14, 9), (17, 14), (19, 9), (22, 9), (23, 9)]
    );
    // datasets 4.0 in the inventory: no dataset-script-exec at all.
    let (report, _) = scan_json(dir.path(), &[]);
    let notebook = format!("{}/quicktour.ipynb", dir.path().display());
    assert!(positions(&report, &notebook, "dataset-script-exec").is_empty());
    assert_eq!(
        positions(&report, &notebook, "code-trust-remote-code"),
        [(1, 9)]
    );
}

#[test]
fn inline_suppressions_show_in_json_and_sarif() {
    let dir = project("torch==2.6.0\n");
    let suppressed = format!("{}/suppressed.py", dir.path().display());
    let (report, _) = scan_json(dir.path(), &[]);
    let marked: Vec<&serde_json::Value> = findings_for(&report, &suppressed)
        .into_iter()
        .filter(|f| !f["suppressed"].is_null())
        .collect();
    assert_eq!(marked.len(), 3);
    assert!(marked.iter().all(|f| f["suppressed"]["kind"] == "inline"));
    assert!(
        marked
            .iter()
            .any(|f| f["suppressed"]["reason"] == "produced by our training job, hash-checked")
    );
    // The call whose comment names another rule still counts.
    assert_eq!(
        positions(&report, &suppressed, "code-torch-load"),
        [(11, 9)]
    );

    let data = tempfile::tempdir().expect("data dir");
    let out = mlvet(
        data.path(),
        &[
            "scan",
            dir.path().to_str().expect("utf-8"),
            "--format",
            "sarif",
        ],
    );
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).expect("sarif");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let in_source = results
        .iter()
        .filter(|r| r["suppressions"][0]["kind"] == "inSource")
        .count();
    assert_eq!(in_source, 4, "three in suppressed.py, one in the notebook");
    let located = results
        .iter()
        .find(|r| r["ruleId"] == "code-torch-load" && r["suppressions"].is_null())
        .expect("an unsuppressed torch.load");
    let region = &located["locations"][0]["physicalLocation"]["region"];
    assert!(region["startColumn"].as_u64().is_some(), "{region}");
}

#[test]
fn clean_and_broken_python_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("clean.py"),
        "import json\nprint(json.dumps({}))\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("py2.py"),
        "import pickle\nprint 'hi'\npickle.loads(x)\n",
    )
    .expect("write");
    let (report, code) = scan_json(dir.path(), &["--no-deps"]);
    let clean = artifact(&report, &format!("{}/clean.py", dir.path().display()));
    assert_eq!(clean["verdict"], "safe");
    assert_eq!(clean["kind"], "code");
    let py2 = format!("{}/py2.py", dir.path().display());
    assert_eq!(artifact(&report, &py2)["fully_inspected"], false);
    let rules: Vec<&str> = findings_for(&report, &py2)
        .into_iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert!(rules.contains(&"code-unanalysable"), "{rules:?}");
    assert!(rules.contains(&"code-pickle-load"), "{rules:?}");
    assert_eq!(code, 1);
}

#[test]
fn terminal_output_names_line_and_column() {
    let dir = project("torch==2.6.0\n");
    let data = tempfile::tempdir().expect("data dir");
    let out = mlvet(
        data.path(),
        &["scan", dir.path().to_str().expect("utf-8"), "--no-deps"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("code-torch-load"), "{text}");
    assert!(text.contains("line 12, column 15"), "{text}");
    assert!(text.contains("cell 4"), "{text}");
}

/// A notebook's `!`/`%pip` lines go through the pipeline rules: unhashed installs, extra indexes
/// and unpinned Hub downloads are reported in the cell and line where they stand, and a hashed
/// install of a requirements file beside the notebook is not.
#[test]
fn notebook_shell_lines_meet_the_pipeline_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notebook = serde_json::json!({
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["# Setup"]},
            {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": null, "outputs": [],
             "source": [
                "import torch\n",
                "!pip install --extra-index-url https://packages.example.invalid/simple internal-utils\n",
                "%pip install -r locked.txt\n",
                "!huggingface-cli download meta-llama/Llama-3.1-8B\n"
             ]}
        ]
    });
    std::fs::write(
        dir.path().join("setup.ipynb"),
        serde_json::to_vec_pretty(&notebook).expect("json"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("locked.txt"),
        "numpy==2.1.0 \\\n    --hash=sha256:2f5e7fd1b1e7e3c1e4f1b0d2b0c3b5a6d3f8e1c2b4a6d8f0e2c4a6b8d0f2e4a6\n",
    )
    .expect("write");
    let (report, _) = scan_json(dir.path(), &["--no-deps"]);
    let notebook = format!("{}/setup.ipynb", dir.path().display());
    let findings = findings_for(&report, &notebook);
    let at = |rule: &str| -> Vec<(String, u64)> {
        let mut found: Vec<(String, u64)> = findings
            .iter()
            .filter(|f| f["rule"] == rule)
            .map(|f| {
                (
                    f["member"].as_str().unwrap_or("").to_string(),
                    f["line"].as_u64().expect("line"),
                )
            })
            .collect();
        found.sort();
        found
    };
    assert_eq!(
        at("install-without-hashes"),
        vec![("cell 2".to_string(), 2)]
    );
    assert_eq!(at("index-confusion"), vec![("cell 2".to_string(), 2)]);
    assert_eq!(at("artifact-ref-mutable"), vec![("cell 2".to_string(), 4)]);
}
