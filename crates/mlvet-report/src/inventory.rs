//! What the inventory-style reports (JSON `models[]`, CycloneDX) list as models and datasets.

use mlvet_core::{ArtifactKind, ArtifactReport, ScanReport};

/// A model file, or a dataset file (its origin is a dataset repository).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModelKind {
    Model,
    Dataset,
}

impl ModelKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ModelKind::Model => "model",
            ModelKind::Dataset => "dataset",
        }
    }
}

/// The model and dataset artefacts of a scan, sorted by path.
pub(crate) fn models(report: &ScanReport) -> impl Iterator<Item = (&ArtifactReport, ModelKind)> {
    let mut artifacts: Vec<&ArtifactReport> = report
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Model)
        .collect();
    artifacts.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.format.cmp(&b.format)));
    artifacts.into_iter().map(|artifact| {
        let kind = match artifact.origin.as_ref() {
            Some(origin) if origin.repo_type == "dataset" => ModelKind::Dataset,
            _ => ModelKind::Model,
        };
        (artifact, kind)
    })
}
