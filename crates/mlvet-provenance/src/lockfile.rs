//! `mlvet.lock`: every model, tokenizer and dataset artefact under a folder, pinned by size and
//! SHA-256, with the format and verdict the scan gave it and where it came from.
//!
//! The file is TOML, written deterministically (artefacts sorted by path, fields in a fixed
//! order, no timestamps) so that it diffs well in review:
//!
//! ```toml
//! version = 1
//!
//! [[artifact]]
//! path = "models/bert/model.safetensors"
//! kind = "model"
//! format = "safetensors"
//! size = 1024
//! sha256 = "…64 hex…"
//! verdict = "safe"
//!
//! [artifact.origin]
//! hub = "huggingface"
//! repo_type = "model"
//! repo_id = "org/name"
//! revision = "…40 hex…"
//! path_in_repo = "model.safetensors"
//! ```
//!
//! Paths are relative to the folder the lock describes, with `/` separators.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The lockfile format this build writes and reads.
pub const LOCK_VERSION: u32 = 1;
/// Default file name, in the locked folder.
pub const LOCK_FILE_NAME: &str = "mlvet.lock";
/// Largest lockfile read (a lock of a million artefacts is about 300 MB; refuse more).
pub const MAX_LOCK_BYTES: usize = 256 * 1024 * 1024;

const HEADER: &str = "# mlvet.lock: ML artefacts pinned by `mlvet lock` (path, size, SHA-256, format, verdict,\n\
# origin). Generated: do not edit. `mlvet lock --check` fails when any artefact is modified,\n\
# missing or new.\n";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    pub version: u32,
    #[serde(rename = "artifact", default)]
    pub artifacts: Vec<LockedArtifact>,
}

/// One pinned artefact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedArtifact {
    /// Relative to the locked folder, `/`-separated.
    pub path: String,
    /// `model`, `tokenizer`, `dataset` or `config`.
    pub kind: String,
    /// The format the scan detected (`safetensors`, `pickle`...) or, for files the scan does not
    /// analyse, the one their name gives (`tokenizer-json`, `parquet`...).
    pub format: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// The scan's verdict (`safe`, `suspicious`, `vulnerable`, `malicious`), or `not-analysed`
    /// for files no analysis reads (tokenizers, datasets).
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<LockedOrigin>,
}

/// Where an artefact came from. Holds the Hugging Face cache layout and `local_dir` metadata
/// origins, and remote scans (`hf://org/name@rev/path`, in `url`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LockedOrigin {
    /// `huggingface`.
    pub hub: String,
    /// `model`, `dataset`, `space`, or `unknown` (a `local_dir` download records no repository).
    pub repo_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repo_id: String,
    /// The full commit when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_in_repo: Option<String>,
    /// Where the artefact was read from when it was not a local file (`hf://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The branch whose head was `revision` when the file was fetched (a hub cache's `refs/`),
    /// so that `lock --check --hub` can say whether it has moved since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The Hub's record of the content for files stored in LFS/Xet: their SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lfs_sha256: Option<String>,
    /// The Hub's record of the content for files stored in git: the git blob id (SHA-1 of
    /// `blob <len>\0` + content). Recorded for small files whose storage is not known, too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_blob_id: Option<String>,
}

impl From<&mlvet_core::ArtifactOrigin> for LockedOrigin {
    fn from(origin: &mlvet_core::ArtifactOrigin) -> Self {
        LockedOrigin {
            hub: origin.hub.clone(),
            repo_type: origin.repo_type.clone(),
            repo_id: origin.repo_id.clone(),
            revision: origin.revision.clone(),
            path_in_repo: origin.path_in_repo.clone(),
            url: None,
            branch: None,
            lfs_sha256: None,
            git_blob_id: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the lockfile is larger than {MAX_LOCK_BYTES} bytes")]
    TooLarge,
    #[error("invalid lockfile: {0}")]
    Parse(String),
    #[error("lockfile version {0} is not supported (this mlvet reads version {LOCK_VERSION})")]
    Version(u32),
    #[error("invalid lockfile: {0}")]
    Invalid(String),
}

impl Lockfile {
    /// A lock of these artefacts, sorted by path.
    pub fn new(mut artifacts: Vec<LockedArtifact>) -> Self {
        artifacts.sort_by(|a, b| a.path.cmp(&b.path));
        artifacts.dedup_by(|a, b| a.path == b.path);
        Lockfile {
            version: LOCK_VERSION,
            artifacts,
        }
    }

    /// The TOML text, byte-for-byte the same for the same artefacts.
    pub fn to_toml(&self) -> Result<String, LockError> {
        let mut sorted = self.clone();
        sorted.artifacts.sort_by(|a, b| a.path.cmp(&b.path));
        let body = toml::to_string(&sorted).map_err(|e| LockError::Parse(e.to_string()))?;
        Ok(format!("{HEADER}{body}"))
    }

    /// Parses and validates a lockfile: known version, unique relative paths, hex digests.
    pub fn from_toml(text: &str) -> Result<Self, LockError> {
        if text.len() > MAX_LOCK_BYTES {
            return Err(LockError::TooLarge);
        }
        let lock: Lockfile = toml::from_str(text).map_err(|e| LockError::Parse(e.to_string()))?;
        if lock.version != LOCK_VERSION {
            return Err(LockError::Version(lock.version));
        }
        let mut seen = std::collections::BTreeSet::new();
        for artifact in &lock.artifacts {
            if !is_safe_relative_path(&artifact.path) {
                return Err(LockError::Invalid(format!(
                    "artefact path {:?} is not a relative path inside the locked folder",
                    artifact.path
                )));
            }
            if !seen.insert(artifact.path.as_str()) {
                return Err(LockError::Invalid(format!(
                    "artefact {:?} is listed twice",
                    artifact.path
                )));
            }
            if artifact.sha256.len() != 64
                || !artifact
                    .sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(LockError::Invalid(format!(
                    "artefact {:?}: sha256 must be 64 lower-case hex digits",
                    artifact.path
                )));
            }
        }
        Ok(lock)
    }
}

/// A relative `/`-separated path with no `..`, empty or `.` components (a lock can never name a
/// file outside its folder).
pub fn is_safe_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// What changed between a lock and the folder now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockDiff {
    /// Same path, different content.
    pub modified: Vec<Modified>,
    /// Locked, no longer present.
    pub missing: Vec<String>,
    /// Present, not locked.
    pub new: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modified {
    pub path: String,
    pub locked_sha256: String,
    pub actual_sha256: String,
    pub locked_size: u64,
    pub actual_size: u64,
}

impl LockDiff {
    pub fn is_clean(&self) -> bool {
        self.modified.is_empty() && self.missing.is_empty() && self.new.is_empty()
    }
}

/// Compares the lock with the artefacts found now (both keyed by path).
pub fn diff(locked: &Lockfile, current: &[LockedArtifact]) -> LockDiff {
    let now: BTreeMap<&str, &LockedArtifact> =
        current.iter().map(|a| (a.path.as_str(), a)).collect();
    let then: BTreeMap<&str, &LockedArtifact> = locked
        .artifacts
        .iter()
        .map(|a| (a.path.as_str(), a))
        .collect();
    let mut out = LockDiff::default();
    for (path, old) in &then {
        match now.get(path) {
            None => out.missing.push((*path).to_string()),
            Some(new) if new.sha256 != old.sha256 || new.size != old.size => {
                out.modified.push(Modified {
                    path: (*path).to_string(),
                    locked_sha256: old.sha256.clone(),
                    actual_sha256: new.sha256.clone(),
                    locked_size: old.size,
                    actual_size: new.size,
                })
            }
            Some(_) => {}
        }
    }
    for path in now.keys() {
        if !then.contains_key(path) {
            out.new.push((*path).to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(path: &str, sha: char) -> LockedArtifact {
        LockedArtifact {
            path: path.to_string(),
            kind: "model".to_string(),
            format: "safetensors".to_string(),
            size: 3,
            sha256: sha.to_string().repeat(64),
            verdict: "safe".to_string(),
            origin: None,
        }
    }

    #[test]
    fn toml_is_deterministic_and_round_trips() {
        let mut with_origin = artifact("b/model.safetensors", 'b');
        with_origin.origin = Some(LockedOrigin {
            hub: "huggingface".into(),
            repo_type: "model".into(),
            repo_id: "org/name".into(),
            revision: Some("0".repeat(40)),
            path_in_repo: Some("model.safetensors".into()),
            url: None,
            branch: Some("main".into()),
            lfs_sha256: Some("b".repeat(64)),
            git_blob_id: None,
        });
        let one = Lockfile::new(vec![with_origin.clone(), artifact("a.bin", 'a')]);
        let two = Lockfile::new(vec![artifact("a.bin", 'a'), with_origin]);
        let text = one.to_toml().expect("toml");
        assert_eq!(text, two.to_toml().expect("toml"));
        assert!(text.find("a.bin") < text.find("b/model.safetensors"));
        assert_eq!(Lockfile::from_toml(&text).expect("parse"), one);
    }

    #[test]
    fn diff_names_modified_missing_and_new() {
        let lock = Lockfile::new(vec![
            artifact("same", 'a'),
            artifact("changed", 'b'),
            artifact("gone", 'c'),
        ]);
        let now = vec![
            artifact("same", 'a'),
            artifact("changed", 'd'),
            artifact("added", 'e'),
        ];
        let d = diff(&lock, &now);
        assert_eq!(d.modified.len(), 1);
        assert_eq!(d.modified[0].path, "changed");
        assert_eq!(d.missing, vec!["gone".to_string()]);
        assert_eq!(d.new, vec!["added".to_string()]);
        assert!(!d.is_clean());
        assert!(diff(&lock, &lock.artifacts).is_clean());
    }

    #[test]
    fn hostile_lockfiles_are_rejected() {
        let bad_path = "version = 1\n[[artifact]]\npath = \"../etc/passwd\"\nkind = \"model\"\nformat = \"x\"\nsize = 1\nsha256 = \"".to_string()
            + &"a".repeat(64)
            + "\"\nverdict = \"safe\"\n";
        assert!(Lockfile::from_toml(&bad_path).is_err());
        assert!(Lockfile::from_toml("version = 2\n").is_err());
        assert!(Lockfile::from_toml("version = 1\n[[artifact]]\npath = 3\n").is_err());
        assert!(Lockfile::from_toml("not toml at all [[[").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(text in ".{0,400}") {
            let _ = Lockfile::from_toml(&text);
        }

        #[test]
        fn locks_round_trip(paths in proptest::collection::btree_set("[a-z]{1,8}(/[a-z0-9_-]{1,8}(\\.[a-z0-9]{1,4})?){0,3}", 0..8)) {
            let lock = Lockfile::new(paths.iter().map(|p| artifact(p, 'f')).collect());
            let text = lock.to_toml().expect("toml");
            proptest::prop_assert_eq!(Lockfile::from_toml(&text).expect("parse"), lock);
        }
    }
}
