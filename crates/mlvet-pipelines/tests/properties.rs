//! Hostile input never panics any parser, and every reported line lies inside the input.

use mlvet_pipelines::{
    Settings, SourceKind, analyze, check_shell_text, dockerfile::Dockerfile, shell,
    workflow::Workflow, yaml,
};
use proptest::prelude::*;

/// Text made of the characters the parsers treat specially, so that inputs reach deep states.
fn shellish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\\\n".to_string()),
            Just("'".to_string()),
            Just("\"".to_string()),
            Just("$(".to_string()),
            Just("${{ ".to_string()),
            Just(" }}".to_string()),
            Just(")".to_string()),
            Just("`".to_string()),
            Just(" | ".to_string()),
            Just(" && ".to_string()),
            Just("<<EOF\n".to_string()),
            Just("\nEOF\n".to_string()),
            Just("#".to_string()),
            Just("\n".to_string()),
            Just("pip install ".to_string()),
            Just("curl https://x.invalid/a.pt -o a.pt".to_string()),
            Just("sh -c ".to_string()),
            Just("--trust-remote-code".to_string()),
            Just("RUN ".to_string()),
            Just("FROM ".to_string()),
            Just("ENV A=b ".to_string()),
            "[a-z0-9=./-]{0,8}",
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

fn yamlish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("on:\n".to_string()),
            Just("  pull_request_target:\n".to_string()),
            Just("jobs:\n".to_string()),
            Just("  a:\n".to_string()),
            Just("    runs-on: ${{ matrix.x }}\n".to_string()),
            Just("    steps:\n".to_string()),
            Just("      - run: |\n          pip install .\n".to_string()),
            Just(
                "      - uses: actions/checkout@v4\n        with: {ref: ${{ github.head_ref }}}\n"
                    .to_string()
            ),
            Just("apiVersion: v1\nkind: Pod\n".to_string()),
            Just("- &a [x, *a]\n".to_string()),
            Just("[{".to_string()),
            Just("---\n".to_string()),
            Just(": ".to_string()),
            "[a-z: \\-\n]{0,12}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn max_line(text: &str) -> u32 {
    u32::try_from(text.lines().count()).unwrap_or(u32::MAX) + 1
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn shell_lines_stay_inside_the_text(text in shellish()) {
        let script = shell::parse(&text, 1);
        for command in &script.commands {
            prop_assert!(command.line >= 1 && command.line <= max_line(&text));
        }
        for finding in check_shell_text(&text, "x.sh", 1, None, &Settings::default()) {
            let line = finding.location.line.unwrap_or(0);
            prop_assert!(line >= 1 && line <= max_line(&text));
        }
    }

    #[test]
    fn dockerfile_never_panics(text in shellish()) {
        let file = Dockerfile::parse(&text);
        for instruction in &file.instructions {
            prop_assert!(instruction.line >= 1 && instruction.line <= max_line(&text));
        }
        if let Some(analysis) = analyze(&text, None, "Dockerfile", SourceKind::Dockerfile, &Settings::default()) {
            for finding in analysis.findings {
                let line = finding.location.line.unwrap_or(0);
                prop_assert!(line >= 1 && line <= max_line(&text), "{finding:?}");
            }
        }
    }

    #[test]
    fn yaml_never_panics(text in yamlish()) {
        let _ = yaml::parse_documents(&text);
        let _ = Workflow::parse(&text, false);
        for kind in [SourceKind::Workflow, SourceKind::Action, SourceKind::Kubernetes] {
            if let Some(analysis) = analyze(&text, None, "w.yml", kind, &Settings::default()) {
                for finding in analysis.findings {
                    let line = finding.location.line.unwrap_or(0);
                    prop_assert!(line >= 1 && line <= max_line(&text), "{finding:?}");
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = shell::parse(&text, 1);
        let _ = Dockerfile::parse(&text);
        let _ = yaml::parse_documents(&text);
    }
}

#[test]
fn huge_inputs_are_bounded() {
    // Many commands: the count bound holds and the script says it was truncated.
    let text = "a;".repeat(shell::MAX_COMMANDS + 10);
    let script = shell::parse(&text, 1);
    assert!(script.truncated);
    assert!(script.commands.len() <= shell::MAX_COMMANDS);
    // Deep `sh -c` nesting stops at the bound.
    let mut nested = "pip install x".to_string();
    for _ in 0..10 {
        nested = format!("sh -c '{}'", nested.replace('\'', "'\\''"));
    }
    let script = shell::parse(&nested, 1);
    assert!(script.truncated);
}

#[test]
fn notebook_lines_reach_the_command_rules() {
    let settings = Settings::default();
    let lines = [
        "!pip install transformers",
        "%pip install --extra-index-url https://pkgs.internal.invalid/simple acme",
        "!vllm serve acme/m --trust-remote-code",
        "x = 1",
    ];
    let mut rules = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if let Some(command) = mlvet_pipelines::notebook_shell_line(line) {
            let line_number = u32::try_from(index + 1).expect("small");
            for finding in check_shell_text(command, "nb.ipynb", line_number, None, &settings) {
                rules.push((finding.rule, finding.location.line));
            }
        }
    }
    rules.sort();
    assert_eq!(
        rules,
        vec![
            ("artifact-ref-mutable", Some(3)),
            ("index-confusion", Some(2)),
            ("install-without-hashes", Some(1)),
            ("install-without-hashes", Some(2)),
            ("remote-code-flag", Some(3)),
        ]
    );
    assert_eq!(mlvet_pipelines::notebook_shell_line("x = 1"), None);
}
