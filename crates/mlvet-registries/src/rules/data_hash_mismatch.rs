use std::io::Read;
use std::path::Path;

use mlvet_core::{Confidence, Finding, Location, RuleMeta, Severity, Verdict};
use rayon::prelude::*;

use crate::dvc::{self, Entry, ManifestEntry, Metafile};
use crate::lfs::{self, Pointer};
use crate::text::line_containing;

pub static RULE: RuleMeta = RuleMeta {
    id: "data-hash-mismatch",
    category: "data",
    summary: "Tracked data no longer matches its DVC record or content address, or a Git LFS object is missing",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Verifies tracked data offline, without DVC or git-lfs:

- every output (and local dependency) of `.dvc` files and `dvc.lock` that is present in the work
  tree is hashed the way DVC 3 does (`hash: md5`): the md5 of the file's bytes, or for a directory
  (`md5: ….dir`) the md5 of its manifest, Python's
  `json.dumps([{"md5": …, "relpath": …}, …], sort_keys=True)` over every file below it. When the
  DVC cache holds the recorded `.dir` manifest, the message names the files that changed, appeared
  or disappeared;
- entries written by DVC 2.x (no `hash: md5`) hashed text files after CRLF→LF normalisation;
  they are reported as **unverifiable** (low), never as mismatches;
- every object in a DVC cache (`.dvc/cache/files/md5/ab/cdef…`, and the 2.x layout
  `.dvc/cache/ab/cdef…`) and every Git LFS object (`.git/lfs/objects/ab/cd/<sha256>`) must hash to
  the address it is stored under;
- every Git LFS pointer in the work tree must have its object in `.git/lfs/objects` (with the
  recorded size); otherwise the scan saw a pointer, not the data or model.

Outputs that are absent (not pulled, not produced yet) are not reported.

## Why is this bad?
Training data that no longer matches what was reviewed and locked is the definition of a
poisoning window: someone changed the files outside DVC, or the cache a pipeline reads from was
tampered with. OWASP LLM04 recommends data version control precisely to detect this.

## Example
```text
data/train.csv.dvc records md5 e5ebd4c0…, but data/train.csv hashes to 3f2a…
```

## Remediation
Find out who changed the data and why (`dvc diff`, `git log` of the `.dvc` file); restore it
(`dvc checkout`) or record the reviewed change (`dvc add`, `dvc commit`). Remove corrupted cache
objects (`dvc gc`, re-`dvc pull`); `git lfs fetch` / `git lfs pull` missing LFS objects and re-scan.

## References
- [DVC: `.dvc` files](https://dvc.org/doc/user-guide/project-structure/dvc-files)
- [Git LFS pointer specification](https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md)
- [OWASP LLM04:2025 Data and Model Poisoning](https://genai.owasp.org/llmrisk/llm042025-data-and-model-poisoning/)
"#,
};

/// Files named in a mismatch message.
const MAX_LISTED: usize = 10;

/// The result of verifying one metafile.
#[derive(Debug, Default)]
pub struct MetafileCheck {
    pub findings: Vec<Finding>,
    /// Some entry could not be verified (legacy hashes, unreadable files).
    pub unverified: bool,
    pub errors: Vec<String>,
}

/// Verifies every local entry of a `.dvc` file or `dvc.lock` at `path` (shown as `display`).
pub fn check_metafile(display: &str, path: &Path, text: &str, file: &Metafile) -> MetafileCheck {
    let mut check = MetafileCheck::default();
    let base = path.parent().unwrap_or(Path::new("."));
    let cache = dvc_cache_for(base);
    for entry in &file.entries {
        let Some(recorded) = entry.md5.as_deref() else {
            continue;
        };
        if entry.repo.is_some() || entry.path.contains("://") || entry.path.starts_with('/') {
            continue;
        }
        let target = base.join(&entry.path);
        if std::fs::symlink_metadata(&target).is_err() {
            continue;
        }
        let location = location_for(display, text, recorded);
        if !entry.is_dvc3() {
            check.unverified = true;
            check.findings.push(
                Finding::new(
                    &RULE,
                    location,
                    format!(
                        "`{}` was recorded by DVC 2.x (no `hash: md5`: text files were hashed \
                         after CRLF→LF normalisation): it cannot be verified byte for byte",
                        entry.path
                    ),
                )
                .severity(Severity::Low)
                .confidence(Confidence::Medium)
                .evidence("recorded md5", recorded)
                .remediation("re-record it with DVC 3 (`dvc cache migrate --dvc-files`, or `dvc commit`) so that it can be verified"),
            );
            continue;
        }
        let outcome = if entry.is_dir() {
            verify_dir(&target, recorded, cache.as_deref())
        } else {
            verify_file(&target, recorded, entry)
        };
        match outcome {
            Ok(None) => {}
            Ok(Some(mismatch)) => {
                let mut finding = Finding::new(
                    &RULE,
                    location,
                    format!(
                        "`{}` no longer matches its DVC record{}: recorded md5 {recorded}, now {}",
                        entry.path,
                        stage_note(entry),
                        mismatch.actual
                    ),
                )
                .evidence("path", entry.path.clone())
                .evidence("recorded md5", recorded)
                .evidence("actual md5", mismatch.actual.clone())
                .remediation(
                    "find out who changed the data (dvc diff, git log); restore it with \
                     `dvc checkout` or record the reviewed change with `dvc commit`",
                );
                for (label, value) in mismatch.details {
                    finding = finding.evidence(label, value);
                }
                check.findings.push(finding);
            }
            Err(error) => {
                check.unverified = true;
                check
                    .errors
                    .push(format!("cannot verify `{}`: {error}", entry.path));
            }
        }
    }
    check
}

fn stage_note(entry: &Entry) -> String {
    match &entry.stage {
        Some(stage) => format!(" (stage `{stage}`, {})", entry.role),
        None => String::new(),
    }
}

fn location_for(display: &str, text: &str, recorded: &str) -> Location {
    match line_containing(text, recorded) {
        Some(line) => Location::file(display).with_line(line),
        None => Location::file(display),
    }
}

struct Mismatch {
    actual: String,
    details: Vec<(String, String)>,
}

fn verify_file(target: &Path, recorded: &str, entry: &Entry) -> std::io::Result<Option<Mismatch>> {
    let metadata = std::fs::metadata(target)?;
    if !metadata.is_file() {
        return Ok(Some(Mismatch {
            actual: "(not a regular file)".to_string(),
            details: Vec::new(),
        }));
    }
    let actual = dvc::md5_file(target)?;
    if actual.eq_ignore_ascii_case(recorded) {
        return Ok(None);
    }
    let mut details = Vec::new();
    if let Some(size) = entry.size
        && size != metadata.len()
    {
        details.push((
            "size".to_string(),
            format!("recorded {size}, now {}", metadata.len()),
        ));
    }
    Ok(Some(Mismatch { actual, details }))
}

fn verify_dir(
    target: &Path,
    recorded: &str,
    cache: Option<&Path>,
) -> std::io::Result<Option<Mismatch>> {
    if !target.is_dir() {
        return Ok(Some(Mismatch {
            actual: "(not a directory)".to_string(),
            details: Vec::new(),
        }));
    }
    let files = dvc::list_dir(target)?;
    let entries: Vec<ManifestEntry> = files
        .par_iter()
        .map(|(relpath, path)| {
            dvc::md5_file(path).map(|md5| ManifestEntry {
                relpath: relpath.clone(),
                md5,
            })
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let actual = format!(
        "{}.dir",
        dvc::md5_bytes(dvc::manifest_json(&entries).as_bytes())
    );
    if actual.eq_ignore_ascii_case(recorded) {
        return Ok(None);
    }
    let mut details = Vec::new();
    let recorded_manifest = cache
        .and_then(|cache| dvc::cache_object_path(cache, recorded))
        .and_then(|path| std::fs::read(path).ok())
        .and_then(|bytes| dvc::parse_dir_object(&bytes));
    match recorded_manifest {
        Some(old) => {
            let old: std::collections::BTreeMap<&str, &str> = old
                .iter()
                .map(|e| (e.relpath.as_str(), e.md5.as_str()))
                .collect();
            let new: std::collections::BTreeMap<&str, &str> = entries
                .iter()
                .map(|e| (e.relpath.as_str(), e.md5.as_str()))
                .collect();
            let changed: Vec<&str> = new
                .iter()
                .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
                .map(|(k, _)| *k)
                .collect();
            let added: Vec<&str> = new
                .keys()
                .filter(|k| !old.contains_key(*k))
                .copied()
                .collect();
            let removed: Vec<&str> = old
                .keys()
                .filter(|k| !new.contains_key(*k))
                .copied()
                .collect();
            for (label, list) in [("changed", changed), ("added", added), ("removed", removed)] {
                if !list.is_empty() {
                    details.push((label.to_string(), listed(&list)));
                }
            }
        }
        None => details.push((
            "files".to_string(),
            format!(
                "{} now (the recorded manifest is not in the DVC cache)",
                entries.len()
            ),
        )),
    }
    Ok(Some(Mismatch { actual, details }))
}

fn listed(items: &[&str]) -> String {
    let mut text = items
        .iter()
        .take(MAX_LISTED)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > MAX_LISTED {
        text.push_str(&format!(" (+{} more)", items.len() - MAX_LISTED));
    }
    text
}

/// The DVC cache of the project holding `dir`: the nearest `.dvc/cache` above it.
fn dvc_cache_for(dir: &Path) -> Option<std::path::PathBuf> {
    let absolute = std::path::absolute(dir).ok()?;
    absolute
        .ancestors()
        .take(64)
        .map(|d| d.join(".dvc").join("cache"))
        .find(|c| c.is_dir())
}

/// Verifies a DVC cache object against the md5 its path claims.
pub fn check_cache_object(display: &str, path: &Path) -> std::io::Result<Option<Finding>> {
    let Some((claimed, dvc3)) = dvc::cache_object_claim(path) else {
        return Ok(None);
    };
    let bare = claimed.strip_suffix(".dir").unwrap_or(&claimed);
    let actual = dvc::md5_file(path)?;
    if actual == bare {
        return Ok(None);
    }
    if !dvc3 {
        // DVC 2.x stored text objects under their dos2unix md5.
        let bytes = read_bounded(path, 1 << 30)?;
        if let Some(bytes) = bytes
            && dvc::md5_dos2unix(&bytes) == bare
        {
            return Ok(None);
        }
    }
    Ok(Some(
        Finding::new(
            &RULE,
            Location::file(display),
            format!(
                "DVC cache object does not match its content address: stored as {claimed}, \
                 content hashes to {actual}"
            ),
        )
        .evidence("address", claimed.clone())
        .evidence("actual md5", actual)
        .remediation(
            "delete the object and fetch it again (`dvc pull`); find out who wrote to the cache",
        ),
    ))
}

fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    mlvet_core::fs::open_regular(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Streams `path` through sha256.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    let mut file = mlvet_core::fs::open_regular(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(dvc::hex(&hasher.finalize()))
}

/// Verifies a Git LFS object against the sha256 its name claims.
pub fn check_lfs_object(display: &str, path: &Path) -> std::io::Result<Option<Finding>> {
    let Some(claimed) = lfs::object_name_oid(path) else {
        return Ok(None);
    };
    let actual = sha256_file(path)?;
    if actual == claimed {
        return Ok(None);
    }
    Ok(Some(
        Finding::new(
            &RULE,
            Location::file(display),
            format!(
                "Git LFS object does not match its content address: named sha256 {claimed}, \
                 content hashes to {actual}"
            ),
        )
        .evidence("oid", claimed)
        .evidence("actual sha256", actual)
        .remediation("delete the object and `git lfs fetch` it again; find out who wrote it"),
    ))
}

/// A Git LFS pointer in the work tree: its object must be present with the recorded size.
pub fn check_lfs_pointer(display: &str, path: &Path, pointer: &Pointer) -> Option<Finding> {
    let object = lfs::git_dir_for(path).and_then(|git| lfs::object_path(&git, &pointer.oid));
    let size = object
        .as_deref()
        .and_then(|o| std::fs::metadata(o).ok())
        .map(|m| m.len());
    let message = match size {
        Some(size) if size == pointer.size => return None,
        Some(size) => format!(
            "Git LFS pointer (oid sha256:{}, {} bytes): the local object has {size} bytes",
            pointer.oid, pointer.size
        ),
        None => format!(
            "Git LFS pointer whose object is missing (oid sha256:{}, {} bytes): the file in the \
             work tree is the pointer, not the data, and its content was not scanned",
            pointer.oid, pointer.size
        ),
    };
    Some(
        Finding::new(&RULE, Location::file(display), message)
            .confidence(Confidence::Medium)
            .evidence("oid", format!("sha256:{}", pointer.oid))
            .evidence("size", pointer.size.to_string())
            .remediation(
                "`git lfs pull` the object and scan again; a missing object cannot be verified",
            ),
    )
}
