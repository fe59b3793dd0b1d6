//! The configuration and VEX parsers never panic, whatever they are given.

use std::path::Path;

use mlvet_config::{ConfigKind, parse};
use proptest::prelude::*;

const VALID: &str = r#"fail-on = "medium"
exclude = ["data/", "*.ckpt"]
python-version = "3.11"
platform = "linux"
vex = ["v.json"]

[policy]
allow = ["a.b.C", { module = "m", names = ["X"], reason = "r" }]
deny = ["d.e"]

[[ignore]]
advisory = "CVE-2022-45907"
package = "torch"
path = "x/**"
reason = "r"
expires = 2026-12-31
"#;

const VEX: &str = r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:x", "author": "a",
"timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": [
{"vulnerability": {"name": "CVE-1", "aliases": ["GHSA-x"]}, "products": [{"@id": "pkg:pypi/torch@1.0",
"subcomponents": [{"@id": "pkg:pypi/numpy"}]}], "status": "not_affected", "justification": "component_not_present",
"timestamp": "2024-02-01T00:00:00+01:00"}]}"#;

/// `text` with bytes replaced, inserted or removed at `edits` positions.
fn mutate(text: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for &(at, op, byte) in edits {
        let at = at % (bytes.len() + 1);
        match op % 3 {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn config_parser_never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
        let _ = parse(&text, Path::new("mlvet.toml"), ConfigKind::MlvetToml);
        let _ = parse(&text, Path::new("pyproject.toml"), ConfigKind::Pyproject);
    }

    #[test]
    fn config_parser_never_panics_on_mutated_configs(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)
    ) {
        let text = mutate(VALID, &edits);
        let _ = parse(&text, Path::new("mlvet.toml"), ConfigKind::MlvetToml);
        let wrapped = format!("[tool.mlvet]\n{text}");
        let _ = parse(&wrapped, Path::new("pyproject.toml"), ConfigKind::Pyproject);
    }

    #[test]
    fn errors_name_a_line_inside_the_file(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4)
    ) {
        let text = mutate(VALID, &edits);
        if let Err(mlvet_config::ConfigError::Syntax { line, .. } | mlvet_config::ConfigError::Invalid { line, .. }) =
            parse(&text, Path::new("mlvet.toml"), ConfigKind::MlvetToml)
        {
            prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "line {} of {}", line, text.lines().count());
        }
    }

    #[test]
    fn vex_parser_never_panics(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..8),
        raw in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let text = mutate(VEX, &edits);
        let _ = mlvet_config::vex::parse(text.as_bytes(), Path::new("v.json"));
        let _ = mlvet_config::vex::parse(&raw, Path::new("v.json"));
    }

    #[test]
    fn timestamps_and_purls_never_panic(text in "\\PC{0,80}") {
        let _ = mlvet_config::parse_rfc3339(&text);
        let _ = mlvet_config::Date::parse(&text);
        let _ = mlvet_config::purl::Purl::parse(&text);
        let _ = mlvet_config::purl::Purl::parse(&format!("pkg:{text}"));
    }
}

#[test]
fn the_unmutated_inputs_are_valid() {
    assert!(parse(VALID, Path::new("mlvet.toml"), ConfigKind::MlvetToml).is_ok());
    assert!(mlvet_config::vex::parse(VEX.as_bytes(), Path::new("v.json")).is_ok());
}
