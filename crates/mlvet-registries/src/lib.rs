//! Registries and data: the project-level analyses of where packages, models and data come from.
//!
//! Reads project configuration (requirements option lines, `pip.conf`, `pyproject.toml` uv /
//! Poetry / PDM tables, `uv.toml`, `Pipfile`), lockfiles (`uv.lock`, `poetry.lock`,
//! `Pipfile.lock`), model-folder JSON (`auto_map`, `custom_pipeline`, PEFT adapters), DVC files
//! (`.dvc`, `dvc.lock`, `dvc.yaml`, `.dvc/config`, the DVC cache), Git LFS (`.lfsconfig`,
//! pointers, `.git/lfs/objects`) and any text file for ML tokens. Nothing is executed or fetched:
//! every check is a parse and, for data integrity, a hash of bytes on disk.
//!
//! Entry point: [`apply`] adds the findings to a [`ScanReport`] after the per-file scan (findings
//! on files another analysis already reported, such as a lockfile, join that artefact; other files
//! become artefacts of kind [`ArtifactKind::Project`]).

mod classify;
pub mod dvc;
pub mod ini;
pub mod lfs;
mod policy;
pub mod project;
pub mod requirements;
pub mod rules;
mod scan;
mod text;

use std::path::PathBuf;

use mlvet_core::{ArtifactKind, ArtifactReport, Finding, RuleMeta, ScanError, ScanReport};

pub use classify::{FileKind, classify};
pub use policy::{SourceKind, SourceRef};
pub use rules::index_confusion::{IndexConfusion, Installer, check_pip_index_args};

/// One file of the walk, as the scan saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFile {
    pub path: PathBuf,
    /// As the user should see it (`DIR/sub/file`).
    pub display: String,
    pub size: u64,
}

/// What the project analyses need beyond the files.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The `[sources]` policy of the configuration.
    pub sources: mlvet_config::Sources,
}

/// Every rule this crate reports.
pub fn rules() -> Vec<&'static RuleMeta> {
    rules::all()
}

/// Runs the project analyses over `files` and the report's inventory, and adds their findings to
/// `report`: into the artefact of the same path when one exists, else as a new artefact of kind
/// [`ArtifactKind::Project`]. Files that cannot be read become scan errors.
pub fn apply(report: &mut ScanReport, files: &[ProjectFile], options: &Options) {
    let outcome = scan::scan_files(files, options);
    report.errors.extend(outcome.errors);
    let mut by_path = outcome.findings;
    for finding in rules::possible_typosquat::check(&report.packages) {
        by_path
            .entry(finding.location.path.clone())
            .or_default()
            .push(finding);
    }
    merge(
        report,
        files,
        by_path,
        &outcome.formats,
        &outcome.unverified,
    );
}

fn merge(
    report: &mut ScanReport,
    files: &[ProjectFile],
    by_path: std::collections::BTreeMap<String, Vec<Finding>>,
    formats: &std::collections::BTreeMap<String, &'static str>,
    unverified: &std::collections::BTreeSet<String>,
) {
    let sizes: std::collections::HashMap<&str, u64> =
        files.iter().map(|f| (f.display.as_str(), f.size)).collect();
    for (path, findings) in by_path {
        if let Some(artifact) = report.artifacts.iter_mut().find(|a| a.path == path) {
            artifact.findings.extend(findings);
            artifact.findings.sort_by(Finding::report_order);
            artifact.findings.dedup();
            if unverified.contains(&path) {
                artifact.fully_inspected = false;
            }
            artifact.refresh_verdict();
            continue;
        }
        let format = formats.get(&path).copied().unwrap_or("project");
        let size = sizes.get(path.as_str()).copied().unwrap_or(0);
        let fully_inspected = !unverified.contains(&path);
        report.artifacts.push(
            ArtifactReport::new(path, format.to_string(), size, fully_inspected, findings)
                .with_kind(ArtifactKind::Project),
        );
    }
}

/// An error reading one project file.
pub(crate) fn scan_error(display: &str, message: impl Into<String>) -> ScanError {
    ScanError {
        path: display.to_string(),
        message: message.into(),
    }
}
