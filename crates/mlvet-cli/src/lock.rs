//! `mlvet lock [PATH]`: pin every model, tokenizer and dataset artefact under PATH in
//! `PATH/mlvet.lock`; `--check` compares the folder with the lock and names every modified,
//! missing or new artefact. Both verify Hugging Face cache blobs against their content address.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mlvet_core::{ArtifactKind, ArtifactReport, ScanReport};
use mlvet_formats::WalkedFile;
use mlvet_provenance::hashing::{HashAlgorithm, HashJob, hash_jobs, hex};
use mlvet_provenance::hubcache::{self, BlobMismatch, ContentAddress};
use mlvet_provenance::lockfile::{self, LockDiff, LockedArtifact, LockedOrigin, Lockfile};

use crate::UsageError;
use crate::cli::{LockArgs, OutputFormat};

/// Verdict recorded for files no analysis reads.
const NOT_ANALYSED: &str = "not-analysed";

pub fn run(args: &LockArgs) -> anyhow::Result<u8> {
    mlvet_engine::configure_worker_threads();
    let root = &args.path;
    if !root.is_dir() {
        return Err(UsageError(format!("{} is not a directory", root.display())).into());
    }
    let lock_path = args
        .lockfile
        .clone()
        .unwrap_or_else(|| root.join(lockfile::LOCK_FILE_NAME));
    let repo = match &args.hf_repo {
        Some(text) => Some(crate::lock_hub::parse_repo(text).map_err(UsageError)?),
        None => None,
    };
    let collected = collect(root, &lock_path, args, repo.as_ref())?;
    if args.check {
        check(args, &lock_path, &collected, repo.as_ref())
    } else {
        write(args, &lock_path, &collected)
    }
}

/// What the folder holds now.
struct Collected {
    artifacts: Vec<LockedArtifact>,
    blob_mismatches: Vec<(String, BlobMismatch)>,
    errors: Vec<String>,
}

/// The scan `mlvet lock` relies on for formats, verdicts and origins. One function, so that the
/// scan orchestration can move (to `mlvet-engine`) without touching the rest of this file.
fn scan_folder(root: &Path, args: &LockArgs) -> anyhow::Result<(ScanReport, Vec<WalkedFile>)> {
    let input = mlvet_engine::SettingsInput {
        config: if args.config.no_config {
            mlvet_engine::ConfigChoice::None
        } else if let Some(path) = &args.config.config {
            mlvet_engine::ConfigChoice::File(path.clone())
        } else {
            mlvet_engine::ConfigChoice::Discover
        },
        fail_on: None,
        python_version: None,
        platform: None,
        exclude: args.config.exclude.clone(),
        vex: Vec::new(),
    };
    let settings = mlvet_engine::settings::resolve(&input, &crate::rules::all_rules())
        .map_err(|e| anyhow::Error::new(UsageError(e.0)))?;
    let paths = vec![root.to_path_buf()];
    let request = mlvet_engine::ScanRequest {
        paths: &paths,
        settings: &settings,
        policy_file: None,
        hash_models: false,
        inventory: false,
        data_dir: None,
        hub: mlvet_engine::hub::HubRequest::default(),
    };
    let report = mlvet_engine::build_report(&request, &mlvet_engine::NoObserver)?;
    let (walked, _) =
        mlvet_formats::walk_excluding(&paths, &|path, is_dir| settings.excluded(path, is_dir));
    Ok((report, walked))
}

fn collect(
    root: &Path,
    lock_path: &Path,
    args: &LockArgs,
    repo: Option<&mlvet_hub::HubTarget>,
) -> anyhow::Result<Collected> {
    let (report, walked) = scan_folder(root, args)?;
    let lock_canonical = lock_path.canonicalize().ok();
    let by_display: BTreeMap<&str, &WalkedFile> =
        walked.iter().map(|f| (f.display.as_str(), f)).collect();
    let mut errors: Vec<String> = report
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.path, e.message))
        .collect();

    // Files the scan analysed: their format and verdict come from it.
    let mut candidates: Vec<(PathBuf, LockedArtifact)> = Vec::new();
    let mut analysed = std::collections::BTreeSet::new();
    for artifact in &report.artifacts {
        if artifact.kind != ArtifactKind::Model {
            continue;
        }
        let Some(file) = by_display.get(artifact.path.as_str()) else {
            continue;
        };
        analysed.insert(artifact.path.clone());
        let kind = if artifact.format == "hf-tokenizer-config" {
            "tokenizer"
        } else if artifact
            .origin
            .as_ref()
            .is_some_and(|o| o.repo_type == "dataset")
        {
            "dataset"
        } else {
            "model"
        };
        candidates.push((file.path.clone(), locked(root, file, artifact, kind)));
    }

    // Tokenizers, datasets, configs (and every file of a hub snapshot) no analysis reads.
    let mut extra_reports = Vec::new();
    let mut extra_kinds = BTreeMap::new();
    for file in &walked {
        if analysed.contains(&file.display) {
            continue;
        }
        let name = file
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let in_snapshot = mlvet_formats::folders::hub_origin(&absolute(&file.path))
            .is_some_and(|o| o.path_in_repo.is_some());
        let (kind, format) = match mlvet_provenance::artifacts::classify(name) {
            Some(found) => found,
            None if in_snapshot => ("file", "other"),
            None => continue,
        };
        extra_kinds.insert(file.display.clone(), kind);
        extra_reports.push(ArtifactReport::new(
            file.display.clone(),
            format.to_string(),
            file.size,
            true,
            Vec::new(),
        ));
    }
    // The folder pass gives them their origins, as it does for the scanned files.
    mlvet_formats::folders::apply(&walked, &mut extra_reports);
    for report in &extra_reports {
        let (Some(kind), Some(file)) = (
            extra_kinds.get(&report.path),
            by_display.get(report.path.as_str()),
        ) else {
            continue;
        };
        let mut artifact = locked(root, file, report, kind);
        artifact.verdict = NOT_ANALYSED.to_string();
        if artifact
            .origin
            .as_ref()
            .is_some_and(|o| o.repo_type == "dataset")
            && *kind == "file"
        {
            artifact.kind = "dataset".to_string();
        }
        candidates.push((file.path.clone(), artifact));
    }
    candidates
        .retain(|(path, _)| lock_canonical.is_none() || path.canonicalize().ok() != lock_canonical);

    // Hash everything in parallel.
    let jobs: Vec<HashJob> = candidates.iter().map(|(p, _)| HashJob::file(p)).collect();
    let digests = hash_jobs(&jobs, HashAlgorithm::Sha256);
    let mut artifacts = Vec::with_capacity(candidates.len());
    let mut blob_mismatches = Vec::new();
    for ((path, mut artifact), digest) in candidates.into_iter().zip(digests) {
        match digest {
            Ok(digest) => artifact.sha256 = hex(&digest),
            Err(err) => {
                errors.push(format!("{}: {err}", artifact.path));
                continue;
            }
        }
        match hubcache::check(&path, Some(&artifact.sha256)) {
            Ok(Some(mismatch)) => blob_mismatches.push((artifact.path.clone(), mismatch)),
            Ok(None) => {}
            Err(err) => errors.push(format!("{}: {err}", artifact.path)),
        }
        crate::lock_hub::enrich(&path, &mut artifact, repo);
        artifacts.push(artifact);
    }
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Collected {
        artifacts,
        blob_mismatches,
        errors,
    })
}

fn locked(root: &Path, file: &WalkedFile, report: &ArtifactReport, kind: &str) -> LockedArtifact {
    let relative = file
        .path
        .strip_prefix(root)
        .unwrap_or(&file.path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    LockedArtifact {
        path: relative,
        kind: kind.to_string(),
        format: report.format.clone(),
        size: file.size,
        sha256: String::new(),
        verdict: report.verdict.as_str().to_string(),
        origin: report.origin.as_ref().map(LockedOrigin::from),
    }
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

fn write(args: &LockArgs, lock_path: &Path, collected: &Collected) -> anyhow::Result<u8> {
    if !collected.errors.is_empty() {
        let mut message = String::from("cannot lock: some files could not be read");
        for error in &collected.errors {
            message.push_str(&format!("\n  {error}"));
        }
        anyhow::bail!(message);
    }
    if !collected.blob_mismatches.is_empty() {
        // Never pin a corrupted or tampered cache file as the truth.
        let text = render_check(args.format, lock_path, &LockDiff::default(), collected)?;
        crate::write_output(None, &text)?;
        return Ok(crate::exit::PROVENANCE_MISMATCH);
    }
    let lock = Lockfile::new(collected.artifacts.clone());
    let text = lock.to_toml()?;
    std::fs::write(lock_path, text)
        .with_context(|| format!("cannot write {}", lock_path.display()))?;
    let summary = match args.format {
        OutputFormat::Json => {
            serde_json::to_string_pretty(&serde_json::json!({
                "lockfile": lock_path.display().to_string(),
                "artifacts": lock.artifacts.len(),
            }))? + "\n"
        }
        OutputFormat::Terminal => format!(
            "Locked {} artefact(s) in {}\n",
            lock.artifacts.len(),
            lock_path.display()
        ),
    };
    crate::write_output(None, &summary)?;
    Ok(crate::exit::CLEAN)
}

fn check(
    args: &LockArgs,
    lock_path: &Path,
    collected: &Collected,
    repo: Option<&mlvet_hub::HubTarget>,
) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(lock_path).map_err(|e| {
        UsageError(format!(
            "cannot read {}: {e} (create it with `mlvet lock`)",
            lock_path.display()
        ))
    })?;
    let lock = Lockfile::from_toml(&text)
        .map_err(|e| UsageError(format!("{}: {e}", lock_path.display())))?;
    let mut diff = lockfile::diff(&lock, &collected.artifacts);
    // A locked file that could not be read now is not silently "missing": it is an error.
    if !collected.errors.is_empty() {
        let mut message = String::from("cannot check: some files could not be read");
        for error in &collected.errors {
            message.push_str(&format!("\n  {error}"));
        }
        anyhow::bail!(message);
    }
    diff.new.retain(|path| !path.is_empty());
    let hub = if args.hub {
        let config = mlvet_hub::HubConfig::from_env(args.hf_token_file.as_deref())?;
        let client = mlvet_hub::HubClient::new(config);
        Some(crate::lock_hub::check(
            &client,
            &lock,
            &collected.artifacts,
            &args.path,
            repo,
        ))
    } else {
        None
    };
    let mut text = render_check(args.format, lock_path, &diff, collected)?;
    if let Some(hub) = &hub {
        text = match args.format {
            OutputFormat::Json => {
                let mut value: serde_json::Value = serde_json::from_str(&text)?;
                value["hub"] = serde_json::to_value(hub)?;
                serde_json::to_string_pretty(&value)? + "\n"
            }
            OutputFormat::Terminal => format!("{}{text}", crate::lock_hub::render(hub)),
        };
    }
    crate::write_output(None, &text)?;
    let hub_mismatches = hub.as_ref().map_or(0, |h| h.mismatches());
    let hub_errors = hub.as_ref().map_or(0, |h| h.errors());
    if hub_errors > 0 {
        // As for scans: an unanswered question is not a pass (and not a mismatch either).
        Ok(crate::exit::ERROR)
    } else if diff.is_clean() && collected.blob_mismatches.is_empty() && hub_mismatches == 0 {
        Ok(crate::exit::CLEAN)
    } else {
        Ok(crate::exit::PROVENANCE_MISMATCH)
    }
}

fn address_text(address: &ContentAddress) -> String {
    match address {
        ContentAddress::Sha256(h) => format!("sha256 {h}"),
        ContentAddress::GitSha1(h) => format!("git blob sha1 {h}"),
    }
}

fn render_check(
    format: OutputFormat,
    lock_path: &Path,
    diff: &LockDiff,
    collected: &Collected,
) -> anyhow::Result<String> {
    let clean = diff.is_clean() && collected.blob_mismatches.is_empty();
    if format == OutputFormat::Json {
        let value = serde_json::json!({
            "lockfile": lock_path.display().to_string(),
            "clean": clean,
            "artifacts": collected.artifacts.len(),
            "modified": diff.modified.iter().map(|m| serde_json::json!({
                "path": m.path,
                "locked_sha256": m.locked_sha256,
                "actual_sha256": m.actual_sha256,
                "locked_size": m.locked_size,
                "actual_size": m.actual_size,
            })).collect::<Vec<_>>(),
            "missing": diff.missing,
            "new": diff.new,
            "blob_mismatches": collected.blob_mismatches.iter().map(|(path, m)| serde_json::json!({
                "path": path,
                "content_address": address_text(&m.expected),
                "actual": m.actual,
            })).collect::<Vec<_>>(),
        });
        return Ok(serde_json::to_string_pretty(&value)? + "\n");
    }
    let mut out = String::new();
    for m in &diff.modified {
        out.push_str(&format!(
            "modified  {}  (locked sha256 {} size {}, now sha256 {} size {})\n",
            shown(&m.path),
            m.locked_sha256,
            m.locked_size,
            m.actual_sha256,
            m.actual_size
        ));
    }
    for path in &diff.missing {
        out.push_str(&format!("missing   {}\n", shown(path)));
    }
    for path in &diff.new {
        out.push_str(&format!(
            "new       {}  (not in the lockfile)\n",
            shown(path)
        ));
    }
    for (path, m) in &collected.blob_mismatches {
        out.push_str(&format!(
            "corrupt   {}  (hub cache blob named by {}, content hashes to {})\n",
            shown(path),
            address_text(&m.expected),
            m.actual
        ));
    }
    if clean {
        out.push_str(&format!(
            "{} artefact(s) match {}\n",
            collected.artifacts.len(),
            lock_path.display()
        ));
    } else {
        out.push_str(&format!(
            "{} modified, {} missing, {} new, {} corrupt cache blob(s) against {}\n",
            diff.modified.len(),
            diff.missing.len(),
            diff.new.len(),
            collected.blob_mismatches.len(),
            lock_path.display()
        ));
    }
    Ok(out)
}

/// A path or name for the terminal: control and bidirectional characters escaped.
pub(crate) fn shown(text: &str) -> String {
    mlvet_report::text_internals::sanitize(text).into_owned()
}
