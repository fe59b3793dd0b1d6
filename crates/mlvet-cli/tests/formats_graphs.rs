//! End-to-end tests of the graph formats (ONNX, TensorFlow SavedModel/GraphDef, TFLite): the
//! built binary from the command line to the JSON report, on fixtures made with the real
//! libraries (`scripts/gen_graph_fixtures.py`) and on hostile inputs made here.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{artifact, findings_for, json_report, mlvet, mlvet_within, repo_root};

const FIXTURES: &str = "tests/fixtures/graphs";

fn scan_json(data: &Path, paths: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["scan", "--format", "json", "--no-deps"];
    args.extend_from_slice(paths);
    let out = mlvet_within(data, &args, Duration::from_secs(60));
    let code = out.status.code();
    (code, json_report(&out))
}

fn rules_of(report: &serde_json::Value, path: &str) -> Vec<String> {
    findings_for(report, path)
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn every_labelled_fixture_gets_its_verdict_and_rules() {
    let data = tempfile::tempdir().expect("tempdir");
    let (_, report) = scan_json(data.path(), &[FIXTURES]);
    let labels =
        std::fs::read_to_string(repo_root().join(FIXTURES).join("labels.tsv")).expect("labels.tsv");
    let mut checked = 0;
    for line in labels
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, verdict, rules) = (cols[0], cols[1], cols[2]);
        let path = format!("{FIXTURES}/{file}");
        if verdict == "none" {
            assert!(
                report["artifacts"]
                    .as_array()
                    .expect("artifacts")
                    .iter()
                    .all(|a| a["path"] != path.as_str()),
                "{path} should not be reported"
            );
            continue;
        }
        let a = artifact(&report, &path);
        assert_eq!(
            a["verdict"],
            verdict,
            "{path}: {a:#}\n{:#?}",
            findings_for(&report, &path)
        );
        let found = rules_of(&report, &path);
        for rule in rules.split(',').filter(|r| *r != "-") {
            assert!(
                found.iter().any(|f| f == rule),
                "{path}: {rule} not in {found:?}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} fixtures checked");
    // TensorFlow's variable shards and index next to saved_model.pb are data, not graphs.
    assert!(
        report["artifacts"]
            .as_array()
            .expect("artifacts")
            .iter()
            .all(|a| !a["path"].as_str().unwrap_or("").contains("/variables/")),
        "variables files reported"
    );
}

#[test]
fn formats_are_named_by_content_and_name() {
    let data = tempfile::tempdir().expect("tempdir");
    let (_, report) = scan_json(data.path(), &[FIXTURES]);
    for (file, format) in [
        ("onnx/mlp.onnx", "onnx"),
        ("onnx/renamed_weights.dat", "onnx"),
        (
            "tensorflow/keras_export/saved_model.pb",
            "tensorflow-savedmodel",
        ),
        ("tensorflow/frozen_benign.pb", "tensorflow-graphdef"),
        ("tensorflow/graph_read_file.pbtxt", "tensorflow-text"),
        ("tflite/benign.tflite", "tflite"),
    ] {
        let a = artifact(&report, &format!("{FIXTURES}/{file}"));
        assert_eq!(a["format"], format, "{file}");
    }
}

#[test]
fn findings_name_nodes_ops_tensors_and_paths() {
    let data = tempfile::tempdir().expect("tempdir");
    let (_, report) = scan_json(data.path(), &[FIXTURES]);
    let evidence = |path: &str, rule: &str, label: &str| -> Vec<String> {
        findings_for(&report, &format!("{FIXTURES}/{path}"))
            .iter()
            .filter(|f| f["rule"] == rule)
            .flat_map(|f| f["evidence"].as_array().cloned().unwrap_or_default())
            .filter(|e| e["label"] == label)
            .map(|e| e["value"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let read = "tensorflow/read_file_absolute/saved_model.pb";
    assert_eq!(evidence(read, "tensorflow-file-access", "op"), ["ReadFile"]);
    assert_eq!(
        evidence(read, "tensorflow-file-access", "path"),
        ["/etc/passwd"]
    );
    let frozen = "tensorflow/frozen_read_file.pb";
    assert_eq!(evidence(frozen, "tensorflow-file-access", "node"), ["leak"]);
    let py = "tensorflow/py_function/saved_model.pb";
    assert_eq!(evidence(py, "tensorflow-python-op", "op"), ["EagerPyFunc"]);
    assert!(evidence(py, "tensorflow-python-op", "token")[0].starts_with("pyfunc_"));
    let np = "tensorflow/numpy_function/saved_model.pb";
    assert_eq!(evidence(np, "tensorflow-python-op", "op"), ["PyFunc"]);
    let print = "tensorflow/print_to_file/saved_model.pb";
    assert_eq!(
        evidence(print, "tensorflow-file-access", "path"),
        ["file:///tmp/mlvet_log.txt"]
    );
    let cf = "onnx/control_flow_escape.onnx";
    assert_eq!(
        evidence(cf, "onnx-external-data-escape", "tensor"),
        ["secret"]
    );
    let declared = evidence(cf, "onnx-external-data-escape", "declared in");
    assert!(
        declared[0].contains("if_0") && declared[0].contains("then_branch"),
        "{declared:?}"
    );
    let trav = "onnx/external_traversal/model.onnx";
    assert_eq!(
        evidence(trav, "onnx-external-data-escape", "location"),
        ["../../etc/passwd"]
    );
    assert_eq!(
        evidence(trav, "onnx-external-data-escape", "tensor"),
        ["weight"]
    );
    let custom = "onnx/custom_domain.onnx";
    assert_eq!(
        evidence(custom, "onnx-custom-domain", "domain"),
        ["com.attacker"]
    );
    assert_eq!(evidence(custom, "onnx-custom-domain", "op_type"), ["Exec"]);
    let flex = "tflite/flex_read_file.tflite";
    assert_eq!(
        evidence(flex, "tflite-flex-dangerous-op", "custom_code"),
        ["FlexReadFile"]
    );
    let custom_tfl = "tflite/custom_op.tflite";
    assert_eq!(
        evidence(custom_tfl, "tflite-custom-op", "custom_code"),
        ["MyCustomLength"]
    );
}

#[test]
fn exit_codes_follow_the_worst_finding() {
    let data = tempfile::tempdir().expect("tempdir");
    let malicious = format!("{FIXTURES}/tensorflow/py_function/saved_model.pb");
    let safe = format!("{FIXTURES}/onnx/skl2onnx_logreg.onnx");
    let suspicious = format!("{FIXTURES}/onnx/custom_domain.onnx");
    assert_eq!(scan_json(data.path(), &[&malicious]).0, Some(1));
    assert_eq!(scan_json(data.path(), &[&safe]).0, Some(0));
    assert_eq!(scan_json(data.path(), &[&suspicious]).0, Some(0));
    let out = mlvet(
        data.path(),
        &[
            "scan",
            "--format",
            "json",
            "--no-deps",
            "--fail-on",
            "medium",
            &suspicious,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
}

fn copy_fixture(from: &str, to: &Path) {
    std::fs::copy(repo_root().join(FIXTURES).join(from), to).expect("copy fixture");
}

#[test]
fn external_data_symlinked_out_of_the_folder_is_malicious() {
    let data = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("secret.bin");
    std::fs::write(&secret, vec![0u8; 4096]).expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    copy_fixture(
        "onnx/external_ok/model.onnx",
        &dir.path().join("model.onnx"),
    );
    std::os::unix::fs::symlink(&secret, dir.path().join("model.onnx.data")).expect("symlink");
    let model = dir.path().join("model.onnx");
    let shown = model.to_string_lossy();
    let (code, report) = scan_json(data.path(), &[&shown]);
    assert_eq!(code, Some(1));
    assert_eq!(artifact(&report, &shown)["verdict"], "malicious");
    let f = findings_for(&report, &shown);
    assert!(
        f.iter().any(|f| f["rule"] == "onnx-external-data-escape"
            && f["message"]
                .as_str()
                .unwrap_or("")
                .contains("symbolic link")),
        "{f:#?}"
    );
}

#[test]
fn external_data_shorter_than_declared_is_suspicious_and_a_symlink_inside_is_fine() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    copy_fixture(
        "onnx/external_ok/model.onnx",
        &dir.path().join("model.onnx"),
    );
    std::fs::write(dir.path().join("model.onnx.data"), b"short").expect("write");
    let model = dir.path().join("model.onnx");
    let shown = model.to_string_lossy();
    let (_, report) = scan_json(data.path(), &[&shown]);
    assert_eq!(artifact(&report, &shown)["verdict"], "suspicious");
    assert!(rules_of(&report, &shown).contains(&"onnx-external-data-missing".to_string()));

    // The real data behind a link that stays inside the folder.
    std::fs::create_dir(dir.path().join("blobs")).expect("mkdir");
    std::fs::remove_file(dir.path().join("model.onnx.data")).expect("rm");
    copy_fixture(
        "onnx/external_ok/model.onnx.data",
        &dir.path().join("blobs").join("real.data"),
    );
    std::os::unix::fs::symlink("blobs/real.data", dir.path().join("model.onnx.data"))
        .expect("symlink");
    let (code, report) = scan_json(data.path(), &[&shown]);
    assert_eq!(artifact(&report, &shown)["verdict"], "safe", "{report:#}");
    assert_eq!(code, Some(0));
}

#[test]
fn a_multi_gigabyte_external_data_file_is_never_read() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    copy_fixture(
        "onnx/external_ok/model.onnx",
        &dir.path().join("model.onnx"),
    );
    // 6 GiB, sparse: reading it would take far longer than the limit below.
    let blob = std::fs::File::create(dir.path().join("model.onnx.data")).expect("create");
    blob.set_len(6 << 30).expect("set_len");
    drop(blob);
    let shown = dir.path().to_string_lossy().into_owned();
    let started = Instant::now();
    let (code, report) = scan_json(data.path(), &[&shown]);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(code, Some(0), "{report:#}");
    let model = format!("{shown}/model.onnx");
    assert_eq!(artifact(&report, &model)["verdict"], "safe");
}

/// A protobuf length-delimited field.
fn ld(number: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(number) << 3 | 2, &mut out);
    varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[test]
fn hostile_graphs_are_never_safe_and_never_crash() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    // ONNX with `If` subgraphs nested 5,000 deep.
    let mut graph = ld(1, &[ld(4, b"Relu"), ld(3, b"leaf")].concat());
    for _ in 0..5_000 {
        let attr = [ld(1, b"then_branch"), ld(6, &graph)].concat();
        graph = ld(1, &[ld(4, b"If"), ld(5, &attr)].concat());
    }
    let deep = [vec![0x08, 0x09], ld(7, &graph)].concat();
    std::fs::write(dir.path().join("deep.onnx"), &deep).expect("write");
    // A length field claiming 2^60 bytes.
    let mut huge = vec![0x08, 0x09, 0x3a];
    varint(1 << 60, &mut huge);
    std::fs::write(dir.path().join("huge_len.onnx"), &huge).expect("write");
    // Random bytes under every graph name.
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for name in ["noise.onnx", "noise.tflite", "noise.pb"] {
        std::fs::write(dir.path().join(name), &noise).expect("write");
    }
    std::fs::create_dir(dir.path().join("sm")).expect("mkdir");
    std::fs::write(dir.path().join("sm").join("saved_model.pb"), &noise).expect("write");
    // A TFLite header whose root table points past the end.
    let mut tfl = vec![0xff, 0xff, 0xff, 0x7f];
    tfl.extend_from_slice(b"TFL3");
    std::fs::write(dir.path().join("bad_root.tflite"), &tfl).expect("write");
    let shown = dir.path().to_string_lossy().into_owned();
    let (code, report) = scan_json(data.path(), &[&shown]);
    assert_ne!(code, Some(101), "panic");
    for name in [
        "deep.onnx",
        "huge_len.onnx",
        "noise.onnx",
        "noise.tflite",
        "noise.pb",
        "sm/saved_model.pb",
        "bad_root.tflite",
    ] {
        let path = format!("{shown}/{name}");
        let a = artifact(&report, &path);
        assert_ne!(a["verdict"], "safe", "{name}: {a:#}");
        assert!(
            rules_of(&report, &path).contains(&"graph-malformed".to_string()),
            "{name}: {:?}",
            rules_of(&report, &path)
        );
    }
}

#[test]
fn the_rules_command_lists_the_graph_rules() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet(data.path(), &["rules"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for id in [
        "graph-malformed",
        "onnx-custom-domain",
        "onnx-external-data-escape",
        "onnx-external-data-missing",
        "tensorflow-file-access",
        "tensorflow-python-op",
        "tensorflow-text-graph",
        "tflite-custom-op",
        "tflite-flex-dangerous-op",
    ] {
        assert!(text.contains(id), "{id} missing from `mlvet rules`");
    }
}
