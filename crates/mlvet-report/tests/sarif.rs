//! The SARIF renderer: schema-valid, rules described, locations as GitHub code scanning reads
//! them, nested members expressed, stable fingerprints, suppressions kept.

mod common;

use common::*;
use mlvet_core::{Finding, Location, RuleMeta, Severity};
use mlvet_report::{SarifOptions, render_sarif};
use serde_json::Value;

static RULES: [&RuleMeta; 3] = [&DANGEROUS_CALLABLE, &UNKNOWN_GLOBAL, &KNOWN_VULNERABILITY];

fn sarif(report: &mlvet_core::ScanReport, fail_on: Option<Severity>) -> Value {
    let text = render_sarif(report, &meta(fail_on), &SarifOptions { rules: &RULES });
    assert!(text.ends_with('\n'));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("invalid JSON: {err}\n{text}"))
}

fn results(log: &Value) -> &Vec<Value> {
    log["runs"][0]["results"].as_array().expect("results")
}

#[test]
fn every_report_shape_is_valid_sarif() {
    for report in [
        malicious_report(),
        vulnerability_report(),
        errors_report(),
        full_report(),
        mlvet_core::ScanReport::default(),
    ] {
        assert_valid_sarif(&sarif(&report, Some(Severity::High)));
    }
}

#[test]
fn rules_that_fired_are_described_and_indexed() {
    let log = sarif(&full_report(), Some(Severity::High));
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    let ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "dependency-known-vulnerability",
            "pickle-dangerous-callable",
            "pickle-unknown-global"
        ]
    );
    let dangerous = &rules[1];
    assert_eq!(dangerous["defaultConfiguration"]["level"], "error");
    assert_eq!(dangerous["properties"]["security-severity"], "9.5");
    assert_eq!(
        dangerous["helpUri"],
        "https://github.com/mlvet/mlvet/blob/main/docs/rules.md#pickle-dangerous-callable"
    );
    for result in results(&log) {
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
    }
}

#[test]
fn nested_members_are_logical_locations_and_child_artifacts() {
    let log = sarif(&malicious_report(), Some(Severity::High));
    let result = results(&log)
        .iter()
        .find(|r| r["ruleId"] == "pickle-dangerous-callable")
        .expect("dangerous result");
    assert_eq!(result["level"], "error");
    let location = &result["locations"][0];
    let physical = &location["physicalLocation"];
    assert_eq!(physical["artifactLocation"]["uri"], "models/bundle.tar");
    assert_eq!(physical["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    // GitHub needs a line; the byte offset is inside a member, not the tar, so it is not a region.
    assert_eq!(physical["region"]["startLine"], 1);
    assert!(physical["region"].get("byteOffset").is_none());
    assert_eq!(result["properties"]["mlvet/offset"], 42);
    assert_eq!(
        location["logicalLocations"][0]["fullyQualifiedName"],
        "models/bundle.tar ▸ weights.zip ▸ archive/data.pkl"
    );
    let artifacts = log["runs"][0]["artifacts"].as_array().expect("artifacts");
    let outer = physical["artifactLocation"]["index"]
        .as_u64()
        .expect("index") as usize;
    assert_eq!(artifacts[outer]["location"]["uri"], "models/bundle.tar");
    let inner = artifacts
        .iter()
        .find(|a| a["location"]["uri"] == "archive/data.pkl")
        .expect("innermost member");
    let zip = &artifacts[inner["parentIndex"].as_u64().expect("parent") as usize];
    assert_eq!(zip["location"]["uri"], "weights.zip");
    assert_eq!(zip["parentIndex"].as_u64(), Some(outer as u64));
}

#[test]
fn manifest_findings_have_lines_and_binary_files_byte_offsets() {
    let log = sarif(&vulnerability_report(), Some(Severity::High));
    let region = &results(&log)[0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 3);
    assert_eq!(results(&log)[0]["properties"]["security-severity"], "9.8");

    let finding = Finding::new(
        &DANGEROUS_CALLABLE,
        Location::file("model.pkl").with_opcode(2, 17),
        "calls os.system",
    );
    let report = mlvet_core::ScanReport {
        artifacts: vec![mlvet_core::ArtifactReport::new(
            "model.pkl".into(),
            "pickle".into(),
            30,
            true,
            vec![finding],
        )],
        ..Default::default()
    };
    let log = sarif(&report, Some(Severity::High));
    let region = &results(&log)[0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["byteOffset"], 17);
}

#[test]
fn fingerprints_ignore_offsets_but_not_identity() {
    let base = malicious_finding();
    let moved = {
        let mut f = base.clone();
        f.location = f.location.clone().with_opcode(99, 4242);
        f
    };
    let other_callable = base.clone().evidence("callable", "builtins.eval");
    let fingerprint = |f: &Finding| {
        let report = mlvet_core::ScanReport {
            artifacts: vec![mlvet_core::ArtifactReport::new(
                "models/bundle.tar".into(),
                "tar".into(),
                1,
                true,
                vec![f.clone()],
            )],
            ..Default::default()
        };
        sarif(&report, None)["runs"][0]["results"][0]["partialFingerprints"]["mlvetFinding/v1"]
            .as_str()
            .expect("fingerprint")
            .to_string()
    };
    assert_eq!(fingerprint(&base), fingerprint(&moved));
    assert_ne!(fingerprint(&base), fingerprint(&other_callable));
    assert_eq!(fingerprint(&base).len(), 64);
}

#[test]
fn suppressed_findings_carry_suppressions_and_do_not_fail_the_run() {
    let log = sarif(&full_report(), Some(Severity::High));
    let suppressed: Vec<&Value> = results(&log)
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    let suppression = &suppressed[0]["suppressions"][0];
    assert_eq!(suppression["kind"], "external");
    assert_eq!(suppression["status"], "accepted");
    assert!(
        suppression["justification"]
            .as_str()
            .is_some_and(|j| j.contains("never calls the affected loader"))
    );
    let invocation = &log["runs"][0]["invocations"][0];
    // full_report has scan errors: exit 3, not successful.
    assert_eq!(invocation["exitCode"], 3);
    assert_eq!(invocation["executionSuccessful"], false);
    assert_eq!(
        invocation["toolExecutionNotifications"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

#[test]
fn output_is_deterministic() {
    let a = render_sarif(&full_report(), &meta(None), &SarifOptions { rules: &RULES });
    let b = render_sarif(&full_report(), &meta(None), &SarifOptions { rules: &RULES });
    assert_eq!(a, b);
}

#[test]
fn the_schema_check_is_not_vacuous() {
    let mut log = sarif(&malicious_report(), Some(Severity::High));
    log["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(std::panic::catch_unwind(|| assert_valid_sarif(&log)).is_err());
    let mut log = sarif(&malicious_report(), Some(Severity::High));
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
        "has space".into();
    assert!(std::panic::catch_unwind(|| assert_valid_sarif(&log)).is_err());
}
