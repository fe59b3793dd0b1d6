//! `mlvet scan hf://ORG/NAME[@REVISION][/PATH]`: Hub targets scanned by range reads
//! (`mlvet-hub`); their artefacts join the report like local ones.
//!
//! Model files are read by ranges. Dependency manifests (requirements files, `pyproject.toml`,
//! conda environments, lockfiles) and code (`*.py`, notebooks) are read whole, verified against
//! the commit, and go through the same inventory, advisory matching and code rules as local
//! files: [`HubResults::sources`] are handed to the engine's per-file pass under their
//! `hf://org/name@<commit>/<path>` names.

use std::path::{Path, PathBuf};

use mlvet_core::{ArtifactReport, ScanError, ScanReport};
use mlvet_formats::{ScanOptions, WalkedFile};
use mlvet_hub::{HubClient, HubConfig, HubScanOptions, HubTarget, ReadCache};

use crate::EngineError;

/// How Hub targets are read.
#[derive(Debug, Clone, Copy)]
pub struct HubRequest<'a> {
    /// A file holding the Hugging Face token (default: `$HF_TOKEN`).
    pub token_file: Option<&'a Path>,
    /// Bytes read at most from one remote file; a file needing more is not fully inspected.
    pub max_file_bytes: u64,
}

impl Default for HubRequest<'_> {
    fn default() -> Self {
        HubRequest {
            token_file: None,
            max_file_bytes: HubScanOptions::default().file_budget,
        }
    }
}

/// Splits the inputs into Hub targets (as typed) and local paths.
pub fn split_inputs(inputs: &[PathBuf]) -> (Vec<String>, Vec<PathBuf>) {
    let endpoint =
        std::env::var("HF_ENDPOINT").unwrap_or_else(|_| mlvet_hub::DEFAULT_ENDPOINT.to_string());
    let endpoint = endpoint.trim_end_matches('/');
    let mut hub = Vec::new();
    let mut local = Vec::new();
    for input in inputs {
        match input.to_str() {
            Some(text) if mlvet_hub::is_hub_target(text, endpoint) => hub.push(text.to_string()),
            _ => local.push(input.clone()),
        }
    }
    (hub, local)
}

/// Dependency manifests and code, by path and first bytes: what a local scan inventories or
/// analyses as code.
pub fn is_source(path: &str, prefix: &[u8]) -> bool {
    is_code(path, prefix) || mlvet_inventory::detect(Path::new(path), prefix).is_some()
}

/// Code only (`--no-deps`: no inventory, the code rules still run).
pub fn is_code(path: &str, prefix: &[u8]) -> bool {
    mlvet_python::CodeKind::of_path(Path::new(path)).is_some()
        && !prefix[..prefix.len().min(4096)].contains(&0)
}

/// What the Hub targets of one scan produced.
#[derive(Default)]
pub struct HubResults {
    /// Model artefacts (and the folder pass's findings), annotated with their Hub origin.
    pub artifacts: Vec<ArtifactReport>,
    pub errors: Vec<ScanError>,
    /// Dependency manifests and code, spooled under [`HubResults::root`], named `hf://…`.
    pub sources: Vec<WalkedFile>,
    /// `(target, commit)` of every target scanned.
    pub commits: Vec<(HubTarget, String)>,
    spool: Option<tempfile::TempDir>,
}

impl HubResults {
    /// The folder the sources are spooled in (their `-r` includes stay inside it).
    pub fn root(&self) -> Option<PathBuf> {
        self.spool.as_ref().map(|d| d.path().to_path_buf())
    }

    /// Scans one target into these results; `Err` when nothing of it could be scanned.
    pub fn scan(
        &mut self,
        client: &HubClient,
        target: &HubTarget,
        options: &HubScanOptions,
        cache: Option<&dyn ReadCache>,
    ) -> Result<(), mlvet_hub::HubError> {
        let scan = mlvet_hub::scan_target_cached(client, target, options, cache)?;
        self.artifacts.extend(scan.artifacts);
        self.errors.extend(scan.errors);
        if !scan.sources.is_empty() {
            let index = self.commits.len();
            match self.spool_sources(index, &scan.sources) {
                Ok(files) => self.sources.extend(files),
                Err(error) => self.errors.push(ScanError {
                    path: target.display(&scan.commit, ""),
                    message: format!(
                        "cannot spool the dependency and code files (NOT inspected): {error}"
                    ),
                }),
            }
        }
        self.commits.push((target.clone(), scan.commit));
        Ok(())
    }

    fn spool_sources(
        &mut self,
        index: usize,
        sources: &[mlvet_hub::SourceFile],
    ) -> std::io::Result<Vec<WalkedFile>> {
        if self.spool.is_none() {
            self.spool = Some(
                tempfile::Builder::new()
                    .prefix("mlvet-hub-sources-")
                    .tempdir()?,
            );
        }
        let root = self.root().unwrap_or_default().join(index.to_string());
        let mut files = Vec::new();
        for source in sources {
            if !is_plain_relative(&source.path) {
                self.errors.push(ScanError {
                    path: source.display.clone(),
                    message: "not a plain relative path: NOT inspected".to_string(),
                });
                continue;
            }
            let path = root.join(&source.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, &source.bytes)?;
            files.push(WalkedFile {
                path,
                display: source.display.clone(),
                size: source.bytes.len() as u64,
            });
        }
        Ok(files)
    }

    /// Adds the model artefacts and errors to the report (the sources went through the
    /// per-file pass already).
    ///
    /// A source file can have both: its per-file report (code rules) and the folder pass's
    /// findings on it (e.g. Python beside the weights). They are one artefact, as in a local
    /// scan: the findings are joined and the verdict recomputed, never two reports for one path.
    pub(crate) fn merge_into(self, report: &mut ScanReport) {
        for artifact in self.artifacts {
            match report
                .artifacts
                .iter_mut()
                .find(|a| a.path == artifact.path)
            {
                Some(existing) => join_artifact(existing, artifact),
                None => report.artifacts.push(artifact),
            }
        }
        report.errors.extend(self.errors);
    }
}

fn join_artifact(existing: &mut ArtifactReport, other: ArtifactReport) {
    existing.findings.extend(other.findings);
    existing.findings.sort_by(mlvet_core::Finding::report_order);
    existing.findings.dedup();
    existing.fully_inspected &= other.fully_inspected;
    if existing.origin.is_none() {
        existing.origin = other.origin;
    }
    for (key, value) in other.metadata {
        existing.metadata.entry(key).or_insert(value);
    }
    existing.refresh_verdict();
}

/// The Hub options of a scan with `options`.
pub fn hub_options(options: &ScanOptions, max_file_bytes: u64, inventory: bool) -> HubScanOptions {
    HubScanOptions {
        scan: options.clone(),
        file_budget: max_file_bytes,
        sources: Some(if inventory { is_source } else { is_code }),
        ..HubScanOptions::default()
    }
}

/// Scans every Hub target: a target that cannot be scanned at all (gated, missing, rate
/// limited...) is a scan error, never an empty clean result.
pub fn scan_targets(
    targets: &[String],
    request: &HubRequest<'_>,
    options: &ScanOptions,
    inventory: bool,
) -> Result<HubResults, EngineError> {
    let mut results = HubResults::default();
    if targets.is_empty() {
        return Ok(results);
    }
    let config = HubConfig::from_env(request.token_file)
        .map_err(|e| EngineError::HubConfig(e.to_string()))?;
    let endpoint = config.endpoint.clone();
    let client = HubClient::new(config);
    let hub_options = hub_options(options, request.max_file_bytes, inventory);
    for input in targets {
        let target = match mlvet_hub::parse_target(input, &endpoint) {
            Ok(target) => target,
            Err(error) => {
                results.errors.push(ScanError {
                    path: input.clone(),
                    message: error.to_string(),
                });
                continue;
            }
        };
        if let Err(error) = results.scan(&client, &target, &hub_options, None) {
            results.errors.push(ScanError {
                path: input.clone(),
                message: error.to_string(),
            });
        }
    }
    Ok(results)
}

/// One Hub target scanned the way the service scans it (built-in settings, inventory matched
/// against the advisory database in `data_dir`, reads cached in `cache`): the report and the
/// commit. `Err` when the target could not be scanned at all.
pub fn scan_for_service(
    client: &HubClient,
    target: &HubTarget,
    tool_version: &str,
    cache: Option<&dyn ReadCache>,
    data_dir: &Path,
) -> Result<(ScanReport, String), EngineError> {
    crate::configure_worker_threads();
    let options = ScanOptions::default();
    let mut hub_options = hub_options(&options, HubScanOptions::default().file_budget, true);
    hub_options.tool_version = tool_version.to_string();
    let mut results = HubResults::default();
    results
        .scan(client, target, &hub_options, cache)
        .map_err(|e| EngineError::Hub(e.to_string()))?;
    let commit = results
        .commits
        .first()
        .map(|(_, commit)| commit.clone())
        .unwrap_or_default();
    let settings = crate::ScanSettings::defaults();
    let request = crate::ScanRequest {
        paths: &[],
        settings: &settings,
        policy_file: None,
        hash_models: false,
        inventory: true,
        data_dir: Some(data_dir),
        hub: HubRequest::default(),
    };
    let roots: Vec<PathBuf> = results.root().into_iter().collect();
    let files = results.sources.clone();
    let mut report = ScanReport::default();
    crate::scan_files(
        files,
        results,
        &roots,
        &options,
        &request,
        &crate::NoObserver,
        &mut report,
    )?;
    Ok((report, commit))
}

/// A relative `/`-separated path without empty, `.` or `..` components (a listing from a
/// hostile endpoint cannot write outside the spool).
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}
