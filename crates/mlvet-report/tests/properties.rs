//! Property tests: the renderers never panic and keep their promises for arbitrary content
//! (scanned files control most strings in a report).

mod common;

use common::*;
use mlvet_core::{ArtifactReport, Finding, Location, ScanError, ScanReport, Severity};
use mlvet_report::text_internals::{sanitize, width, wrap};
use mlvet_report::{TerminalOptions, json_v1, render_json, render_terminal};
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
}
