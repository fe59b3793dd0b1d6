//! The CI integration files are well-formed (actionlint and pre-commit are not available
//! offline): `action.yml`, `.pre-commit-hooks.yaml`, and the YAML examples in `docs/ci.md`.

mod common;

use common::repo_root;
use serde_yaml::Value;

fn load(rel: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join(rel)).expect("read");
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {value:?}"))
}

#[test]
fn action_yml_is_a_complete_composite_action() {
    let action = load("action.yml");
    assert!(!str_of(&action, "name").is_empty());
    assert!(!str_of(&action, "description").is_empty());
    assert_eq!(str_of(&action["runs"], "using"), "composite");

    let inputs = action["inputs"].as_mapping().expect("inputs");
    for required in [
        "version",
        "sha256",
        "paths",
        "format",
        "fail-on",
        "config",
        "sarif-file",
        "report",
    ] {
        let input = inputs
            .get(required)
            .unwrap_or_else(|| panic!("input {required}"));
        assert!(
            input["description"].as_str().is_some(),
            "{required} has a description"
        );
    }
    let outputs = action["outputs"].as_mapping().expect("outputs");
    for required in ["exit-code", "report"] {
        let output = outputs
            .get(required)
            .unwrap_or_else(|| panic!("output {required}"));
        let value = str_of(output, "value");
        assert!(value.contains("steps.scan.outputs."), "{required}: {value}");
    }

    let steps = action["runs"]["steps"].as_sequence().expect("steps");
    let text = std::fs::read_to_string(repo_root().join("action.yml")).expect("read");
    for step in steps {
        if step.get("run").is_some() {
            // Composite run steps must name their shell.
            assert!(step["shell"].as_str().is_some(), "shell: {step:?}");
        } else {
            assert!(step["uses"].as_str().is_some(), "run or uses: {step:?}");
        }
    }
    assert!(
        steps.iter().any(|s| s["id"].as_str() == Some("scan")),
        "the outputs refer to the `scan` step"
    );
    // Every `inputs.X` an expression reads is declared.
    for piece in text.split("inputs.").skip(1) {
        let name: String = piece
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        assert!(
            inputs.contains_key(name.as_str()),
            "undeclared input `{name}`"
        );
    }
    // The release download is verified before it runs.
    assert!(text.contains("sha256"), "sha256 verification");
    assert!(
        text.contains("cargo install --locked --path"),
        "source fallback"
    );
}

#[test]
fn pre_commit_hooks_declare_what_pre_commit_requires() {
    let hooks = load(".pre-commit-hooks.yaml");
    let hooks = hooks.as_sequence().expect("a list of hooks");
    let ids: Vec<&str> = hooks.iter().map(|h| str_of(h, "id")).collect();
    assert!(ids.contains(&"mlvet-scan"), "{ids:?}");
    for hook in hooks {
        for key in ["id", "name", "entry", "language"] {
            assert!(!str_of(hook, key).is_empty(), "{key}");
        }
        assert!(
            ["rust", "system"].contains(&str_of(hook, "language")),
            "{hook:?}"
        );
        assert!(str_of(hook, "entry").starts_with("mlvet scan"));
        assert_eq!(hook["pass_filenames"].as_bool(), Some(true));
        let files = str_of(hook, "files");
        for expected in [
            "pkl",
            "joblib",
            "safetensors",
            "requirements",
            "uv\\.lock",
            "pyproject\\.toml",
        ] {
            assert!(
                files.contains(expected),
                "files pattern covers {expected}: {files}"
            );
        }
    }
    // The rust hook builds the binary this repository defines.
    let manifest =
        std::fs::read_to_string(repo_root().join("crates/mlvet-cli/Cargo.toml")).expect("read");
    assert!(manifest.contains("name = \"mlvet\""));
}

#[test]
fn the_yaml_examples_in_docs_ci_md_parse() {
    let text = std::fs::read_to_string(repo_root().join("docs/ci.md")).expect("read");
    let mut blocks = 0;
    for block in text.split("```yaml").skip(1) {
        let body = block.split("```").next().expect("closed block");
        // Snippets of a job's steps are indented list items: they must parse on their own too.
        let parsed: Result<Value, _> = serde_yaml::from_str(body);
        assert!(parsed.is_ok(), "{body}\n{parsed:?}");
        blocks += 1;
    }
    assert!(
        blocks >= 4,
        "GitHub, plain GitHub, GitLab and pre-commit examples"
    );
    assert!(text.contains("github/codeql-action/upload-sarif"));
    assert!(text.contains("id: mlvet-scan"));
}
