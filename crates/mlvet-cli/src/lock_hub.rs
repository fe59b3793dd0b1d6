//! The Hugging Face side of `mlvet lock`.
//!
//! Writing: an artefact from a hub cache or a `local_dir` download is pinned to its repository,
//! 40-hex commit and path, with the branch the cache says pointed at that commit and the Hub's
//! record of the content (LFS sha256 or git blob id).
//!
//! `lock --check --hub`: per pinned (repository, commit), one repo-info call at the commit (does
//! it still exist, what does the Hub record for each file) and one at the branch (has it moved,
//! did the file change there). Nothing is downloaded; only the API is asked.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use mlvet_hub::{HubClient, HubError, HubTarget, RepoFile, RepoType};
use mlvet_provenance::hubcache::{self, ContentAddress};
use mlvet_provenance::lockfile::{LockedArtifact, LockedOrigin, Lockfile};
use serde::Serialize;

/// Files of unknown storage (neither a cache blob name nor a download etag says) up to this size
/// get a git blob id as well as their SHA-256: one of the two is what the Hub records.
const GIT_BLOB_FOR_UNKNOWN_MAX: u64 = 10 * 1024 * 1024;
/// Entries of a cache's `refs/` folder read at most (branches, tags, `refs/pr/N`).
const MAX_REFS: usize = 256;
/// Largest ref file or `local_dir` download metadata read.
const MAX_SMALL_FILE: u64 = 4096;

/// `--hf-repo`: the repository of `local_dir` downloads.
pub fn parse_repo(text: &str) -> Result<HubTarget, String> {
    let target = mlvet_hub::parse_target(&format!("hf://{text}"), mlvet_hub::DEFAULT_ENDPOINT)
        .map_err(|e| format!("--hf-repo {text:?}: {e}"))?;
    if target.revision.is_some() || target.path.is_some() {
        return Err(format!(
            "--hf-repo {text:?}: name the repository only (ORG/NAME), without a revision or path"
        ));
    }
    Ok(target)
}

/// Completes the Hugging Face origin of an artefact at `path` (already hashed): the repository
/// of a `local_dir` download (`repo`), the branch, and the content address the Hub keeps.
pub fn enrich(path: &Path, artifact: &mut LockedArtifact, repo: Option<&HubTarget>) {
    let sha256 = artifact.sha256.clone();
    let size = artifact.size;
    let Some(origin) = artifact.origin.as_mut() else {
        return;
    };
    if origin.hub != "huggingface" {
        return;
    }
    if let Some(repo) = repo
        && origin.repo_id.is_empty()
    {
        origin.repo_type = repo.repo_type.name().to_string();
        origin.repo_id = repo.repo_id.clone();
    }
    let absolute = absolute(path);
    if origin.branch.is_none()
        && let Some(revision) = origin.revision.as_deref()
    {
        origin.branch = cache_branch(&absolute, revision);
    }
    let stored_in_lfs = match hubcache::content_address(&absolute) {
        Some(ContentAddress::Sha256(_)) => Some(true),
        Some(ContentAddress::GitSha1(_)) => Some(false),
        None => local_dir_etag(&absolute, origin).map(|etag| etag.len() == 64),
    };
    match stored_in_lfs {
        Some(true) => origin.lfs_sha256 = Some(sha256),
        Some(false) => origin.git_blob_id = hubcache::git_blob_sha1(path).ok(),
        None if size <= GIT_BLOB_FOR_UNKNOWN_MAX => {
            origin.git_blob_id = hubcache::git_blob_sha1(path).ok()
        }
        None => {}
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

/// The branch (or tag) of a hub cache whose `refs/` file names `revision`; `main` first.
fn cache_branch(path: &Path, revision: &str) -> Option<String> {
    let repo_dir = path.ancestors().find(|a| {
        a.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            ["models--", "datasets--", "spaces--"]
                .iter()
                .any(|p| n.starts_with(p))
        }) && a.join("snapshots").is_dir()
    })?;
    let refs = repo_dir.join("refs");
    let mut names: Vec<String> = walkdir_refs(&refs)
        .into_iter()
        .filter(|(_, commit)| commit == revision)
        .map(|(name, _)| name)
        .collect();
    names.sort_by_key(|n| (n != "main", n.clone()));
    names.into_iter().next()
}

/// `(name, commit)` of the ref files under `refs` (bounded).
fn walkdir_refs(refs: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![(refs.to_path_buf(), String::new(), 0usize)];
    let mut seen = 0usize;
    while let Some((dir, prefix, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_REFS {
                return out;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let full = format!("{prefix}{name}");
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && depth < 3 {
                stack.push((entry.path(), format!("{full}/"), depth + 1));
            } else if kind.is_file()
                && let Some(text) = read_small(&entry.path())
            {
                out.push((full, text.trim().to_string()));
            }
        }
    }
    out
}

/// The etag (second line) of a `local_dir` download's metadata: the LFS sha256 (64 hex) or the
/// git blob id (40 hex) of the file.
fn local_dir_etag(path: &Path, origin: &LockedOrigin) -> Option<String> {
    let in_repo = origin.path_in_repo.as_deref()?;
    let mut root = path.to_path_buf();
    for _ in in_repo.split('/') {
        root.pop();
    }
    let metadata = root
        .join(".cache/huggingface/download")
        .join(format!("{in_repo}.metadata"));
    let text = read_small(&metadata)?;
    let etag = text
        .lines()
        .nth(1)?
        .trim()
        .trim_matches('"')
        .to_ascii_lowercase();
    let hex = etag.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && (etag.len() == 64 || etag.len() == 40)).then_some(etag)
}

fn read_small(path: &Path) -> Option<String> {
    let file = mlvet_core::fs::open_regular(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_SMALL_FILE + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > MAX_SMALL_FILE {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// What the Hub says about one pinned artefact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    /// The local file equals the Hub's record of it at the pinned commit.
    Verified,
    /// The local file differs from the Hub's record at the pinned commit.
    Modified,
    /// The pinned commit no longer exists on the Hub (force-push, deleted branch, squashed).
    RevisionMissing,
    /// The repository is gone (or private without a token that can read it).
    RepoMissing,
    /// The commit exists but holds no file at this path.
    NotInRevision,
    /// The local file is gone (the offline diff names it too).
    MissingLocally,
    /// The Hub gives no content address for the file: nothing to compare.
    Unverifiable,
    /// The Hub could not be asked (network, gated, rate limit): see `message`.
    Error,
}

impl FileStatus {
    fn as_str(self) -> &'static str {
        match self {
            FileStatus::Verified => "verified",
            FileStatus::Modified => "modified",
            FileStatus::RevisionMissing => "revision-missing",
            FileStatus::RepoMissing => "repo-missing",
            FileStatus::NotInRevision => "not-in-revision",
            FileStatus::MissingLocally => "missing-locally",
            FileStatus::Unverifiable => "unverifiable",
            FileStatus::Error => "error",
        }
    }

    /// Whether the artefact no longer matches what was pinned (exit 4).
    pub fn is_mismatch(self) -> bool {
        matches!(
            self,
            FileStatus::Modified
                | FileStatus::RevisionMissing
                | FileStatus::RepoMissing
                | FileStatus::NotInRevision
                | FileStatus::MissingLocally
        )
    }
}

/// The file at the branch's head, when the branch has moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Upstream {
    Unchanged,
    Changed,
    Removed,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileCheck {
    pub path: String,
    pub url: String,
    pub status: FileStatus,
    /// The Hub's content address at the pinned commit (`sha256:…` or `git-blob:…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub: Option<String>,
    /// The local file's, in the same kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// When the branch has moved: the file at its new head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Upstream>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepoCheck {
    pub repo: String,
    pub repo_type: String,
    pub revision: String,
    pub branch: String,
    /// The branch's commit now (`None` when it could not be resolved).
    pub head: Option<String>,
    pub moved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HubCheck {
    pub repos: Vec<RepoCheck>,
    pub files: Vec<FileCheck>,
    /// Locked artefacts with no Hugging Face pin (no repository or commit): not asked about.
    pub unpinned: Vec<String>,
}

impl HubCheck {
    pub fn mismatches(&self) -> usize {
        self.files.iter().filter(|f| f.status.is_mismatch()).count()
    }

    pub fn errors(&self) -> usize {
        self.files
            .iter()
            .filter(|f| f.status == FileStatus::Error)
            .count()
    }
}

/// Asks the Hub about every artefact of `lock` pinned to a commit. `current` is what the folder
/// holds now (by path); `root` the locked folder (for git blob ids of the local files).
pub fn check(
    client: &HubClient,
    lock: &Lockfile,
    current: &[LockedArtifact],
    root: &Path,
    repo: Option<&HubTarget>,
) -> HubCheck {
    let now: BTreeMap<&str, &LockedArtifact> =
        current.iter().map(|a| (a.path.as_str(), a)).collect();
    let mut out = HubCheck::default();
    // (repo type, repo id, commit, branch) → artefacts.
    let mut groups: BTreeMap<(RepoType, String, String, String), Vec<&LockedArtifact>> =
        BTreeMap::new();
    for artifact in &lock.artifacts {
        match pinned(artifact, repo) {
            Some(key) => groups.entry(key).or_default().push(artifact),
            None => out.unpinned.push(artifact.path.clone()),
        }
    }
    for ((repo_type, repo_id, commit, branch), artifacts) in groups {
        let pin = HubTarget {
            repo_type,
            repo_id: repo_id.clone(),
            revision: Some(commit.clone()),
            path: None,
        };
        let at_pin = mlvet_hub::scan::resolve(client, &pin).map(|(_, files)| files);
        let tip = HubTarget {
            revision: Some(branch.clone()),
            ..pin.clone()
        };
        let at_head = mlvet_hub::scan::resolve(client, &tip);
        let (head, head_files, head_message) = match at_head {
            Ok((info, files)) => (Some(info.sha), Some(files), None),
            Err(err) => (None, None, Some(err.to_string())),
        };
        let moved = head.as_deref().is_some_and(|h| h != commit);
        out.repos.push(RepoCheck {
            repo: repo_id.clone(),
            repo_type: repo_type.name().to_string(),
            revision: commit.clone(),
            branch: branch.clone(),
            head: head.clone(),
            moved,
            message: head_message,
        });
        for artifact in artifacts {
            let in_repo = artifact
                .origin
                .as_ref()
                .and_then(|o| o.path_in_repo.clone())
                .unwrap_or_default();
            let mut file = FileCheck {
                path: artifact.path.clone(),
                url: pin.display(&commit, &in_repo),
                status: FileStatus::Error,
                hub: None,
                local: None,
                upstream: None,
                message: None,
            };
            match &at_pin {
                Err(HubError::RevisionNotFound { .. }) => file.status = FileStatus::RevisionMissing,
                Err(HubError::RepoNotFound { .. }) => file.status = FileStatus::RepoMissing,
                Err(err) => file.message = Some(err.to_string()),
                Ok(files) => compare(
                    &mut file,
                    files,
                    &in_repo,
                    now.get(artifact.path.as_str()),
                    root,
                ),
            }
            if moved && let Some(files) = &head_files {
                let then = at_pin
                    .as_ref()
                    .ok()
                    .and_then(|f| f.iter().find(|f| f.path == in_repo));
                file.upstream = Some(match files.iter().find(|f| f.path == in_repo) {
                    None => Upstream::Removed,
                    Some(there) if then.is_some_and(|then| same_content(then, there)) => {
                        Upstream::Unchanged
                    }
                    Some(_) => Upstream::Changed,
                });
            }
            out.files.push(file);
        }
    }
    out
}

/// The (repo type, repo id, commit, branch) an artefact is pinned to, if any.
fn pinned(
    artifact: &LockedArtifact,
    repo: Option<&HubTarget>,
) -> Option<(RepoType, String, String, String)> {
    let origin = artifact.origin.as_ref()?;
    if origin.hub != "huggingface" {
        return None;
    }
    let commit = origin.revision.clone()?;
    origin.path_in_repo.as_ref()?;
    let (repo_type, repo_id) = match origin.repo_type.as_str() {
        "model" => (RepoType::Model, origin.repo_id.clone()),
        "dataset" => (RepoType::Dataset, origin.repo_id.clone()),
        "space" => (RepoType::Space, origin.repo_id.clone()),
        _ => {
            let repo = repo?;
            (repo.repo_type, repo.repo_id.clone())
        }
    };
    if repo_id.is_empty() {
        return None;
    }
    let branch = origin.branch.clone().unwrap_or_else(|| "main".to_string());
    Some((repo_type, repo_id, commit, branch))
}

fn same_content(a: &RepoFile, b: &RepoFile) -> bool {
    match (&a.lfs_sha256, &b.lfs_sha256) {
        (Some(x), Some(y)) => x == y,
        (None, None) => a.blob_id.is_some() && a.blob_id == b.blob_id,
        _ => false,
    }
}

fn compare(
    file: &mut FileCheck,
    files: &[RepoFile],
    in_repo: &str,
    local: Option<&&LockedArtifact>,
    root: &Path,
) {
    let Some(remote) = files.iter().find(|f| f.path == in_repo) else {
        file.status = FileStatus::NotInRevision;
        return;
    };
    let Some(local) = local else {
        file.status = FileStatus::MissingLocally;
        return;
    };
    let (hub, local_address) = if let Some(sha) = &remote.lfs_sha256 {
        (format!("sha256:{sha}"), format!("sha256:{}", local.sha256))
    } else if let Some(blob) = &remote.blob_id {
        let path = root.join(&local.path);
        match hubcache::git_blob_sha1(&path) {
            Ok(id) => (format!("git-blob:{blob}"), format!("git-blob:{id}")),
            Err(err) => {
                file.message = Some(format!("cannot hash {}: {err}", path.display()));
                return;
            }
        }
    } else {
        file.status = FileStatus::Unverifiable;
        return;
    };
    file.status = if hub.eq_ignore_ascii_case(&local_address) {
        FileStatus::Verified
    } else {
        FileStatus::Modified
    };
    file.hub = Some(hub);
    file.local = Some(local_address);
}

/// The terminal lines of a Hub check.
pub fn render(check: &HubCheck) -> String {
    let mut out = String::new();
    for repo in &check.repos {
        let name = crate::lock::shown(&repo.repo);
        match (&repo.head, repo.moved) {
            (Some(head), true) => out.push_str(&format!(
                "moved     {name}: {} is now at {head} (locked {})\n",
                crate::lock::shown(&repo.branch),
                repo.revision
            )),
            (Some(_), false) => out.push_str(&format!(
                "current   {name}: {} still at {}\n",
                crate::lock::shown(&repo.branch),
                repo.revision
            )),
            (None, _) => out.push_str(&format!(
                "unknown   {name}: {} could not be resolved: {}\n",
                crate::lock::shown(&repo.branch),
                crate::lock::shown(repo.message.as_deref().unwrap_or(""))
            )),
        }
    }
    for file in &check.files {
        let mut line = format!(
            "{:<17} {}",
            file.status.as_str(),
            crate::lock::shown(&file.url)
        );
        if file.status == FileStatus::Modified
            && let (Some(hub), Some(local)) = (&file.hub, &file.local)
        {
            line.push_str(&format!("  (Hub {hub}, local {local})"));
        }
        if let Some(upstream) = file.upstream {
            line.push_str(match upstream {
                Upstream::Unchanged => "  [unchanged at the new head]",
                Upstream::Changed => "  [changed at the new head]",
                Upstream::Removed => "  [removed at the new head]",
            });
        }
        if let Some(message) = &file.message {
            line.push_str(&format!("  ({})", crate::lock::shown(message)));
        }
        out.push_str(&line);
        out.push('\n');
    }
    if !check.unpinned.is_empty() {
        out.push_str(&format!(
            "{} artefact(s) not pinned to a Hugging Face commit were not checked on the Hub\n",
            check.unpinned.len()
        ));
    }
    out
}
