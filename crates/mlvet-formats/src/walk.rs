//! Directory walking: every regular file (no extension filter), symlinks never followed out of
//! the scanned root, files scanned in parallel.

use std::path::{Path, PathBuf};

use mlvet_core::{ArtifactReport, ScanError};
use rayon::prelude::*;

use crate::{ScanOptions, scan_file};

/// One file found by [`walk`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct WalkedFile {
    pub path: PathBuf,
    /// As the user should see it: `DIR/sub/file` exactly as DIR was passed.
    pub display: String,
    pub size: u64,
}

/// Lists the regular files under `inputs` (files and directories), sorted by display path.
/// Symbolic links are followed only when they resolve inside the root being walked.
pub fn walk(inputs: &[PathBuf]) -> (Vec<WalkedFile>, Vec<ScanError>) {
    walk_excluding(inputs, &|_, _| false)
}

/// [`walk`], leaving out every path for which `excluded(path, is_dir)` is true: an excluded
/// directory is never entered and an excluded file never opened (the configuration's `exclude`).
/// Inputs named on the command line are subject to it too.
pub fn walk_excluding(
    inputs: &[PathBuf],
    excluded: &(dyn Fn(&Path, bool) -> bool + Sync),
) -> (Vec<WalkedFile>, Vec<ScanError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for input in inputs {
        let shown = input.to_string_lossy().into_owned();
        if excluded(input, input.is_dir()) {
            continue;
        }
        let meta = match std::fs::metadata(input) {
            Ok(m) => m,
            Err(e) => {
                errors.push(ScanError {
                    path: shown,
                    message: e.to_string(),
                });
                continue;
            }
        };
        if meta.is_file() {
            files.push(WalkedFile {
                path: input.clone(),
                display: shown,
                size: meta.len(),
            });
            continue;
        }
        if !meta.is_dir() {
            // A FIFO would block the scan forever and a device is endless: neither is a file
            // that a loader reads a model from, and a clean report would claim it was scanned.
            errors.push(ScanError {
                path: shown,
                message: format!("not a regular file or directory ({})", kind_of(&meta)),
            });
            continue;
        }
        let root = std::fs::canonicalize(input).unwrap_or_else(|_| input.clone());
        let allowed = allowed_link_roots(&root);
        let mut link_targets = std::collections::BTreeSet::new();
        let first_of_input = files.len();
        let base = shown.trim_end_matches('/').to_string();
        for entry in walkdir::WalkDir::new(input)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| {
                entry.depth() == 0 || !excluded(entry.path(), entry.file_type().is_dir())
            })
        {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e
                        .path()
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_else(|| shown.clone());
                    errors.push(ScanError {
                        path,
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            let file_type = entry.file_type();
            let size = if file_type.is_file() {
                entry.metadata().map(|m| m.len()).unwrap_or(0)
            } else if file_type.is_symlink() {
                match symlink_target_inside(entry.path(), &allowed) {
                    Some((size, target)) => {
                        link_targets.insert(target);
                        size
                    }
                    None => continue,
                }
            } else {
                continue;
            };
            let relative = entry.path().strip_prefix(input).unwrap_or(entry.path());
            let relative: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let display = if base.is_empty() {
                format!("/{}", relative.join("/"))
            } else {
                format!("{base}/{}", relative.join("/"))
            };
            files.push(WalkedFile {
                path: entry.path().to_path_buf(),
                display,
                size,
            });
        }
        // A hub cache blob reached through a snapshot link is scanned under its snapshot name
        // (which says what the file is); blobs no snapshot names are still scanned.
        if !link_targets.is_empty() {
            let mut index = 0usize;
            files.retain(|file| {
                let keep = index < first_of_input
                    || !is_hub_blob(&file.path)
                    || std::fs::canonicalize(&file.path)
                        .map_or(true, |target| !link_targets.contains(&target));
                index += 1;
                keep
            });
        }
    }
    files.sort();
    files.dedup_by(|a, b| a.display == b.display);
    errors.sort();
    (files, errors)
}

/// A human name for a non-regular, non-directory file type.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    mlvet_core::fs::describe_file_type(&meta.file_type())
}

/// The size and resolved path of a symlink's target when it is a regular file inside one of
/// `roots`.
fn symlink_target_inside(link: &Path, roots: &[PathBuf]) -> Option<(u64, PathBuf)> {
    let target = std::fs::canonicalize(link).ok()?;
    if !roots.iter().any(|root| target.starts_with(root)) {
        return None;
    }
    let meta = std::fs::metadata(&target).ok()?;
    meta.is_file().then_some((meta.len(), target))
}

/// Where symlinks under `root` may lead: inside `root`, and, when `root` lies inside a Hugging
/// Face hub cache repository (`models--org--name/snapshots/<commit>/...`), into that
/// repository's `blobs/` folder and the cache's shared `blobs/` store, where the snapshot links
/// point (`../../blobs/<etag>`). Nothing else outside the root is followed.
fn allowed_link_roots(root: &Path) -> Vec<PathBuf> {
    let mut roots = vec![root.to_path_buf()];
    for ancestor in root.ancestors() {
        let Some(name) = ancestor.file_name().map(|n| n.to_string_lossy()) else {
            continue;
        };
        if is_hub_repo_folder(&name) && ancestor.join("snapshots").is_dir() {
            roots.push(ancestor.join("blobs"));
            if let Some(cache) = ancestor.parent() {
                roots.push(cache.join("blobs"));
            }
            break;
        }
    }
    roots
}

fn is_hub_repo_folder(name: &str) -> bool {
    ["models--", "datasets--", "spaces--"]
        .iter()
        .any(|prefix| name.len() > prefix.len() && name.starts_with(prefix))
}

/// A file in the `blobs/` folder of a hub cache repository.
fn is_hub_blob(path: &Path) -> bool {
    let mut ancestors = path.ancestors().skip(1);
    let blobs = ancestors.next();
    let repo = ancestors.next();
    blobs
        .and_then(Path::file_name)
        .is_some_and(|n| n == "blobs")
        && repo
            .and_then(Path::file_name)
            .is_some_and(|n| is_hub_repo_folder(&n.to_string_lossy()))
}

/// Walks `inputs` and scans every file in parallel. Non-model files cost a prefix read and are
/// left out; unreadable paths become errors. Output is sorted by path.
pub fn scan_paths(inputs: &[PathBuf], opts: &ScanOptions) -> (Vec<ArtifactReport>, Vec<ScanError>) {
    let (files, mut errors) = walk(inputs);
    let results: Vec<Result<Option<ArtifactReport>, ScanError>> = files
        .par_iter()
        .map(|file| {
            scan_file(&file.path, &file.display, opts).map_err(|e| ScanError {
                path: file.display.clone(),
                message: e.to_string(),
            })
        })
        .collect();
    let mut reports = Vec::new();
    for result in results {
        match result {
            Ok(Some(report)) => reports.push(report),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    crate::folders::apply(&files, &mut reports);
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    errors.sort();
    (reports, errors)
}
