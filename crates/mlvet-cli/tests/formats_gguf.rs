//! End-to-end tests of GGUF files and chat templates (GGUF keys, Hugging Face tokenizer and
//! processor files) through the `mlvet` binary: verdicts, rule ids, locations, evidence, metadata
//! facts and exit codes. Fixtures: `tests/fixtures/gguf/` (`scripts/gen_gguf_fixtures.py`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{artifact, findings_for, json_report, mlvet, mlvet_within, repo_root};

const FIXTURES: &str = "tests/fixtures/gguf";

fn scan(paths: &[&str], extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let data = tempfile::tempdir().expect("tempdir");
    let mut args = vec!["scan", "--format", "json", "--no-deps"];
    args.extend_from_slice(extra);
    args.extend_from_slice(paths);
    let out = mlvet(data.path(), &args);
    (out.status.code(), json_report(&out))
}

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn rules_of(report: &serde_json::Value, path: &str) -> BTreeSet<String> {
    findings_for(report, path)
        .iter()
        .map(|f| f["rule"].as_str().expect("rule").to_string())
        .collect()
}

#[test]
fn every_labelled_fixture_gets_its_verdict_and_rule() {
    let labels =
        std::fs::read_to_string(repo_root().join(FIXTURES).join("labels.tsv")).expect("labels.tsv");
    let (_, report) = scan(&[FIXTURES], &["--fail-on", "never"]);
    let mut expected = BTreeMap::new();
    for line in labels
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let fields: Vec<&str> = line.split('\t').collect();
        expected.insert(
            fields[0].to_string(),
            (fields[1].to_string(), fields[2].to_string()),
        );
    }
    assert!(expected.len() > 100, "labels.tsv lists every fixture");
    let mut wrong = Vec::new();
    for (relative, (verdict, rule)) in &expected {
        let path = fixture(relative);
        let got = artifact(&report, &path);
        let rules = rules_of(&report, &path);
        if got["verdict"] != verdict.as_str() || (!rule.is_empty() && !rules.contains(rule)) {
            wrong.push(format!(
                "{relative}: want {verdict} {rule}, got {} {rules:?}",
                got["verdict"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        report["artifacts"].as_array().map(Vec::len),
        Some(expected.len()),
        "every file under {FIXTURES} is a labelled artefact"
    );
}

#[test]
fn a_benign_gguf_is_safe_with_its_metadata_facts() {
    let path = fixture("benign/llama3-chat.gguf");
    let (code, report) = scan(&[&path], &[]);
    assert_eq!(code, Some(0), "{report:#}");
    let a = artifact(&report, &path);
    assert_eq!(a["format"], "gguf");
    assert_eq!(a["verdict"], "safe");
    assert_eq!(a["fully_inspected"], true);
    let meta = &a["metadata"];
    assert_eq!(meta["architecture"], "llama");
    assert_eq!(meta["name"], "tiny llama 3.1 chat");
    assert_eq!(meta["license"], "apache-2.0");
    assert_eq!(meta["quantization"], "F16");
    assert_eq!(meta["tensors"], "3");
    // token_embd 64x32 + attn_q 32x32 + output_norm 32
    assert_eq!(meta["parameters"], (64 * 32 + 32 * 32 + 32).to_string());
    assert_eq!(meta["context_length"], "2048");
    assert_eq!(meta["gguf_version"], "3");
}

#[test]
fn big_endian_and_old_versions_are_read() {
    for (name, version) in [
        ("benign/big-endian.gguf", "3"),
        ("benign/v1.gguf", "1"),
        ("benign/v2.gguf", "2"),
    ] {
        let path = fixture(name);
        let (code, report) = scan(&[&path], &[]);
        assert_eq!(code, Some(0), "{name}: {report:#}");
        let a = artifact(&report, &path);
        assert_eq!(a["verdict"], "safe", "{name}");
        assert_eq!(a["metadata"]["gguf_version"], version, "{name}");
        assert_eq!(a["metadata"]["architecture"], "llama", "{name}");
    }
    let (_, report) = scan(&[&fixture("benign/big-endian.gguf")], &[]);
    assert_eq!(
        artifact(&report, &fixture("benign/big-endian.gguf"))["metadata"]["byte_order"],
        "big-endian"
    );
}

#[test]
fn the_cve_payload_is_malicious_with_key_and_dunder_in_evidence() {
    let path = fixture("malicious/cve_2024_34359.gguf");
    let (code, report) = scan(&[&path], &[]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(artifact(&report, &path)["verdict"], "malicious");
    let findings = findings_for(&report, &path);
    let escapes: Vec<_> = findings
        .iter()
        .filter(|f| f["rule"] == "template-sandbox-escape")
        .collect();
    let attributes: BTreeSet<&str> = escapes
        .iter()
        .filter_map(|f| {
            f["evidence"]
                .as_array()?
                .iter()
                .find(|e| e["label"] == "attribute")?["value"]
                .as_str()
        })
        .collect();
    for dunder in [
        "__class__",
        "__base__",
        "__subclasses__",
        "__builtins__",
        "__import__",
    ] {
        assert!(attributes.contains(dunder), "{dunder} in {attributes:?}");
    }
    for f in &escapes {
        assert_eq!(f["members"], serde_json::json!(["tokenizer.chat_template"]));
        assert_eq!(f["line"], 1);
        assert_eq!(f["severity"], "critical");
        assert!(
            f["message"]
                .as_str()
                .is_some_and(|m| m.contains("tokenizer.chat_template"))
        );
    }
}

#[test]
fn a_payload_in_a_named_template_is_found_behind_a_benign_default() {
    let path = fixture("malicious/named-template-payload.gguf");
    let (code, report) = scan(&[&path], &[]);
    assert_eq!(code, Some(1));
    let findings = findings_for(&report, &path);
    assert!(!findings.is_empty());
    assert!(
        findings
            .iter()
            .all(|f| f["members"] == serde_json::json!(["tokenizer.chat_template.tool_use"])),
        "{findings:#?}"
    );
}

#[test]
fn truncated_and_oversized_headers_are_suspicious_not_crashes() {
    for name in [
        "malformed/truncated-metadata.gguf",
        "malformed/oversized-kv-count.gguf",
        "malformed/oversized-string-length.gguf",
    ] {
        let path = fixture(name);
        let (code, report) = scan(&[&path], &[]);
        assert_eq!(
            code,
            Some(0),
            "suspicious stays below the default --fail-on: {report:#}"
        );
        let a = artifact(&report, &path);
        assert_eq!(a["verdict"], "suspicious", "{name}");
        assert_eq!(a["fully_inspected"], false, "{name}");
        let f = findings_for(&report, &path);
        assert!(
            f.iter()
                .any(|f| f["rule"] == "gguf-malformed" && f["offset"].is_u64()),
            "{name}: {f:#?}"
        );
        let (code, _) = scan(&[&path], &["--fail-on", "medium"]);
        assert_eq!(code, Some(1), "{name} fails --fail-on medium");
    }
    let path = fixture("malformed/truncated-tensors.gguf");
    let (_, report) = scan(&[&path], &[]);
    let f = findings_for(&report, &path);
    assert!(
        f.iter()
            .any(|f| f["message"].as_str().is_some_and(|m| m.contains("outside"))),
        "{f:#?}"
    );
}

#[test]
fn an_unparseable_template_is_never_safe() {
    let path = fixture("malformed/unparseable-template.gguf");
    let (_, report) = scan(&[&path], &[]);
    let a = artifact(&report, &path);
    assert_eq!(a["verdict"], "suspicious");
    assert_eq!(a["fully_inspected"], false);
    assert!(rules_of(&report, &path).contains("template-unparseable"));
}

#[test]
fn hostile_gguf_headers_written_at_test_time_finish_quickly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cases = Vec::new();
    // Counts claiming billions of entries, arrays nested deeper than any file, a string length
    // of 2^63, a tensor with 2^62 elements: each bounded before anything is allocated.
    let mut deep = b"GGUF\x03\0\0\0".to_vec();
    deep.extend_from_slice(&0u64.to_le_bytes());
    deep.extend_from_slice(&1u64.to_le_bytes());
    deep.extend_from_slice(&1u64.to_le_bytes());
    deep.push(b'k');
    deep.extend_from_slice(&9u32.to_le_bytes());
    for _ in 0..100_000 {
        deep.extend_from_slice(&9u32.to_le_bytes());
        deep.extend_from_slice(&1u64.to_le_bytes());
    }
    cases.push(("deep.gguf", deep));
    let mut huge = b"GGUF\x03\0\0\0".to_vec();
    huge.extend_from_slice(&u64::MAX.to_le_bytes());
    huge.extend_from_slice(&u64::MAX.to_le_bytes());
    cases.push(("counts.gguf", huge));
    let mut tensor = b"GGUF\x03\0\0\0".to_vec();
    tensor.extend_from_slice(&1u64.to_le_bytes());
    tensor.extend_from_slice(&0u64.to_le_bytes());
    tensor.extend_from_slice(&1u64.to_le_bytes());
    tensor.push(b't');
    tensor.extend_from_slice(&2u32.to_le_bytes());
    tensor.extend_from_slice(&(1u64 << 31).to_le_bytes());
    tensor.extend_from_slice(&(1u64 << 31).to_le_bytes());
    tensor.extend_from_slice(&0u32.to_le_bytes());
    tensor.extend_from_slice(&0u64.to_le_bytes());
    cases.push(("tensor.gguf", tensor));
    for (name, bytes) in &cases {
        std::fs::write(dir.path().join(name), bytes).expect("write");
    }
    let shown = dir.path().to_string_lossy().into_owned();
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet_within(
        data.path(),
        &["scan", "--format", "json", "--no-deps", &shown],
        Duration::from_secs(30),
    );
    let report = json_report(&out);
    for (name, _) in &cases {
        let a = artifact(&report, &format!("{shown}/{name}"));
        assert_eq!(a["verdict"], "suspicious", "{name}: {report:#}");
    }
}

#[test]
fn tokenizer_config_variants() {
    // A string template, a list of named templates, and the jinja files transformers writes.
    for safe in [
        "hf/config-string/tokenizer_config.json",
        "hf/config-list/tokenizer_config.json",
        "hf/jinja-files/chat_template.jinja",
        "hf/jinja-files/additional_chat_templates/tool_use.jinja",
        "hf/processor/chat_template.json",
    ] {
        let path = fixture(safe);
        let (code, report) = scan(&[&path], &[]);
        assert_eq!(code, Some(0), "{safe}");
        assert_eq!(artifact(&report, &path)["verdict"], "safe", "{safe}");
    }
    let (_, report) = scan(&[&fixture("hf/config-string/tokenizer_config.json")], &[]);
    assert_eq!(
        artifact(&report, &fixture("hf/config-string/tokenizer_config.json"))["format"],
        "hf-tokenizer-config"
    );

    let path = fixture("hf/malicious-config-list/tokenizer_config.json");
    let (code, report) = scan(&[&path], &[]);
    assert_eq!(code, Some(1));
    let findings = findings_for(&report, &path);
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "template-sandbox-escape"
                && f["members"] == serde_json::json!(["chat_template[1] (rag)"])
                && f["evidence"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e["label"] == "json_line"))),
        "{findings:#?}"
    );
    assert!(findings.iter().any(|f| {
        f["evidence"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["value"] == "cycler"))
    }));

    let path = fixture("hf/malicious-jinja/chat_template.jinja");
    let (code, report) = scan(&[&path], &[]);
    assert_eq!(code, Some(1));
    assert_eq!(artifact(&report, &path)["format"], "jinja-template");

    let path = fixture("hf/processor/processor_config.json");
    let (code, report) = scan(&[&path], &[]);
    assert_eq!(code, Some(1));
    assert_eq!(artifact(&report, &path)["format"], "hf-processor-config");
}

#[test]
fn broken_and_oversized_json_is_not_inspected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).expect("mkdir");
    std::fs::write(
        broken.join("tokenizer_config.json"),
        b"{\"chat_template\": \"{{ x }}\"",
    )
    .expect("write");
    let deep = dir.path().join("deep");
    std::fs::create_dir(&deep).expect("mkdir");
    std::fs::write(deep.join("tokenizer_config.json"), "[".repeat(100_000)).expect("write");
    let line = dir.path().join("line");
    std::fs::create_dir(&line).expect("mkdir");
    std::fs::write(
        line.join("chat_template.jinja"),
        "{{ bos_token }}\n{% for m in messages %}\n{{ m.__class__ }}\n{% endfor %}\n",
    )
    .expect("write");
    for (case, verdict) in [(&broken, "suspicious"), (&deep, "suspicious")] {
        let path = case.join("tokenizer_config.json");
        let shown = path.to_string_lossy().into_owned();
        let (_, report) = scan(&[&shown], &[]);
        let a = artifact(&report, &shown);
        assert_eq!(a["verdict"], verdict);
        assert_eq!(a["fully_inspected"], false);
    }
    let path = line
        .join("chat_template.jinja")
        .to_string_lossy()
        .into_owned();
    let (_, report) = scan(&[&path], &[]);
    let f = findings_for(&report, &path);
    assert_eq!(f[0]["rule"], "template-sandbox-escape");
    assert_eq!(f[0]["line"], 3, "the template line of the dunder");
}

#[test]
fn every_llama_cpp_template_is_safe() {
    let dir = fixture("llama.cpp-templates");
    let (code, report) = scan(&[&dir], &[]);
    let artifacts = report["artifacts"].as_array().expect("artifacts");
    assert!(artifacts.len() >= 70, "{}", artifacts.len());
    let unsafe_ones: Vec<String> = artifacts
        .iter()
        .filter(|a| a["verdict"] != "safe" || a["format"] != "jinja-template")
        .map(|a| format!("{} {}", a["path"], a["verdict"]))
        .collect();
    assert!(
        unsafe_ones.is_empty(),
        "{unsafe_ones:#?}\n{:#}",
        report["findings"]
    );
    assert_eq!(code, Some(0));
}

#[test]
fn the_gguf_rules_are_listed() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet(data.path(), &["rules"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for id in [
        "gguf-malformed",
        "template-sandbox-escape",
        "template-suspicious-access",
        "template-unparseable",
    ] {
        assert!(text.contains(id), "{id}");
    }
}

#[test]
fn a_sparse_8_gib_gguf_is_scanned_from_its_header_alone() {
    // The header of a real fixture followed by a hole: tensor data is never read, so the scan
    // reads the header only. The 8 GiB file takes no disk space.
    let header =
        std::fs::read(repo_root().join(fixture("benign/llama3-chat.gguf"))).expect("fixture");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sparse.gguf");
    let file = std::fs::File::create(&path).expect("create");
    use std::io::Write;
    (&file).write_all(&header).expect("write");
    file.set_len(8 << 30).expect("sparse length");
    let shown = path.to_string_lossy().into_owned();
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet_within(
        data.path(),
        &["scan", "--format", "json", "--no-deps", &shown],
        Duration::from_secs(20),
    );
    let report = json_report(&out);
    let a = artifact(&report, &shown);
    assert_eq!(a["format"], "gguf");
    assert_eq!(a["size"], 8u64 << 30);
    assert_eq!(a["verdict"], "safe", "{report:#}");
}
