//! The CycloneDX AI-BOM: schema-valid, packages and models as components, model cards from the
//! parser metadata, the dependency graph, and vulnerabilities with VEX analysis.

mod common;

use common::*;
use mlvet_core::Severity;
use mlvet_report::{CycloneDxOptions, render_cyclonedx};
use serde_json::Value;

fn bom(report: &mlvet_core::ScanReport, timestamp: Option<&str>) -> Value {
    let text = render_cyclonedx(
        report,
        &meta(Some(Severity::High)),
        &CycloneDxOptions {
            timestamp: timestamp.map(str::to_string),
        },
    );
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("invalid JSON: {err}\n{text}"))
}

fn component<'a>(bom: &'a Value, bom_ref: &str) -> &'a Value {
    bom["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["bom-ref"] == bom_ref)
        .unwrap_or_else(|| panic!("no component {bom_ref} in {bom:#}"))
}

#[test]
fn every_report_shape_is_a_valid_cyclonedx_1_6_bom() {
    for report in [
        malicious_report(),
        vulnerability_report(),
        errors_report(),
        full_report(),
        mlvet_core::ScanReport::default(),
    ] {
        assert_valid_cyclonedx(&bom(&report, Some("2025-01-01T00:00:00Z")));
        assert_valid_cyclonedx(&bom(&report, None));
    }
}

#[test]
fn models_are_machine_learning_components_with_model_cards() {
    let bom = bom(&full_report(), None);
    assert_eq!(bom["specVersion"], "1.6");
    assert!(bom["metadata"].get("timestamp").is_none());
    let model = component(&bom, "model:hub/model.safetensors");
    assert_eq!(model["type"], "machine-learning-model");
    assert_eq!(
        model["purl"],
        format!("pkg:huggingface/example-org/tiny-llama@{HUB_COMMIT}")
    );
    assert_eq!(model["group"], "example-org");
    assert_eq!(model["name"], "tiny-llama");
    assert_eq!(model["hashes"][0]["alg"], "SHA-256");
    let card = &model["modelCard"]["modelParameters"];
    assert_eq!(card["modelArchitecture"], "LlamaForCausalLM");
    assert_eq!(card["architectureFamily"], "llama");
    assert_eq!(card["task"], "text-generation");
    assert_eq!(model["licenses"][0]["license"]["name"], "apache-2.0");
    let properties: Vec<(&str, &str)> = model["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?, p["value"].as_str()?)))
        .collect();
    assert!(properties.contains(&("mlvet:verdict", "safe")));
    assert!(properties.contains(&("mlvet:format", "safetensors")));
    assert!(properties.contains(&("mlvet:metadata:parameters", "1100048384")));

    let dataset = component(&bom, "dataset:hub/train.parquet");
    assert_eq!(dataset["type"], "data");
    assert!(dataset.get("purl").is_none(), "no purl type for datasets");
    assert!(dataset.get("version").is_none(), "`main` is not a commit");

    let malicious = component(&bom, "model:models/bundle.tar");
    assert!(
        malicious["properties"]
            .as_array()
            .expect("properties")
            .iter()
            .any(|p| p["name"] == "mlvet:verdict" && p["value"] == "malicious")
    );
}

#[test]
fn packages_are_library_components_with_the_dependency_graph() {
    let bom = bom(&full_report(), None);
    let transformers = component(&bom, "pkg:pypi/transformers@4.30.0|uv.lock:10");
    assert_eq!(transformers["type"], "library");
    assert_eq!(transformers["purl"], "pkg:pypi/transformers@4.30.0");
    assert_eq!(transformers["version"], "4.30.0");
    let optional = component(&bom, "PyPI/accelerate|pyproject.toml:14");
    assert_eq!(optional["scope"], "optional");
    let graph = bom["dependencies"].as_array().expect("dependencies");
    let node = graph
        .iter()
        .find(|d| d["ref"] == "pkg:pypi/transformers@4.30.0|uv.lock:10")
        .expect("graph node");
    assert_eq!(
        node["dependsOn"],
        serde_json::json!(["pkg:pypi/numpy@1.26.0|uv.lock:20"])
    );
    // Dependency artefacts are not models.
    assert!(
        bom["components"]
            .as_array()
            .expect("components")
            .iter()
            .all(|c| c["bom-ref"] != "model:requirements.txt")
    );
}

#[test]
fn vulnerabilities_affect_package_components_and_vex_means_not_affected() {
    let bom = bom(&full_report(), None);
    let vulnerabilities = bom["vulnerabilities"].as_array().expect("vulnerabilities");
    let torch = vulnerabilities
        .iter()
        .find(|v| v["id"] == "PYSEC-2022-43015")
        .expect("torch advisory");
    let refs: Vec<&str> = torch["affects"]
        .as_array()
        .expect("affects")
        .iter()
        .filter_map(|a| a["ref"].as_str())
        .collect();
    assert!(
        refs.contains(&"pkg:pypi/torch@1.13.0|requirements.txt:3"),
        "{refs:?}"
    );
    let rating = &torch["ratings"][0];
    assert_eq!(rating["method"], "CVSSv31");
    assert_eq!(rating["score"], 9.8);
    assert_eq!(rating["severity"], "critical");
    let aliases: Vec<&str> = torch["references"]
        .as_array()
        .expect("references")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(aliases, ["CVE-2022-45907", "GHSA-47fc-vmwq-366v"]);
    assert!(
        torch["recommendation"]
            .as_str()
            .is_some_and(|r| r.contains("1.13.1"))
    );
    assert!(torch.get("analysis").is_none());

    let vex = vulnerabilities
        .iter()
        .find(|v| v["id"] == "GHSA-example-vex")
        .expect("vex advisory");
    assert_eq!(vex["analysis"]["state"], "not_affected");
    assert_eq!(vex["analysis"]["justification"], "code_not_reachable");
    assert_eq!(vex["ratings"][0]["method"], "CVSSv3");
}

#[test]
fn output_is_deterministic_and_timestamped_only_on_request() {
    let render = |t: Option<&str>| {
        render_cyclonedx(
            &full_report(),
            &meta(None),
            &CycloneDxOptions {
                timestamp: t.map(str::to_string),
            },
        )
    };
    assert_eq!(render(None), render(None));
    assert!(!render(None).contains("timestamp"));
    assert!(
        render(Some("2025-01-01T00:00:00Z")).contains("\"timestamp\": \"2025-01-01T00:00:00Z\"")
    );
}

#[test]
fn the_schema_check_is_not_vacuous() {
    let mut document = bom(&full_report(), None);
    document["components"][0]["type"] = "model".into();
    assert!(std::panic::catch_unwind(|| assert_valid_cyclonedx(&document)).is_err());
    let mut document = bom(&full_report(), None);
    document["metadata"]["timestamp"] = "yesterday".into();
    assert!(std::panic::catch_unwind(|| assert_valid_cyclonedx(&document)).is_err());
}
