//! End-to-end tests of the formats beyond pickle that `mlvet-modelfiles` reads: XGBoost JSON and
//! UBJSON, LightGBM text, Flax msgpack (recognised and validated: safe), NeMo `.nemo`, TorchServe
//! `.mar` and skops (code or callables: flagged). Fixtures: tests/fixtures/modelfiles, written by
//! scripts/gen_modelfiles_fixtures.py with the real libraries; labels.tsv says what each must get.

mod common;

use std::collections::BTreeSet;

use common::{artifact, findings_for, json_report, mlvet};

const FIXTURES: &str = "tests/fixtures/modelfiles";

fn scan(paths: &[&str]) -> (serde_json::Value, Option<i32>) {
    let data = tempfile::tempdir().expect("tempdir");
    let mut args = vec!["scan", "--format", "json", "--no-deps"];
    args.extend_from_slice(paths);
    let out = mlvet(data.path(), &args);
    (json_report(&out), out.status.code())
}

fn path(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn rules_of(report: &serde_json::Value, path: &str) -> BTreeSet<String> {
    findings_for(report, path)
        .iter()
        .filter_map(|f| f["rule"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn every_fixture_gets_its_labelled_verdict_and_rules() {
    let labels = std::fs::read_to_string(common::repo_root().join(FIXTURES).join("labels.tsv"))
        .expect("labels.tsv");
    let (report, code) = scan(&[FIXTURES]);
    assert_eq!(code, Some(1), "malicious fixtures must fail the scan");
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in labels
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [name, verdict, rules, ..] = cols.as_slice() else {
            panic!("bad label line {line}");
        };
        checked += 1;
        let p = path(name);
        let got = artifact(&report, &p)["verdict"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let got_rules = rules_of(&report, &p);
        if got != *verdict {
            failures.push(format!(
                "{name}: verdict {got}, expected {verdict} ({got_rules:?})"
            ));
        }
        for rule in rules.split(',').filter(|r| !r.is_empty()) {
            if !got_rules.contains(rule) {
                failures.push(format!("{name}: no {rule} finding ({got_rules:?})"));
            }
        }
        if *verdict == "safe" && !got_rules.is_empty() {
            failures.push(format!("{name}: safe but has findings {got_rules:?}"));
        }
    }
    assert!(checked >= 20, "only {checked} labels");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn code_free_models_are_named_by_content_and_exit_clean() {
    let names = [
        ("xgb_model.json", "xgboost-json"),
        ("xgb_model.ubj", "xgboost-ubjson"),
        ("xgb_dart.json", "xgboost-json"),
        ("lgb_model.txt", "lightgbm"),
        ("flax_model.msgpack", "flax-msgpack"),
    ];
    let paths: Vec<String> = names.iter().map(|(n, _)| path(n)).collect();
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let (report, code) = scan(&args);
    assert_eq!(code, Some(0), "{report:#}");
    for (name, format) in names {
        let a = artifact(&report, &path(name));
        assert_eq!(a["format"], format, "{name}");
        assert_eq!(a["verdict"], "safe", "{name}");
        assert_eq!(a["fully_inspected"], true, "{name}");
    }
}

#[test]
fn a_renamed_xgboost_model_is_still_recognised_by_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let renamed = dir.path().join("booster.bin");
    std::fs::copy(common::repo_root().join(path("xgb_model.ubj")), &renamed).expect("copy");
    let shown = renamed.to_string_lossy().into_owned();
    let (report, code) = scan(&[&shown]);
    assert_eq!(code, Some(0));
    assert_eq!(artifact(&report, &shown)["format"], "xgboost-ubjson");
    assert_eq!(artifact(&report, &shown)["verdict"], "safe");
}

#[test]
fn broken_code_free_models_are_never_safe_and_say_why() {
    for (name, problem) in [
        (
            "xgb_tampered_tree_count.json",
            "4 trees declared, 3 present",
        ),
        ("xgb_truncated.ubj", "UBJSON"),
        ("lgb_truncated.txt", "end of trees"),
        ("flax_truncated.msgpack", "msgpack"),
    ] {
        let (report, code) = scan(&[&path(name)]);
        let p = path(name);
        let a = artifact(&report, &p);
        assert_eq!(a["verdict"], "suspicious", "{name}");
        assert_eq!(a["fully_inspected"], false, "{name}");
        // Suspicious findings are medium: below the default --fail-on high, but the artefact was
        // not fully inspected, which is not an error (the file was read).
        assert_eq!(code, Some(0), "{name}");
        let findings = findings_for(&report, &p);
        assert!(
            findings
                .iter()
                .any(|f| f["rule"] == "model-structure-invalid"
                    && f["message"].as_str().is_some_and(|m| m.contains(problem))),
            "{name}: {findings:#?}"
        );
    }
}

#[test]
fn a_nemo_hydra_target_calling_os_system_is_malicious_with_its_key_and_arguments() {
    let p = path("hydra_os_system.nemo");
    let (report, code) = scan(&[&p]);
    assert_eq!(code, Some(1));
    let a = artifact(&report, &p);
    assert_eq!(a["format"], "nemo");
    assert_eq!(a["verdict"], "malicious");
    let findings = findings_for(&report, &p);
    let hit = findings
        .iter()
        .find(|f| f["rule"] == "nemo-dangerous-target")
        .expect("nemo-dangerous-target");
    assert_eq!(hit["severity"], "critical");
    assert_eq!(hit["member"], "./model_config.yaml");
    let evidence = hit["evidence"].to_string();
    assert!(evidence.contains("os.system"), "{evidence}");
    assert!(
        evidence.contains("encoder.activation._target_"),
        "{evidence}"
    );
    assert!(evidence.contains("_args_"), "{evidence}");
}

#[test]
fn a_gzipped_nemo_archive_is_read_through_the_compression() {
    let p = path("hydra_builtins_exec.nemo");
    let (report, _) = scan(&[&p]);
    let hit = findings_for(&report, &p)
        .into_iter()
        .find(|f| f["rule"] == "nemo-dangerous-target")
        .expect("finding");
    assert_eq!(
        hit["members"],
        serde_json::json!(["<gzip>", "./model_config.yaml"])
    );
    assert!(
        hit["message"]
            .as_str()
            .is_some_and(|m| m.contains("builtins.exec"))
    );
    assert_eq!(artifact(&report, &p)["format"], "nemo");
}

#[test]
fn the_checkpoint_inside_a_nemo_archive_is_scanned_as_a_torch_file() {
    let p = path("malicious_weights.nemo");
    let (report, code) = scan(&[&p]);
    assert_eq!(code, Some(1));
    let hit = findings_for(&report, &p)
        .into_iter()
        .find(|f| f["rule"] == "pickle-dangerous-callable")
        .expect("pickle finding");
    let members = hit["members"].to_string();
    assert!(members.contains("./model_weights.ckpt"), "{members}");
}

#[test]
fn a_third_party_nemo_target_is_suspicious_and_notes_partial() {
    let p = path("third_party_target.nemo");
    let (report, _) = scan(&[&p]);
    assert_eq!(artifact(&report, &p)["verdict"], "suspicious");
    let hit = findings_for(&report, &p)
        .into_iter()
        .find(|f| f["rule"] == "nemo-unknown-target")
        .expect("finding");
    let evidence = hit["evidence"].to_string();
    assert!(
        evidence.contains("acme_audio.features.Featurizer"),
        "{evidence}"
    );
    assert!(evidence.contains("_partial_"), "{evidence}");
}

#[test]
fn a_torchserve_archive_names_the_shipped_handler() {
    let p = path("custom_handler.mar");
    let (report, code) = scan(&[&p]);
    assert_eq!(
        code,
        Some(0),
        "suspicious (medium) stays below --fail-on high"
    );
    let a = artifact(&report, &p);
    assert_eq!(a["format"], "torchserve-mar");
    assert_eq!(a["verdict"], "suspicious");
    let hit = findings_for(&report, &p)
        .into_iter()
        .find(|f| f["rule"] == "torchserve-handler-code")
        .expect("finding");
    assert_eq!(hit["member"], "MAR-INF/MANIFEST.json");
    let evidence = hit["evidence"].to_string();
    assert!(evidence.contains("handler.py"), "{evidence}");
    let (report, code) = scan(&[&p, "--fail-on", "medium"]);
    assert_eq!(code, Some(1), "{report:#}");
}

#[test]
fn skops_dangerous_callables_are_malicious_and_untrusted_types_listed() {
    let evil = path("os_system.skops");
    let custom = path("custom_type.skops");
    let clean = path("sklearn_pipeline.skops");
    let (report, code) = scan(&[&evil, &custom, &clean]);
    assert_eq!(code, Some(1));
    let hit = findings_for(&report, &evil)
        .into_iter()
        .find(|f| f["rule"] == "skops-dangerous-type")
        .expect("finding");
    assert_eq!(hit["member"], "schema.json");
    assert!(hit["evidence"].to_string().contains("os.system"));
    assert!(hit["evidence"].to_string().contains("FunctionNode"));
    let listed = findings_for(&report, &custom)
        .into_iter()
        .find(|f| f["rule"] == "skops-untrusted-type")
        .expect("finding");
    assert!(
        listed["evidence"]
            .to_string()
            .contains("mycompany.features.Cleaner")
    );
    assert_eq!(artifact(&report, &clean)["verdict"], "safe");
    assert_eq!(artifact(&report, &clean)["format"], "skops");
}

#[test]
fn a_msgpack_name_on_other_content_is_not_safe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("flax_model.msgpack");
    std::fs::write(&fake, b"not msgpack at all, just text\n").expect("write");
    let shown = fake.to_string_lossy().into_owned();
    let (report, _) = scan(&[&shown]);
    let a = artifact(&report, &shown);
    assert_eq!(a["format"], "flax-msgpack");
    assert_eq!(a["verdict"], "suspicious");
}

#[test]
fn the_new_rules_are_listed_by_mlvet_rules() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet(data.path(), &["rules"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for id in [
        "model-structure-invalid",
        "nemo-dangerous-target",
        "nemo-unknown-target",
        "skops-dangerous-type",
        "skops-untrusted-type",
        "torchserve-handler-code",
    ] {
        assert!(text.contains(id), "{id} missing from `mlvet rules`");
    }
}
