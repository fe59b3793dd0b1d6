//! Keras (`.keras` zip, legacy `.h5`) and HDF5, end to end through the binary: verdicts, rule ids,
//! locations inside the config, exit codes. Fixtures: `scripts/gen_keras_fixtures.py` (real
//! keras 3.15.1 / h5py 3.16.0 / torch 2.15.0); hostile variants are made here at test time.

mod common;

use std::io::Write;

use common::{artifact, findings_for, json_report, mlvet};

const DIR: &str = "tests/fixtures/keras";

struct Scanned {
    code: Option<i32>,
    artifact: serde_json::Value,
    findings: Vec<serde_json::Value>,
}

fn scan_path(path: &str) -> Scanned {
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet(data.path(), &["scan", path, "--format", "json"]);
    let report = json_report(&out);
    Scanned {
        code: out.status.code(),
        artifact: artifact(&report, path).clone(),
        findings: findings_for(&report, path).into_iter().cloned().collect(),
    }
}

fn scan(name: &str) -> Scanned {
    scan_path(&format!("{DIR}/{name}"))
}

fn rules(findings: &[serde_json::Value]) -> Vec<String> {
    let mut ids: Vec<String> = findings
        .iter()
        .filter_map(|f| f["rule"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn find<'a>(findings: &'a [serde_json::Value], rule: &str) -> &'a serde_json::Value {
    findings
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} finding in {findings:#?}"))
}

fn evidence(finding: &serde_json::Value, label: &str) -> String {
    finding["evidence"]
        .as_array()
        .and_then(|items| items.iter().find(|e| e["label"] == label))
        .and_then(|e| e["value"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn every_fixture_gets_its_labelled_verdict() {
    let labels = std::fs::read_to_string(common::repo_root().join(DIR).join("labels.tsv"))
        .expect("labels.tsv");
    let mut checked = 0;
    for line in labels.lines().skip(1) {
        let mut fields = line.split('\t');
        let (Some(name), Some(expected)) = (fields.next(), fields.next()) else {
            continue;
        };
        let s = scan(name);
        assert_eq!(s.artifact["verdict"], expected, "{name}: {:#?}", s.findings);
        let expected_code = if expected == "malicious" { 1 } else { 0 };
        assert_eq!(s.code, Some(expected_code), "{name}");
        if expected == "safe" {
            assert!(s.findings.is_empty(), "{name}: {:#?}", s.findings);
            assert_eq!(s.artifact["fully_inspected"], true, "{name}");
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} labelled fixtures");
}

#[test]
fn formats_are_named_by_content() {
    for (name, format) in [
        ("sequential.keras", "keras"),
        ("torch_wrapper.keras", "keras"),
        ("sequential.h5", "keras-h5"),
        ("lambda.h5", "keras-h5"),
        ("plain_earliest.h5", "hdf5"),
        ("dense_attributes.h5", "hdf5"),
        ("userblock.h5", "hdf5"),
    ] {
        assert_eq!(scan(name).artifact["format"], format, "{name}");
    }
}

#[test]
fn cve_2025_1550_module_payloads_are_malicious_at_the_layer() {
    for (name, callable) in [
        ("cve_2025_1550_os_system.keras", "os.system"),
        ("cve_2025_1550_popen.keras", "subprocess.Popen"),
        ("cve_2025_8747_get_file.keras", "keras.utils.get_file"),
    ] {
        let s = scan(name);
        assert_eq!(s.artifact["verdict"], "malicious", "{name}");
        let f = find(&s.findings, "keras-untrusted-callable");
        assert_eq!(f["verdict"], "malicious");
        assert_eq!(evidence(f, "callable"), callable, "{name}");
        // The injected layer is the fourth of the Sequential's layers.
        assert_eq!(
            f["members"],
            serde_json::json!(["config.json", "/config/layers/3"])
        );
    }
}

#[test]
fn h5_model_config_attribute_is_analysed() {
    let s = scan("cve_2025_1550_os_system.h5");
    let f = find(&s.findings, "keras-untrusted-callable");
    assert_eq!(f["verdict"], "malicious");
    assert_eq!(evidence(f, "callable"), "os.system");
    assert_eq!(
        f["members"],
        serde_json::json!(["@model_config", "/config/layers/3"])
    );
}

#[test]
fn lambda_bytecode_is_decoded_never_run() {
    let s = scan("lambda_os_system.h5");
    let f = find(&s.findings, "keras-lambda-layer");
    assert_eq!(f["verdict"], "malicious");
    assert_eq!(
        f["members"],
        serde_json::json!(["@model_config", "/config/layers/2/config/function"])
    );
    assert!(evidence(f, "names").contains("system"), "{f:#}");
    assert!(evidence(f, "strings").contains("echo pwned"), "{f:#}");
    assert!(evidence(f, "loader").contains("CVE-2025-9905"), "{f:#}");

    let s = scan("lambda.keras");
    assert_eq!(s.artifact["verdict"], "suspicious");
    assert_eq!(rules(&s.findings), ["keras-lambda-layer"]);
    let f = find(&s.findings, "keras-lambda-layer");
    assert_eq!(f["verdict"], "suspicious");
    assert!(evidence(f, "loader").contains("safe_mode"), "{f:#}");
    assert_eq!(evidence(f, "names"), "harmless");
}

#[test]
fn custom_and_unknown_objects_are_suspicious() {
    let s = scan("custom_object.keras");
    let f = find(&s.findings, "keras-custom-object");
    assert_eq!(evidence(f, "registered_name"), "mlvet_fixture>Scale");
    assert_eq!(
        f["members"],
        serde_json::json!(["config.json", "/config/layers/1"])
    );

    let s = scan("unknown_module.keras");
    let f = find(&s.findings, "keras-untrusted-callable");
    assert_eq!(f["verdict"], "suspicious");
    assert_eq!(evidence(f, "callable"), "acme_layers.blocks.Residual");
}

#[test]
fn torch_module_wrapper_payload_is_scanned_as_a_torch_file() {
    let s = scan("torch_wrapper.keras");
    assert_eq!(s.artifact["verdict"], "suspicious");
    assert_eq!(rules(&s.findings), ["keras-embedded-torch-module"]);

    let s = scan("torch_wrapper_malicious.keras");
    assert_eq!(s.artifact["verdict"], "malicious");
    assert_eq!(s.code, Some(1));
    let f = find(&s.findings, "pickle-dangerous-callable");
    assert_eq!(
        f["members"],
        serde_json::json!([
            "config.json",
            "/config/layers/1/config/module",
            "archive/data.pkl"
        ])
    );
    assert!(f["message"].as_str().unwrap_or_default().contains("system"));
}

#[test]
fn truncated_h5_is_never_safe() {
    let bytes =
        std::fs::read(common::repo_root().join(DIR).join("sequential.h5")).expect("fixture");
    let dir = tempfile::tempdir().expect("tempdir");
    for keep in [100usize, 2048, bytes.len() / 2] {
        let path = dir.path().join(format!("cut_{keep}.h5"));
        std::fs::write(&path, &bytes[..keep.min(bytes.len())]).expect("write");
        let path = path.to_string_lossy().into_owned();
        let s = scan_path(&path);
        assert_ne!(s.artifact["verdict"], "safe", "{keep}: {:#?}", s.findings);
        assert_eq!(s.artifact["fully_inspected"], false, "{keep}");
        assert!(
            rules(&s.findings).contains(&"hdf5-malformed".to_string()),
            "{keep}"
        );
    }
}

#[test]
fn keras_zip_with_broken_config_is_not_safe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.keras");
    let file = std::fs::File::create(&path).expect("create");
    let mut zip = zip::ZipWriter::new(file);
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("metadata.json", opts).expect("member");
    zip.write_all(br#"{"keras_version": "3.15.1"}"#)
        .expect("write");
    zip.start_file("config.json", opts).expect("member");
    zip.write_all(b"{\"class_name\": \"Sequential\", \"config\": [")
        .expect("write");
    zip.finish().expect("finish");
    let path = path.to_string_lossy().into_owned();
    let s = scan_path(&path);
    assert_eq!(s.artifact["format"], "keras");
    assert_eq!(s.artifact["verdict"], "suspicious");
    assert_eq!(s.artifact["fully_inspected"], false);
    assert_eq!(rules(&s.findings), ["keras-config-malformed"]);
}

#[test]
fn deflated_keras_member_is_still_analysed() {
    // Keras writes stored members; a deflated config (any zip tool) must be read the same way.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("deflated.keras");
    let file = std::fs::File::create(&path).expect("create");
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("metadata.json", opts).expect("member");
    zip.write_all(br#"{"keras_version": "3.15.1"}"#)
        .expect("write");
    zip.start_file("config.json", opts).expect("member");
    zip.write_all(
        br#"{"module": "keras", "class_name": "Sequential", "config": {"layers": [
            {"module": "builtins", "class_name": "function", "config": "exec", "registered_name": null}]}}"#,
    )
    .expect("write");
    zip.start_file("model.weights.h5", opts).expect("member");
    zip.write_all(
        &std::fs::read(common::repo_root().join(DIR).join("plain_latest.h5")).expect("fixture"),
    )
    .expect("write");
    zip.finish().expect("finish");
    let path = path.to_string_lossy().into_owned();
    let s = scan_path(&path);
    assert_eq!(s.artifact["verdict"], "malicious", "{:#?}", s.findings);
    let f = find(&s.findings, "keras-untrusted-callable");
    assert_eq!(evidence(f, "callable"), "builtins.exec");
    assert_eq!(
        f["members"],
        serde_json::json!(["config.json", "/config/layers/0"])
    );
}

#[test]
fn new_rules_are_listed() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet(data.path(), &["rules"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for id in [
        "keras-lambda-layer",
        "keras-untrusted-callable",
        "keras-custom-object",
        "keras-embedded-torch-module",
        "keras-unsafe-deserialization",
        "keras-config-malformed",
        "hdf5-malformed",
    ] {
        assert!(text.contains(id), "{id} missing from `mlvet rules`");
    }
}
