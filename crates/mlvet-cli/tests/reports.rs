//! End-to-end report tests: `mlvet scan --format sarif|cyclonedx|markdown|json` on a project with
//! vulnerable pins and lockfile edges plus malicious pickles inside nested archives, checked
//! against the published SARIF 2.1.0 and CycloneDX 1.6 schemas, for exit codes, locations,
//! stable fingerprints and byte-identical output across runs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use sha2::{Digest, Sha256};

const PROJECT: &str = "tests/fixtures/reports/project";
const SEVEN_ZIP: &str = "tests/fixtures/models/malicious/sevenzip_torch_payload.7z";
const TAR_GZ: &str = "tests/fixtures/models/malicious/tar_gz_pickle_payload.tar.gz";
const SAFE_NPY: &str = "tests/fixtures/models/safe/numpy_float32.npy";

/// A data dir with the example advisories and the real PyPA record for torch imported.
fn advisory_db() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = common::mlvet(
        dir.path(),
        &[
            "db",
            "import",
            "-q",
            "examples/advisories",
            "../shared/advisories/pypa-advisory-database/vulns/torch",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Runs `mlvet scan --format FORMAT` over the fixtures with extra arguments and environment.
fn scan(data_dir: &Path, format: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mlvet"));
    command
        .args([
            "scan", "--format", format, PROJECT, SEVEN_ZIP, TAR_GZ, SAFE_NPY,
        ])
        .args(extra)
        .current_dir(common::repo_root())
        .env("MLVET_DATA_DIR", data_dir)
        .env("NO_COLOR", "1")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("MLVET_OSV_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run mlvet")
}

fn json(out: &Output) -> Value {
    common::json_report(out)
}

fn shared_schema_text(name: &str) -> String {
    let path: PathBuf = common::repo_root().join("../shared/schemas").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn validation_errors(validator: &jsonschema::Validator, document: &Value) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// SARIF 2.1.0 schema check. The published schema's `language` pattern ends in an unmatched
/// `]` (a literal in ECMA-262, an error in Rust's regex engine): it is escaped first.
fn assert_valid_sarif(document: &Value) {
    let text = shared_schema_text("sarif-2.1.0.schema.json").replace("{2}]?$", "{2}\\\\]?$");
    let schema: Value = serde_json::from_str(&text).expect("schema JSON");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("SARIF schema compiles");
    let errors = validation_errors(&validator, document);
    assert!(errors.is_empty(), "invalid SARIF: {errors:#?}");
}

/// CycloneDX 1.6 schema check, with the SPDX and JSF schemas it references registered offline.
fn assert_valid_cyclonedx(document: &Value) {
    let parse = |name: &str| -> Value {
        serde_json::from_str(&shared_schema_text(name)).expect("schema JSON")
    };
    let registry = jsonschema::Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.schema.json",
            parse("spdx.schema.json"),
        )
        .and_then(|r| {
            r.add(
                "http://cyclonedx.org/schema/jsf-0.82.schema.json",
                parse("jsf-0.82.schema.json"),
            )
        })
        .and_then(|r| r.prepare())
        .expect("registry");
    let schema = parse("bom-1.6.schema.json");
    let validator = jsonschema::options()
        .with_registry(&registry)
        .should_validate_formats(true)
        .build(&schema)
        .expect("CycloneDX schema compiles");
    let errors = validation_errors(&validator, document);
    assert!(errors.is_empty(), "invalid CycloneDX: {errors:#?}");
}

fn sha256_of(relative: &str) -> String {
    let bytes = std::fs::read(common::repo_root().join(relative)).expect("fixture");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn sarif_is_valid_with_rules_locations_and_exit_code() {
    let db = advisory_db();
    let out = scan(db.path(), "sarif", &[], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = json(&out);
    assert_valid_sarif(&log);
    let run = &log["runs"][0];
    assert_eq!(run["invocations"][0]["exitCode"], 1);
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(rules.contains(&"pickle-dangerous-callable"), "{rules:?}");
    assert!(rules.contains(&"dependency-vulnerable"), "{rules:?}");
    let results = run["results"].as_array().expect("results");

    // The malicious pickle inside the 7z: the 7z on disk, the member as a logical location.
    let nested = results
        .iter()
        .find(|r| {
            r["ruleId"] == "pickle-dangerous-callable"
                && r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == SEVEN_ZIP
        })
        .expect("7z result");
    assert_eq!(nested["level"], "error");
    assert_eq!(
        nested["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"],
        "%SRCROOT%"
    );
    assert_eq!(
        nested["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        format!("{SEVEN_ZIP} ▸ archive/data.pkl")
    );
    let tar = results
        .iter()
        .find(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == TAR_GZ)
        .expect("tar.gz result");
    assert_eq!(
        tar["properties"]["mlvet/members"],
        serde_json::json!(["<gzip>", "model/model.pkl"])
    );

    // The vulnerable pin: the manifest line.
    let pin = results
        .iter()
        .find(|r| {
            r["ruleId"] == "dependency-vulnerable"
                && r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    == format!("{PROJECT}/requirements.txt")
                && r["properties"]["mlvet/advisory"]["id"] == "PYSEC-2022-43015"
        })
        .expect("torch pin result");
    assert_eq!(
        pin["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
}

#[test]
fn sarif_fingerprints_and_bytes_are_stable_across_runs() {
    let db = advisory_db();
    let first = scan(db.path(), "sarif", &[], &[]);
    let second = scan(db.path(), "sarif", &[], &[]);
    assert_eq!(
        first.stdout, second.stdout,
        "SARIF output differs between runs"
    );
    let fingerprints: Vec<String> = json(&first)["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["partialFingerprints"]["mlvetFinding/v1"].to_string())
        .collect();
    let unique: std::collections::BTreeSet<&String> = fingerprints.iter().collect();
    assert_eq!(
        unique.len(),
        fingerprints.len(),
        "fingerprints collide: {fingerprints:?}"
    );
}

#[test]
fn cyclonedx_is_a_valid_ai_bom_with_hashes_graph_and_vulnerabilities() {
    let db = advisory_db();
    let out = scan(db.path(), "cyclonedx", &[], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bom = json(&out);
    assert_valid_cyclonedx(&bom);
    assert!(bom["metadata"].get("timestamp").is_none());
    let components = bom["components"].as_array().expect("components");
    let by_ref = |r: &str| {
        components
            .iter()
            .find(|c| c["bom-ref"] == r)
            .unwrap_or_else(|| panic!("no component {r}"))
    };

    // Models are hashed by default for CycloneDX, and the hash is the file's.
    let seven_zip = by_ref(&format!("model:{SEVEN_ZIP}"));
    assert_eq!(seven_zip["type"], "machine-learning-model");
    assert_eq!(seven_zip["hashes"][0]["content"], sha256_of(SEVEN_ZIP));
    assert!(
        seven_zip["properties"]
            .as_array()
            .expect("properties")
            .iter()
            .any(|p| p["name"] == "mlvet:verdict" && p["value"] == "malicious")
    );
    assert_eq!(
        by_ref(&format!("model:{SAFE_NPY}"))["hashes"][0]["content"],
        sha256_of(SAFE_NPY)
    );

    let torch_pin = format!("pkg:pypi/torch@1.13.0|{PROJECT}/requirements.txt:2");
    assert_eq!(by_ref(&torch_pin)["purl"], "pkg:pypi/torch@1.13.0");
    assert_eq!(
        by_ref(&format!("pkg:pypi/accelerate|{PROJECT}/requirements.txt:5"))["scope"],
        "optional"
    );
    let locked_torch = format!("pkg:pypi/torch@2.1.0|{PROJECT}/uv.lock:27");
    let node = bom["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .find(|d| d["ref"] == locked_torch.as_str())
        .expect("torch node");
    assert_eq!(
        node["dependsOn"],
        serde_json::json!([
            format!("pkg:pypi/filelock@3.13.1|{PROJECT}/uv.lock:6"),
            format!("pkg:pypi/typing-extensions@4.9.0|{PROJECT}/uv.lock:45"),
        ])
    );

    let vulnerabilities = bom["vulnerabilities"].as_array().expect("vulnerabilities");
    let pysec = vulnerabilities
        .iter()
        .find(|v| v["id"] == "PYSEC-2022-43015")
        .expect("PYSEC-2022-43015");
    assert_eq!(pysec["affects"][0]["ref"], torch_pin.as_str());
    assert_eq!(pysec["affects"][0]["versions"][0]["version"], "1.13.0");
    let example = vulnerabilities
        .iter()
        .find(|v| v["id"] == "EXAMPLE-2025-0001")
        .expect("EXAMPLE-2025-0001");
    let affected: Vec<&str> = example["affects"]
        .as_array()
        .expect("affects")
        .iter()
        .filter_map(|a| a["ref"].as_str())
        .collect();
    assert!(affected.contains(&torch_pin.as_str()) && affected.contains(&locked_torch.as_str()));
}

#[test]
fn cyclonedx_is_byte_identical_and_honours_source_date_epoch() {
    let db = advisory_db();
    let first = scan(db.path(), "cyclonedx", &[], &[]);
    let second = scan(db.path(), "cyclonedx", &[], &[]);
    assert_eq!(first.stdout, second.stdout);
    let dated = scan(
        db.path(),
        "cyclonedx",
        &[],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_eq!(
        json(&dated)["metadata"]["timestamp"],
        "2023-11-14T22:13:20Z"
    );
    let bad = scan(
        db.path(),
        "cyclonedx",
        &[],
        &[("SOURCE_DATE_EPOCH", "soon")],
    );
    assert_eq!(
        bad.status.code(),
        Some(3),
        "an unusable SOURCE_DATE_EPOCH is an error"
    );
}

#[test]
fn markdown_summarises_for_a_pull_request() {
    let db = advisory_db();
    let out = scan(db.path(), "markdown", &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let md = String::from_utf8(out.stdout).expect("utf-8");
    assert!(md.starts_with("### mlvet scan: failed\n"), "{md}");
    assert!(md.contains("**2** malicious"), "{md}");
    assert!(
        md.contains(&format!("` {SEVEN_ZIP} ▸ archive/data.pkl `")),
        "{md}"
    );
    assert!(md.contains("<details><summary>"), "{md}");
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );

    let clean = common::mlvet(db.path(), &["scan", "--format", "markdown", SAFE_NPY]);
    assert_eq!(clean.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&clean.stdout).contains("### mlvet scan: passed"));
}

#[test]
fn json_1_1_lists_packages_with_edges_and_models_hashed_on_request() {
    let db = advisory_db();
    let plain = json(&scan(db.path(), "json", &[], &[]));
    assert_eq!(plain["schema_version"], "1.2");
    let models = plain["models"].as_array().expect("models");
    assert_eq!(models.len(), 3, "{models:#?}");
    assert!(
        models.iter().all(|m| m["sha256"].is_null()),
        "no hashing without --hash"
    );
    let packages = plain["packages"].as_array().expect("packages");
    assert_eq!(packages.len(), 9);
    let transformers = packages
        .iter()
        .find(|p| {
            p["name"] == "transformers" && p["source"]["file"] == format!("{PROJECT}/uv.lock")
        })
        .expect("locked transformers");
    assert_eq!(transformers["depends_on"].as_array().map(Vec::len), Some(2));
    assert_eq!(transformers["ml"], true);
    // uv.lock's own project entry (`ml-service`, not a package) requires torch and
    // transformers: direct; numpy comes through transformers only. Other files do not say.
    let locked = |name: &str| {
        packages
            .iter()
            .find(|p| p["name"] == name && p["source"]["file"] == format!("{PROJECT}/uv.lock"))
            .unwrap_or_else(|| panic!("locked {name}"))
    };
    assert_eq!(locked("transformers")["direct"], true);
    assert_eq!(locked("torch")["direct"], true);
    assert_eq!(locked("numpy")["direct"], false);
    assert!(packages.iter().all(|p| p["name"] != "ml-service"));
    assert!(
        packages
            .iter()
            .filter(|p| p["source"]["file"] != format!("{PROJECT}/uv.lock"))
            .all(|p| p["direct"].is_null())
    );
    assert_eq!(plain["summary"]["suppressed"], 0);
    let lock = common::artifact(&plain, &format!("{PROJECT}/uv.lock"));
    assert_eq!(lock["kind"], "dependencies");

    let hashed = json(&scan(db.path(), "json", &["--hash"], &[]));
    let seven_zip = hashed["models"]
        .as_array()
        .expect("models")
        .iter()
        .find(|m| m["path"] == SEVEN_ZIP)
        .expect("7z model");
    assert_eq!(seven_zip["sha256"], sha256_of(SEVEN_ZIP));
    assert_eq!(seven_zip["verdict"], "malicious");
}

#[test]
fn reports_without_an_advisory_database_stay_valid_and_incomplete() {
    let empty = tempfile::tempdir().expect("tempdir");
    let out = scan(empty.path(), "sarif", &[], &[]);
    let log = json(&out);
    assert_valid_sarif(&log);
    let notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .expect("notifications");
    assert!(notes.iter().any(|n| {
        n["message"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("no advisory database"))
    }));
    let bom = json(&scan(empty.path(), "cyclonedx", &[], &[]));
    assert_valid_cyclonedx(&bom);
    assert!(bom.get("vulnerabilities").is_none());
}
