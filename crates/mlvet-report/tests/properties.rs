//! Property tests: the renderers never panic and keep their promises for arbitrary content
//! (scanned files control most strings in a report).

mod common;

use common::*;
use mlvet_core::{ArtifactReport, Finding, Location, ScanError, ScanReport, Severity};
use mlvet_report::text_internals::{sanitize, width, wrap};
use mlvet_report::{
    CycloneDxOptions, MARKDOWN_MAX_CHARS, SarifOptions, TerminalOptions, json_v1, render_cyclonedx,
    render_json, render_markdown, render_sarif, render_terminal,
};
use proptest::prelude::*;

/// A report whose every string is arbitrary.
fn hostile_report(
    path: String,
    member: String,
    message: String,
    label: String,
    value: String,
    error: String,
) -> ScanReport {
    let location = Location::file(path.clone())
        .member(member)
        .with_opcode(1, 2);
    let finding = Finding::new(&DANGEROUS_CALLABLE, location, message)
        .evidence(label, value.clone())
        .remediation(value);
    ScanReport {
        artifacts: vec![ArtifactReport::new(
            path.clone(),
            "pickle".into(),
            10,
            true,
            vec![finding],
        )],
        errors: vec![ScanError {
            path,
            message: error.clone(),
        }],
        database: None,
        warnings: vec![error],
        packages: vec![],
    }
}

proptest! {
    #[test]
    fn wrap_keeps_every_character_and_respects_the_width(text in "\\PC{0,200}", first in 1usize..60, rest in 1usize..60) {
        let lines = wrap(&text, first, rest);
        prop_assert!(!lines.is_empty());
        for (i, line) in lines.iter().enumerate() {
            let cap = if i == 0 { first } else { rest };
            // A single double-width character may exceed a one-column line; nothing else may.
            prop_assert!(width(line) <= cap.max(2), "line {i} {line:?} over {cap}");
        }
        let squeeze = |s: &str| s.chars().filter(|c| *c != ' ').collect::<String>();
        prop_assert_eq!(squeeze(&lines.concat()), squeeze(&text));
    }

    #[test]
    fn sanitized_text_has_no_control_characters(text in any::<String>()) {
        let clean = sanitize(&text);
        prop_assert!(!clean.chars().any(|c| c.is_control()));
        if !text.chars().any(|c| c.is_control() || ('\u{200b}'..='\u{206f}').contains(&c) || c == '\u{feff}' || c == '\u{061c}') {
            prop_assert_eq!(clean.as_ref(), text.as_str());
        }
    }

    #[test]
    fn terminal_output_is_escape_free_without_colour(
        path in any::<String>(), member in any::<String>(), message in any::<String>(),
        label in any::<String>(), value in any::<String>(), error in any::<String>(),
        verbose in any::<bool>(), quiet in any::<bool>(), cols in 0usize..200,
    ) {
        let report = hostile_report(path, member, message, label, value, error);
        let opts = TerminalOptions { color: false, verbose, quiet, width: Some(cols) };
        let out = render_terminal(&report, &meta(Some(Severity::Info)), &opts);
        prop_assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        prop_assert!(out.ends_with('\n'));
        prop_assert!(out.lines().last().is_some_and(|l| l.starts_with("mlvet: 1 artifact scanned")));
    }

    #[test]
    fn json_round_trips_arbitrary_content(
        path in any::<String>(), member in any::<String>(), message in any::<String>(),
        label in any::<String>(), value in any::<String>(), error in any::<String>(),
    ) {
        let report = hostile_report(path, member, message, label, value, error);
        let json = render_json(&report, &meta(None));
        let back: json_v1::Report = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, json_v1::Report::new(&report, &meta(None)));
    }

    #[test]
    fn sarif_cyclonedx_and_markdown_never_panic_and_stay_valid(
        path in any::<String>(), member in any::<String>(), message in any::<String>(),
        label in any::<String>(), value in any::<String>(), error in any::<String>(),
        metadata_value in any::<String>(),
    ) {
        let mut report = hostile_report(path.clone(), member, message, label, value.clone(), error);
        if let Some(artifact) = report.artifacts.first_mut() {
            artifact.metadata.insert("architecture".into(), metadata_value.clone());
            artifact.origin = Some(mlvet_core::ArtifactOrigin {
                hub: "huggingface".into(),
                repo_type: "model".into(),
                repo_id: metadata_value,
                revision: Some(value),
                path_in_repo: Some(path),
            });
        }
        let rules = [&DANGEROUS_CALLABLE];
        let sarif = render_sarif(&report, &meta(Some(Severity::High)), &SarifOptions { rules: &rules });
        let sarif: serde_json::Value = serde_json::from_str(&sarif).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&sarif["version"], "2.1.0");
        let bom = render_cyclonedx(&report, &meta(None), &CycloneDxOptions::default());
        let bom: serde_json::Value = serde_json::from_str(&bom).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&bom["specVersion"], "1.6");
        let md = render_markdown(&report, &meta(Some(Severity::High)));
        prop_assert!(md.chars().count() <= MARKDOWN_MAX_CHARS);
        prop_assert!(!md.chars().any(|c| c.is_control() && c != '\n'), "{md:?}");
    }
}

/// Arbitrary strings in paths, members and evidence still give schema-valid SARIF and CycloneDX
/// (URIs encoded, no invalid values); slower than the property above, so a fixed set of nasty
/// strings instead of generated ones.
#[test]
fn hostile_strings_still_validate_against_the_schemas() {
    let nasty = [
        "",
        " ",
        "a b#c?d%e",
        "../../etc/passwd",
        "C:\\models\\x.pt",
        "/abs/path with spaces/ü.pkl",
        "file:///x",
        "\u{0}\u{1b}[31m\u{7f}",
        "\u{202e}gpj.exe",
        "😀/模型.bin",
        "|`<>&\"'",
    ];
    for text in nasty {
        let report = hostile_report(
            text.to_string(),
            text.to_string(),
            text.to_string(),
            text.to_string(),
            text.to_string(),
            text.to_string(),
        );
        let rules = [&DANGEROUS_CALLABLE];
        let sarif = render_sarif(
            &report,
            &meta(Some(Severity::High)),
            &SarifOptions { rules: &rules },
        );
        assert_valid_sarif(&serde_json::from_str(&sarif).expect("SARIF is JSON"));
        let bom = render_cyclonedx(&report, &meta(None), &CycloneDxOptions::default());
        assert_valid_cyclonedx(&serde_json::from_str(&bom).expect("BOM is JSON"));
    }
}
