//! The analysis never panics on arbitrary text or bytes, keeps positions inside the input, and
//! stays bounded on hostile nesting.

use mlvet_python::{CodeKind, Context, analyze_bytes, analyze_source, check};
use proptest::prelude::*;

/// Python-ish text: tokens that exercise calls, keywords, strings, brackets, magics, comments.
fn pythonish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("import torch as t\n".to_string()),
        Just("from pickle import loads as l\n".to_string()),
        Just("t.load(".to_string()),
        Just("weights_only=True".to_string()),
        Just(", ".to_string()),
        Just(")".to_string()),
        Just("(".to_string()),
        Just("[".to_string()),
        Just("\"s\"".to_string()),
        Just("f\"{x[\"k\"]}\"".to_string()),
        Just("'''".to_string()),
        Just("# mlvet: ignore[code-torch-load] r\n".to_string()),
        Just("\n    ".to_string()),
        Just("!pip install x\n".to_string()),
        Just("%%bash\n".to_string()),
        Just("lambda: ".to_string()),
        Just("not ".to_string()),
        "[a-z_]{1,6}".prop_map(|s| s),
        any::<char>().prop_map(|c| c.to_string()),
    ];
    proptest::collection::vec(token, 0..80).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics_and_positions_stay_inside(source in pythonish()) {
        let analysis = analyze_source(&source);
        let lines = u32::try_from(source.split('\n').count()).unwrap_or(u32::MAX);
        for call in &analysis.calls {
            prop_assert!(call.position.line >= 1 && call.position.line <= lines);
            prop_assert!(call.position.column >= 1);
            prop_assert!(call.end_line >= call.position.line);
        }
        let report = check(&analyze_bytes(CodeKind::Python, source.as_bytes()), "p.py", &Context::default());
        prop_assert_eq!(report.fully_inspected, analysis.complete());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = analyze_bytes(CodeKind::Python, &bytes);
        let notebook = analyze_bytes(CodeKind::Notebook, &bytes);
        let report = check(&notebook, "n.ipynb", &Context::default());
        if notebook.unreadable.is_some() {
            prop_assert!(!report.fully_inspected);
        }
    }

    #[test]
    fn notebooks_with_arbitrary_cells_never_panic(cells in proptest::collection::vec(pythonish(), 0..6)) {
        let json = serde_json::json!({
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": cells.iter().map(|source| serde_json::json!({
                "cell_type": "code", "metadata": {}, "outputs": [], "source": source,
            })).collect::<Vec<_>>(),
        });
        let bytes = serde_json::to_vec(&json).expect("json");
        let file = analyze_bytes(CodeKind::Notebook, &bytes);
        prop_assert!(file.unreadable.is_none());
        for call in &file.analysis.calls {
            let cell = call.position.cell.expect("cell");
            prop_assert!((cell as usize) < cells.len());
        }
    }
}

#[test]
fn hostile_nesting_is_bounded_on_a_small_stack() {
    // Test threads have 2 MiB stacks: nesting of every kind must still not overflow.
    let cases = [
        format!("x = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000)),
        format!("x = {}y\n", "-".repeat(200_000)),
        format!("x = {}\n", vec!["a"; 100_000].join(" ** ")),
        format!("x = {}0{}\n", "f(".repeat(50_000), ")".repeat(50_000)),
        format!("x = {}\n", vec!["1"; 200_000].join(" + ")),
        format!("x = {}0\n", "lambda: ".repeat(30_000)),
    ];
    for source in &cases {
        let file = analyze_bytes(CodeKind::Python, source.as_bytes());
        let report = check(&file, "deep.py", &Context::default());
        assert!(!report.fully_inspected || file.analysis.complete());
    }
    // Deep nesting is never reported as safe.
    let deep = analyze_bytes(CodeKind::Python, cases[0].as_bytes());
    assert!(!deep.analysis.complete());
}
