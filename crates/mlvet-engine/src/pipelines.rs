//! The scan's hook into `mlvet-pipelines`: Dockerfiles, shell scripts, GitHub Actions workflows
//! and composite actions, Kubernetes manifests, Compose files; then zizmor over the workflows when it is there.

use std::collections::BTreeMap;
use std::path::Path;

use mlvet_core::{ArtifactKind, ArtifactReport, ScanError, ScanReport};
use mlvet_formats::WalkedFile;

/// The pipeline report of `file`, or `None` when it is not a pipeline file.
pub fn scan_one(
    file: &WalkedFile,
    settings: &mlvet_pipelines::Settings,
) -> Option<Result<ArtifactReport, ScanError>> {
    if !maybe_pipeline(&file.path) {
        return None;
    }
    let prefix = match crate::read_prefix(&file.path) {
        Ok(prefix) => prefix,
        Err(err) => {
            return Some(Err(ScanError {
                path: file.display.clone(),
                message: err.to_string(),
            }));
        }
    };
    // Content decides before the name: a model saved under a pipeline-like name (a text pickle
    // called `setup.sh`) still goes to the model scanners.
    let sniffed = prefix.get(..mlvet_formats::SNIFF_LEN).unwrap_or(&prefix);
    if mlvet_formats::sniff(sniffed) != mlvet_formats::Format::NotAModel {
        return None;
    }
    let kind = mlvet_pipelines::detect(&file.path, &prefix)?;
    match mlvet_pipelines::scan_file(&file.path, &file.display, kind, settings) {
        Ok(Some(report)) => Some(Ok(report)),
        Ok(None) => None,
        Err(err) => Some(Err(ScanError {
            path: file.display.clone(),
            message: err.to_string(),
        })),
    }
}

/// Names that can be pipeline files (the content decides for YAML and extension-less files), so
/// that other files cost no extra read.
fn maybe_pipeline(path: &Path) -> bool {
    let Some(name) = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
    else {
        return false;
    };
    name.ends_with(".yml")
        || name.ends_with(".yaml")
        || name.ends_with(".sh")
        || name.ends_with(".bash")
        || name.contains("dockerfile")
        || name.contains("containerfile")
        || !name.contains('.')
}

/// Runs zizmor on the workflows of the report (unless disabled) and adds its findings to them;
/// says in a warning when it was skipped or failed.
pub fn run_zizmor(report: &mut ScanReport, walked: &[WalkedFile], enabled: bool) {
    let workflows: Vec<(std::path::PathBuf, String)> = report
        .artifacts
        .iter()
        .filter(|a| {
            a.kind == ArtifactKind::Pipeline
                && matches!(a.format.as_str(), "github-workflow" | "github-action")
        })
        .filter_map(|a| {
            walked
                .iter()
                .find(|w| w.display == a.path)
                .map(|w| (w.path.clone(), w.display.clone()))
        })
        .collect();
    if workflows.is_empty() {
        return;
    }
    if !enabled {
        report.warnings.push(
            "zizmor disabled (`[pipelines] zizmor = false` or MLVET_ZIZMOR=off): the generic GitHub Actions audit was skipped"
                .to_string(),
        );
        return;
    }
    match mlvet_pipelines::zizmor::run(&workflows) {
        mlvet_pipelines::zizmor::Outcome::Ran { findings, .. } => {
            let mut by_path: BTreeMap<String, Vec<mlvet_core::Finding>> = BTreeMap::new();
            for (display, finding) in findings {
                by_path.entry(display).or_default().push(finding);
            }
            for artifact in &mut report.artifacts {
                if let Some(found) = by_path.remove(&artifact.path) {
                    artifact.findings.extend(found);
                    artifact.findings.sort_by(mlvet_core::Finding::report_order);
                    artifact.refresh_verdict();
                }
            }
        }
        mlvet_pipelines::zizmor::Outcome::Skipped(reason) => report.warnings.push(reason),
        mlvet_pipelines::zizmor::Outcome::Failed(reason) => report.warnings.push(format!(
            "zizmor failed, its GitHub Actions audit is missing: {reason}"
        )),
    }
}
