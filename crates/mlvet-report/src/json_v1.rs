//! The frozen data-transfer types of JSON report schema 1.x.
//!
//! These types ARE the public JSON contract, documented in `docs/json-report.md` and
//! `docs/json-report.schema.json`. They are built from the internal model by
//! [`Report::new`]; internal types are never serialised directly, so that refactoring
//! `mlvet-core` cannot change the JSON by accident.
//!
//! Within major version 1: fields are only ever added (minor bump), never renamed, removed or
//! retyped; the value sets of the enums below are closed. Consumers must ignore unknown fields.
//! Every type derives `Deserialize` so that Rust consumers (and the round-trip tests) can read
//! reports back.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{JSON_SCHEMA_VERSION, RunMeta, exit_status};

/// The whole report (the JSON document's root object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: String,
    pub tool: Tool,
    pub inputs: Vec<String>,
    pub summary: Summary,
    pub database: Option<Database>,
    pub warnings: Vec<String>,
    pub artifacts: Vec<Artifact>,
    pub findings: Vec<Finding>,
    pub errors: Vec<ScanError>,
    /// Since 1.1: every dependency record the inventory found.
    #[serde(default)]
    pub packages: Vec<InventoryPackage>,
    /// Since 1.1: the model (and dataset) artefacts, for inventories and AI-BOMs.
    #[serde(default)]
    pub models: Vec<Model>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub artifacts: u64,
    pub by_verdict: ByVerdict,
    /// Findings that are not suppressed.
    pub findings: u64,
    /// Unsuppressed findings per severity.
    pub by_severity: BySeverity,
    /// Since 1.1: findings an ignore or a VEX statement suppresses (not counted above).
    #[serde(default)]
    pub suppressed: u64,
    pub errors: u64,
    pub fail_on: Option<Severity>,
    /// True when mlvet exits non-zero: scan errors, or findings at or above `fail_on`.
    pub failed: bool,
    pub status: Status,
}

/// Artefact counts per verdict; every key is always present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByVerdict {
    pub malicious: u64,
    pub vulnerable: u64,
    pub suspicious: u64,
    pub safe: u64,
}

/// Finding counts per severity; every key is always present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BySeverity {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub info: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    pub source: String,
    pub records: u64,
    pub updated: Option<String>,
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub path: String,
    pub format: String,
    pub verdict: Verdict,
    pub fully_inspected: bool,
    pub size: u64,
    /// Unsuppressed findings on this artefact.
    pub finding_count: u64,
    /// Since 1.1: `model` or `dependencies`; since 1.2 also `code`, `pipeline` and `project`.
    #[serde(default)]
    pub kind: ArtifactKind,
    /// Since 1.1: lower-case hex SHA-256 of the file when the scan hashed it.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Since 1.1: where the artefact came from (a Hugging Face repository), when known.
    #[serde(default)]
    pub origin: Option<Origin>,
    /// Since 1.1: facts the format parser read (`architecture`, `parameters`, `dtype`...).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// Since 1.1: what an artefact is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    #[default]
    Model,
    Dependencies,
    /// Since 1.2: a Dockerfile, shell script, CI workflow or Kubernetes manifest.
    Pipeline,
    /// Since 1.2: project configuration and data-tracking files (registries and data analyses).
    Project,
    /// Since 1.2: Python source or a Jupyter notebook.
    Code,
}

/// Since 1.1: the repository an artefact came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub hub: String,
    pub repo_type: String,
    pub repo_id: String,
    pub revision: Option<String>,
    pub path_in_repo: Option<String>,
}

/// Since 1.1: one model or dataset file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    pub path: String,
    /// `model`, or `dataset` when its origin is a dataset repository.
    pub kind: String,
    pub format: String,
    pub size: u64,
    pub sha256: Option<String>,
    pub verdict: Verdict,
    pub fully_inspected: bool,
    pub origin: Option<Origin>,
    pub metadata: BTreeMap<String, String>,
}

/// Since 1.1: one dependency record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryPackage {
    /// Unique within the report; `depends_on` refers to it.
    pub id: String,
    pub ecosystem: String,
    pub name: String,
    pub version: Option<String>,
    pub requirement: Option<String>,
    pub markers: Option<String>,
    pub scope: Option<String>,
    pub purl: Option<String>,
    pub direct_url: Option<String>,
    pub ml: bool,
    pub source: Source,
    pub depends_on: Vec<String>,
    /// Since 1.1 (added later, absent from older reports): whether the project itself requires
    /// the package, where its file records that (`uv.lock`, `pylock.toml`).
    #[serde(default)]
    pub direct: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub confidence: Confidence,
    pub verdict: Verdict,
    pub path: String,
    /// `members` joined with ` ▸ `, or null for a finding on the file itself.
    pub member: Option<String>,
    pub members: Vec<String>,
    pub offset: Option<u64>,
    pub opcode_index: Option<u64>,
    pub line: Option<u32>,
    /// Since 1.2: 1-based column (Unicode code points) on `line`, for source code findings.
    #[serde(default)]
    pub column: Option<u32>,
    pub message: String,
    pub evidence: Vec<Evidence>,
    pub remediation: Option<String>,
    pub package: Option<Package>,
    pub advisory: Option<Advisory>,
    /// Since 1.1: why the finding does not count, or null when it does.
    #[serde(default)]
    pub suppressed: Option<Suppressed>,
}

/// Since 1.1: the ignore or VEX statement that suppresses a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppressed {
    /// `config`, `inline` or `vex`.
    pub kind: String,
    pub reason: String,
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
    pub version: Option<String>,
    pub requirement: Option<String>,
    pub markers: Option<String>,
    pub ml: bool,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub file: String,
    pub line: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub fixed: Option<String>,
    pub severity: Option<Severity>,
    pub cvss_score: Option<f64>,
    pub cvss_vector: Option<String>,
    pub published: Option<String>,
    pub modified: Option<String>,
    pub affected_allowed: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ScanError {
    pub path: String,
    pub message: String,
}

/// Severity levels, ordered `info < low < medium < high < critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

/// Verdicts, ordered `safe < suspicious < vulnerable < malicious`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Safe,
    Suspicious,
    Vulnerable,
    Malicious,
}

/// The exit status of the run (see `mlvet_report::ExitStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Clean,
    FindingsAtOrAboveThreshold,
    ScanErrors,
}

impl From<mlvet_core::Severity> for Severity {
    fn from(level: mlvet_core::Severity) -> Self {
        match level {
            mlvet_core::Severity::Info => Severity::Info,
            mlvet_core::Severity::Low => Severity::Low,
            mlvet_core::Severity::Medium => Severity::Medium,
            mlvet_core::Severity::High => Severity::High,
            mlvet_core::Severity::Critical => Severity::Critical,
        }
    }
}

impl From<mlvet_core::Confidence> for Confidence {
    fn from(level: mlvet_core::Confidence) -> Self {
        match level {
            mlvet_core::Confidence::Low => Confidence::Low,
            mlvet_core::Confidence::Medium => Confidence::Medium,
            mlvet_core::Confidence::High => Confidence::High,
        }
    }
}

impl From<mlvet_core::Verdict> for Verdict {
    fn from(verdict: mlvet_core::Verdict) -> Self {
        match verdict {
            mlvet_core::Verdict::Safe => Verdict::Safe,
            mlvet_core::Verdict::Suspicious => Verdict::Suspicious,
            mlvet_core::Verdict::Vulnerable => Verdict::Vulnerable,
            mlvet_core::Verdict::Malicious => Verdict::Malicious,
        }
    }
}

impl From<crate::ExitStatus> for Status {
    fn from(status: crate::ExitStatus) -> Self {
        match status {
            crate::ExitStatus::Clean => Status::Clean,
            crate::ExitStatus::FindingsAtOrAboveThreshold => Status::FindingsAtOrAboveThreshold,
            crate::ExitStatus::ScanErrors => Status::ScanErrors,
        }
    }
}

impl Report {
    /// Builds the report DTO. Artefacts are sorted by path, findings by path, member chain,
    /// offset, severity (worst first) and rule, errors by path: the output does not depend on the
    /// order the scan produced them in.
    pub fn new(report: &mlvet_core::ScanReport, meta: &RunMeta) -> Self {
        let mut artifacts: Vec<Artifact> = report.artifacts.iter().map(Artifact::from).collect();
        artifacts.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.format.cmp(&b.format)));

        let mut findings: Vec<&mlvet_core::Finding> = report.findings().collect();
        findings.sort_by(|a, b| json_finding_order(a, b));
        let findings: Vec<Finding> = findings.into_iter().map(Finding::from).collect();
        let active: Vec<&Finding> = findings.iter().filter(|f| f.suppressed.is_none()).collect();

        let mut errors: Vec<ScanError> = report
            .errors
            .iter()
            .map(|e| ScanError {
                path: e.path.clone(),
                message: e.message.clone(),
            })
            .collect();
        errors.sort();

        let status = exit_status(report, meta.fail_on);
        Report {
            schema_version: JSON_SCHEMA_VERSION.to_string(),
            tool: Tool {
                name: "mlvet".to_string(),
                version: meta.tool_version.clone(),
            },
            inputs: meta.inputs.clone(),
            summary: Summary {
                artifacts: count(artifacts.len()),
                by_verdict: by_verdict(&artifacts),
                findings: count(active.len()),
                by_severity: by_severity(&active),
                suppressed: count(findings.len() - active.len()),
                errors: count(errors.len()),
                fail_on: meta.fail_on.map(Severity::from),
                failed: status != crate::ExitStatus::Clean,
                status: status.into(),
            },
            database: report.database.as_ref().map(|db| Database {
                source: db.source.clone(),
                records: db.records,
                updated: db.updated.clone(),
                stale: db.stale,
            }),
            warnings: report.warnings.clone(),
            artifacts,
            findings,
            errors,
            packages: report.packages.iter().map(InventoryPackage::from).collect(),
            models: crate::inventory::models(report)
                .map(|(artifact, kind)| Model {
                    path: artifact.path.clone(),
                    kind: kind.as_str().to_string(),
                    format: artifact.format.clone(),
                    size: artifact.size,
                    sha256: artifact.sha256.clone(),
                    verdict: artifact.verdict.into(),
                    fully_inspected: artifact.fully_inspected,
                    origin: artifact.origin.as_ref().map(Origin::from),
                    metadata: artifact.metadata.clone(),
                })
                .collect(),
        }
    }
}

impl From<&mlvet_core::ArtifactOrigin> for Origin {
    fn from(origin: &mlvet_core::ArtifactOrigin) -> Self {
        Origin {
            hub: origin.hub.clone(),
            repo_type: origin.repo_type.clone(),
            repo_id: origin.repo_id.clone(),
            revision: origin.revision.clone(),
            path_in_repo: origin.path_in_repo.clone(),
        }
    }
}

impl From<&mlvet_core::InventoryPackage> for InventoryPackage {
    fn from(package: &mlvet_core::InventoryPackage) -> Self {
        InventoryPackage {
            id: package.id.clone(),
            ecosystem: package.ecosystem.clone(),
            name: package.name.clone(),
            version: package.version.clone(),
            requirement: package.requirement.clone(),
            markers: package.markers.clone(),
            scope: package.scope.clone(),
            purl: package.purl.clone(),
            direct_url: package.direct_url.clone(),
            ml: package.ml,
            source: Source {
                file: package.source.file.clone(),
                line: package.source.line,
            },
            depends_on: package.depends_on.clone(),
            direct: package.direct,
        }
    }
}

/// The documented order of `findings`: path, member chain, offset, severity (worst first), rule,
/// then the remaining location fields and the message so that ties are still deterministic.
fn json_finding_order(a: &mlvet_core::Finding, b: &mlvet_core::Finding) -> Ordering {
    let (la, lb) = (&a.location, &b.location);
    la.path
        .cmp(&lb.path)
        .then_with(|| la.members.cmp(&lb.members))
        .then_with(|| la.offset.cmp(&lb.offset))
        .then_with(|| b.severity.cmp(&a.severity))
        .then_with(|| a.rule.cmp(b.rule))
        .then_with(|| la.opcode_index.cmp(&lb.opcode_index))
        .then_with(|| la.line.cmp(&lb.line))
        .then_with(|| la.column.cmp(&lb.column))
        .then_with(|| a.message.cmp(&b.message))
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn by_verdict(artifacts: &[Artifact]) -> ByVerdict {
    let mut counts = ByVerdict::default();
    for artifact in artifacts {
        let slot = match artifact.verdict {
            Verdict::Malicious => &mut counts.malicious,
            Verdict::Vulnerable => &mut counts.vulnerable,
            Verdict::Suspicious => &mut counts.suspicious,
            Verdict::Safe => &mut counts.safe,
        };
        *slot += 1;
    }
    counts
}

fn by_severity(findings: &[&Finding]) -> BySeverity {
    let mut counts = BySeverity::default();
    for finding in findings {
        let slot = match finding.severity {
            Severity::Critical => &mut counts.critical,
            Severity::High => &mut counts.high,
            Severity::Medium => &mut counts.medium,
            Severity::Low => &mut counts.low,
            Severity::Info => &mut counts.info,
        };
        *slot += 1;
    }
    counts
}

impl From<&mlvet_core::ArtifactReport> for Artifact {
    fn from(artifact: &mlvet_core::ArtifactReport) -> Self {
        Artifact {
            path: artifact.path.clone(),
            format: artifact.format.clone(),
            verdict: artifact.verdict.into(),
            fully_inspected: artifact.fully_inspected,
            size: artifact.size,
            finding_count: count(
                artifact
                    .findings
                    .iter()
                    .filter(|f| f.suppression.is_none())
                    .count(),
            ),
            kind: match artifact.kind {
                mlvet_core::ArtifactKind::Model => ArtifactKind::Model,
                mlvet_core::ArtifactKind::Dependencies => ArtifactKind::Dependencies,
                mlvet_core::ArtifactKind::Pipeline => ArtifactKind::Pipeline,
                mlvet_core::ArtifactKind::Project => ArtifactKind::Project,
                mlvet_core::ArtifactKind::Code => ArtifactKind::Code,
            },
            sha256: artifact.sha256.clone(),
            origin: artifact.origin.as_ref().map(Origin::from),
            metadata: artifact.metadata.clone(),
        }
    }
}

impl From<&mlvet_core::Finding> for Finding {
    fn from(finding: &mlvet_core::Finding) -> Self {
        let location = &finding.location;
        Finding {
            rule: finding.rule.to_string(),
            severity: finding.severity.into(),
            confidence: finding.confidence.into(),
            verdict: finding.verdict.into(),
            path: location.path.clone(),
            member: location.member_display(),
            members: location.members.clone(),
            offset: location.offset,
            opcode_index: location.opcode_index,
            line: location.line,
            column: location.column,
            message: finding.message.clone(),
            evidence: finding
                .evidence
                .iter()
                .map(|e| Evidence {
                    label: e.label.clone(),
                    value: e.value.clone(),
                })
                .collect(),
            remediation: finding.remediation.clone(),
            package: finding.package.as_ref().map(Package::from),
            advisory: finding.advisory.as_ref().map(Advisory::from),
            suppressed: finding.suppression.as_ref().map(|s| Suppressed {
                kind: s.kind.as_str().to_string(),
                reason: s.reason.clone(),
                source: s.source.clone(),
            }),
        }
    }
}

impl From<&mlvet_core::PackageRef> for Package {
    fn from(package: &mlvet_core::PackageRef) -> Self {
        Package {
            ecosystem: package.ecosystem.clone(),
            name: package.name.clone(),
            version: package.version.clone(),
            requirement: package.requirement.clone(),
            markers: package.markers.clone(),
            ml: package.ml,
            source: Source {
                file: package.source.file.clone(),
                line: package.source.line,
            },
        }
    }
}

impl From<&mlvet_core::AdvisoryRef> for Advisory {
    fn from(advisory: &mlvet_core::AdvisoryRef) -> Self {
        Advisory {
            id: advisory.id.clone(),
            aliases: advisory.aliases.clone(),
            summary: advisory.summary.clone(),
            fixed: advisory.fixed.clone(),
            severity: advisory.severity.map(Severity::from),
            // JSON has no NaN or infinity: a non-finite score is reported as absent.
            cvss_score: advisory.cvss_score.filter(|score| score.is_finite()),
            cvss_vector: advisory.cvss_vector.clone(),
            published: advisory.published.clone(),
            modified: advisory.modified.clone(),
            affected_allowed: advisory.affected_allowed.clone(),
        }
    }
}
