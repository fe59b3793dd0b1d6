//! Hashing a model the way the signature says it was hashed: walk the folder (or take the single
//! file, named `.`), leave out ignored paths, refuse symbolic links unless allowed, and hash every
//! file, or every shard of every file, in parallel.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::OmsError;
use super::statement::{Method, Serialization};
use crate::hashing::{HashJob, hash_jobs, hex};

/// Most files hashed in one model.
pub const MAX_FILES: usize = 1_000_000;

/// The files of a model, by item name (`/`-separated relative path, or `.` for a single file).
pub fn list_files(
    model: &Path,
    allow_symlinks: bool,
    ignore: &BTreeSet<String>,
) -> Result<BTreeMap<String, (PathBuf, u64)>, OmsError> {
    let metadata = std::fs::symlink_metadata(model)
        .map_err(|e| OmsError::Io(format!("{}: {e}", model.display())))?;
    let mut files = BTreeMap::new();
    if !metadata.is_dir() {
        let target = std::fs::metadata(model)
            .map_err(|e| OmsError::Io(format!("{}: {e}", model.display())))?;
        if metadata.file_type().is_symlink() && !allow_symlinks {
            return Err(OmsError::Model(format!(
                "{} is a symbolic link and the signature does not allow them",
                model.display()
            )));
        }
        files.insert(".".to_string(), (model.to_path_buf(), target.len()));
        return Ok(files);
    }
    let walker = walkdir::WalkDir::new(model)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || relative_name(model, entry.path()).is_none_or(|name| !is_ignored(&name, ignore))
        });
    for entry in walker {
        let entry = entry.map_err(|e| OmsError::Io(e.to_string()))?;
        if entry.depth() == 0 {
            continue;
        }
        let Some(name) = relative_name(model, entry.path()) else {
            return Err(OmsError::Model(format!(
                "{} has a name that is not UTF-8",
                entry.path().display()
            )));
        };
        let file_type = entry.file_type();
        if file_type.is_dir() {
            continue;
        }
        let size = if file_type.is_symlink() {
            if !allow_symlinks {
                return Err(OmsError::Model(format!(
                    "{name} is a symbolic link and the signature does not allow them"
                )));
            }
            let target = std::fs::metadata(entry.path())
                .map_err(|e| OmsError::Io(format!("{name}: {e}")))?;
            if target.is_dir() {
                continue;
            }
            target.len()
        } else if file_type.is_file() {
            entry
                .metadata()
                .map_err(|e| OmsError::Io(e.to_string()))?
                .len()
        } else {
            return Err(OmsError::Model(format!(
                "{name} is not a regular file (socket, FIFO or device)"
            )));
        };
        if files.len() >= MAX_FILES {
            return Err(OmsError::Model(format!("more than {MAX_FILES} files")));
        }
        files.insert(name, (entry.path().to_path_buf(), size));
    }
    Ok(files)
}

fn relative_name(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    Some(parts?.join("/"))
}

/// Whether `name` is an ignored path or lies under one.
pub fn is_ignored(name: &str, ignore: &BTreeSet<String>) -> bool {
    ignore.iter().any(|ignored| {
        let ignored = ignored.trim_end_matches('/');
        name == ignored
            || name
                .strip_prefix(ignored)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Item name → hex digest for the model, hashed as `serialization` says. With `only`, just the
/// files the manifest names (the reference's `--ignore_unsigned_files`).
pub fn hash_model(
    model: &Path,
    serialization: &Serialization,
    ignore: &BTreeSet<String>,
    only: Option<&BTreeSet<String>>,
) -> Result<BTreeMap<String, String>, OmsError> {
    let files = list_files(model, serialization.allow_symlinks, ignore)?;
    let mut names = Vec::new();
    let mut jobs = Vec::new();
    for (name, (path, size)) in &files {
        match serialization.method {
            Method::Files => {
                if only.is_some_and(|only| !only.contains(name)) {
                    continue;
                }
                names.push(name.clone());
                jobs.push(HashJob::file(path));
            }
            Method::Shards { shard_size } => {
                // Empty files have no shards (the reference lists nothing for them).
                let mut start = 0u64;
                while start < *size {
                    let end = start.saturating_add(shard_size).min(*size);
                    let item = format!("{name}:{start}:{end}");
                    if only.is_none_or(|only| only.contains(&item)) {
                        names.push(item);
                        jobs.push(HashJob {
                            path: path.clone(),
                            range: Some((start, end)),
                        });
                    }
                    start = end;
                }
            }
        }
    }
    let digests = hash_jobs(&jobs, serialization.hash);
    names
        .into_iter()
        .zip(digests)
        .map(|(name, digest)| {
            digest
                .map(|d| (name, hex(&d)))
                .map_err(|e| OmsError::Io(e.to_string()))
        })
        .collect()
}

/// How the model on disk differs from the signed manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestDiff {
    /// Signed, present, different digest: (item, signed digest, actual digest).
    pub mismatched: Vec<(String, String, String)>,
    /// Signed, not present.
    pub missing: Vec<String>,
    /// Present, not signed (and not ignored).
    pub extra: Vec<String>,
}

impl ManifestDiff {
    pub fn is_clean(&self) -> bool {
        self.mismatched.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

pub fn compare(
    signed: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
) -> ManifestDiff {
    let mut diff = ManifestDiff::default();
    for (name, digest) in signed {
        match actual.get(name) {
            None => diff.missing.push(name.clone()),
            Some(found) if found != digest => {
                diff.mismatched
                    .push((name.clone(), digest.clone(), found.clone()))
            }
            Some(_) => {}
        }
    }
    diff.extra = actual
        .keys()
        .filter(|name| !signed.contains_key(*name))
        .cloned()
        .collect();
    diff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_paths_cover_their_subtrees_only() {
        let ignore: BTreeSet<String> = [".git".to_string(), "a/b".to_string()].into();
        assert!(is_ignored(".git", &ignore));
        assert!(is_ignored(".git/config", &ignore));
        assert!(!is_ignored(".github", &ignore));
        assert!(is_ignored("a/b/c", &ignore));
        assert!(!is_ignored("a/bc", &ignore));
    }

    #[test]
    fn shards_cover_every_byte_and_skip_empty_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("m"), vec![1u8; 2500]).expect("write");
        std::fs::write(dir.path().join("empty"), b"").expect("write");
        let ser = Serialization {
            method: Method::Shards { shard_size: 1000 },
            ..Serialization::default()
        };
        let items = hash_model(dir.path(), &ser, &BTreeSet::new(), None).expect("hash");
        let names: Vec<&str> = items.keys().map(String::as_str).collect();
        assert_eq!(names, vec!["m:0:1000", "m:1000:2000", "m:2000:2500"]);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused_unless_allowed() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("real"), b"x").expect("write");
        std::os::unix::fs::symlink("real", dir.path().join("link")).expect("link");
        let ser = Serialization::default();
        assert!(hash_model(dir.path(), &ser, &BTreeSet::new(), None).is_err());
        let allowed = Serialization {
            allow_symlinks: true,
            ..Serialization::default()
        };
        let items = hash_model(dir.path(), &allowed, &BTreeSet::new(), None).expect("hash");
        assert_eq!(items.get("link"), items.get("real"));
    }
}
