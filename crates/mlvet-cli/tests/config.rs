//! Configuration, ignores, VEX, noise and CI behaviour, end to end through the binary (issue 9
//! §5–7). Fixtures: `tests/fixtures/config/` (`scripts/gen_config_fixtures.py`); advisories: the
//! PyPA snapshot in `../shared/advisories`, imported into a temporary data directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{artifact, findings_for, json_report, repo_root};

const FIXTURES: &str = "tests/fixtures/config";

/// A temporary project: a `.git` folder bounds configuration discovery to it.
struct Project {
    dir: tempfile::TempDir,
    data: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join(".git")).expect(".git");
        Project {
            dir,
            data: tempfile::tempdir().expect("data dir"),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.root().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
        path
    }

    /// Copies a fixture of `tests/fixtures/config` to `rel` in the project.
    fn fixture(&self, name: &str, rel: &str) -> PathBuf {
        let path = self.root().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::copy(repo_root().join(FIXTURES).join(name), &path).expect("copy fixture");
        path
    }

    /// Imports the PyPA advisories for torch (PYSEC-2022-43015, alias CVE-2022-45907).
    fn with_torch_advisories(self) -> Project {
        let records = repo_root().join("../shared/advisories/pypa-advisory-database/vulns/torch");
        let out = self.run_in(
            Path::new("."),
            &[
                "db",
                "import",
                "--quiet",
                records.to_str().expect("utf-8 path"),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "import: {}", stderr(&out));
        self
    }

    /// Runs `mlvet ARGS` with the current directory `cwd` (relative to the project).
    fn run_in(&self, cwd: &Path, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_mlvet"))
            .args(args)
            .current_dir(self.root().join(cwd))
            .env("MLVET_DATA_DIR", self.data.path())
            .env("NO_COLOR", "1")
            .env_remove("MLVET_OSV_URL")
            .output()
            .expect("run mlvet")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_in(Path::new("."), args)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn verdict(report: &serde_json::Value, path: &str) -> String {
    artifact(report, path)["verdict"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn warnings(report: &serde_json::Value) -> Vec<String> {
    report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w.as_str().map(str::to_string))
        .collect()
}

// ---------------------------------------------------------------- discovery

#[test]
fn mlvet_toml_in_a_parent_directory_applies() {
    let project = Project::new();
    project.fixture("ranker.joblib", "models/ranker.joblib");
    // Without configuration the unknown class is a high finding: exit 1.
    let out = project.run_in(Path::new("models"), &["scan", "ranker.joblib"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));

    project.write("mlvet.toml", "fail-on = \"never\"\n");
    let out = project.run_in(
        Path::new("models"),
        &["scan", "ranker.joblib", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json_report(&out);
    assert_eq!(report["summary"]["fail_on"], serde_json::Value::Null);
    assert_eq!(verdict(&report, "ranker.joblib"), "suspicious");
}

#[test]
fn pyproject_tool_mlvet_applies_and_mlvet_toml_wins_over_it() {
    let project = Project::new();
    project.fixture("ranker.joblib", "ranker.joblib");
    project.write(
        "pyproject.toml",
        "[project]\nname = \"ranker\"\n\n[tool.mlvet]\nfail-on = \"never\"\n",
    );
    let out = project.run(&["scan", "ranker.joblib"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    project.write("mlvet.toml", "fail-on = \"high\"\n");
    let out = project.run(&["scan", "ranker.joblib"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "mlvet.toml first: {}",
        stdout(&out)
    );
}

#[test]
fn a_pyproject_without_tool_mlvet_is_skipped() {
    let project = Project::new();
    project.fixture("ranker.joblib", "sub/ranker.joblib");
    project.write("mlvet.toml", "fail-on = \"never\"\n");
    project.write("sub/pyproject.toml", "[project]\nname = \"x\"\n");
    let out = project.run_in(Path::new("sub"), &["scan", "ranker.joblib"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn explicit_config_and_no_config() {
    let project = Project::new();
    project.fixture("ranker.joblib", "ranker.joblib");
    project.write("mlvet.toml", "fail-on = \"never\"\n");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let strict = elsewhere.path().join("strict.toml");
    std::fs::write(&strict, "fail-on = \"low\"\n").expect("write");

    let out = project.run(&[
        "scan",
        "ranker.joblib",
        "--config",
        strict.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "--config replaces discovery");

    for flag in ["--no-config", "--isolated"] {
        let out = project.run(&["scan", "ranker.joblib", flag, "--format", "json"]);
        assert_eq!(out.status.code(), Some(1), "{flag}: built-in fail-on high");
        assert_eq!(json_report(&out)["summary"]["fail_on"], "high", "{flag}");
    }

    let out = project.run(&["scan", "ranker.joblib", "--config", "missing.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("missing.toml"), "{}", stderr(&out));
}

#[test]
fn the_fail_on_flag_overrides_the_configuration() {
    let project = Project::new();
    project.fixture("ranker.joblib", "ranker.joblib");
    project.write("mlvet.toml", "fail-on = \"never\"\n");
    let out = project.run(&[
        "scan",
        "ranker.joblib",
        "--fail-on",
        "high",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report = json_report(&out);
    assert_eq!(report["summary"]["fail_on"], "high");
    assert_eq!(
        report["summary"]["status"],
        "findings-at-or-above-threshold"
    );

    project.write("mlvet.toml", "fail-on = \"critical\"\n");
    let out = project.run(&["scan", "ranker.joblib"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "high < critical from the config"
    );
}

// ---------------------------------------------------------------- errors are usage errors

#[test]
fn configuration_errors_exit_2_naming_file_line_and_key() {
    let project = Project::new();
    project.fixture("ranker.joblib", "ranker.joblib");
    for (text, line, key) in [
        (
            "fail-on = \"high\"\n\n[[ignore]]\nrule = \"pickle-unknown-callable\"\n",
            ":3:",
            "ignore.reason",
        ),
        (
            "fail-on = \"high\"\nfail_on = \"never\"\n",
            ":2:",
            "fail_on",
        ),
        (
            "[[ignore]]\nrule = \"pickle-unknown-calable\"\nreason = \"typo\"\n",
            ":1:",
            "pickle-unknown-calable",
        ),
        (
            "[[ignore]]\nrule = \"pickle-unknown-callable\"\nreason = \"r\"\nexpires = \"soon\"\n",
            ":4:",
            "",
        ),
        ("exclude = [\"models/\", \" \"]\n", ":1:", "exclude"),
        ("[policy]\nallow = [\"Ranker\"]\n", ":2:", "policy.allow"),
    ] {
        project.write("mlvet.toml", text);
        let out = project.run(&["scan", "ranker.joblib"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(&format!("mlvet.toml{line}")), "{text}: {err}");
        assert!(err.contains(key), "{text}: {err}");
        assert!(out.stdout.is_empty(), "no report on a usage error");
    }
}

#[test]
fn a_platform_without_a_python_version_is_a_usage_error() {
    let project = Project::new();
    project.write("mlvet.toml", "platform = \"win32\"\n");
    project.fixture("requirements.txt", "requirements.txt");
    let out = project.run(&["scan", "requirements.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    project.write(
        "mlvet.toml",
        "platform = \"win32\"\npython-version = \"3.11\"\n",
    );
    let out = project.run(&["scan", "requirements.txt", "--no-deps"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

// ---------------------------------------------------------------- exclude

#[test]
fn excluded_paths_are_never_scanned() {
    let project = Project::new();
    project.fixture("ranker.joblib", "models/ranker.joblib");
    project.fixture("ranker.joblib", "cache/tmp.joblib");
    project.fixture("ranker.joblib", "keep/ranker.joblib");
    project.write(
        "mlvet.toml",
        "exclude = [\"models/\", \"*.tmp.joblib\", \"/cache\"]\n",
    );
    let out = project.run(&["scan", ".", "--format", "json"]);
    let report = json_report(&out);
    let paths: Vec<&str> = report["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter_map(|a| a["path"].as_str())
        .collect();
    assert_eq!(paths, ["./keep/ranker.joblib"], "{report:#}");

    // --exclude adds to the configuration's list.
    let out = project.run(&["scan", ".", "--exclude", "keep/", "--format", "json"]);
    let report = json_report(&out);
    assert_eq!(report["summary"]["artifacts"], 0, "{report:#}");
    assert_eq!(out.status.code(), Some(0));

    // A file named on the command line is excluded too, and the report says so.
    let out = project.run(&["scan", "models/ranker.joblib", "--format", "json"]);
    let report = json_report(&out);
    assert_eq!(report["summary"]["artifacts"], 0);
    assert!(
        warnings(&report)
            .iter()
            .any(|w| w.contains("models/ranker.joblib is excluded")),
        "{report:#}"
    );
}

/// An excluded directory is not even entered: an unreadable tree below it costs nothing.
#[test]
fn excluded_directories_are_not_entered() {
    let project = Project::new();
    project.fixture("ranker.joblib", "keep/ranker.joblib");
    // A FIFO given by name would be a scan error (exit 3); excluded, it is never looked at.
    let fifo = project.root().join("data/queue.pkl");
    std::fs::create_dir_all(fifo.parent().expect("parent")).expect("mkdir");
    common::mkfifo(&fifo);
    let out = project.run(&["scan", "data/queue.pkl", "keep", "--fail-on", "never"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a FIFO is a scan error: {}",
        stdout(&out)
    );
    project.write("mlvet.toml", "exclude = [\"data/\"]\n");
    let out = project.run(&["scan", "data/queue.pkl", "keep", "--fail-on", "never"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

// ---------------------------------------------------------------- policy

#[test]
fn policy_allow_and_deny_change_the_pickle_verdict() {
    let project = Project::new();
    project.fixture("ranker.joblib", "ranker.joblib");
    let scan = |project: &Project| {
        let out = project.run(&["scan", "ranker.joblib", "--format", "json"]);
        let report = json_report(&out);
        (out.status.code(), verdict(&report, "ranker.joblib"))
    };
    assert_eq!(scan(&project), (Some(1), "suspicious".to_string()));

    project.write(
        "mlvet.toml",
        "[policy]\nallow = [\"mycompany.models.Ranker\"]\n",
    );
    assert_eq!(scan(&project), (Some(0), "safe".to_string()));

    // The pickle policy's own entry format works too.
    project.write(
        "mlvet.toml",
        "[policy]\nallow = [{ module = \"mycompany.models\", names = [\"*\"], reason = \"our estimators\" }]\n",
    );
    assert_eq!(scan(&project), (Some(0), "safe".to_string()));

    project.write("mlvet.toml", "[policy]\ndeny = [\"mycompany.models\"]\n");
    assert_eq!(scan(&project), (Some(1), "malicious".to_string()));

    // --policy goes on top of the configuration: its allow wins over the configured deny.
    let policy = project.write(
        "extra-policy.toml",
        "[[allow]]\nmodule = \"mycompany.models\"\nnames = [\"Ranker\"]\nreason = \"audited\"\n",
    );
    let out = project.run(&[
        "scan",
        "ranker.joblib",
        "--policy",
        policy.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    assert_eq!(verdict(&json_report(&out), "ranker.joblib"), "safe");
}

// ---------------------------------------------------------------- ignores

#[test]
fn an_ignore_by_rule_suppresses_but_keeps_the_finding() {
    let project = Project::new();
    project.fixture("ranker.joblib", "models/ranker.joblib");
    project.write(
        "mlvet.toml",
        "[[ignore]]\nrule = \"pickle-unknown-callable\"\npath = \"models/**\"\nreason = \"our own estimator, reviewed in PR 42\"\n",
    );
    let out = project.run(&["scan", "models", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report = json_report(&out);
    assert_eq!(verdict(&report, "models/ranker.joblib"), "safe");
    assert_eq!(report["summary"]["status"], "clean");
    let findings = findings_for(&report, "models/ranker.joblib");
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "pickle-unknown-callable"),
        "the suppressed finding stays in the report: {report:#}"
    );
    assert!(warnings(&report).is_empty(), "{:?}", warnings(&report));

    // Terminal: hidden and counted; listed with its reason when verbose; never in --quiet.
    let out = project.run(&["scan", "models"]);
    let text = stdout(&out);
    assert!(!text.contains("pickle-unknown-callable"), "{text}");
    assert!(text.contains("· 1 suppressed ·"), "{text}");
    let out = project.run(&["scan", "models", "--verbose"]);
    let text = stdout(&out);
    assert!(text.contains("pickle-unknown-callable"), "{text}");
    assert!(
        text.contains("config: our own estimator, reviewed in PR 42 (mlvet.toml:1)"),
        "{text}"
    );
    let out = project.run(&["scan", "models", "--quiet", "--fail-on", "low"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !stdout(&out).contains("pickle-unknown-callable"),
        "{}",
        stdout(&out)
    );

    // The path narrowing is real: elsewhere the same finding is not ignored.
    project.fixture("ranker.joblib", "incoming/ranker.joblib");
    let out = project.run(&["scan", "incoming", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json_report(&out);
    assert_eq!(verdict(&report, "incoming/ranker.joblib"), "suspicious");
    assert!(
        warnings(&report)
            .iter()
            .any(|w| w.contains("mlvet.toml:1") && w.contains("matched no finding")),
        "unused ignore: {report:#}"
    );
}

#[test]
fn an_ignore_of_the_cve_suppresses_the_pysec_match_through_its_aliases() {
    let project = Project::new().with_torch_advisories();
    project.fixture("requirements.txt", "requirements.txt");
    let out = project.run(&[
        "scan",
        "requirements.txt",
        "--fail-on",
        "medium",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json_report(&out);
    assert_eq!(verdict(&report, "requirements.txt"), "vulnerable");

    project.write(
        "mlvet.toml",
        "fail-on = \"medium\"\n\n[[ignore]]\nadvisory = \"CVE-2022-45907\"\npackage = \"Torch\"\nreason = \"we never parse type lines from untrusted input\"\nexpires = 2999-12-31\n",
    );
    let out = project.run(&["scan", "requirements.txt", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report = json_report(&out);
    assert_eq!(verdict(&report, "requirements.txt"), "safe");
    let findings = findings_for(&report, "requirements.txt");
    assert!(
        findings
            .iter()
            .any(|f| f["advisory"]["id"] == "PYSEC-2022-43015"),
        "{report:#}"
    );
    assert!(warnings(&report).is_empty(), "{:?}", warnings(&report));

    // Narrowed to another package, it does not apply, and says it is unused.
    project.write(
        "mlvet.toml",
        "fail-on = \"medium\"\n\n[[ignore]]\nadvisory = \"CVE-2022-45907\"\npackage = \"numpy\"\nreason = \"r\"\n",
    );
    let out = project.run(&["scan", "requirements.txt", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        warnings(&json_report(&out))
            .iter()
            .any(|w| w.contains("matched no finding"))
    );
}

#[test]
fn an_expired_ignore_stops_applying_and_warns() {
    let project = Project::new().with_torch_advisories();
    project.fixture("requirements.txt", "requirements.txt");
    project.write(
        "mlvet.toml",
        "fail-on = \"medium\"\n\n[[ignore]]\nadvisory = \"PYSEC-2022-43015\"\nreason = \"until the upgrade lands\"\nexpires = 2020-01-31\n",
    );
    let out = project.run(&["scan", "requirements.txt", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json_report(&out);
    assert_eq!(verdict(&report, "requirements.txt"), "vulnerable");
    let expired: Vec<String> = warnings(&report)
        .into_iter()
        .filter(|w| w.contains("expired on 2020-01-31"))
        .collect();
    assert_eq!(expired.len(), 1, "{report:#}");
    assert!(expired[0].starts_with("mlvet.toml:3:"), "{expired:?}");

    // In the terminal report too (not with --quiet, whose summary still counts it).
    let out = project.run(&["scan", "requirements.txt"]);
    let text = stdout(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains(
            "warning: mlvet.toml:3: the ignore of advisory PYSEC-2022-43015 expired on 2020-01-31"
        ),
        "{text}"
    );
    let out = project.run(&["scan", "requirements.txt", "--quiet"]);
    assert!(!stdout(&out).contains("expired"), "{}", stdout(&out));
    assert!(stdout(&out).contains("1 warning"), "{}", stdout(&out));
}

// ---------------------------------------------------------------- VEX

#[test]
fn vex_not_affected_suppresses_a_real_advisory_match() {
    let project = Project::new().with_torch_advisories();
    project.fixture("requirements.txt", "requirements.txt");
    project.fixture(
        "not-affected.openvex.json",
        "security/not-affected.openvex.json",
    );

    let out = project.run(&[
        "scan",
        "requirements.txt",
        "--fail-on",
        "medium",
        "--vex",
        "security/not-affected.openvex.json",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report = json_report(&out);
    assert_eq!(verdict(&report, "requirements.txt"), "safe");
    assert!(!findings_for(&report, "requirements.txt").is_empty());

    // The same from the configuration (paths relative to its folder), from a subdirectory.
    project.write(
        "mlvet.toml",
        "fail-on = \"medium\"\nvex = [\"security/not-affected.openvex.json\"]\n",
    );
    std::fs::create_dir(project.root().join("sub")).expect("mkdir");
    let out = project.run_in(
        Path::new("sub"),
        &["scan", "../requirements.txt", "--verbose"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("vex: not_affected: vulnerable_code_not_in_execute_path"),
        "{text}"
    );
}

#[test]
fn vex_affected_and_superseded_statements_do_not_suppress() {
    let project = Project::new().with_torch_advisories();
    project.fixture("requirements.txt", "requirements.txt");
    for name in ["affected.openvex.json", "superseded.openvex.json"] {
        project.fixture(name, name);
        let out = project.run(&[
            "scan",
            "requirements.txt",
            "--fail-on",
            "medium",
            "--vex",
            name,
            "--format",
            "json",
        ]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert_eq!(
            verdict(&json_report(&out), "requirements.txt"),
            "vulnerable",
            "{name}"
        );
    }
}

#[test]
fn an_invalid_vex_document_is_a_usage_error() {
    let project = Project::new();
    project.fixture("requirements.txt", "requirements.txt");
    project.fixture("invalid.openvex.json", "invalid.openvex.json");
    let out = project.run(&["scan", "requirements.txt", "--vex", "invalid.openvex.json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("invalid.openvex.json: statement 0"), "{err}");
    assert!(err.contains("justification"), "{err}");
    let out = project.run(&["scan", "requirements.txt", "--vex", "absent.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn suppression_never_hides_scan_errors() {
    let project = Project::new();
    project.fixture("ranker.joblib", "ranker.joblib");
    project.write(
        "mlvet.toml",
        "[[ignore]]\nrule = \"pickle-unknown-callable\"\nreason = \"reviewed\"\n",
    );
    let out = project.run(&["scan", "ranker.joblib", "missing.pkl", "--format", "json"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(json_report(&out)["summary"]["status"], "scan-errors");
}

// ---------------------------------------------------------------- noise

/// Without a TTY there is no progress bar and no colour: no escape code on either stream, even
/// when colour is not turned off through the environment.
#[test]
fn no_escape_codes_without_a_tty() {
    let project = Project::new();
    project.fixture("ranker.joblib", "ranker.joblib");
    project.fixture("requirements.txt", "requirements.txt");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["scan", ".", "--verbose"])
        .current_dir(project.root())
        .env("MLVET_DATA_DIR", project.data.path())
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "0")
        .env("TERM", "xterm-256color")
        .output()
        .expect("run mlvet");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(!out.stderr.contains(&0x1b), "stderr: {:?}", stderr(&out));
    assert!(!out.stdout.contains(&0x1b), "stdout: {:?}", stdout(&out));
    assert!(
        out.stderr.is_empty(),
        "nothing but the report: {:?}",
        stderr(&out)
    );
}

/// A scan writes nothing but the requested output: not in the (read-only) scanned tree, not in
/// HOME (no cache, no data directory, no history), not in the current directory.
#[test]
fn a_scan_writes_nothing_anywhere() {
    let project = Project::new();
    project.fixture("ranker.joblib", "tree/ranker.joblib");
    project.fixture("requirements.txt", "tree/requirements.txt");
    project.write("tree/mlvet.toml", "fail-on = \"never\"\n");
    let tree = project.root().join("tree");
    let home = tempfile::tempdir().expect("home");
    let listing = |dir: &Path| -> Vec<(PathBuf, u64)> {
        let mut entries: Vec<(PathBuf, u64)> = walk(dir);
        entries.sort();
        entries
    };
    set_read_only(&tree, true);
    let before = listing(project.root());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["scan", "."])
        .current_dir(&tree)
        .env("HOME", home.path())
        .env_remove("MLVET_DATA_DIR")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_STATE_HOME")
        .env("NO_COLOR", "1")
        .output()
        .expect("run mlvet");
    set_read_only(&tree, false);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("no advisory database"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        listing(project.root()),
        before,
        "the scanned tree is unchanged"
    );
    assert!(
        walk(home.path()).is_empty(),
        "HOME stays empty: {:?}",
        walk(home.path())
    );
}

fn walk(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).expect("read_dir").flatten() {
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            }
            out.push((entry.path(), if meta.is_dir() { 0 } else { meta.len() }));
        }
    }
    out
}

fn set_read_only(dir: &Path, read_only: bool) {
    use std::os::unix::fs::PermissionsExt;
    for (path, _) in walk(dir).into_iter().chain([(dir.to_path_buf(), 0)]) {
        let meta = std::fs::metadata(&path).expect("metadata");
        let mode = if read_only {
            meta.permissions().mode() & !0o222
        } else {
            meta.permissions().mode() | 0o200
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
}
