//! DVC metafiles and DVC 3 hashing.
//!
//! `.dvc` files carry `outs` (and, for imports, `deps` with `repo: {url, rev, rev_lock}` or a URL
//! with `md5`/`etag`/`checksum`); `dvc.lock` (`schema: '2.0'`) carries `stages.<name>.deps/outs`.
//! An entry with `hash: md5` is DVC 3: its `md5` is the md5 of the file's bytes, or, with a
//! `.dir` suffix, the md5 of the directory manifest: Python's
//! `json.dumps(sorted([{"md5": …, "relpath": …}]), sort_keys=True)` over every file below, with
//! `/` separators. An entry without `hash` is DVC 2.x (`md5-dos2unix`: text files were hashed
//! after CRLF→LF), which is not reproducible byte-for-byte and is reported as unverifiable.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// Most entries read from one metafile.
pub const MAX_ENTRIES: usize = 100_000;
/// Most files hashed below one tracked directory.
pub const MAX_DIR_FILES: usize = 1_000_000;

/// One output or dependency of a metafile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// `outs` or `deps`.
    pub role: &'static str,
    /// The stage of `dvc.lock`, if any.
    pub stage: Option<String>,
    pub path: String,
    pub md5: Option<String>,
    /// `etag` / `checksum` (cloud imports).
    pub other_checksum: Option<String>,
    /// `hash: md5` (DVC 3) when present.
    pub hash: Option<String>,
    pub size: Option<u64>,
    /// `repo:` of a `dvc import` dependency.
    pub repo: Option<RepoDep>,
}

/// `repo:` of a dependency imported from another DVC/Git repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoDep {
    pub url: String,
    pub rev: Option<String>,
    pub rev_lock: Option<String>,
}

impl Entry {
    /// Whether the entry is a DVC 3 entry (verifiable byte for byte).
    pub fn is_dvc3(&self) -> bool {
        self.hash.as_deref() == Some("md5")
    }

    /// Whether the recorded md5 names a directory manifest.
    pub fn is_dir(&self) -> bool {
        self.md5.as_deref().is_some_and(|m| m.ends_with(".dir"))
    }
}

/// A parsed metafile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metafile {
    pub entries: Vec<Entry>,
    /// `frozen: true` (imports that `dvc update` alone moves).
    pub frozen: bool,
}

/// Errors reading a metafile.
#[derive(Debug, thiserror::Error)]
pub enum DvcError {
    #[error("not valid YAML: {0}")]
    Yaml(String),
    #[error("not a DVC metafile: {0}")]
    Shape(&'static str),
}

/// Parses a `.dvc` file.
pub fn parse_dvc_file(text: &str) -> Result<Metafile, DvcError> {
    let value: Value = serde_yaml::from_str(text).map_err(|e| DvcError::Yaml(e.to_string()))?;
    let map = value
        .as_mapping()
        .ok_or(DvcError::Shape("top level is not a mapping"))?;
    let mut file = Metafile {
        frozen: map.get("frozen").and_then(Value::as_bool).unwrap_or(false),
        ..Metafile::default()
    };
    collect(&mut file.entries, map.get("outs"), "outs", None);
    collect(&mut file.entries, map.get("deps"), "deps", None);
    Ok(file)
}

/// Parses `dvc.lock`.
pub fn parse_dvc_lock(text: &str) -> Result<Metafile, DvcError> {
    let value: Value = serde_yaml::from_str(text).map_err(|e| DvcError::Yaml(e.to_string()))?;
    let map = value
        .as_mapping()
        .ok_or(DvcError::Shape("top level is not a mapping"))?;
    let mut file = Metafile::default();
    let Some(stages) = map.get("stages").and_then(Value::as_mapping) else {
        return Ok(file);
    };
    for (name, stage) in stages.iter().take(MAX_ENTRIES) {
        let name = name.as_str().map(str::to_string);
        collect(&mut file.entries, stage.get("deps"), "deps", name.clone());
        collect(&mut file.entries, stage.get("outs"), "outs", name);
        if file.entries.len() >= MAX_ENTRIES {
            break;
        }
    }
    Ok(file)
}

fn collect(out: &mut Vec<Entry>, list: Option<&Value>, role: &'static str, stage: Option<String>) {
    let Some(items) = list.and_then(Value::as_sequence) else {
        return;
    };
    for item in items.iter().take(MAX_ENTRIES.saturating_sub(out.len())) {
        let Some(path) = item.get("path").and_then(scalar) else {
            continue;
        };
        let repo = item.get("repo").and_then(|repo| {
            Some(RepoDep {
                url: repo.get("url").and_then(scalar)?,
                rev: repo.get("rev").and_then(scalar),
                rev_lock: repo.get("rev_lock").and_then(scalar),
            })
        });
        out.push(Entry {
            role,
            stage: stage.clone(),
            path,
            md5: item.get("md5").and_then(scalar),
            other_checksum: item
                .get("etag")
                .or_else(|| item.get("checksum"))
                .and_then(scalar),
            hash: item.get("hash").and_then(scalar),
            size: item.get("size").and_then(Value::as_u64),
            repo,
        });
    }
}

/// A YAML scalar as text (DVC writes some hashes unquoted; an all-digit md5 would be a number).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Streams `path` through md5 (lower-case hex).
pub fn md5_file(path: &Path) -> std::io::Result<String> {
    use md5::Digest;
    let mut file = mlvet_core::fs::open_regular(path)?;
    let mut hasher = md5::Md5::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex(&hasher.finalize()))
}

/// md5 of `bytes` after CRLF→LF (DVC 2.x `md5-dos2unix` of text files).
pub fn md5_dos2unix(bytes: &[u8]) -> String {
    use md5::Digest;
    let mut hasher = md5::Md5::new();
    let mut start = 0;
    for (i, window) in bytes.windows(2).enumerate() {
        if window == b"\r\n" {
            hasher.update(&bytes[start..i]);
            start = i + 1;
        }
    }
    hasher.update(&bytes[start..]);
    hex(&hasher.finalize())
}

/// md5 of bytes.
pub fn md5_bytes(bytes: &[u8]) -> String {
    use md5::Digest;
    hex(&md5::Md5::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// One file of a directory manifest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ManifestEntry {
    pub relpath: String,
    pub md5: String,
}

/// The files below `dir` (recursively, symlinks not followed), sorted by `/`-joined relative path.
pub fn list_dir(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((current, prefix)) = stack.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relpath = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                stack.push((entry.path(), relpath));
            } else if file_type.is_file() {
                out.push((relpath, entry.path()));
                if out.len() > MAX_DIR_FILES {
                    return Err(std::io::Error::other(format!(
                        "more than {MAX_DIR_FILES} files"
                    )));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The manifest JSON DVC hashes: Python `json.dumps(entries, sort_keys=True)` (separators
/// `", "` and `": "`, non-ASCII escaped as `\uXXXX`).
pub fn manifest_json(entries: &[ManifestEntry]) -> String {
    let mut out = String::from("[");
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str("{\"md5\": ");
        python_json_string(&mut out, &entry.md5);
        out.push_str(", \"relpath\": ");
        python_json_string(&mut out, &entry.relpath);
        out.push('}');
    }
    out.push(']');
    out
}

fn python_json_string(out: &mut String, text: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses a `.dir` object of the DVC cache (a JSON list of `{md5, relpath}`).
pub fn parse_dir_object(bytes: &[u8]) -> Option<Vec<ManifestEntry>> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let items = value.as_array()?;
    let mut out = Vec::with_capacity(items.len().min(MAX_DIR_FILES));
    for item in items.iter().take(MAX_DIR_FILES) {
        out.push(ManifestEntry {
            relpath: item.get("relpath")?.as_str()?.to_string(),
            md5: item.get("md5")?.as_str()?.to_string(),
        });
    }
    Some(out)
}

/// Where a DVC 3 cache keeps the object of `md5` (with `.dir` for manifests), given the cache
/// directory (`.dvc/cache`).
pub fn cache_object_path(cache_dir: &Path, md5: &str) -> Option<PathBuf> {
    if md5.len() < 34 {
        return None;
    }
    Some(
        cache_dir
            .join("files")
            .join("md5")
            .join(&md5[0..2])
            .join(&md5[2..]),
    )
}

/// The md5 a cache object claims by its path: `files/md5/ab/cdef…` (DVC 3) or `ab/cdef…`
/// (DVC 2), with or without `.dir`. The `bool` is true for the DVC 3 layout.
pub fn cache_object_claim(path: &Path) -> Option<(String, bool)> {
    let name = path.file_name()?.to_str()?;
    let prefix = path.parent()?.file_name()?.to_str()?;
    let above = path.parent()?.parent()?;
    let dvc3 = above.file_name().is_some_and(|n| n == "md5")
        && above
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == "files");
    let claimed = format!("{prefix}{name}");
    let bare = claimed.strip_suffix(".dir").unwrap_or(&claimed);
    let valid = bare.len() == 32 && bare.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| (claimed.to_ascii_lowercase(), dvc3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dvc_file_parses() {
        let text = "outs:\n- md5: b1946ac92492d2347c6235b4d2611184\n  size: 6\n  hash: md5\n  path: raw.txt\n";
        let file = parse_dvc_file(text).expect("parse");
        assert_eq!(file.entries.len(), 1);
        assert!(file.entries[0].is_dvc3());
        assert_eq!(file.entries[0].path, "raw.txt");
    }

    #[test]
    fn import_deps_parse() {
        let text = "md5: 0a\nfrozen: true\ndeps:\n- path: data/x\n  repo:\n    url: https://git.invalid/r\n    rev: main\nouts:\n- md5: 1\n  path: x\n";
        let file = parse_dvc_file(text).expect("parse");
        assert!(file.frozen);
        let dep = file.entries.iter().find(|e| e.role == "deps").expect("dep");
        let repo = dep.repo.as_ref().expect("repo");
        assert_eq!(repo.rev.as_deref(), Some("main"));
        assert!(repo.rev_lock.is_none());
    }

    #[test]
    fn md5_of_hello() {
        assert_eq!(md5_bytes(b"hello\n"), "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(
            md5_dos2unix(b"hello\r\n"),
            "b1946ac92492d2347c6235b4d2611184"
        );
    }

    #[test]
    fn manifest_matches_python_json() {
        let entries = vec![
            ManifestEntry {
                relpath: "a.txt".into(),
                md5: "00".into(),
            },
            ManifestEntry {
                relpath: "d/é.txt".into(),
                md5: "11".into(),
            },
        ];
        assert_eq!(
            manifest_json(&entries),
            r#"[{"md5": "00", "relpath": "a.txt"}, {"md5": "11", "relpath": "d/\u00e9.txt"}]"#
        );
    }

    #[test]
    fn cache_claims() {
        let p = Path::new(".dvc/cache/files/md5/b1/946ac92492d2347c6235b4d2611184");
        assert_eq!(
            cache_object_claim(p),
            Some(("b1946ac92492d2347c6235b4d2611184".to_string(), true))
        );
        let legacy = Path::new(".dvc/cache/b1/946ac92492d2347c6235b4d2611184.dir");
        assert_eq!(cache_object_claim(legacy).map(|c| c.1), Some(false));
        assert!(cache_object_claim(Path::new(".dvc/cache/runs/x/y")).is_none());
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,400}") {
            let _ = parse_dvc_file(&text);
            let _ = parse_dvc_lock(&text);
            let _ = parse_dir_object(text.as_bytes());
        }
    }
}
