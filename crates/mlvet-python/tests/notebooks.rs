//! A notebook written by the real `nbformat` (scripts/gen_python_fixtures.py): cells analysed in
//! order, positions per cell, shell lines for the pipelines analysis, suppressions in cells.

use mlvet_python::{
    CodeKind, Context, ShellKind, analyze_bytes, check, read_notebook, shell_lines,
};

const QUICKTOUR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/notebooks/quicktour.ipynb"
);

#[test]
fn notebook_findings_name_the_cell_line_and_column() {
    let bytes = std::fs::read(QUICKTOUR).expect("fixture");
    let file = analyze_bytes(CodeKind::Notebook, &bytes);
    let report = check(&file, "quicktour.ipynb", &Context::default());
    assert!(report.fully_inspected);
    assert_eq!(report.format, "notebook");
    let mut found: Vec<(String, String, u32, u32, bool)> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.rule.to_string(),
                f.location.members.join("/"),
                f.location.line.expect("line"),
                f.location.column.expect("column"),
                f.suppression.is_some(),
            )
        })
        .collect();
    found.sort();
    let expected: Vec<(String, String, u32, u32, bool)> = [
        ("code-torch-load", "cell 5", 2, 9, false),
        ("code-torch-load", "cell 7", 1, 6, true),
        ("code-trust-remote-code", "cell 4", 1, 9, false),
        ("code-unpinned-hub-download", "cell 4", 1, 9, false),
        ("code-unpinned-hub-download", "cell 4", 4, 6, false),
        ("dataset-script-exec", "cell 4", 4, 6, false),
    ]
    .into_iter()
    .map(|(r, c, l, col, s)| (r.to_string(), c.to_string(), l, col, s))
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn shell_lines_come_with_cell_and_line() {
    let notebook = read_notebook(&std::fs::read(QUICKTOUR).expect("fixture")).expect("notebook");
    let lines: Vec<(u32, u32, String, ShellKind)> = shell_lines(&notebook)
        .into_iter()
        .map(|s| (s.cell, s.line, s.command, s.kind))
        .collect();
    assert_eq!(
        lines,
        [
            (
                1,
                1,
                "pip install -q transformers datasets".to_string(),
                ShellKind::Bang
            ),
            (
                1,
                2,
                "pip install torch --index-url https://download.invalid/whl/cpu".to_string(),
                ShellKind::LineMagic("pip".to_string())
            ),
            (4, 3, "nvidia-smi".to_string(), ShellKind::Bang),
            (
                5,
                2,
                "huggingface-cli download gpt2 --local-dir ./gpt2".to_string(),
                ShellKind::CellMagic("bash".to_string())
            ),
            (
                5,
                3,
                "pip install --trust-remote-code x".to_string(),
                ShellKind::CellMagic("bash".to_string())
            ),
        ]
    );
}

#[test]
fn broken_notebooks_are_never_safe() {
    for bytes in [&b"{\"cells\": 3}"[..], b"not json", b"{\"nbformat\": 4}"] {
        let report = check(
            &analyze_bytes(CodeKind::Notebook, bytes),
            "x.ipynb",
            &Context::default(),
        );
        assert!(!report.fully_inspected);
        assert_eq!(report.findings[0].rule, "code-unanalysable");
    }
    // A notebook for another kernel is not read as Python.
    let r = br#"{"nbformat": 4, "metadata": {"kernelspec": {"language": "R"}}, "cells": [{"cell_type": "code", "source": "library(x)"}]}"#;
    let report = check(
        &analyze_bytes(CodeKind::Notebook, r),
        "r.ipynb",
        &Context::default(),
    );
    assert!(!report.fully_inspected);
}
