//! SARIF 2.1.0 (`mlvet scan --format sarif`), shaped for GitHub code scanning.
//!
//! - One run. `tool.driver.rules` holds one entry for every rule that fired, with its docs and a
//!   `helpUri` to its section of `docs/rules.md`; results point at it with `ruleIndex`.
//! - Locations: `physicalLocation.artifactLocation` is the file on disk, its `uri` relative to
//!   `%SRCROOT%` (the directory mlvet ran in) or an absolute `file://` URI. Manifest findings
//!   carry `region.startLine`. GitHub rejects results without a line and ignores byte offsets, so
//!   findings in binary files carry `startLine: 1`, plus `byteOffset` when the offset is in the
//!   file itself.
//! - Nested archive members (GitHub cannot open them) are expressed twice: in the result's
//!   `logicalLocations` (`kind: "member"`, the chain joined with ` ▸ ` as `fullyQualifiedName`),
//!   and as `run.artifacts` entries whose `parentIndex` points at the containing artefact; the
//!   physical location stays the outer file, which code scanning can show.
//! - `partialFingerprints["mlvetFinding/v1"]` hashes rule, path, member chain, package and
//!   advisory and the evidence that is not a position: stable across runs and across edits that
//!   only move bytes.
//! - Suppressed findings are kept with `suppressions` (`external` for configuration and VEX,
//!   `inSource` for inline comments, with the reason as justification).

use std::collections::BTreeMap;

use mlvet_core::{Finding, RuleMeta, ScanReport, Severity, SuppressionKind};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{ExitStatus, RunMeta, exit_status};

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const SRCROOT: &str = "%SRCROOT%";
/// The repository the tool is published from (for rule help links).
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// What the SARIF renderer needs beyond the scan result.
#[derive(Debug, Clone, Default)]
pub struct SarifOptions<'a> {
    /// Every rule mlvet knows (the renderer describes the ones that fired).
    pub rules: &'a [&'static RuleMeta],
}

/// Renders the report as a SARIF 2.1.0 log, pretty-printed with a trailing newline.
/// Deterministic: no timestamps, no absolute paths beyond those the user passed.
pub fn render_sarif(report: &ScanReport, meta: &RunMeta, options: &SarifOptions<'_>) -> String {
    let log = build(report, meta, options);
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_else(|err| {
        // Only strings, integers and booleans: serde_json cannot fail on them; stay valid JSON.
        serde_json::json!({"version": "2.1.0", "runs": [], "error": err.to_string()}).to_string()
    });
    out.push('\n');
    out
}

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    invocations: Vec<Invocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    artifacts: Vec<Artifact>,
    results: Vec<SarifResult>,
    column_kind: &'static str,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: String,
    semantic_version: String,
    information_uri: &'static str,
    rules: Vec<ReportingDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: String,
    name: String,
    short_description: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_description: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<Help>,
    help_uri: String,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: Vec<String>,
    /// GitHub code scanning ranks security alerts by this (a number as a string, 0.0–10.0).
    #[serde(rename = "security-severity")]
    security_severity: String,
    precision: &'static str,
    #[serde(rename = "mlvet/verdict")]
    verdict: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    exit_code: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<SarifLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Artifact {
    location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_index: Option<usize>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<SarifLocation>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<SarifSuppression>,
    properties: BTreeMap<String, serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte_offset: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    name: String,
    fully_qualified_name: String,
    kind: &'static str,
}

#[derive(Serialize)]
struct SarifSuppression {
    kind: &'static str,
    status: &'static str,
    justification: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<SuppressionSource>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SuppressionSource {
    physical_location: PhysicalLocation,
}

fn build(report: &ScanReport, meta: &RunMeta, options: &SarifOptions<'_>) -> Log {
    let mut findings: Vec<&Finding> = report.findings().collect();
    findings.sort_by(|a, b| {
        a.location
            .path
            .cmp(&b.location.path)
            .then_with(|| a.location.members.cmp(&b.location.members))
            .then_with(|| Finding::report_order(a, b))
    });

    // Rules that fired, sorted by id; results refer to them by index.
    let mut fired: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    fired.sort_unstable();
    fired.dedup();
    let rule_index: BTreeMap<&str, usize> =
        fired.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let rules = fired
        .iter()
        .map(|id| descriptor(id, options.rules.iter().find(|r| r.id == *id).copied()))
        .collect();

    let mut artifacts = ArtifactTable::default();
    let results = findings
        .iter()
        .map(|finding| result(finding, &rule_index, &mut artifacts))
        .collect();

    let status = exit_status(report, meta.fail_on);
    let mut notifications: Vec<Notification> = report
        .errors
        .iter()
        .map(|error| Notification {
            level: "error",
            message: Text {
                text: format!("{}: {}", error.path, error.message),
            },
            locations: vec![SarifLocation {
                physical_location: PhysicalLocation {
                    artifact_location: artifact_location(&error.path),
                    region: None,
                },
                logical_locations: Vec::new(),
            }],
        })
        .collect();
    notifications.extend(report.warnings.iter().map(|warning| Notification {
        level: "warning",
        message: Text {
            text: warning.clone(),
        },
        locations: Vec::new(),
    }));

    Log {
        schema: SARIF_SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "mlvet",
                    version: meta.tool_version.clone(),
                    semantic_version: meta.tool_version.clone(),
                    information_uri: REPOSITORY,
                    rules,
                },
            },
            invocations: vec![Invocation {
                // False only when mlvet could not do its job (inputs it could not scan); findings
                // at the threshold are a successful run with a failing verdict.
                execution_successful: status != ExitStatus::ScanErrors,
                exit_code: i32::from(status.code()),
                tool_execution_notifications: notifications,
            }],
            artifacts: artifacts.entries,
            results,
            column_kind: "unicodeCodePoints",
        }],
    }
}

/// `run.artifacts`: the outer files of nested findings and every member chain below them.
#[derive(Default)]
struct ArtifactTable {
    entries: Vec<Artifact>,
    /// (path, member chain prefix) → index.
    index: BTreeMap<(String, Vec<String>), usize>,
}

impl ArtifactTable {
    /// The index of `path` (members empty) or of the innermost member of the chain.
    fn intern(&mut self, path: &str, members: &[String]) -> usize {
        let key = (path.to_string(), members.to_vec());
        if let Some(index) = self.index.get(&key) {
            return *index;
        }
        let (location, parent_index) = match members.split_last() {
            None => (artifact_location(path), None),
            Some((member, parent)) => {
                let parent = self.intern(path, parent);
                (
                    ArtifactLocation {
                        uri: encode_uri_path(member),
                        uri_base_id: None,
                        index: None,
                    },
                    Some(parent),
                )
            }
        };
        let index = self.entries.len();
        self.entries.push(Artifact {
            location,
            parent_index,
        });
        self.index.insert(key, index);
        index
    }
}

fn descriptor(id: &str, rule: Option<&RuleMeta>) -> ReportingDescriptor {
    let (summary, docs, severity, verdict, category) = match rule {
        Some(rule) => (
            rule.summary.to_string(),
            rule.docs.trim().to_string(),
            rule.default_severity,
            rule.verdict.as_str(),
            rule.category,
        ),
        None => (
            id.to_string(),
            String::new(),
            Severity::Medium,
            "suspicious",
            "unknown",
        ),
    };
    let what = section(&docs, "What it does");
    ReportingDescriptor {
        id: id.to_string(),
        name: pascal_case(id),
        short_description: Text {
            text: summary.clone(),
        },
        full_description: what.map(|text| Text { text }),
        help: (!docs.is_empty()).then(|| Help {
            text: docs.clone(),
            markdown: docs,
        }),
        help_uri: format!("{REPOSITORY}/blob/main/docs/rules.md#{id}"),
        default_configuration: Configuration {
            level: level(severity),
        },
        properties: RuleProperties {
            tags: vec!["security".to_string(), category.to_string()],
            security_severity: security_severity(severity).to_string(),
            precision: "high",
            verdict,
        },
    }
}

/// The text of a `## heading` section of rule docs, up to the next heading.
fn section(docs: &str, heading: &str) -> Option<String> {
    let start = docs.find(&format!("## {heading}"))?;
    let body = docs.get(start..)?.split_once('\n')?.1;
    let end = body.find("\n## ").unwrap_or(body.len());
    let text = body.get(..end)?.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// SARIF levels: error for critical and high, warning for medium, note below.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's bands: critical > 9.0, high 7.0–8.9, medium 4.0–6.9, low 0.1–3.9.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

fn result(
    finding: &Finding,
    rule_index: &BTreeMap<&str, usize>,
    artifacts: &mut ArtifactTable,
) -> SarifResult {
    let location = &finding.location;
    let outer = artifacts.intern(&location.path, &[]);
    if !location.members.is_empty() {
        artifacts.intern(&location.path, &location.members);
    }
    let mut physical = artifact_location(&location.path);
    physical.index = Some(outer);
    let region = match (location.line, location.members.is_empty()) {
        (Some(line), _) => Region {
            start_line: line.max(1),
            start_column: location.column.map(|column| column.max(1)),
            byte_offset: None,
        },
        (None, true) => Region {
            start_line: 1,
            start_column: None,
            byte_offset: location.offset,
        },
        (None, false) => Region {
            start_line: 1,
            start_column: None,
            byte_offset: None,
        },
    };
    let logical_locations = location
        .members
        .last()
        .map(|innermost| LogicalLocation {
            name: innermost.clone(),
            fully_qualified_name: std::iter::once(location.path.as_str())
                .chain(location.members.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ▸ "),
            kind: "member",
        })
        .into_iter()
        .collect();

    let mut properties: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    properties.insert("mlvet/severity".into(), finding.severity.as_str().into());
    properties.insert(
        "mlvet/confidence".into(),
        finding.confidence.as_str().into(),
    );
    properties.insert("mlvet/verdict".into(), finding.verdict.as_str().into());
    if !location.members.is_empty() {
        properties.insert("mlvet/members".into(), location.members.clone().into());
    }
    if let Some(offset) = location.offset {
        properties.insert("mlvet/offset".into(), offset.into());
    }
    if let Some(opcode) = location.opcode_index {
        properties.insert("mlvet/opcodeIndex".into(), opcode.into());
    }
    if !finding.evidence.is_empty() {
        let evidence: serde_json::Map<String, serde_json::Value> = finding
            .evidence
            .iter()
            .map(|e| (e.label.clone(), e.value.clone().into()))
            .collect();
        properties.insert("mlvet/evidence".into(), evidence.into());
    }
    if let Some(package) = &finding.package {
        properties.insert(
            "mlvet/package".into(),
            serde_json::json!({
                "ecosystem": package.ecosystem,
                "name": package.name,
                "version": package.version,
                "requirement": package.requirement,
            }),
        );
    }
    if let Some(advisory) = &finding.advisory {
        properties.insert(
            "mlvet/advisory".into(),
            serde_json::json!({
                "id": advisory.id,
                "aliases": advisory.aliases,
                "fixed": advisory.fixed,
                "cvssVector": advisory.cvss_vector,
            }),
        );
        if let Some(score) = advisory
            .cvss_score
            .filter(|s| s.is_finite() && (0.0..=10.0).contains(s))
        {
            properties.insert("security-severity".into(), format!("{score:.1}").into());
        }
    }
    if let Some(remediation) = &finding.remediation {
        properties.insert("mlvet/remediation".into(), remediation.clone().into());
    }

    let suppressions = finding
        .suppression
        .iter()
        .map(|s| SarifSuppression {
            kind: match s.kind {
                SuppressionKind::Inline => "inSource",
                SuppressionKind::Config | SuppressionKind::Vex => "external",
            },
            status: "accepted",
            justification: match &s.source {
                Some(source) => format!("{} ({}: {})", s.reason, s.kind.as_str(), source),
                None => format!("{} ({})", s.reason, s.kind.as_str()),
            },
            location: s.source.as_ref().map(|source| SuppressionSource {
                physical_location: PhysicalLocation {
                    artifact_location: artifact_location(source),
                    region: None,
                },
            }),
        })
        .collect();

    SarifResult {
        rule_id: finding.rule.to_string(),
        rule_index: rule_index.get(finding.rule).copied().unwrap_or(0),
        level: level(finding.severity),
        message: Text {
            text: message_text(finding),
        },
        locations: vec![SarifLocation {
            physical_location: PhysicalLocation {
                artifact_location: physical,
                region: Some(region),
            },
            logical_locations,
        }],
        partial_fingerprints: BTreeMap::from([("mlvetFinding/v1", fingerprint(finding))]),
        suppressions,
        properties,
    }
}

/// The finding's message, with the member chain (which GitHub cannot show otherwise).
fn message_text(finding: &Finding) -> String {
    match finding.location.member_display() {
        Some(members) => format!("{} (in {members})", finding.message),
        None => finding.message.clone(),
    }
}

/// Evidence labels that are positions: they move when bytes are added before them, so they are
/// left out of the fingerprint.
const POSITIONAL_LABELS: [&str; 6] = ["offset", "opcode", "position", "byte", "line", "index"];

/// A stable identity for the finding across runs: rule, file, member chain, package, advisory,
/// and the evidence that is not a position. Offsets, opcode indices and lines are left out.
pub(crate) fn fingerprint(finding: &Finding) -> String {
    let mut hasher = Sha256::new();
    let mut field = |label: &str, value: &str| {
        hasher.update(label.as_bytes());
        hasher.update([0]);
        hasher.update(value.len().to_le_bytes());
        hasher.update(value.as_bytes());
    };
    field("rule", finding.rule);
    field("path", &finding.location.path);
    for member in &finding.location.members {
        field("member", member);
    }
    if let Some(package) = &finding.package {
        field("ecosystem", &package.ecosystem);
        field("package", &package.name);
        field("version", package.version.as_deref().unwrap_or(""));
        field("requirement", package.requirement.as_deref().unwrap_or(""));
    }
    if let Some(advisory) = &finding.advisory {
        field("advisory", &advisory.id);
    }
    let mut evidence: Vec<(&str, &str)> = finding
        .evidence
        .iter()
        .filter(|e| {
            let label = e.label.to_ascii_lowercase();
            !POSITIONAL_LABELS.iter().any(|p| label.contains(p))
        })
        .map(|e| (e.label.as_str(), e.value.as_str()))
        .collect();
    evidence.sort_unstable();
    for (label, value) in evidence {
        field(label, value);
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// An artefact location for a path as the user gave it: relative to `%SRCROOT%`, or an
/// absolute `file://` URI.
fn artifact_location(path: &str) -> ArtifactLocation {
    let normalized = path.replace('\\', "/");
    let absolute = normalized.starts_with('/') || is_windows_drive(&normalized);
    if absolute {
        let path = if normalized.starts_with('/') {
            normalized
        } else {
            format!("/{normalized}")
        };
        ArtifactLocation {
            uri: format!("file://{}", encode_uri_path(&path)),
            uri_base_id: None,
            index: None,
        }
    } else {
        let mut relative = normalized.as_str();
        while let Some(rest) = relative.strip_prefix("./") {
            relative = rest;
        }
        ArtifactLocation {
            uri: encode_uri_path(relative),
            uri_base_id: Some(SRCROOT),
            index: None,
        }
    }
}

fn is_windows_drive(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/'
}

/// Percent-encodes a path for a URI reference, keeping `/` and the characters RFC 3986 allows
/// in a path segment. A leading segment with `:` is encoded so it cannot read as a scheme.
pub(crate) fn encode_uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'/' | b'-'
                    | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'@'
            );
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    if out.is_empty() { ".".to_string() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_and_encoded() {
        let loc = artifact_location("./models/my model#1?.pt");
        assert_eq!(loc.uri, "models/my%20model%231%3F.pt");
        assert_eq!(loc.uri_base_id, Some(SRCROOT));
        let abs = artifact_location("/tmp/a b/x.pkl");
        assert_eq!(abs.uri, "file:///tmp/a%20b/x.pkl");
        assert_eq!(abs.uri_base_id, None);
        assert_eq!(artifact_location("C:\\m\\x.pt").uri, "file:///C%3A/m/x.pt");
        assert_eq!(artifact_location("a:b").uri, "a%3Ab");
    }

    #[test]
    fn sections_are_read_from_rule_docs() {
        let docs = "## What it does\nFinds things.\n\nMore.\n## Why is this bad?\nBecause.";
        assert_eq!(
            section(docs, "What it does").as_deref(),
            Some("Finds things.\n\nMore.")
        );
        assert_eq!(
            section(docs, "Why is this bad?").as_deref(),
            Some("Because.")
        );
        assert_eq!(section(docs, "Remediation"), None);
        assert_eq!(
            pascal_case("pickle-dangerous-callable"),
            "PickleDangerousCallable"
        );
    }
}
