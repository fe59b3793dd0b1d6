//! The JSON report: shape, determinism, ordering, and round-trips through the v1 DTO.

mod common;

use common::*;
use mlvet_core::{Finding, Location, ScanReport, Severity};
use mlvet_report::json_v1::{self, Status};
use mlvet_report::{JSON_SCHEMA_VERSION, render_json};
use serde_json::Value;

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|err| panic!("invalid JSON ({err}):\n{json}"))
}

#[test]
fn empty_report_has_every_top_level_field() {
    let json = render_json(&ScanReport::default(), &meta(None));
    assert!(json.ends_with("}\n"), "pretty JSON with a trailing newline");
    let value = parse(&json);
    assert_eq!(value["schema_version"], JSON_SCHEMA_VERSION);
    assert_eq!(value["tool"]["name"], "mlvet");
    assert_eq!(value["tool"]["version"], "0.1.0");
    assert_eq!(
        value["inputs"],
        serde_json::json!(["models", "requirements.txt"])
    );
    assert_eq!(
        value["summary"],
        serde_json::json!({
            "artifacts": 0,
            "by_verdict": {"malicious": 0, "vulnerable": 0, "suspicious": 0, "safe": 0},
            "findings": 0,
            "suppressed": 0,
            "by_severity": {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0},
            "errors": 0,
            "fail_on": null,
            "failed": false,
            "status": "clean"
        })
    );
    assert_eq!(value["database"], Value::Null);
    for key in [
        "warnings",
        "artifacts",
        "findings",
        "errors",
        "packages",
        "models",
    ] {
        assert_eq!(value[key], serde_json::json!([]), "{key}");
    }
    let keys: Vec<&String> = value
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys.len(), 11, "no undocumented top-level field: {keys:?}");
}

#[test]
fn duration_is_never_written() {
    let mut with_time = meta(Some(Severity::High));
    with_time.duration_ms = Some(1234);
    let a = render_json(&full_report(), &with_time);
    let b = render_json(&full_report(), &meta(Some(Severity::High)));
    assert_eq!(a, b);
    assert!(!a.contains("duration") && !a.contains("1234"));
}

#[test]
fn malicious_finding_carries_its_nested_location_and_evidence() {
    let value = parse(&render_json(
        &malicious_report(),
        &meta(Some(Severity::High)),
    ));
    let findings = value["findings"].as_array().cloned().unwrap_or_default();
    assert_eq!(findings.len(), 2);
    let critical = findings
        .iter()
        .find(|f| f["rule"] == "pickle-dangerous-callable")
        .cloned()
        .unwrap_or_default();
    assert_eq!(critical["severity"], "critical");
    assert_eq!(critical["confidence"], "high");
    assert_eq!(critical["verdict"], "malicious");
    assert_eq!(critical["path"], "models/bundle.tar");
    assert_eq!(critical["member"], "weights.zip ▸ archive/data.pkl");
    assert_eq!(
        critical["members"],
        serde_json::json!(["weights.zip", "archive/data.pkl"])
    );
    assert_eq!(critical["offset"], 42);
    assert_eq!(critical["opcode_index"], 7);
    assert_eq!(critical["line"], Value::Null);
    assert_eq!(
        critical["evidence"][0],
        serde_json::json!({"label": "callable", "value": "os.system"})
    );
    assert_eq!(critical["package"], Value::Null);
    assert_eq!(critical["advisory"], Value::Null);
    assert!(
        critical["remediation"]
            .as_str()
            .is_some_and(|r| r.starts_with("Do not load"))
    );

    assert_eq!(value["summary"]["by_verdict"]["malicious"], 1);
    assert_eq!(value["summary"]["by_verdict"]["safe"], 1);
    assert_eq!(value["summary"]["by_severity"]["critical"], 1);
    assert_eq!(value["summary"]["by_severity"]["medium"], 1);
    assert_eq!(value["summary"]["fail_on"], "high");
    assert_eq!(value["summary"]["failed"], true);
    assert_eq!(value["summary"]["status"], "findings-at-or-above-threshold");
    assert_eq!(value["database"]["records"], 4821);
    assert_eq!(value["database"]["stale"], false);
}

#[test]
fn dependency_finding_carries_package_and_advisory() {
    let value = parse(&render_json(&vulnerability_report(), &meta(None)));
    let finding = &value["findings"][0];
    assert_eq!(finding["line"], 3);
    assert_eq!(finding["member"], Value::Null);
    assert_eq!(finding["members"], serde_json::json!([]));
    assert_eq!(
        finding["package"],
        serde_json::json!({
            "ecosystem": "PyPI", "name": "torch", "version": "1.13.0", "requirement": null,
            "markers": "python_version >= \"3.8\"", "ml": true,
            "source": {"file": "requirements.txt", "line": 3}
        })
    );
    let advisory = &finding["advisory"];
    assert_eq!(advisory["id"], "PYSEC-2022-43015");
    assert_eq!(
        advisory["aliases"],
        serde_json::json!(["CVE-2022-45907", "GHSA-47fc-vmwq-366v"])
    );
    assert_eq!(advisory["fixed"], "1.13.1");
    assert_eq!(advisory["severity"], "critical");
    assert_eq!(advisory["cvss_score"], 9.8);
    assert_eq!(advisory["affected_allowed"], Value::Null);
    assert_eq!(
        value["summary"]["failed"], false,
        "no threshold: findings never fail"
    );
    assert_eq!(value["artifacts"][0]["finding_count"], 1);
    assert_eq!(value["artifacts"][0]["verdict"], "vulnerable");
}

#[test]
fn errors_and_missing_database() {
    let value = parse(&render_json(&errors_report(), &meta(None)));
    assert_eq!(value["database"], Value::Null);
    assert_eq!(
        value["warnings"],
        serde_json::json!(["no advisory database: vulnerabilities NOT checked"])
    );
    assert_eq!(
        value["errors"],
        serde_json::json!([
            {"path": "models/locked.pt", "message": "permission denied (os error 13)"},
            {"path": "models/vanished.pt", "message": "no such file or directory"}
        ]),
        "errors sorted by path"
    );
    assert_eq!(value["summary"]["errors"], 2);
    assert_eq!(
        value["summary"]["failed"], true,
        "scan errors fail even without a threshold"
    );
    assert_eq!(value["summary"]["status"], "scan-errors");
    let partial = value["artifacts"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["path"] == "models/archive.7z").cloned());
    assert_eq!(
        partial.as_ref().map(|p| p["fully_inspected"].clone()),
        Some(Value::Bool(false))
    );
    assert_eq!(
        partial.map(|p| p["verdict"].clone()),
        Some(Value::from("suspicious"))
    );
}

#[test]
fn round_trips_through_the_dto() {
    for report in [
        ScanReport::default(),
        malicious_report(),
        vulnerability_report(),
        errors_report(),
        full_report(),
    ] {
        let meta = meta(Some(Severity::Medium));
        let json = render_json(&report, &meta);
        let back: json_v1::Report =
            serde_json::from_str(&json).unwrap_or_else(|err| panic!("{err}\n{json}"));
        assert_eq!(back, json_v1::Report::new(&report, &meta));
        let again = serde_json::to_string_pretty(&back)
            .map(|s| s + "\n")
            .unwrap_or_default();
        assert_eq!(again, json, "re-serialising gives the same bytes");
    }
}

#[test]
fn consumers_can_ignore_unknown_fields() {
    let json = render_json(&vulnerability_report(), &meta(None));
    let mut value = parse(&json);
    value["added_in_1_1"] = serde_json::json!({"anything": true});
    value["findings"][0]["new_field"] = serde_json::json!(3);
    let back: Result<json_v1::Report, _> = serde_json::from_value(value);
    assert!(back.is_ok(), "{back:?}");
}

#[test]
fn output_does_not_depend_on_input_order() {
    let sorted = full_report();
    let mut shuffled = sorted.clone();
    shuffled.artifacts.reverse();
    for artifact in &mut shuffled.artifacts {
        artifact.findings.reverse();
    }
    shuffled.errors.reverse();
    assert_eq!(
        render_json(&sorted, &meta(None)),
        render_json(&shuffled, &meta(None))
    );
}

#[test]
fn findings_are_flat_and_sorted_by_place_then_severity() {
    let rule = &DANGEROUS_CALLABLE;
    let at = |members: &[&str], offset: Option<u64>| {
        let mut location = Location::file("m.tar");
        for member in members {
            location = location.member(*member);
        }
        location.offset = offset;
        location
    };
    let findings = vec![
        Finding::new(rule, at(&["b.pkl"], Some(1)), "b1"),
        Finding::new(rule, at(&["a.pkl"], Some(9)), "a9"),
        Finding::new(rule, at(&["a.pkl"], Some(2)), "a2-low").severity(Severity::Low),
        Finding::new(rule, at(&["a.pkl"], Some(2)), "a2-high").severity(Severity::High),
        Finding::new(rule, at(&[], None), "outer"),
        Finding::new(&UNKNOWN_GLOBAL, at(&["a.pkl"], Some(2)), "a2-high-unknown")
            .severity(Severity::High),
    ];
    let other = mlvet_core::ArtifactReport::new(
        "a.pkl".into(),
        "pickle".into(),
        1,
        true,
        vec![Finding::new(rule, Location::file("a.pkl"), "first path")],
    );
    let tar = mlvet_core::ArtifactReport::new("m.tar".into(), "tar".into(), 1, true, findings);
    let report = ScanReport {
        artifacts: vec![tar, other],
        ..ScanReport::default()
    };
    let value = parse(&render_json(&report, &meta(None)));
    let messages: Vec<&str> = value["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|x| x["message"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        messages,
        [
            "first path",
            "outer",
            "a2-high",
            "a2-high-unknown",
            "a2-low",
            "a9",
            "b1"
        ]
    );
}

#[test]
fn non_finite_cvss_scores_become_null() {
    let mut report = vulnerability_report();
    if let Some(advisory) = report
        .artifacts
        .get_mut(0)
        .and_then(|a| a.findings.get_mut(0))
        .and_then(|f| f.advisory.as_mut())
    {
        advisory.cvss_score = Some(f64::NAN);
    }
    let json = render_json(&report, &meta(None));
    let back: json_v1::Report = serde_json::from_str(&json).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        back.findings
            .first()
            .and_then(|f| f.advisory.as_ref())
            .map(|a| a.cvss_score),
        Some(None)
    );
}

#[test]
fn status_matches_exit_status() {
    let dto = json_v1::Report::new(&full_report(), &meta(Some(Severity::Critical)));
    assert_eq!(dto.summary.status, Status::ScanErrors);
    let dto = json_v1::Report::new(&doc_example(), &meta(Some(Severity::Critical)));
    assert_eq!(dto.summary.status, Status::FindingsAtOrAboveThreshold);
    assert!(dto.summary.failed);
    let dto = json_v1::Report::new(&malicious_report(), &meta(None));
    assert_eq!(dto.summary.status, Status::Clean);
    assert!(!dto.summary.failed);
}

#[test]
fn suppressed_findings_are_listed_but_not_counted() {
    let value = parse(&render_json(&full_report(), &meta(Some(Severity::High))));
    let findings = value["findings"].as_array().expect("findings");
    let suppressed: Vec<&Value> = findings
        .iter()
        .filter(|f| !f["suppressed"].is_null())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["suppressed"]["kind"], "vex");
    assert_eq!(
        suppressed[0]["suppressed"]["source"],
        "security/mlvet.openvex.json"
    );
    assert_eq!(value["summary"]["suppressed"], 1);
    assert_eq!(
        value["summary"]["findings"].as_u64(),
        Some(findings.len() as u64 - 1)
    );
    let lock = artifact(&value, "uv.lock");
    assert_eq!(lock["finding_count"], 0);
    assert_eq!(
        lock["verdict"], "safe",
        "a VEX-suppressed vulnerability does not count"
    );
    assert_eq!(lock["kind"], "dependencies");
}

#[test]
fn inventory_and_models_are_reported() {
    let value = parse(&render_json(&full_report(), &meta(Some(Severity::High))));
    let packages = value["packages"].as_array().expect("packages");
    assert_eq!(packages.len(), 4);
    let transformers = packages
        .iter()
        .find(|p| p["name"] == "transformers")
        .expect("transformers");
    assert_eq!(
        transformers["depends_on"],
        serde_json::json!(["pkg:pypi/numpy@1.26.0|uv.lock:20"])
    );
    let models = value["models"].as_array().expect("models");
    let paths: Vec<&str> = models.iter().filter_map(|m| m["path"].as_str()).collect();
    assert_eq!(
        paths,
        [
            "hub/model.safetensors",
            "hub/train.parquet",
            "models/bundle.tar",
            "models/encoder.safetensors"
        ]
    );
    assert_eq!(models[0]["metadata"]["architecture"], "LlamaForCausalLM");
    assert_eq!(models[0]["origin"]["revision"], HUB_COMMIT);
    assert_eq!(models[1]["kind"], "dataset");
    assert_eq!(
        artifact(&value, "hub/model.safetensors")["sha256"]
            .as_str()
            .map(str::len),
        Some(64)
    );
}

fn artifact<'a>(value: &'a Value, path: &str) -> &'a Value {
    value["artifacts"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["path"] == path))
        .unwrap_or_else(|| panic!("no artifact {path}"))
}
