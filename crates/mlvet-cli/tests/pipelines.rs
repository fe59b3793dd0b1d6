//! Pipelines and containers (issue 10, pipelines part), end to end through the binary: Dockerfiles,
//! shell scripts, GitHub Actions workflows and composite actions, Kubernetes manifests, in the
//! terminal, JSON and SARIF reports; the `[pipelines]` configuration; zizmor's findings carried
//! from its real JSON output. Fixtures: `tests/fixtures/pipelines/` (README there).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{json_report, repo_root};
use serde_json::Value;

const UNSAFE: &str = "tests/fixtures/pipelines/unsafe";
const SAFE: &str = "tests/fixtures/pipelines/safe";

/// Runs `mlvet ARGS` from the repository root with zizmor switched off unless `env` says otherwise.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let data = tempfile::tempdir().expect("data dir");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mlvet"));
    command
        .args(args)
        .current_dir(repo_root())
        .env("MLVET_DATA_DIR", data.path())
        .env("NO_COLOR", "1")
        .env("MLVET_ZIZMOR", "off");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run mlvet")
}

fn scan_json(input: &str, extra: &[&str]) -> (Value, Output) {
    let mut args = vec!["scan", "--no-deps", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(input);
    let out = run(&args, &[]);
    (json_report(&out), out)
}

/// `(file relative to the fixture root, rule, line)` of every unsuppressed finding.
fn triples(report: &Value, root: &str) -> Vec<(String, String, u64)> {
    let mut out: Vec<(String, String, u64)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["suppressed"].is_null())
        .map(|f| {
            (
                f["path"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches(root)
                    .trim_start_matches('/')
                    .to_string(),
                f["rule"].as_str().unwrap_or_default().to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    out.sort();
    out
}

fn has(found: &[(String, String, u64)], file: &str, rule: &str, line: u64) -> bool {
    found
        .iter()
        .any(|(f, r, l)| f == file && r == rule && *l == line)
}

fn finding<'a>(report: &'a Value, file_suffix: &str, rule: &str, line: u64) -> &'a Value {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| {
            f["path"].as_str().is_some_and(|p| p.ends_with(file_suffix))
                && f["rule"] == rule
                && f["line"] == line
        })
        .unwrap_or_else(|| panic!("no {rule} at {file_suffix}:{line} in {report:#}"))
}

/// Every finding the unsafe fixtures must produce, by file, rule and line.
const EXPECTED_UNSAFE: &[(&str, &str, u64)] = &[
    // pull_request_target evaluation bot
    (
        ".github/workflows/pr-eval.yml",
        "ci-untrusted-code-with-secrets",
        25,
    ),
    (".github/workflows/pr-eval.yml", "index-confusion", 25),
    (".github/workflows/pr-eval.yml", "remote-code-flag", 29),
    (".github/workflows/pr-eval.yml", "remote-code-flag", 32),
    (".github/workflows/pr-eval.yml", "artifact-ref-mutable", 31),
    (".github/workflows/pr-eval.yml", "ci-artifact-poisoning", 33),
    (
        ".github/workflows/pr-eval.yml",
        "install-without-hashes",
        25,
    ),
    // PR-triggered GPU tests
    (
        ".github/workflows/gpu-tests.yml",
        "ci-pr-self-hosted-runner",
        17,
    ),
    (
        ".github/workflows/gpu-tests.yml",
        "ci-pr-self-hosted-runner",
        25,
    ),
    (
        ".github/workflows/gpu-tests.yml",
        "ci-pr-self-hosted-runner",
        31,
    ),
    (
        ".github/workflows/gpu-tests.yml",
        "install-without-hashes",
        12,
    ),
    (
        ".github/workflows/gpu-tests.yml",
        "container-unverified-fetch",
        21,
    ),
    (".github/workflows/gpu-tests.yml", "index-confusion", 22),
    // workflow_run publishing the triggering run's checkpoint
    (
        ".github/workflows/publish-model.yml",
        "ci-artifact-poisoning",
        16,
    ),
    // composite action
    (".github/actions/setup/action.yml", "index-confusion", 8),
    (
        ".github/actions/setup/action.yml",
        "install-without-hashes",
        9,
    ),
    (
        ".github/actions/setup/action.yml",
        "artifact-ref-mutable",
        10,
    ),
    // serving image
    ("docker/Dockerfile", "container-unverified-fetch", 4),
    ("docker/Dockerfile", "index-confusion", 5),
    ("docker/Dockerfile", "container-unverified-fetch", 7),
    ("docker/Dockerfile", "install-without-hashes", 9),
    ("docker/Dockerfile", "install-without-hashes", 10),
    ("docker/Dockerfile", "install-without-hashes", 11),
    ("docker/Dockerfile", "container-unverified-fetch", 13),
    ("docker/Dockerfile", "container-unverified-fetch", 15),
    ("docker/Dockerfile", "container-unverified-fetch", 16),
    ("docker/Dockerfile", "container-unverified-fetch", 17),
    ("docker/Dockerfile", "remote-code-flag", 18),
    ("docker/Dockerfile", "remote-code-flag", 19),
    ("docker/Dockerfile", "artifact-ref-mutable", 19),
    ("docker/Dockerfile.dev", "container-unverified-fetch", 1),
    ("docker/Dockerfile.dev", "index-confusion", 2),
    ("docker/Dockerfile.dev", "install-without-hashes", 2),
    // Compose service
    ("docker/docker-compose.yml", "container-unverified-fetch", 4),
    ("docker/docker-compose.yml", "remote-code-flag", 5),
    ("docker/docker-compose.yml", "remote-code-flag", 7),
    // Kubernetes deployment
    ("k8s/vllm.yaml", "container-unverified-fetch", 15),
    ("k8s/vllm.yaml", "remote-code-flag", 18),
    ("k8s/vllm.yaml", "artifact-ref-mutable", 18),
    ("k8s/vllm.yaml", "install-without-hashes", 18),
    ("k8s/vllm.yaml", "remote-code-flag", 20),
    ("k8s/vllm.yaml", "index-confusion", 22),
    // bootstrap script
    ("scripts/setup.sh", "index-confusion", 4),
    ("scripts/setup.sh", "install-without-hashes", 5),
    ("scripts/setup.sh", "install-without-hashes", 6),
    ("scripts/setup.sh", "container-unverified-fetch", 7),
    ("scripts/setup.sh", "container-unverified-fetch", 8),
    ("scripts/setup.sh", "remote-code-flag", 9),
    ("scripts/setup.sh", "artifact-ref-mutable", 10),
    ("scripts/setup.sh", "remote-code-flag", 11),
];

#[test]
fn unsafe_pipelines_are_reported_with_file_and_line() {
    let (report, out) = scan_json(UNSAFE, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found = triples(&report, UNSAFE);
    let missing: Vec<_> = EXPECTED_UNSAFE
        .iter()
        .filter(|(file, rule, line)| !has(&found, file, rule, *line))
        .collect();
    assert!(missing.is_empty(), "missing {missing:#?}\nfound {found:#?}");
    for artifact in report["artifacts"].as_array().expect("artifacts") {
        assert_eq!(artifact["kind"], "pipeline", "{artifact:#}");
        assert_eq!(artifact["verdict"], "suspicious", "{artifact:#}");
        assert_eq!(artifact["fully_inspected"], true, "{artifact:#}");
    }
    let formats: std::collections::BTreeSet<&str> = report["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter_map(|a| a["format"].as_str())
        .collect();
    assert_eq!(
        formats.into_iter().collect::<Vec<_>>(),
        vec![
            "docker-compose",
            "dockerfile",
            "github-action",
            "github-workflow",
            "kubernetes",
            "shell"
        ]
    );
    // `requirements.txt` is a dependency manifest, not a pipeline: left to the inventory.
    assert!(
        !report["artifacts"]
            .as_array()
            .expect("artifacts")
            .iter()
            .any(|a| a["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("requirements.txt")))
    );
}

#[test]
fn severities_and_messages_say_what_applies() {
    let (report, _) = scan_json(UNSAFE, &[]);
    let pwn = finding(&report, "pr-eval.yml", "ci-untrusted-code-with-secrets", 25);
    assert_eq!(pwn["severity"], "critical");
    let message = pwn["message"].as_str().unwrap_or_default();
    for needle in [
        "pull_request_target",
        "HF_TOKEN",
        "WANDB_API_KEY",
        "id-token: write",
        "line 16",
    ] {
        assert!(message.contains(needle), "{needle} not in {message}");
    }
    // GPU label from the matrix: critical; explicit self-hosted without GPU: high.
    assert_eq!(
        finding(&report, "gpu-tests.yml", "ci-pr-self-hosted-runner", 17)["severity"],
        "critical"
    );
    assert_eq!(
        finding(&report, "gpu-tests.yml", "ci-pr-self-hosted-runner", 25)["severity"],
        "high"
    );
    // Installer semantics are named.
    let pip = finding(&report, "pr-eval.yml", "index-confusion", 25);
    assert!(
        pip["message"]
            .as_str()
            .unwrap_or_default()
            .contains("pip pools every index")
    );
    let uv = finding(&report, "gpu-tests.yml", "index-confusion", 22);
    assert!(
        uv["message"]
            .as_str()
            .unwrap_or_default()
            .contains("uv takes each package from the first index")
    );
    assert_eq!(uv["severity"], "high");
    // Untagged base image is high; tagged is medium.
    assert_eq!(
        finding(&report, "Dockerfile.dev", "container-unverified-fetch", 1)["severity"],
        "high"
    );
    assert_eq!(
        finding(
            &report,
            "docker/Dockerfile",
            "container-unverified-fetch",
            4
        )["severity"],
        "medium"
    );
    // `pip install -e .` resolves the project's dependencies unhashed: low, not medium.
    let project = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("pr-eval.yml"))
                && f["rule"] == "install-without-hashes"
                && f["line"] == 25
        })
        .expect("project install");
    assert_eq!(project["severity"], "low");
    // The mutable revision says why.
    let mutable = finding(&report, "scripts/setup.sh", "artifact-ref-mutable", 10);
    assert!(
        mutable["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`v1.0`")
    );
}

#[test]
fn safe_pipelines_have_no_findings() {
    let config = format!("{SAFE}/mlvet.toml");
    let (report, out) = scan_json(SAFE, &["--config", &config]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let found: Vec<_> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(found.is_empty(), "{found:#?}");
    let artifacts = report["artifacts"].as_array().expect("artifacts");
    assert_eq!(artifacts.len(), 6, "{artifacts:#?}");
    for artifact in artifacts {
        assert_eq!(artifact["verdict"], "safe", "{artifact:#}");
    }
    // The jemalloc preload is mentioned, as information only.
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["rule"] == "container-unverified-fetch" && f["severity"] == "info")
    );
}

#[test]
fn allowed_runners_come_from_the_configuration() {
    let project = tempfile::tempdir().expect("project");
    let workflows = project.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).expect("mkdir");
    std::fs::copy(
        repo_root()
            .join(UNSAFE)
            .join(".github/workflows/gpu-tests.yml"),
        workflows.join("gpu-tests.yml"),
    )
    .expect("copy");
    let input = project.path().to_string_lossy().into_owned();
    let (before, _) = scan_json(&input, &["--no-config"]);
    let runner_findings = |report: &Value| -> Vec<u64> {
        let mut lines: Vec<u64> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["rule"] == "ci-pr-self-hosted-runner")
            .filter_map(|f| f["line"].as_u64())
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(runner_findings(&before), vec![17, 25, 31]);
    let config = project.path().join("mlvet.toml");
    std::fs::write(
        &config,
        "[pipelines]\nallowed-runners = [\"linux.*\", \"aws-g5-*\"]\n",
    )
    .expect("write");
    let config = config.to_string_lossy().into_owned();
    let (after, _) = scan_json(&input, &["--config", &config]);
    // The explicit `self-hosted` job stays reported.
    assert_eq!(runner_findings(&after), vec![25]);

    // An invalid entry is a usage error naming the key.
    std::fs::write(
        project.path().join("bad.toml"),
        "[pipelines]\nallowed-runners = [\"\"]\n",
    )
    .expect("write");
    let bad = project
        .path()
        .join("bad.toml")
        .to_string_lossy()
        .into_owned();
    let out = run(&["scan", "--no-deps", "--config", &bad, &input], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pipelines.allowed-runners"));
}

#[test]
fn terminal_report_shows_rules_and_lines() {
    let out = run(&["scan", "--no-deps", UNSAFE], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "ci-untrusted-code-with-secrets",
        "ci-pr-self-hosted-runner",
        "ci-artifact-poisoning",
        "install-without-hashes",
        "index-confusion",
        "remote-code-flag",
        "artifact-ref-mutable",
        "container-unverified-fetch",
        "(github-workflow)",
        "(dockerfile)",
        "(kubernetes)",
        "line 25",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    // Skipping zizmor is said in the report.
    assert!(text.contains("zizmor disabled"), "{text}");
}

#[test]
fn sarif_carries_pipeline_rules_with_regions() {
    let out = run(&["scan", "--no-deps", "--format", "sarif", UNSAFE], &[]);
    let sarif: Value = serde_json::from_slice(&out.stdout).expect("SARIF JSON");
    let run = &sarif["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    for id in [
        "ci-untrusted-code-with-secrets",
        "ci-pr-self-hosted-runner",
        "ci-artifact-poisoning",
        "install-without-hashes",
        "remote-code-flag",
        "container-unverified-fetch",
        "index-confusion",
        "artifact-ref-mutable",
    ] {
        assert!(rules.contains(&id), "{id} not in {rules:?}");
    }
    let results = run["results"].as_array().expect("results");
    let pwn = results
        .iter()
        .find(|r| r["ruleId"] == "ci-untrusted-code-with-secrets")
        .expect("result");
    let location = &pwn["locations"][0]["physicalLocation"];
    assert!(
        location["artifactLocation"]["uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("pr-eval.yml")),
        "{location:#}"
    );
    assert_eq!(location["region"]["startLine"], 25, "{location:#}");
    assert_eq!(pwn["level"], "error");
}

/// A stand-in `zizmor` that prints zizmor 1.32.0's real JSON output on the unsafe workflows
/// (`scripts/bench_pipelines.py --write-fixture`): the whole integration — discovery, the run,
/// mapping, attaching to the workflow artefacts — without zizmor installed.
fn fake_zizmor(dir: &Path) -> PathBuf {
    let fixture = repo_root().join("tests/fixtures/pipelines/zizmor-1.32.0.json");
    let script = dir.join("zizmor");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'zizmor 1.32.0'; exit 0; fi\ncat '{}'\n",
            fixture.display()
        ),
    )
    .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    script
}

#[test]
#[cfg(unix)]
fn zizmor_findings_are_carried_as_zizmor_ids() {
    let dir = tempfile::tempdir().expect("dir");
    let fake = fake_zizmor(dir.path());
    let fake = fake.to_string_lossy().into_owned();
    let out = run(
        &["scan", "--no-deps", "--format", "json", UNSAFE],
        &[("MLVET_ZIZMOR", &fake)],
    );
    let report = json_report(&out);
    let found = triples(&report, UNSAFE);
    for (file, rule, line) in [
        (
            ".github/workflows/pr-eval.yml",
            "zizmor/dangerous-triggers",
            5,
        ),
        (".github/workflows/pr-eval.yml", "zizmor/unpinned-uses", 16),
        (
            ".github/workflows/publish-model.yml",
            "zizmor/dangerous-triggers",
            4,
        ),
        (
            ".github/workflows/gpu-tests.yml",
            "zizmor/excessive-permissions",
            3,
        ),
    ] {
        assert!(
            has(&found, file, rule, line),
            "{rule} at {file}:{line} missing: {found:#?}"
        );
    }
    let zizmor_count = found
        .iter()
        .filter(|(_, r, _)| r.starts_with("zizmor/"))
        .count();
    assert_eq!(zizmor_count, 21);
    let triggers = finding(&report, "publish-model.yml", "zizmor/dangerous-triggers", 4);
    assert_eq!(triggers["severity"], "high");
    assert!(
        triggers["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("zizmor: ")
    );
    // mlvet's own findings stay next to zizmor's.
    assert!(has(
        &found,
        ".github/workflows/pr-eval.yml",
        "ci-untrusted-code-with-secrets",
        25
    ));
    let warnings = report["warnings"].to_string();
    assert!(!warnings.contains("zizmor"), "{warnings}");
}

#[test]
fn a_missing_zizmor_is_said_not_silent() {
    let empty = tempfile::tempdir().expect("dir");
    let path = empty.path().to_string_lossy().into_owned();
    let data = tempfile::tempdir().expect("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["scan", "--no-deps", "--format", "json", UNSAFE])
        .current_dir(repo_root())
        .env("MLVET_DATA_DIR", data.path())
        .env_remove("MLVET_ZIZMOR")
        .env("PATH", &path)
        .output()
        .expect("run");
    let report = json_report(&out);
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("zizmor not found on PATH"), "{warnings}");
    assert!(
        !triples(&report, UNSAFE)
            .iter()
            .any(|(_, rule, _)| rule.starts_with("zizmor/"))
    );
}

/// With the real zizmor on PATH (CI does not need it), its findings appear; without it the test
/// says it was skipped.
#[test]
// Saying so when zizmor is not installed.
#[allow(clippy::print_stderr)]
fn real_zizmor_when_installed() {
    let Some(zizmor) = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("zizmor"))
            .find(|c| c.is_file())
    }) else {
        eprintln!(
            "SKIPPED real_zizmor_when_installed: zizmor is not on PATH (pip install zizmor to run it)"
        );
        return;
    };
    let zizmor = zizmor.to_string_lossy().into_owned();
    let out = run(
        &["scan", "--no-deps", "--format", "json", UNSAFE],
        &[("MLVET_ZIZMOR", &zizmor)],
    );
    let report = json_report(&out);
    assert!(
        triples(&report, UNSAFE)
            .iter()
            .any(|(_, rule, _)| rule == "zizmor/dangerous-triggers"),
        "{report:#}"
    );
}

/// Content decides before the name: a text (protocol 0) pickle saved as `setup.sh` is still read by
/// the pickle scanner, not taken for a shell script.
#[test]
fn a_pickle_named_like_a_script_is_still_a_pickle() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("setup.sh"),
        b"cos\nsystem\n(S'echo pwned'\ntR.",
    )
    .expect("write");
    let input = dir.path().to_string_lossy().into_owned();
    let (report, out) = scan_json(&input, &["--no-config"]);
    assert_eq!(out.status.code(), Some(1));
    let artifact = &report["artifacts"][0];
    assert_eq!(artifact["kind"], "model", "{report:#}");
    assert_eq!(artifact["verdict"], "malicious", "{report:#}");
}

/// A self-hosted job that keeps fork pull requests out is still reported, at medium.
#[test]
fn fork_guarded_self_hosted_jobs_are_medium() {
    let project = tempfile::tempdir().expect("project");
    let workflows = project.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).expect("mkdir");
    std::fs::write(
        workflows.join("gpu.yml"),
        "on: pull_request\njobs:\n  gpu:\n    if: github.event.pull_request.head.repo.full_name == github.repository\n    runs-on: [self-hosted, a100]\n    steps:\n      - run: pytest\n",
    )
    .expect("write");
    let input = project.path().to_string_lossy().into_owned();
    let (report, _) = scan_json(&input, &["--no-config"]);
    let found = finding(&report, "gpu.yml", "ci-pr-self-hosted-runner", 5);
    assert_eq!(found["severity"], "medium", "{found:#}");
}

/// A workflow that is not YAML is a scan error naming the file and the line, never a clean file.
#[test]
fn an_unparsable_workflow_is_a_scan_error() {
    let project = tempfile::tempdir().expect("project");
    let workflows = project.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).expect("mkdir");
    std::fs::write(workflows.join("broken.yml"), "on: [push\njobs:\n  a: {\n").expect("write");
    let input = project.path().to_string_lossy().into_owned();
    let (report, out) = scan_json(&input, &["--no-config"]);
    assert_eq!(out.status.code(), Some(3), "{report:#}");
    let error = &report["errors"][0];
    assert!(
        error["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("broken.yml")),
        "{error:#}"
    );
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("YAML")),
        "{error:#}"
    );
}
