use std::collections::BTreeMap;

use crate::{Finding, InventoryPackage, Verdict};

/// Where a model or dataset came from, when the files say so (the Hugging Face hub cache layout
/// `models--org--name/snapshots/<commit>/`, the metadata a `local_dir` download leaves, a
/// `hf://` scan).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArtifactOrigin {
    /// `huggingface`.
    pub hub: String,
    /// `model`, `dataset` or `space`.
    pub repo_type: String,
    /// `org/name`.
    pub repo_id: String,
    /// The full 40-hex commit when known.
    pub revision: Option<String>,
    /// The path of the file inside the repository.
    pub path_in_repo: Option<String>,
}

/// What an artefact is, for inventories (JSON `models[]`, CycloneDX components).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArtifactKind {
    /// A model file, checkpoint, archive of model files, array file...: anything the format
    /// analyses read (a dataset when its `origin` says so).
    #[default]
    Model,
    /// A dependency manifest, lockfile, environment or SBOM (its records are in
    /// [`ScanReport::packages`]).
    Dependencies,
    /// A pipeline file: Dockerfile, shell script, CI workflow, Kubernetes manifest.
    Pipeline,
    /// A project configuration, data-tracking or secret-bearing file read by the registry and
    /// data analyses (`pip.conf`, `uv.toml`, `Pipfile`, `.dvc`, `dvc.lock`, `.lfsconfig`, `.env`,
    /// Git LFS objects...).
    Project,
    /// Source code that loads artefacts: a Python file or a Jupyter notebook.
    Code,
}

/// Everything mlvet concluded about one artefact (a model file, an archive, a manifest...).
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactReport {
    /// As the user passed it (files inside a scanned directory as `DIR/sub/file`).
    pub path: String,
    /// Detected format, by content: `pickle`, `pytorch-zip`, `numpy`, `zip`, `requirements`...
    pub format: String,
    pub verdict: Verdict,
    /// False when any part could not be inspected; such an artefact is never `Safe`.
    pub fully_inspected: bool,
    pub size: u64,
    pub findings: Vec<Finding>,
    /// Where the artefact came from, when known.
    pub origin: Option<ArtifactOrigin>,
    /// Facts the format parser read from the file, for model cards and inventories. Well-known
    /// keys: `architecture`, `model_type`, `name`, `license`, `parameters`, `tensors`, `dtype`,
    /// `quantization`, `framework`, `framework_version`, `task`.
    pub metadata: BTreeMap<String, String>,
    /// Lower-case hex SHA-256 of the whole file, when the scan hashed it (`--hash`, or a
    /// CycloneDX report).
    pub sha256: Option<String>,
    pub kind: ArtifactKind,
}

impl ArtifactReport {
    /// Builds the report and derives the verdict from the findings: the worst verdict any finding
    /// pushes to, and at least `Suspicious` when the artefact was not fully inspected.
    pub fn new(
        path: String,
        format: String,
        size: u64,
        fully_inspected: bool,
        mut findings: Vec<Finding>,
    ) -> Self {
        findings.sort_by(Finding::report_order);
        findings.dedup();
        let verdict = verdict_of(&findings, fully_inspected);
        ArtifactReport {
            path,
            format,
            verdict,
            fully_inspected,
            size,
            findings,
            origin: None,
            metadata: BTreeMap::new(),
            sha256: None,
            kind: ArtifactKind::Model,
        }
    }

    /// Derives the verdict again after findings were added or suppressed.
    pub fn refresh_verdict(&mut self) {
        self.verdict = verdict_of(&self.findings, self.fully_inspected);
    }

    pub fn with_origin(mut self, origin: ArtifactOrigin) -> Self {
        self.origin = Some(origin);
        self
    }

    pub fn with_kind(mut self, kind: ArtifactKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// The worst verdict any unsuppressed finding pushes to, and at least `Suspicious` when the
/// artefact was not fully inspected.
fn verdict_of(findings: &[Finding], fully_inspected: bool) -> Verdict {
    let verdict = findings
        .iter()
        .filter(|f| f.suppression.is_none())
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::Safe);
    if !fully_inspected && verdict == Verdict::Safe {
        Verdict::Suspicious
    } else {
        verdict
    }
}

/// A path that could not be scanned at all (unreadable, vanished...). Never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScanError {
    pub path: String,
    pub message: String,
}

/// The advisory database a scan matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseInfo {
    pub source: String,
    pub records: u64,
    /// RFC 3339 time of the last import or update.
    pub updated: Option<String>,
    pub stale: bool,
}

/// The result of one `mlvet scan`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanReport {
    pub artifacts: Vec<ArtifactReport>,
    pub errors: Vec<ScanError>,
    /// `None` when no advisory database was available: dependency findings are then incomplete.
    pub database: Option<DatabaseInfo>,
    /// Notes for the reader that are not findings (e.g. "no advisory database").
    pub warnings: Vec<String>,
    /// Every dependency record the inventory found, sorted by source (file, line) then name.
    pub packages: Vec<InventoryPackage>,
}

impl ScanReport {
    /// Sorts artefacts worst first, then by path, so output is deterministic.
    pub fn sort(&mut self) {
        self.artifacts
            .sort_by(|a, b| b.verdict.cmp(&a.verdict).then_with(|| a.path.cmp(&b.path)));
        self.errors.sort();
        self.packages.sort_by(|a, b| {
            a.source
                .cmp(&b.source)
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.id.cmp(&b.id))
        });
    }

    /// Findings that count: those no ignore or VEX statement suppresses.
    pub fn active_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings().filter(|f| f.suppression.is_none())
    }

    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.artifacts.iter().flat_map(|a| a.findings.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Location, RuleMeta, Severity};

    static R: RuleMeta = RuleMeta {
        id: "test-rule",
        category: "test",
        summary: "s",
        default_severity: Severity::Info,
        verdict: Verdict::Safe,
        docs: "",
    };

    #[test]
    fn incomplete_inspection_is_never_safe() {
        let report = ArtifactReport::new("a".into(), "pickle".into(), 1, false, vec![]);
        assert_eq!(report.verdict, Verdict::Suspicious);
        let report = ArtifactReport::new("a".into(), "pickle".into(), 1, true, vec![]);
        assert_eq!(report.verdict, Verdict::Safe);
    }

    #[test]
    fn verdict_is_the_worst_finding() {
        let bad = Finding::new(&R, Location::file("a"), "x").verdict(Verdict::Malicious);
        let meh = Finding::new(&R, Location::file("a"), "y").verdict(Verdict::Suspicious);
        let report = ArtifactReport::new("a".into(), "pickle".into(), 1, true, vec![meh, bad]);
        assert_eq!(report.verdict, Verdict::Malicious);
    }
}
