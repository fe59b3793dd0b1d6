//! The JSON contract stays documented: `docs/json-report.md` names every field the report can
//! hold (and no field it cannot), `docs/json-report.schema.json` declares and validates them, and
//! the example in the docs is exactly what mlvet renders.

mod common;

use std::collections::BTreeSet;

use common::*;
use mlvet_core::{ScanReport, Severity};
use mlvet_report::render_json;
use serde_json::Value;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/json-report.md");
const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/json-report.schema.json"
);

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {path}: {err}"))
}

fn schema() -> Value {
    serde_json::from_str(&read(SCHEMA)).unwrap_or_else(|err| panic!("invalid schema JSON: {err}"))
}

/// A report where every optional field is set somewhere, rendered and parsed back.
fn full_json() -> Value {
    let json = render_json(&full_report(), &meta(Some(Severity::High)));
    serde_json::from_str(&json).unwrap_or_else(|err| panic!("invalid JSON: {err}"))
}

/// Every field path of a JSON value: `summary.by_verdict.safe`, `findings[].package.source.line`.
/// `metadata` maps are open (any key): their keys are data, not fields, and are not descended into.
fn field_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                out.insert(path.clone());
                if key == "metadata" {
                    continue;
                }
                field_paths(child, &path, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                field_paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn rendered_fields() -> BTreeSet<String> {
    let mut fields = BTreeSet::new();
    field_paths(&full_json(), "", &mut fields);
    fields
}

/// The first column of the field tables: lines like "| `findings[].rule` | string | ...".
fn documented_fields(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once("` |").map(|(field, _)| field.to_string()))
        .collect()
}

#[test]
fn the_fixture_really_sets_every_optional_field() {
    // Guards the two tests below: a null or empty value would hide the fields beneath it.
    let fields = rendered_fields();
    for field in [
        "database.updated",
        "findings[].evidence[].label",
        "findings[].package.source.line",
        "findings[].advisory.affected_allowed",
        "errors[].message",
    ] {
        assert!(fields.contains(field), "fixture lacks {field}");
    }
    let json = full_json();
    let findings = json["findings"].as_array().cloned().unwrap_or_default();
    for key in [
        "member",
        "offset",
        "opcode_index",
        "line",
        "remediation",
        "package",
        "advisory",
    ] {
        assert!(
            findings.iter().any(|f| !f[key].is_null()),
            "no finding sets {key}"
        );
    }
    for key in ["version", "requirement", "markers"] {
        assert!(
            findings.iter().any(|f| !f["package"][key].is_null()),
            "no package sets {key}"
        );
    }
}

#[test]
fn docs_describe_every_rendered_field_and_nothing_else() {
    let doc = read(DOC);
    let documented = documented_fields(&doc);
    let rendered = rendered_fields();
    let undocumented: Vec<&String> = rendered.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "fields missing from docs/json-report.md: {undocumented:?}"
    );
    let stale: Vec<&String> = documented.difference(&rendered).collect();
    assert!(
        stale.is_empty(),
        "docs/json-report.md documents fields the report does not have: {stale:?}"
    );
}

/// Follows `$ref` (local `#/$defs/...` only) and picks the non-null branch of an `anyOf`.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    if let Some(name) = node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        return resolve(root, &root["$defs"][name]);
    }
    let non_null_branch = node
        .get("anyOf")
        .and_then(Value::as_array)
        .and_then(|branches| {
            branches
                .iter()
                .find(|b| b.get("type") != Some(&Value::from("null")))
        });
    match non_null_branch {
        Some(branch) => resolve(root, branch),
        None => node,
    }
}

/// Field paths the schema declares under `properties` / `items`.
fn schema_paths(root: &Value, node: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    let node = resolve(root, node);
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (key, child) in properties {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            out.insert(path.clone());
            schema_paths(root, child, &path, out);
        }
    }
    if let Some(items) = node.get("items") {
        schema_paths(root, items, &format!("{prefix}[]"), out);
    }
}

#[test]
fn schema_declares_exactly_the_rendered_fields() {
    let schema = schema();
    let mut declared = BTreeSet::new();
    schema_paths(&schema, &schema, "", &mut declared);
    assert_eq!(declared, rendered_fields());
}

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    let schema = schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    if let Err(err) = jsonschema::draft202012::meta::validate(&schema) {
        panic!("docs/json-report.schema.json is not a valid schema: {err}");
    }
}

#[test]
fn rendered_reports_validate_against_the_schema() {
    let schema = schema();
    let validator = jsonschema::draft202012::new(&schema)
        .unwrap_or_else(|err| panic!("schema does not compile: {err}"));
    for (name, report) in [
        ("empty", ScanReport::default()),
        ("malicious", malicious_report()),
        ("vulnerability", vulnerability_report()),
        ("errors", errors_report()),
        ("full", full_report()),
    ] {
        for fail_on in [None, Some(Severity::Info), Some(Severity::Critical)] {
            let json: Value = serde_json::from_str(&render_json(&report, &meta(fail_on)))
                .unwrap_or_else(|err| panic!("{name}: invalid JSON: {err}"));
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{name} report violates the schema: {errors:#?}"
            );
        }
    }
}

#[test]
fn schema_rejects_broken_reports() {
    // The validation above must be able to fail: a wrong type, a missing field, a bad enum value.
    let schema = schema();
    let validator = jsonschema::draft202012::new(&schema).unwrap_or_else(|err| panic!("{err}"));
    let good = full_json();
    assert!(validator.is_valid(&good));
    let mut wrong_type = good.clone();
    wrong_type["summary"]["failed"] = Value::from("yes");
    let mut missing = good.clone();
    if let Some(finding) = missing["findings"][0].as_object_mut() {
        finding.remove("member");
    }
    let mut bad_enum = good.clone();
    bad_enum["findings"][0]["severity"] = Value::from("urgent");
    for broken in [wrong_type, missing, bad_enum] {
        assert!(!validator.is_valid(&broken));
    }
}

#[test]
fn docs_example_is_what_mlvet_renders() {
    let doc = read(DOC);
    let rendered = render_json(&doc_example(), &meta(Some(Severity::High)));
    let start_marker = "```json\n";
    let start = doc.find("## Example").and_then(|e| {
        doc[e..]
            .find(start_marker)
            .map(|s| e + s + start_marker.len())
    });
    let Some(start) = start else {
        panic!("docs/json-report.md has no ```json example")
    };
    let Some(len) = doc[start..].find("```") else {
        panic!("unterminated example block")
    };
    let current = &doc[start..start + len];
    if current == rendered {
        return;
    }
    if std::env::var_os("MLVET_BLESS").is_some() {
        let updated = format!("{}{}{}", &doc[..start], rendered, &doc[start + len..]);
        std::fs::write(DOC, updated).unwrap_or_else(|err| panic!("cannot write {DOC}: {err}"));
        return;
    }
    panic!(
        "the example in docs/json-report.md is out of date; rerun with MLVET_BLESS=1\n{rendered}"
    );
}
