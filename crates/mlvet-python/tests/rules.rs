//! Every rule against its fixture: `tests/data/rules/<rule>.py` holds real-world usage patterns
//! (the sources are cited in each file), and `# expect: rule-id …` marks the calls that must be
//! reported. Every other call in the fixture must stay silent (the negative cases).

use std::collections::BTreeSet;
use std::path::Path;

use mlvet_core::{Severity, SuppressionKind};
use mlvet_python::{CodeKind, Context, analyze_bytes, check};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn fixture(name: &str) -> (String, mlvet_python::CodeFile) {
    let path = Path::new(DATA).join(name);
    let bytes = std::fs::read(&path).expect("fixture");
    let kind = CodeKind::of_path(&path).expect("code");
    (
        String::from_utf8_lossy(&bytes).into_owned(),
        analyze_bytes(kind, &bytes),
    )
}

/// `(line, rule)` for every `# expect:` marker.
fn expected(source: &str) -> BTreeSet<(u32, String)> {
    let mut out = BTreeSet::new();
    for (i, line) in source.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some((_, rules)) = line.split_once("# expect:") {
            for rule in rules.split_whitespace() {
                out.insert((u32::try_from(i + 1).expect("line"), rule.to_string()));
            }
        }
    }
    out
}

fn reported(
    name: &str,
    context: &Context,
) -> (BTreeSet<(u32, String)>, mlvet_core::ArtifactReport) {
    let (_, file) = fixture(name);
    let report = check(&file, name, context);
    let found = report
        .findings
        .iter()
        .filter(|f| f.suppression.is_none())
        .map(|f| (f.location.line.expect("line"), f.rule.to_string()))
        .collect();
    (found, report)
}

fn assert_fixture(name: &str, context: &Context) -> mlvet_core::ArtifactReport {
    let (source, _) = fixture(name);
    let (found, report) = reported(name, context);
    assert_eq!(found, expected(&source), "{name}: reported vs expected");
    assert!(report.fully_inspected, "{name} parses cleanly");
    report
}

fn with_versions(torch: Option<&str>, datasets: Option<&str>) -> Context {
    let mut context = Context::default();
    if let Some(v) = torch {
        context.observe("torch", v);
    }
    if let Some(v) = datasets {
        context.observe("datasets", v);
    }
    context
}

#[test]
fn every_rule_fixture_reports_exactly_its_expectations() {
    for entry in std::fs::read_dir(Path::new(DATA).join("rules")).expect("dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .into_string()
            .expect("utf-8");
        if name == "suppressed.py" {
            continue;
        }
        assert_fixture(&format!("rules/{name}"), &Context::default());
    }
}

#[test]
fn every_registered_rule_has_a_fixture() {
    for rule in mlvet_python::rules() {
        if rule.id == "code-unanalysable" {
            continue;
        }
        let file = Path::new(DATA)
            .join("rules")
            .join(format!("{}.py", rule.id.replace('-', "_")));
        assert!(file.exists(), "no fixture for {}", rule.id);
    }
}

#[test]
fn findings_carry_line_column_and_evidence() {
    let report = assert_fixture("rules/code_torch_load.py", &Context::default());
    let first = &report
        .findings
        .iter()
        .find(|f| f.location.line == Some(12))
        .expect("line 12");
    assert_eq!(first.location.column, Some(15));
    assert_eq!(first.severity, Severity::High);
    assert!(
        first
            .evidence
            .iter()
            .any(|e| e.label == "call" && e.value == "torch.load")
    );
}

#[test]
fn torch_versions_change_the_verdict() {
    // torch 2.5.1: weights_only=True is itself exploitable (CVE-2025-32434).
    let (found, report) = reported(
        "rules/code_torch_load.py",
        &with_versions(Some("2.5.1"), None),
    );
    assert!(found.contains(&(16, "code-torch-load".to_string())));
    assert!(found.contains(&(19, "code-torch-load".to_string())));
    let cve = report
        .findings
        .iter()
        .find(|f| f.location.line == Some(16))
        .expect("cve");
    assert!(cve.message.contains("CVE-2025-32434"), "{}", cve.message);
    // torch 2.6: a bare torch.load relies on the new default: still reported, at medium.
    let (_, report) = reported(
        "rules/code_torch_load.py",
        &with_versions(Some("2.6.0"), None),
    );
    let bare = report
        .findings
        .iter()
        .find(|f| f.location.line == Some(12))
        .expect("bare");
    assert_eq!(bare.severity, Severity::Medium);
    assert!(!report.findings.iter().any(|f| f.location.line == Some(16)));
    // The lowest of several recorded versions counts.
    let context = with_versions(Some("2.7.0"), None);
    let mut context = context;
    context.observe("torch", "2.4.1");
    assert_eq!(
        context.torch.as_ref().map(ToString::to_string).as_deref(),
        Some("2.4.1")
    );
}

#[test]
fn datasets_versions_change_the_verdict() {
    let lines = |context: &Context| -> BTreeSet<(u32, Severity)> {
        let (_, report) = reported("rules/dataset_script_exec.py", context);
        report
            .findings
            .iter()
            .filter(|f| f.rule == "dataset-script-exec")
            .map(|f| (f.location.line.expect("line"), f.severity))
            .collect()
    };
    // Before 2.20 every hub dataset's script runs.
    assert_eq!(
        lines(&with_versions(None, Some("2.19.2"))),
        BTreeSet::from([
            (6, Severity::High),
            (7, Severity::High),
            (8, Severity::High)
        ])
    );
    // 2.20 to 4.0: only with the flag or the variable (set in this file: all three).
    assert_eq!(
        lines(&with_versions(None, Some("3.6.0"))),
        BTreeSet::from([
            (6, Severity::High),
            (7, Severity::High),
            (8, Severity::High)
        ])
    );
    // 4.0 removed scripts.
    assert!(lines(&with_versions(None, Some("4.0.0"))).is_empty());
    // Unknown: medium with the trust switch on.
    assert_eq!(
        lines(&Context::default()),
        BTreeSet::from([
            (6, Severity::Medium),
            (7, Severity::Medium),
            (8, Severity::Medium)
        ])
    );
    // Without the variable, 3.x needs the keyword.
    let file = analyze_bytes(
        CodeKind::Python,
        b"from datasets import load_dataset\nload_dataset('a/b')\nload_dataset('a/c', trust_remote_code=True)\n",
    );
    let report = check(&file, "x.py", &with_versions(None, Some("3.0.1")));
    let hits: Vec<u32> = report
        .findings
        .iter()
        .filter(|f| f.rule == "dataset-script-exec")
        .filter_map(|f| f.location.line)
        .collect();
    assert_eq!(hits, [3]);
}

#[test]
fn inline_suppressions_are_honoured_and_reported() {
    let (_, report) = reported("rules/suppressed.py", &Context::default());
    let by_line = |line: u32| {
        report
            .findings
            .iter()
            .find(|f| f.location.line == Some(line))
            .unwrap_or_else(|| panic!("finding on line {line}"))
    };
    let same_line = by_line(5).suppression.as_ref().expect("suppressed");
    assert_eq!(same_line.kind, SuppressionKind::Inline);
    assert_eq!(
        same_line.reason,
        "produced by our training job, hash-checked"
    );
    assert_eq!(same_line.source.as_deref(), Some("rules/suppressed.py:5"));
    assert!(
        by_line(7).suppression.is_some(),
        "comment on the line above"
    );
    let multi_line = by_line(8).suppression.as_ref().expect("multi-line call");
    assert_eq!(multi_line.reason, "(no reason given)");
    assert!(
        by_line(11).suppression.is_none(),
        "another rule's id does not suppress"
    );
    assert_eq!(report.verdict, mlvet_core::Verdict::Suspicious);
}

#[test]
fn syntax_errors_are_reported_and_never_safe() {
    let file = analyze_bytes(
        CodeKind::Python,
        b"import pickle\nprint 'python 2'\npickle.loads(x)\n",
    );
    let report = check(&file, "old.py", &Context::default());
    assert!(!report.fully_inspected);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "code-unanalysable")
    );
    assert!(
        report.findings.iter().any(|f| f.rule == "code-pickle-load"),
        "the rest is still analysed"
    );
    let clean = check(
        &analyze_bytes(CodeKind::Python, b"x = 1\n"),
        "ok.py",
        &Context::default(),
    );
    assert_eq!(clean.verdict, mlvet_core::Verdict::Safe);
    assert_eq!(clean.kind, mlvet_core::ArtifactKind::Code);
}
