//! End-to-end tests of safetensors validation, polyglots, `.pth` startup hooks and Hugging Face
//! model folders: the built binary on the fixtures of `scripts/gen_formats_folders_fixtures.py`
//! (made with the real safetensors, numpy, huggingface_hub, setuptools, coverage and pytest-cov),
//! from the command line to the JSON report.

mod common;

use std::time::{Duration, Instant};

use common::{artifact, findings_for, json_report, mlvet, mlvet_within};

const FIXTURES: &str = "tests/fixtures/formats_folders";

fn scan_json(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let data = tempfile::tempdir().expect("tempdir");
    let mut full = vec!["scan", "--no-deps", "--format", "json"];
    full.extend_from_slice(args);
    let out = mlvet(data.path(), &full);
    (out.status.code(), json_report(&out))
}

fn rules_of(report: &serde_json::Value, path: &str) -> Vec<String> {
    findings_for(report, path)
        .iter()
        .filter_map(|f| f["rule"].as_str().map(str::to_string))
        .collect()
}

/// Every labelled fixture gets its verdict and its rules when the whole tree is scanned.
#[test]
fn every_labelled_fixture_gets_its_verdict_and_rules() {
    let labels = std::fs::read_to_string(common::repo_root().join(FIXTURES).join("labels.tsv"))
        .expect("labels.tsv");
    let (code, report) = scan_json(&[FIXTURES]);
    assert_eq!(code, Some(1), "malicious fixtures fail the scan");
    let mut checked = 0;
    for line in labels.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [path, verdict, rules, ..] = fields.as_slice() else {
            panic!("bad label line {line}");
        };
        let path = format!("{FIXTURES}/{path}");
        let found = rules_of(&report, &path);
        if *verdict == "safe" && *rules == "-" {
            // Safe files may be reported (with no findings) or left out (paths-only .pth).
            if let Some(a) = report["artifacts"]
                .as_array()
                .expect("artifacts")
                .iter()
                .find(|a| a["path"] == path)
            {
                assert_eq!(a["verdict"], "safe", "{path}: {found:?}");
            }
            assert!(found.is_empty(), "{path}: {found:?}");
        } else {
            assert_eq!(
                artifact(&report, &path)["verdict"],
                *verdict,
                "{path}: {found:?}"
            );
            for rule in rules.split(',').filter(|r| *r != "-") {
                assert!(
                    found.iter().any(|f| f == rule),
                    "{path}: {rule} not in {found:?}"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} labels");
}

#[test]
fn a_valid_safetensors_file_is_safe_and_exits_zero() {
    let path = format!("{FIXTURES}/safetensors/benign.safetensors");
    let (code, report) = scan_json(&[&path]);
    assert_eq!(code, Some(0));
    let a = artifact(&report, &path);
    assert_eq!(a["format"], "safetensors");
    assert_eq!(a["verdict"], "safe");
    assert_eq!(a["fully_inspected"], true);
}

#[test]
fn invalid_headers_name_the_problem_and_the_tensor() {
    let path = format!("{FIXTURES}/safetensors/overlap.safetensors");
    let (code, report) = scan_json(&[&path, "--fail-on", "medium"]);
    assert_eq!(code, Some(1));
    let findings = findings_for(&report, &path);
    let overlap = findings
        .iter()
        .find(|f| {
            f["evidence"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["value"] == "overlap"))
        })
        .expect("an overlap finding");
    assert_eq!(overlap["rule"], "safetensors-invalid-header");
    assert!(
        overlap["message"]
            .as_str()
            .is_some_and(|m| m.contains("layer.bias")),
        "{overlap:#}"
    );
    let path = format!("{FIXTURES}/safetensors/not_json.safetensors");
    let (_, report) = scan_json(&[&path]);
    let finding = findings_for(&report, &path)[0];
    assert!(
        finding["offset"].as_u64().is_some_and(|o| o >= 8),
        "{finding:#}"
    );
    // Below the default threshold: exit 0, yet never called safe.
    let (code, report) = scan_json(&[&path]);
    assert_eq!(code, Some(0));
    assert_eq!(artifact(&report, &path)["verdict"], "suspicious");
}

#[test]
fn polyglot_readings_are_located_as_members() {
    let path = format!("{FIXTURES}/polyglot/pickle_with_zip.pkl");
    let (code, report) = scan_json(&[&path]);
    assert_eq!(code, Some(1));
    assert_eq!(artifact(&report, &path)["format"], "pickle");
    let dangerous = findings_for(&report, &path)
        .into_iter()
        .find(|f| f["rule"] == "pickle-dangerous-callable")
        .expect("the zip reading's payload");
    assert_eq!(
        dangerous["members"],
        serde_json::json!(["<as zip>", "archive/data.pkl"])
    );
    let path = format!("{FIXTURES}/polyglot/safetensors_and_pickle.safetensors");
    let (_, report) = scan_json(&[&path]);
    assert!(
        findings_for(&report, &path)
            .iter()
            .any(|f| f["rule"] == "container-polyglot"),
        "{report:#}"
    );
}

#[test]
fn pth_hooks_are_classified_with_line_numbers() {
    let site = format!("{FIXTURES}/venv/lib/python3.11/site-packages");
    let (code, report) = scan_json(&[&site]);
    assert_eq!(code, Some(1));
    let hidden = format!("{site}/hidden_line.pth");
    let finding = findings_for(&report, &hidden)[0];
    assert_eq!(finding["rule"], "pth-startup-code");
    assert_eq!(finding["verdict"], "malicious");
    assert_eq!(finding["line"], 2);
    for known in [
        "distutils-precedence.pth",
        "a1_coverage.pth",
        "pytest-cov.pth",
        "_virtualenv.pth",
        "__editable__.mlvet_demo-0.1.pth",
        "google_cloud_demo-1.0-py3.11-nspkg.pth",
    ] {
        let path = format!("{site}/{known}");
        assert_eq!(artifact(&report, &path)["verdict"], "safe", "{known}");
        assert_eq!(artifact(&report, &path)["format"], "pth");
    }
    // The same files outside a site directory are not startup hooks.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        common::repo_root().join(&hidden),
        dir.path().join("hidden_line.pth"),
    )
    .expect("copy");
    let shown = dir.path().to_string_lossy().into_owned();
    let (_, report) = scan_json(&[&shown]);
    assert!(
        !report.to_string().contains("pth-startup-code"),
        "{report:#}"
    );
}

#[test]
fn a_hub_snapshot_is_scanned_through_its_blob_links() {
    let repo = format!("{FIXTURES}/hub/models--mlvet--demo");
    let snapshot = format!("{repo}/snapshots/4f1d5b0c6a2e9d8f7b3c1a0e5d4c3b2a19081726");
    for input in [&repo, &snapshot] {
        let (code, report) = scan_json(&[input]);
        assert_eq!(code, Some(1), "the other-repository auto_map is high");
        let weights = format!("{snapshot}/model.safetensors");
        assert_eq!(artifact(&report, &weights)["verdict"], "safe");
        assert_eq!(artifact(&report, &weights)["format"], "safetensors");
        let pickle = format!("{snapshot}/pytorch_model.bin");
        assert_eq!(
            rules_of(&report, &pickle),
            vec!["hf-pickle-beside-safetensors"]
        );
        let config = format!("{snapshot}/config.json");
        let remote = findings_for(&report, &config);
        // Two same-repository entries (hf-remote-code), the other-repository entry
        // (hf-cross-repo-code) and that repository listed as a source (artifact-source-policy).
        assert_eq!(remote.len(), 4, "{remote:#?}");
        let other = remote
            .iter()
            .find(|f| f["severity"] == "high")
            .expect("the other repository entry");
        assert_eq!(other["rule"], "hf-cross-repo-code");
        assert!(
            other["message"]
                .as_str()
                .is_some_and(|m| m.contains("someone-else/shared-code")),
            "{other:#}"
        );
        // Blobs reached through snapshot links are not reported twice under their hash names.
        assert!(
            report["artifacts"]
                .as_array()
                .expect("artifacts")
                .iter()
                .all(|a| !a["path"].as_str().unwrap_or("").contains("/blobs/")),
            "{report:#}"
        );
    }
}

#[test]
fn source_checkouts_are_not_model_folders() {
    let (code, report) = scan_json(&[&format!("{FIXTURES}/checkout")]);
    assert_eq!(code, Some(0), "{report:#}");
    assert!(!report.to_string().contains("hf-model-folder-python"));
}

#[test]
fn links_out_of_a_snapshot_are_still_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snapshot = dir
        .path()
        .join("models--a--b/snapshots/0123456789abcdef0123456789abcdef01234567");
    std::fs::create_dir_all(&snapshot).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("models--a--b/blobs")).expect("mkdir");
    let outside = dir.path().join("secret.pkl");
    std::fs::write(&outside, b"cos\nsystem\n(S'echo pwned'\ntR.").expect("write");
    std::os::unix::fs::symlink(&outside, snapshot.join("model.pkl")).expect("symlink");
    let shown = snapshot.to_string_lossy().into_owned();
    let (code, report) = scan_json(&[&shown]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["artifacts"].as_array().map(Vec::len), Some(0));
}

#[test]
fn a_sparse_10_gib_safetensors_file_is_checked_from_its_header_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.safetensors");
    let body: u64 = 10 * 1024 * 1024 * 1024;
    let header = format!(
        r#"{{"__metadata__":{{"format":"pt"}},"w":{{"dtype":"BF16","shape":[{},1024],"data_offsets":[0,{body}]}}}}"#,
        body / 2048
    );
    let mut text = header.into_bytes();
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut bytes = (text.len() as u64).to_le_bytes().to_vec();
    bytes.extend(&text);
    std::fs::write(&path, &bytes).expect("write");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_len(bytes.len() as u64 + body).expect("sparse");
    let shown = path.to_string_lossy().into_owned();
    let data = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let out = mlvet_within(
        data.path(),
        &["scan", "--no-deps", "--format", "json", &shown],
        Duration::from_secs(60),
    );
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(0));
    let report = json_report(&out);
    assert_eq!(artifact(&report, &shown)["verdict"], "safe");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}

#[test]
fn the_new_rules_are_listed() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet(data.path(), &["rules"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for id in [
        "safetensors-invalid-header",
        "safetensors-header-ambiguity",
        "container-polyglot",
        "container-executable-model",
        "pth-startup-code",
        "hf-remote-code",
        "hf-model-folder-python",
        "hf-pickle-beside-safetensors",
    ] {
        assert!(text.contains(id), "{id} missing from `mlvet rules`");
    }
}
