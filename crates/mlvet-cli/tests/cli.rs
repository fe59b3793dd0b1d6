//! End-to-end tests of the `mlvet` binary: exit codes, report shape, examples, databases.

mod common;

use common::{artifact, findings_for, json_report, mlvet};

#[test]
fn examples_report_the_hidden_payload_and_fail() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet(data.path(), &["scan", "examples", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_report(&out);
    assert_eq!(report["schema_version"], "1.2");
    let checkpoint = artifact(&report, "examples/models/sentiment-classifier.pt");
    assert_eq!(checkpoint["verdict"], "malicious");
    let findings = findings_for(&report, "examples/models/sentiment-classifier.pt");
    let payload = findings
        .iter()
        .find(|f| f["rule"] == "pickle-dangerous-callable")
        .expect("a dangerous-callable finding");
    assert_eq!(payload["severity"], "critical");
    assert_eq!(payload["member"], "archive/data.pkl");
    let text = payload.to_string();
    assert!(text.contains("system"), "the callable is named: {text}");
    assert!(
        text.contains("echo"),
        "the literal argument is shown: {text}"
    );
    assert_eq!(
        artifact(&report, "examples/models/tokenizer-state.pkl")["verdict"],
        "safe"
    );
}

#[test]
fn scanning_without_a_database_says_so_and_never_claims_safety() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet(
        data.path(),
        &["scan", "examples/requirements.txt", "--format", "json"],
    );
    let report = json_report(&out);
    let requirements = artifact(&report, "examples/requirements.txt");
    assert_ne!(requirements["verdict"], "safe");
    assert!(
        report["warnings"]
            .to_string()
            .contains("no advisory database")
    );
    assert!(
        findings_for(&report, "examples/requirements.txt")
            .iter()
            .any(|f| f["rule"] == "dependency-no-database")
    );
}

#[test]
fn imported_advisories_match_pinned_ml_dependencies() {
    let data = tempfile::tempdir().expect("tempdir");
    let import = mlvet(data.path(), &["db", "import", "examples/advisories"]);
    assert_eq!(
        import.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&import.stderr)
    );
    let out = mlvet(
        data.path(),
        &["scan", "examples/requirements.txt", "--format", "json"],
    );
    let report = json_report(&out);
    assert_eq!(
        artifact(&report, "examples/requirements.txt")["verdict"],
        "vulnerable"
    );
    let vulns: Vec<_> = findings_for(&report, "examples/requirements.txt")
        .into_iter()
        .filter(|f| f["rule"] == "dependency-vulnerable")
        .collect();
    let torch = vulns
        .iter()
        .find(|f| f["package"]["name"] == "torch")
        .expect("torch finding");
    assert_eq!(torch["package"]["version"], "2.5.1");
    assert_eq!(torch["package"]["ecosystem"], "PyPI");
    assert_eq!(torch["package"]["ml"], true);
    assert_eq!(torch["package"]["source"]["line"], 2);
    assert_eq!(torch["advisory"]["id"], "EXAMPLE-2025-0001");
    assert_eq!(torch["advisory"]["fixed"], "2.6.0");
    assert_eq!(torch["advisory"]["aliases"][0], "CVE-2025-32434");
    assert_eq!(torch["severity"], "critical");
    assert!(vulns.iter().any(|f| f["package"]["name"] == "transformers"));
    assert!(!vulns.iter().any(|f| f["package"]["name"] == "scikit-learn"));

    let status = mlvet(data.path(), &["db", "status"]);
    assert_eq!(status.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&status.stdout).contains('2'));
}

#[test]
fn fail_on_never_exits_clean_but_errors_still_fail() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet(
        data.path(),
        &["scan", "examples/models", "--fail-on", "never"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = mlvet(data.path(), &["scan", "no/such/path", "--fail-on", "never"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn usage_errors_exit_2() {
    let data = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        mlvet(data.path(), &["scan", "--fail-on", "sometimes"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(mlvet(data.path(), &["frobnicate"]).status.code(), Some(2));
}

#[test]
fn terminal_report_names_the_payload_and_has_no_colour_when_piped() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet(data.path(), &["scan", "examples/models"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("malicious"), "{text}");
    assert!(text.contains("sentiment-classifier.pt"), "{text}");
    assert!(text.contains("pickle-dangerous-callable"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "no escape codes when piped: {text}"
    );
}

#[test]
fn output_file_receives_the_report() {
    let data = tempfile::tempdir().expect("tempdir");
    let target = data.path().join("report.json");
    let target_str = target.to_str().expect("utf-8 path");
    let out = mlvet(
        data.path(),
        &[
            "scan",
            "examples/models",
            "--format",
            "json",
            "--output",
            target_str,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&target).expect("report written")).expect("json");
    assert_eq!(report["schema_version"], "1.2");
}

#[test]
fn advisories_ml_lists_newest_first_and_filters_by_package() {
    let data = tempfile::tempdir().expect("tempdir");
    let import = mlvet(data.path(), &["db", "import", "-q", "examples/advisories"]);
    assert_eq!(
        import.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&import.stderr)
    );

    let out = mlvet(data.path(), &["advisories", "--ml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let torch = text
        .find("EXAMPLE-2025-0001")
        .expect("torch advisory listed");
    let transformers = text
        .find("EXAMPLE-2024-0002")
        .expect("transformers advisory listed");
    assert!(torch < transformers, "newest first:\n{text}");

    let out = mlvet(
        data.path(),
        &[
            "advisories",
            "--ml",
            "--package",
            "Transformers",
            "--format",
            "json",
        ],
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let ids: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(ids, ["EXAMPLE-2024-0002"]);
}

#[test]
fn db_status_reports_counts_and_a_missing_database_is_an_error() {
    let data = tempfile::tempdir().expect("tempdir");
    let missing = mlvet(data.path(), &["db", "status"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no advisory database"));

    mlvet(data.path(), &["db", "import", "-q", "examples/advisories"]);
    let out = mlvet(data.path(), &["db", "status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(status["records"], 2);
    assert_eq!(status["ecosystems"][0]["ecosystem"], "PyPI");
    assert_eq!(status["ecosystems"][0]["records"], 2);
}

#[test]
fn an_unreachable_advisory_source_fails_loudly() {
    let data = tempfile::tempdir().expect("tempdir");
    // Port 9 on loopback: nothing listens there, so the connection is refused at once.
    let out = mlvet(
        data.path(),
        &["db", "update", "-q", "--url", "http://127.0.0.1:9"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NOT updated"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_user_policy_allows_audited_classes_and_denies_others() {
    let data = tempfile::tempdir().expect("tempdir");
    // protocol 4: STACK_GLOBAL('mycompany.models', 'Ranker'), EMPTY_TUPLE, NEWOBJ, STOP
    let mut pickle = b"\x80\x04\x8c\x10mycompany.models\x8c\x06Ranker\x93)\x81.".to_vec();
    let model = data.path().join("ranker.pkl");
    std::fs::write(&model, &pickle).expect("write model");
    let policy = data.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[allow]]\nmodule = \"mycompany.models\"\nnames = [\"Ranker\"]\nreason = \"audited\"\n\n\
         [[deny]]\nmodule = \"mycompany.admin\"\nnames = [\"*\"]\nseverity = \"critical\"\n\
         category = \"process\"\nreason = \"never in a model\"\n",
    )
    .expect("write policy");
    let model_arg = model.to_str().expect("utf-8");
    let policy_arg = policy.to_str().expect("utf-8");

    let out = mlvet(
        data.path(),
        &["scan", model_arg, "--format", "json", "--no-deps"],
    );
    assert_eq!(json_report(&out)["artifacts"][0]["verdict"], "suspicious");
    let out = mlvet(
        data.path(),
        &[
            "scan",
            model_arg,
            "--format",
            "json",
            "--no-deps",
            "--policy",
            policy_arg,
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_report(&out)["artifacts"][0]["verdict"], "safe");

    pickle = b"\x80\x04\x8c\x0fmycompany.admin\x8c\x05reset\x93)R.".to_vec();
    std::fs::write(&model, &pickle).expect("write model");
    let out = mlvet(
        data.path(),
        &[
            "scan",
            model_arg,
            "--format",
            "json",
            "--no-deps",
            "--policy",
            policy_arg,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_report(&out)["artifacts"][0]["verdict"], "malicious");

    std::fs::write(&policy, "[[allow]]\nmodule = 3\n").expect("write policy");
    let out = mlvet(data.path(), &["scan", model_arg, "--policy", policy_arg]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "an invalid policy is an error, not a silent default"
    );
}

#[test]
fn a_named_target_python_leaves_out_requirements_whose_markers_exclude_it() {
    let data = tempfile::tempdir().expect("tempdir");
    mlvet(data.path(), &["db", "import", "-q", "examples/advisories"]);
    let requirements = data.path().join("requirements.txt");
    std::fs::write(
        &requirements,
        "torch==2.0.0 ; python_version < \"3.8\"\ntransformers==4.30.0\n",
    )
    .expect("write");
    let arg = requirements.to_str().expect("utf-8");
    let vulnerable = |args: &[&str]| -> Vec<String> {
        let report = json_report(&mlvet(data.path(), args));
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["rule"] == "dependency-vulnerable")
            .map(|f| f["package"]["name"].as_str().expect("name").to_string())
            .collect()
    };
    // Markers are kept, not evaluated against the machine running mlvet...
    assert_eq!(
        vulnerable(&["scan", arg, "--format", "json"]),
        ["torch", "transformers"]
    );
    // ...unless the user names the target environment.
    assert_eq!(
        vulnerable(&["scan", arg, "--format", "json", "--python-version", "3.11"]),
        ["transformers"]
    );
    let report = json_report(&mlvet(data.path(), &["scan", arg, "--format", "json"]));
    let torch = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["package"]["name"] == "torch")
        .expect("torch");
    assert_eq!(torch["package"]["markers"], "python_version < \"3.8\"");
}
