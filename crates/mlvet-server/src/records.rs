//! From a scan report to what the store keeps: the packages, and each finding exactly as the
//! JSON report renders it, with a stable identity.

use mlvet_core::ScanReport;
use mlvet_store::{FindingRecord, PackageRecord};
use serde_json::Value;

/// The report as the CLI's JSON (`docs/json-report.md`), parsed.
pub fn report_json(
    report: &ScanReport,
    input: &str,
    fail_on: Option<mlvet_core::Severity>,
) -> Value {
    let meta = mlvet_report::RunMeta {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        inputs: vec![input.to_string()],
        fail_on,
        duration_ms: None,
    };
    serde_json::from_str(&mlvet_report::render_json(report, &meta)).unwrap_or(Value::Null)
}

/// The artefact formats whose parser records the dependency graph (`mlvet-inventory`'s
/// lockfile parsers that emit edges). Every other format lists packages without saying which
/// one brings which.
pub const GRAPH_FORMATS: [&str; 3] = ["uv-lock", "poetry-lock", "pylock"];

pub fn packages(report: &ScanReport) -> Vec<PackageRecord> {
    let graph_files: std::collections::HashSet<&str> = report
        .artifacts
        .iter()
        .filter(|a| GRAPH_FORMATS.contains(&a.format.as_str()))
        .map(|a| a.path.as_str())
        .collect();
    // `depends_on` names package ids; the store keeps normalised names (stable across scans).
    let names_by_id: std::collections::HashMap<&str, String> = report
        .packages
        .iter()
        .map(|p| (p.id.as_str(), mlvet_inventory::normalize_pypi_name(&p.name)))
        .collect();
    report
        .packages
        .iter()
        .map(|p| PackageRecord {
            ecosystem: p.ecosystem.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
            requirement: p.requirement.clone(),
            purl: p.purl.clone(),
            ml: p.ml,
            line: p.source.line.map(i64::from),
            depends_on: graph_files.contains(p.source.file.as_str()).then(|| {
                let mut names: Vec<String> = p
                    .depends_on
                    .iter()
                    .filter_map(|id| names_by_id.get(id.as_str()).cloned())
                    .collect();
                names.sort_unstable();
                names.dedup();
                names
            }),
            direct: p.direct == Some(true),
        })
        .collect()
}

/// The identity of a finding across scans: `(ecosystem, package, advisory)` for advisory
/// findings, so that upgrading to a version that is still affected keeps the same finding
/// (and its triage); otherwise the rule, the place and the package.
pub fn identity(finding: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let package = &finding["package"];
    let package_key = if package.is_object() {
        format!(
            "{}|{}",
            text(&package["ecosystem"]),
            text(&package["name"])
                .to_lowercase()
                .replace(['_', '.'], "-")
        )
    } else {
        String::new()
    };
    if let Some(advisory) = finding["advisory"]["id"].as_str() {
        return format!("advisory|{package_key}|{advisory}");
    }
    format!(
        "{}|{}|{}|{}|{}|{}",
        text(&finding["rule"]),
        text(&finding["path"]),
        text(&finding["member"]),
        package_key,
        finding["offset"],
        finding["opcode_index"],
    )
}

/// The report's findings as store records.
pub fn findings(report_json: &Value) -> Vec<FindingRecord> {
    report_json["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|finding| FindingRecord {
            identity: identity(finding),
            rule: finding["rule"].as_str().unwrap_or_default().to_string(),
            severity: finding["severity"].as_str().unwrap_or("info").to_string(),
            package: finding["package"]["name"].as_str().map(str::to_string),
            advisory: finding["advisory"]["id"].as_str().map(str::to_string),
            body: finding.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn advisory_findings_keep_their_identity_across_versions() {
        let a = json!({"rule": "dependency-vulnerable", "path": "r.txt", "line": 1,
            "package": {"ecosystem": "PyPI", "name": "Torch", "version": "1.0"}, "advisory": {"id": "GHSA-x"}});
        let b = json!({"rule": "dependency-vulnerable", "path": "r.txt", "line": 7,
            "package": {"ecosystem": "PyPI", "name": "torch", "version": "1.1"}, "advisory": {"id": "GHSA-x"}});
        assert_eq!(identity(&a), identity(&b));
        let c = json!({"rule": "dependency-vulnerable", "package": {"ecosystem": "PyPI", "name": "torch"}, "advisory": {"id": "GHSA-y"}});
        assert_ne!(identity(&a), identity(&c));
    }
}
