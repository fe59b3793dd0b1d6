//! mlvet's scan orchestration, shared by the command line (`mlvet scan`) and the service
//! (`mlvet serve`): one engine, two front ends.
//!
//! [`build_report`] walks the inputs, sends every file to the analysis that reads it the way its
//! real loader would ([`scan_one`] is the one place where per-file analyses are dispatched),
//! matches the dependency inventory against the advisory database and applies ignores and VEX.
//! [`scan_upload`] does the same for one uploaded file (bytes and the name it was uploaded
//! under), spooled to a private temporary directory that is deleted when the scan ends.
//!
//! The engine returns data and never prints; progress is reported to a [`ScanObserver`].

mod code;
mod hash;
pub mod hub;
mod no_database;
mod packages;
mod pipelines;
pub mod settings;

use std::path::{Path, PathBuf};

use mlvet_core::{ArtifactKind, ArtifactReport, RuleMeta, ScanError, ScanReport};
use mlvet_formats::{ScanOptions, WalkedFile};
use mlvet_inventory::{Inventory, TargetEnv};
use rayon::prelude::*;

pub use hash::sha256_file;
pub use settings::{ConfigChoice, ScanSettings, SettingsError, SettingsInput};

/// Rules reported by the scan orchestration itself (not by one analysis).
pub fn rules() -> Vec<&'static RuleMeta> {
    vec![&no_database::RULE]
}

/// How much of a file is read to decide what it is.
const SNIFF_BYTES: usize = 4096;

/// Stack of every scan worker thread. Rayon's default (2 MiB, Rust's spawned-thread default) is a
/// quarter of the main thread's: the parsers' depth limits are sized so that their recursion fits
/// in this with a wide margin, whichever thread runs them.
pub const WORKER_STACK_BYTES: usize = 16 * 1024 * 1024;

/// Gives the global rayon pool (the walk and the per-file scans) worker threads with
/// [`WORKER_STACK_BYTES`] of stack. Only the first call in a process configures the pool.
pub fn configure_worker_threads() {
    // An error means the pool already exists (configured by an earlier call): nothing to do.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(WORKER_STACK_BYTES)
        .build_global();
}

/// Why a scan could not produce a report at all (problems with single inputs are
/// [`ScanError`]s inside the report instead).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot read policy {path}: {source}")]
    PolicyRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid policy {path}: {message}")]
    Policy { path: PathBuf, message: String },
    #[error("cannot locate mlvet's data directory: {0}")]
    DataDir(String),
    #[error("cannot spool the upload: {0}")]
    Spool(std::io::Error),
    #[error("invalid upload file name `{0}`: give a plain file name (no folders, no `..`)")]
    UploadName(String),
    #[error("Hub configuration: {0}")]
    HubConfig(String),
    #[error("{0}")]
    Hub(String),
}

/// Told about the scan's progress, from every worker thread. Every method defaults to nothing.
pub trait ScanObserver: Sync {
    /// The walk found `files`; they are about to be scanned.
    fn begin(&self, _files: &[WalkedFile]) {}
    /// `display` is being read now.
    fn start(&self, _display: &str) {}
    /// A file of `size` bytes is finished.
    fn done(&self, _size: u64) {}
    /// Every file is finished.
    fn finish(&self) {}
}

/// An observer that ignores everything.
pub struct NoObserver;

impl ScanObserver for NoObserver {}

/// One scan's inputs and switches. Plain data: no front-end types.
pub struct ScanRequest<'a> {
    /// Files and directories to scan.
    pub paths: &'a [PathBuf],
    pub settings: &'a ScanSettings,
    /// An extra pickle policy file (TOML); its entries win over the configuration's.
    pub policy_file: Option<&'a Path>,
    /// Compute the SHA-256 of every model file.
    pub hash_models: bool,
    /// Inventory dependencies and match them against advisories.
    pub inventory: bool,
    /// Where the advisory database lives; `None`: `$MLVET_DATA_DIR` or the per-user directory.
    pub data_dir: Option<&'a Path>,
    /// How `hf://` targets and Hub URLs among `paths` are read.
    pub hub: hub::HubRequest<'a>,
}

/// What one walked file turned out to be.
enum Outcome {
    Model(ArtifactReport),
    /// Python source or a notebook, analysed; its rules run once the inventory is known.
    Code(WalkedFile, mlvet_python::CodeFile),
    Dependencies {
        file: WalkedFile,
        inventory: Inventory,
    },
    NotOfInterest,
    Failed(ScanError),
}

/// Scans `request.paths` into a sorted report with ignores and VEX applied.
pub fn build_report(
    request: &ScanRequest<'_>,
    observer: &dyn ScanObserver,
) -> Result<ScanReport, EngineError> {
    configure_worker_threads();
    let settings = request.settings;
    let options = scan_options(settings, request.policy_file)?;
    // `hf://` targets and Hub URLs are scanned remotely; everything else is a local path.
    let (hub_targets, local_paths) = hub::split_inputs(request.paths);
    let (files, walk_errors) = mlvet_formats::walk_excluding(&local_paths, &|path, is_dir| {
        settings.excluded(path, is_dir)
    });
    let mut roots = inclusion_roots(&local_paths);
    // Hub targets first: their dependency manifests and code join the per-file pass below.
    let hub = hub::scan_targets(&hub_targets, &request.hub, &options, request.inventory)?;
    roots.extend(hub.root());
    let mut files = files;
    files.extend(hub.sources.iter().cloned());
    let mut report = ScanReport {
        errors: walk_errors,
        ..ScanReport::default()
    };
    for input in &local_paths {
        if settings.excluded(input, input.is_dir()) {
            report.warnings.push(format!(
                "{} is excluded by `exclude` (configuration or --exclude) and was not scanned",
                input.display()
            ));
        }
    }
    scan_files(files, hub, &roots, &options, request, observer, &mut report)?;
    Ok(report)
}

/// The analyses' options: the built-in pickle policy, the configuration's additions, then the
/// policy file's.
fn scan_options(
    settings: &ScanSettings,
    policy_file: Option<&Path>,
) -> Result<ScanOptions, EngineError> {
    let mut options = ScanOptions::default();
    if let Some(policy) = &settings.config_policy {
        options.policy.extend(policy.clone());
    }
    if let Some(path) = policy_file {
        let text = std::fs::read_to_string(path).map_err(|source| EngineError::PolicyRead {
            path: path.to_path_buf(),
            source,
        })?;
        let extra =
            mlvet_pickle::Policy::from_toml_str(&text).map_err(|e| EngineError::Policy {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        options.policy.extend(extra);
    }
    Ok(options)
}

/// Scans walked files in parallel, then the folder pass, matching, ignores and VEX.
fn scan_files(
    files: Vec<WalkedFile>,
    hub: hub::HubResults,
    roots: &[PathBuf],
    options: &ScanOptions,
    request: &ScanRequest<'_>,
    observer: &dyn ScanObserver,
    report: &mut ScanReport,
) -> Result<(), EngineError> {
    configure_worker_threads();
    let settings = request.settings;
    // The folder pass (model folders, hub origins) needs the whole list after the scans.
    let walked = files.clone();
    observer.begin(&files);
    let outcomes: Vec<Outcome> = files
        .into_par_iter()
        .map(|file| {
            observer.start(&file.display);
            let size = file.size;
            let outcome = match pipelines::scan_one(&file, &settings.pipelines) {
                Some(Ok(report)) => Outcome::Model(report),
                Some(Err(error)) => Outcome::Failed(error),
                None => scan_one(file, options, roots, request.inventory, request.hash_models),
            };
            observer.done(size);
            outcome
        })
        .collect();
    observer.finish();

    let mut inventories = Vec::new();
    let mut code_files = Vec::new();
    for outcome in outcomes {
        match outcome {
            Outcome::Model(artifact) => report.artifacts.push(artifact),
            Outcome::Code(display, file) => code_files.push((display, file)),
            Outcome::Dependencies { file, inventory } => inventories.push((file, inventory)),
            Outcome::NotOfInterest => {}
            Outcome::Failed(error) => report.errors.push(error),
        }
    }
    // Code rules need the scan's own inventory (torch and datasets versions), and run before the
    // folder pass so that its findings on `*.py` files merge into the code artefacts.
    let code_context = code::context(&inventories);
    report.artifacts.extend(code::reports(
        code_files,
        &code_context,
        &settings.pipelines,
    ));
    mlvet_formats::folders::apply(&walked, &mut report.artifacts);
    hub.merge_into(report);
    pipelines::run_zizmor(report, &walked, settings.zizmor);
    if !inventories.is_empty() {
        let target = settings
            .python_version
            .as_ref()
            .map(|python| TargetEnv::new(python, &settings.platform));
        match_dependencies(report, inventories, request.data_dir, target.as_ref())?;
    }
    // Registries and data: index configuration, lockfile sources, DVC/LFS integrity, tokens,
    // typosquats over the inventory (needs the dependency artefacts and packages above).
    let project_files: Vec<mlvet_registries::ProjectFile> = walked
        .iter()
        .map(|f| mlvet_registries::ProjectFile {
            path: f.path.clone(),
            display: f.display.clone(),
            size: f.size,
        })
        .collect();
    mlvet_registries::apply(
        report,
        &project_files,
        &mlvet_registries::Options {
            sources: settings.sources.clone(),
        },
    );
    // After the scan, on the whole report: suppressed findings stay in it, marked, and verdicts
    // are derived again without them.
    mlvet_config::suppress::apply(
        report,
        &settings.ignore_set(),
        &settings.vex,
        mlvet_config::Date::today_utc(),
    );
    report.sort();
    Ok(())
}

/// The longest accepted upload file name, in bytes.
const MAX_UPLOAD_NAME: usize = 512;

/// Checks an upload's name: a relative path of plain components (`requirements.txt`,
/// `services/api/poetry.lock`), without `..`, `.`, empty or absolute parts, backslashes, control
/// characters or NUL. The name identifies the source; its last component decides how the
/// content is read (`poetry.lock`, `model.safetensors`). Returns that last component.
pub fn upload_name(name: &str) -> Result<&str, EngineError> {
    let bad = || EngineError::UploadName(name.chars().take(80).collect());
    if name.is_empty()
        || name.len() > MAX_UPLOAD_NAME
        || name.contains('\\')
        || name.chars().any(char::is_control)
    {
        return Err(bad());
    }
    let mut last = None;
    for component in name.split('/') {
        // 255 bytes: the longest file name Linux and macOS file systems take.
        if component.is_empty() || component == "." || component == ".." || component.len() > 255 {
            return Err(bad());
        }
        last = Some(component);
    }
    last.ok_or_else(bad)
}

/// Scans one uploaded file: `bytes` under the name `filename` (see [`upload_name`]), spooled to
/// a private temporary directory that is removed when the scan ends. The report names the file
/// by `filename`; `-r`/`-c` includes in a requirements file cannot reach outside that directory.
pub fn scan_upload(
    filename: &str,
    bytes: &[u8],
    request: &UploadRequest<'_>,
) -> Result<ScanReport, EngineError> {
    let base = upload_name(filename)?;
    let spool = tempfile::Builder::new()
        .prefix("mlvet-upload-")
        .tempdir()
        .map_err(EngineError::Spool)?;
    let path = spool.path().join(base);
    std::fs::write(&path, bytes).map_err(EngineError::Spool)?;
    scan_spooled(&path, filename, request)
}

/// Like [`scan_upload`] for an upload already spooled to `path` (whose file name must be the
/// upload's name); `display` is how the report names it.
pub fn scan_spooled(
    path: &Path,
    display: &str,
    request: &UploadRequest<'_>,
) -> Result<ScanReport, EngineError> {
    let size = std::fs::metadata(path).map_err(EngineError::Spool)?.len();
    let file = WalkedFile {
        path: path.to_path_buf(),
        display: display.to_string(),
        size,
    };
    let roots = inclusion_roots(&[path.to_path_buf()]);
    let settings = ScanSettings::defaults();
    let scan = ScanRequest {
        paths: &[],
        settings: &settings,
        policy_file: None,
        hash_models: request.hash_models,
        inventory: true,
        data_dir: Some(request.data_dir),
        hub: hub::HubRequest::default(),
    };
    let mut report = ScanReport::default();
    scan_files(
        vec![file],
        hub::HubResults::default(),
        &roots,
        &ScanOptions::default(),
        &scan,
        &NoObserver,
        &mut report,
    )?;
    Ok(report)
}

/// A service scan's switches: built-in settings, the service's advisory database.
pub struct UploadRequest<'a> {
    pub data_dir: &'a Path,
    pub hash_models: bool,
}

/// The folder each input bounds `-r`/`-c` includes to: the directory itself, or a file's folder.
fn inclusion_roots(inputs: &[PathBuf]) -> Vec<PathBuf> {
    inputs
        .iter()
        .map(|input| {
            if input.is_dir() {
                input.clone()
            } else {
                input
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."))
            }
        })
        .collect()
}

fn root_for<'a>(path: &Path, roots: &'a [PathBuf]) -> &'a Path {
    roots
        .iter()
        .filter(|root| path.starts_with(root))
        .max_by_key(|root| root.components().count())
        .map(PathBuf::as_path)
        .unwrap_or_else(|| Path::new("."))
}

/// The one place where a file is dispatched to the analysis that reads it: dependency files
/// (manifests, lockfiles, environments, SBOMs) to the inventory, everything else to the model
/// formats.
fn scan_one(
    file: WalkedFile,
    options: &ScanOptions,
    roots: &[PathBuf],
    inventory_enabled: bool,
    hash_models: bool,
) -> Outcome {
    if let Some(analysed) = code::analyze(&file) {
        return match analysed {
            Ok(code_file) => Outcome::Code(file, code_file),
            Err(error) => Outcome::Failed(error),
        };
    }
    if inventory_enabled {
        let prefix = match read_prefix(&file.path) {
            Ok(prefix) => prefix,
            Err(err) => {
                return Outcome::Failed(ScanError {
                    path: file.display.clone(),
                    message: err.to_string(),
                });
            }
        };
        if let Some(kind) = mlvet_inventory::detect(&file.path, &prefix) {
            let root = root_for(&file.path, roots);
            return match mlvet_inventory::parse_file(&file.path, &file.display, kind, root) {
                Ok(inventory) => Outcome::Dependencies { file, inventory },
                Err(err) => Outcome::Failed(ScanError {
                    path: file.display.clone(),
                    message: err.to_string(),
                }),
            };
        }
    }
    match mlvet_formats::scan_file(&file.path, &file.display, options) {
        Ok(Some(mut artifact)) => {
            if hash_models {
                match hash::sha256_file(&file.path) {
                    Ok(digest) => artifact.sha256 = Some(digest),
                    Err(err) => {
                        return Outcome::Failed(ScanError {
                            path: file.display.clone(),
                            message: format!("cannot hash: {err}"),
                        });
                    }
                }
            }
            Outcome::Model(artifact)
        }
        Ok(None) => Outcome::NotOfInterest,
        Err(err) => Outcome::Failed(ScanError {
            path: file.display.clone(),
            message: err.to_string(),
        }),
    }
}

pub(crate) fn read_prefix(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    mlvet_formats::open_regular(path)?
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut prefix)?;
    Ok(prefix)
}

/// Matches every inventory against the advisory database and turns each into an artefact.
/// Without a database the dependency artefacts are reported as not fully inspected, with a
/// finding and a warning: mlvet never says "no vulnerabilities" when it could not look. A
/// database that cannot be opened or read (damaged file, unreadable record, other schema) is a
/// scan error as well: the result is incomplete, never `safe`.
fn match_dependencies(
    report: &mut ScanReport,
    inventories: Vec<(WalkedFile, Inventory)>,
    data_dir: Option<&Path>,
    target: Option<&TargetEnv>,
) -> Result<(), EngineError> {
    let data_dir = match data_dir {
        Some(dir) => dir.to_path_buf(),
        None => mlvet_db::Database::data_dir().map_err(|e| EngineError::DataDir(e.to_string()))?,
    };
    let database = match mlvet_db::Database::open(&data_dir) {
        Ok(database) => database,
        Err(error) => {
            report.errors.push(ScanError {
                path: data_dir.join(mlvet_db::DATABASE_FILE).display().to_string(),
                message: format!("cannot read the advisory database: {error}"),
            });
            None
        }
    };
    match &database {
        Some(db) => {
            let info = db.info();
            if info.stale {
                report.warnings.push(format!(
                    "the advisory database is stale (last updated {}): run `mlvet db update`",
                    info.updated.as_deref().unwrap_or("never")
                ));
            }
            report.database = Some(info);
        }
        None => report.warnings.push(format!(
            "no advisory database in {}: dependencies were inventoried but NOT checked for vulnerabilities; \
             run `mlvet db update` (or `mlvet db import PATH` offline)",
            data_dir.display()
        )),
    }

    let mut package_ids = packages::IdAllocator::default();
    for (file, inventory) in inventories {
        let edges = inventory.edges;
        let direct = inventory.direct;
        let mut findings = inventory.findings;
        let mut fully_inspected = inventory.fully_parsed;
        let dependencies: Vec<_> = inventory
            .dependencies
            .into_iter()
            .filter(|dep| applies_to_target(dep, target))
            .collect();
        match &database {
            Some(db) => {
                let source = FailureRecordingSource::new(db);
                let matched = mlvet_osv::match_dependencies(
                    &dependencies,
                    &source,
                    &mlvet_osv::MatchOptions::default(),
                );
                findings.extend(matched.findings);
                if let Some(message) = source.failure() {
                    fully_inspected = false;
                    report.errors.push(ScanError {
                        path: file.display.clone(),
                        message,
                    });
                }
            }
            None => {
                fully_inspected = false;
                if !dependencies.is_empty() {
                    findings.push(no_database::finding(&file.display, dependencies.len()));
                }
            }
        }
        // Moved, not copied, once matching is done: the inventory is held once at the peak.
        report.packages.extend(packages::from_dependencies(
            dependencies,
            &edges,
            &direct,
            &mut package_ids,
        ));
        report.artifacts.push(
            ArtifactReport::new(
                file.display,
                inventory.kind.as_str().to_string(),
                file.size,
                fully_inspected,
                findings,
            )
            .with_kind(ArtifactKind::Dependencies),
        );
    }
    Ok(())
}

/// Passes lookups through to the database and remembers the first failure, so that a damaged
/// record becomes a scan error (exit 3) instead of only a finding on one dependency.
struct FailureRecordingSource<'a> {
    database: &'a mlvet_db::Database,
    failures: std::sync::Mutex<(usize, Option<String>)>,
}

impl<'a> FailureRecordingSource<'a> {
    fn new(database: &'a mlvet_db::Database) -> Self {
        FailureRecordingSource {
            database,
            failures: std::sync::Mutex::new((0, None)),
        }
    }

    /// The first failure and how many lookups failed, if any did.
    fn failure(self) -> Option<String> {
        let (count, first) = self
            .failures
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        first.map(|first| match count {
            1 => format!("advisory lookup failed: {first}"),
            _ => format!("{count} advisory lookups failed, the first: {first}"),
        })
    }
}

impl mlvet_osv::AdvisorySource for FailureRecordingSource<'_> {
    fn advisories_for(
        &self,
        ecosystem: &str,
        normalized_name: &str,
    ) -> Result<Vec<mlvet_osv::Advisory>, mlvet_osv::OsvError> {
        let result =
            mlvet_osv::AdvisorySource::advisories_for(self.database, ecosystem, normalized_name);
        if let Err(error) = &result {
            let mut failures = self
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            failures.0 += 1;
            failures.1.get_or_insert_with(|| error.to_string());
        }
        result
    }
}

/// With `--python-version`, a dependency whose markers exclude the target is left out of matching.
/// Markers that cannot be evaluated keep the dependency: it is never silently dropped.
fn applies_to_target(dep: &mlvet_inventory::Dependency, target: Option<&TargetEnv>) -> bool {
    match (target, dep.markers.as_deref()) {
        (Some(target), Some(markers)) => {
            mlvet_inventory::markers_apply(markers, target).unwrap_or(true)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names_are_plain_file_names() {
        for bad in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "a/../b",
            "/etc/passwd",
            "a//b",
            "a/",
            "a\\b",
            "x\0y",
            "x\ny",
        ] {
            assert!(upload_name(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(upload_name(&"a".repeat(600)).is_err());
        assert!(
            upload_name(&"a".repeat(256)).is_err(),
            "a component longer than a file name"
        );
        for good in [
            "poetry.lock",
            "requirements.txt",
            "model.safetensors",
            "..x",
        ] {
            assert_eq!(upload_name(good).expect("accepted"), good);
        }
        assert_eq!(upload_name("svc/api/uv.lock").expect("accepted"), "uv.lock");
    }

    #[test]
    fn an_uploaded_requirements_file_is_inventoried_under_its_name() {
        let data = tempfile::tempdir().expect("tempdir");
        let report = scan_upload(
            "requirements.txt",
            b"torch==2.0.0\nnumpy==1.26.0\n",
            &UploadRequest {
                data_dir: data.path(),
                hash_models: false,
            },
        )
        .expect("scan");
        assert_eq!(report.packages.len(), 2);
        assert!(
            report
                .packages
                .iter()
                .all(|p| p.source.file == "requirements.txt")
        );
        // No advisory database: never reported as checked.
        assert!(
            report
                .artifacts
                .iter()
                .flat_map(|a| &a.findings)
                .any(|f| f.rule == "dependency-no-database")
        );
    }
}
