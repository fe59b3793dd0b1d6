//! `mlvet scan`: walk the inputs, send every file to the analysis that reads it the way its real
//! loader would, match the dependency inventory against the advisory database, render, exit.

mod code;
mod epoch;
mod hash;
mod no_database;
mod packages;
pub mod settings;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mlvet_core::{ArtifactKind, ArtifactReport, RuleMeta, ScanError, ScanReport};
use mlvet_formats::{ScanOptions, WalkedFile};
use mlvet_inventory::{Inventory, TargetEnv};
use rayon::prelude::*;

use crate::cli::{ScanArgs, ScanFormat};

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
fn configure_worker_threads() {
    // An error means the pool already exists (configured by an earlier call): nothing to do.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(WORKER_STACK_BYTES)
        .build_global();
}

pub fn run(args: &ScanArgs) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    configure_worker_threads();
    let settings = settings::resolve(args)?;
    let report = build_report(args, &settings)?;
    let meta = mlvet_report::RunMeta {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        inputs: args.paths.iter().map(|p| p.display().to_string()).collect(),
        fail_on: settings.fail_on,
        duration_ms: Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
    };
    let text = match args.format {
        ScanFormat::Json => {
            // Streamed: the report of a large inventory is never held in memory as one string.
            crate::write_output_with(args.output.as_deref(), |out| {
                mlvet_report::write_json(&report, &meta, out)
            })?;
            return Ok(crate::exit::code_for(&report, settings.fail_on));
        }
        ScanFormat::Sarif => {
            let rules = crate::rules::all_rules();
            mlvet_report::render_sarif(
                &report,
                &meta,
                &mlvet_report::SarifOptions { rules: &rules },
            )
        }
        ScanFormat::Cyclonedx => {
            let options = mlvet_report::CycloneDxOptions {
                timestamp: epoch::source_date_epoch()?,
            };
            mlvet_report::render_cyclonedx(&report, &meta, &options)
        }
        ScanFormat::Markdown => mlvet_report::render_markdown(&report, &meta),
        ScanFormat::Terminal => {
            let color = args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            let opts = mlvet_report::TerminalOptions {
                color,
                verbose: args.verbose,
                quiet: args.quiet,
                width: None,
            };
            mlvet_report::render_terminal(&report, &meta, &opts)
        }
    };
    crate::write_output(args.output.as_deref(), &text)?;
    Ok(crate::exit::code_for(&report, settings.fail_on))
}

/// What one walked file turned out to be.
enum Outcome {
    Model(ArtifactReport),
    /// Python source or a notebook, analysed; its rules run once the inventory is known.
    Code(String, mlvet_python::CodeFile),
    Dependencies {
        file: WalkedFile,
        inventory: Inventory,
    },
    NotOfInterest,
    Failed(ScanError),
}

pub fn build_report(
    args: &ScanArgs,
    settings: &settings::ScanSettings,
) -> anyhow::Result<ScanReport> {
    let mut options = ScanOptions::default();
    if let Some(policy) = &settings.config_policy {
        options.policy.extend(policy.clone());
    }
    if let Some(path) = &args.policy {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read policy {}", path.display()))?;
        let extra = mlvet_pickle::Policy::from_toml_str(&text)
            .with_context(|| format!("invalid policy {}", path.display()))?;
        options.policy.extend(extra);
    }

    let (files, walk_errors) =
        mlvet_formats::walk_excluding(&args.paths, &|path, is_dir| settings.excluded(path, is_dir));
    let roots = inclusion_roots(&args.paths);
    let inventory_enabled = !args.no_deps;
    // The folder pass (model folders, hub origins) needs the whole list after the scans.
    let walked = files.clone();
    let hash_models = hash::wanted(args);
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let progress = crate::progress::ScanProgress::new(&files, show_progress);
    let outcomes: Vec<Outcome> = files
        .into_par_iter()
        .map(|file| {
            progress.start(&file.display);
            let size = file.size;
            let outcome = scan_one(file, &options, &roots, inventory_enabled, hash_models);
            progress.done(size);
            outcome
        })
        .collect();
    progress.finish();

    let mut report = ScanReport {
        errors: walk_errors,
        ..ScanReport::default()
    };
    for input in &args.paths {
        if settings.excluded(input, input.is_dir()) {
            report.warnings.push(format!(
                "{} is excluded by `exclude` (configuration or --exclude) and was not scanned",
                input.display()
            ));
        }
    }
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
    let code_context = code::context(&inventories);
    report
        .artifacts
        .extend(code::reports(code_files, &code_context));
    mlvet_formats::folders::apply(&walked, &mut report.artifacts);
    if !inventories.is_empty() {
        let target = settings
            .python_version
            .as_ref()
            .map(|python| TargetEnv::new(python, &settings.platform));
        match_dependencies(
            &mut report,
            inventories,
            args.data_dir.as_deref(),
            target.as_ref(),
        )?;
    }
    // After the scan, on the whole report: suppressed findings stay in it, marked, and verdicts
    // are derived again without them.
    mlvet_config::suppress::apply(
        &mut report,
        &settings.ignore_set(),
        &settings.vex,
        mlvet_config::Date::today_utc(),
    );
    report.sort();
    Ok(report)
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

fn scan_one(
    file: WalkedFile,
    options: &ScanOptions,
    roots: &[PathBuf],
    inventory_enabled: bool,
    hash_models: bool,
) -> Outcome {
    if let Some(analysed) = code::analyze(&file) {
        return match analysed {
            Ok(code_file) => Outcome::Code(file.display, code_file),
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

fn read_prefix(path: &Path) -> std::io::Result<Vec<u8>> {
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
) -> anyhow::Result<()> {
    let data_dir = match data_dir {
        Some(dir) => dir.to_path_buf(),
        None => mlvet_db::Database::data_dir().context("cannot locate mlvet's data directory")?,
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
