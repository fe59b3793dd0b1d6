use crate::{Confidence, Location, RuleMeta, Severity, Verdict};

/// One labelled fact supporting a finding, e.g. `callable = os.system`, `arguments = ('id',)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Evidence {
    pub label: String,
    pub value: String,
}

/// Where a package record was found: the manifest, lockfile, SBOM or metadata file, and its line.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceRef {
    pub file: String,
    pub line: Option<u32>,
}

/// The package a dependency finding is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageRef {
    /// OSV ecosystem name, e.g. `PyPI`, `npm`, `Go`, `Maven`.
    pub ecosystem: String,
    /// Name as written in the source (normalised names are used for matching only).
    pub name: String,
    /// The exact version in use, or `None` when the requirement is not pinned.
    pub version: Option<String>,
    /// The requirement as written when it is not an exact pin, e.g. `torch>=2.0`.
    pub requirement: Option<String>,
    /// Environment markers the requirement carries, kept as written (not evaluated).
    pub markers: Option<String>,
    pub source: SourceRef,
    /// Whether the package is on mlvet's curated list of ML libraries.
    pub ml: bool,
}

/// The advisory a vulnerability finding matched.
#[derive(Debug, Clone, Default, PartialEq, PartialOrd)]
pub struct AdvisoryRef {
    /// The id of the record mlvet matched (OSV id).
    pub id: String,
    /// Every other id of the same vulnerability (PYSEC, GHSA, CVE...), sorted.
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    /// The lowest fixed version above the one in use, if any.
    pub fixed: Option<String>,
    /// Severity computed from the record's CVSS vector or its own rating.
    pub severity: Option<Severity>,
    /// CVSS base score where a vector was present.
    pub cvss_score: Option<f64>,
    /// The CVSS vector the score was computed from.
    pub cvss_vector: Option<String>,
    pub published: Option<String>,
    pub modified: Option<String>,
    /// For unpinned requirements: the affected versions some allowed version would hit.
    pub affected_allowed: Option<String>,
}

/// One finding: a rule that fired on an artefact, with everything a person or a machine needs to
/// act on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub confidence: Confidence,
    /// The verdict this finding pushes its artefact to (at least).
    pub verdict: Verdict,
    pub message: String,
    pub location: Location,
    pub evidence: Vec<Evidence>,
    pub remediation: Option<String>,
    pub package: Option<PackageRef>,
    pub advisory: Option<AdvisoryRef>,
    /// Set when a configured ignore or a VEX statement covers this finding. Suppressed findings
    /// stay in the report (JSON, SARIF) but no longer count towards the verdict or the exit code.
    pub suppression: Option<Suppression>,
}

/// Why a finding is suppressed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Suppression {
    /// `config` (an ignore in `mlvet.toml` / `[tool.mlvet]`), `inline` (a comment in source),
    /// or `vex` (an OpenVEX `not_affected` statement).
    pub kind: SuppressionKind,
    /// The justification the user wrote (required for config ignores).
    pub reason: String,
    /// Where the suppression was declared: `mlvet.toml`, `pyproject.toml`, a VEX file...
    pub source: Option<String>,
}

/// Where a suppression comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SuppressionKind {
    Config,
    Inline,
    Vex,
}

impl SuppressionKind {
    /// Stable name, as used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionKind::Config => "config",
            SuppressionKind::Inline => "inline",
            SuppressionKind::Vex => "vex",
        }
    }
}

impl Finding {
    /// A finding of `rule` with the rule's default severity and verdict and high confidence.
    pub fn new(rule: &'static RuleMeta, location: Location, message: impl Into<String>) -> Self {
        Finding {
            rule: rule.id,
            severity: rule.default_severity,
            confidence: Confidence::High,
            verdict: rule.verdict,
            message: message.into(),
            location,
            evidence: Vec::new(),
            remediation: None,
            package: None,
            advisory: None,
            suppression: None,
        }
    }

    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn confidence(mut self, confidence: Confidence) -> Self {
        self.confidence = confidence;
        self
    }

    pub fn verdict(mut self, verdict: Verdict) -> Self {
        self.verdict = verdict;
        self
    }

    pub fn evidence(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.evidence.push(Evidence {
            label: label.into(),
            value: value.into(),
        });
        self
    }

    pub fn remediation(mut self, text: impl Into<String>) -> Self {
        self.remediation = Some(text.into());
        self
    }

    pub fn package(mut self, package: PackageRef) -> Self {
        self.package = Some(package);
        self
    }

    pub fn suppressed(mut self, suppression: Suppression) -> Self {
        self.suppression = Some(suppression);
        self
    }

    pub fn advisory(mut self, advisory: AdvisoryRef) -> Self {
        self.advisory = Some(advisory);
        self
    }

    /// The deterministic order findings are reported in: worst first, then by place, then rule.
    pub fn report_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.location.cmp(&b.location))
            .then_with(|| a.rule.cmp(b.rule))
            .then_with(|| a.message.cmp(&b.message))
    }
}
