//! Whether a requirements file puts the installer in hash-checking mode, following its `-r`
//! includes.
//!
//! pip's semantics (`req_file.py`, "Secure installs"): a `--hash` on any requirement, or a
//! `--require-hashes` option line, switches the whole install into hash-checking mode, where every
//! requirement (and every dependency) must carry a hash or pip refuses to install. So one hashed
//! line in the set of files an install reads means the install is hash-checked (or fails).
//!
//! uv's semantics differ (`HashCheckingMode`): by default it verifies the hashes that are present
//! and installs unhashed requirements anyway; only `--require-hashes` (on the command line, in
//! `UV_REQUIRE_HASHES` or as a line of the file) requires them. So for uv a file is hash-checked
//! when it has a `--require-hashes` line or a hash on every requirement (a compiled lock such as
//! `uv pip compile --generate-hashes` writes, which lists every dependency).

use std::io::Read;
use std::path::{Path, PathBuf};

/// Requirements files larger than this are not read.
pub const MAX_REQUIREMENTS_BYTES: u64 = 4 << 20;
/// `-r` nesting followed this deep.
pub const MAX_INCLUDE_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashMode {
    /// Every file was read and hash-checking mode is on.
    Hashed,
    /// Every file was read; no hashes.
    Unhashed,
    /// A file could not be read (missing, remote, too large, outside the repository).
    Unknown(String),
}

/// The hash mode of a pip install reading `files` (as named on the command line), looked up
/// relative to `bases` in order. Files must resolve inside one of `bases`.
pub fn hash_mode(files: &[&str], bases: &[PathBuf]) -> HashMode {
    hash_mode_for(files, bases, false)
}

/// [`hash_mode`] with uv's semantics when `uv` is set (see the module documentation).
pub fn hash_mode_for(files: &[&str], bases: &[PathBuf], uv: bool) -> HashMode {
    let mut any_hash = false;
    let mut require_line = false;
    let mut requirements = 0usize;
    let mut hashed = 0usize;
    let mut stack: Vec<(PathBuf, usize)> = Vec::new();
    for file in files {
        match resolve(file, bases) {
            Ok(path) => stack.push((path, 0)),
            Err(reason) => return HashMode::Unknown(reason),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some((path, depth)) = stack.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let text = match read_bounded(&path) {
            Ok(text) => text,
            Err(reason) => return HashMode::Unknown(reason),
        };
        let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for line in logical_lines(&text) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let has_hash = words.iter().any(|w| w.starts_with("--hash"));
            if words.first() == Some(&"--require-hashes") {
                require_line = true;
            }
            any_hash |= has_hash;
            let is_requirement = words
                .first()
                .is_some_and(|w| !w.starts_with('-') || *w == "-e" || *w == "--editable");
            if is_requirement {
                requirements += 1;
                hashed += usize::from(has_hash);
            }
            let include = match words.as_slice() {
                ["-r" | "--requirement", file, ..] => Some(file.to_string()),
                [first, ..] if first.starts_with("--requirement=") => {
                    first.strip_prefix("--requirement=").map(str::to_string)
                }
                [first, ..] if first.starts_with("-r") && first.len() > 2 => {
                    Some(first[2..].to_string())
                }
                _ => None,
            };
            if let Some(include) = include {
                if depth + 1 > MAX_INCLUDE_DEPTH {
                    return HashMode::Unknown(format!(
                        "requirements includes nested deeper than {MAX_INCLUDE_DEPTH}"
                    ));
                }
                let mut nested_bases = vec![parent.clone()];
                nested_bases.extend(bases.iter().cloned());
                match resolve(&include, &nested_bases) {
                    Ok(nested) => stack.push((nested, depth + 1)),
                    Err(reason) => return HashMode::Unknown(reason),
                }
            }
        }
    }
    let checked = if uv {
        require_line || (requirements > 0 && hashed == requirements)
    } else {
        require_line || any_hash
    };
    if checked {
        HashMode::Hashed
    } else {
        HashMode::Unhashed
    }
}

fn resolve(file: &str, bases: &[PathBuf]) -> Result<PathBuf, String> {
    if file.contains("://") {
        return Err(format!("`{file}` is remote (mlvet never fetches it)"));
    }
    if crate::facts::is_dynamic(file) {
        return Err(format!("`{file}` is only known when the pipeline runs"));
    }
    let roots: Vec<PathBuf> = bases
        .iter()
        .filter_map(|b| std::fs::canonicalize(b).ok())
        .collect();
    for base in bases {
        let candidate = base.join(file);
        if let Ok(real) = std::fs::canonicalize(&candidate)
            && roots.iter().any(|root| real.starts_with(root))
            && real.is_file()
        {
            return Ok(real);
        }
    }
    // Inside a container image the file is usually copied to another folder (`COPY
    // requirements.txt /app/`): look for it by name in the same folders.
    if let Some(name) = Path::new(file).file_name() {
        for base in bases {
            let candidate = base.join(name);
            if candidate.is_file()
                && let Ok(real) = std::fs::canonicalize(&candidate)
            {
                return Ok(real);
            }
        }
    }
    Err(format!(
        "`{file}` was not found beside the file or at the repository root"
    ))
}

fn read_bounded(path: &Path) -> Result<String, String> {
    let file =
        mlvet_core::fs::open_regular(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_REQUIREMENTS_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_REQUIREMENTS_BYTES {
        return Err(format!("{} is larger than the limit", path.display()));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Lines with `\` continuations joined and comments removed (pip's `join_lines` and
/// `ignore_comments`).
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = match line
            .find(" #")
            .or_else(|| line.starts_with('#').then_some(0))
        {
            Some(pos) => &line[..pos],
            None => line,
        };
        if let Some(stripped) = line.trim_end().strip_suffix('\\') {
            current.push_str(stripped);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        if !current.trim().is_empty() {
            out.push(std::mem::take(&mut current));
        } else {
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_includes_into_hashed_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("plain.txt"), "torch==2.3.0\n").expect("write");
        std::fs::write(
            dir.path().join("locked.txt"),
            "torch==2.3.0 \\\n    --hash=sha256:aaaa\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("top.txt"), "# top\n-r locked.txt\n").expect("write");
        let bases = vec![dir.path().to_path_buf()];
        assert_eq!(hash_mode(&["plain.txt"], &bases), HashMode::Unhashed);
        assert_eq!(hash_mode(&["top.txt"], &bases), HashMode::Hashed);
        assert!(matches!(
            hash_mode(&["missing.txt"], &bases),
            HashMode::Unknown(_)
        ));
        assert!(matches!(
            hash_mode(&["https://x.invalid/r.txt"], &bases),
            HashMode::Unknown(_)
        ));
        // Copied into the image under another folder: found by name.
        assert_eq!(hash_mode(&["/app/locked.txt"], &bases), HashMode::Hashed);
    }

    #[test]
    fn uv_needs_every_line_hashed() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("partial.txt"),
            "torch==2.3.0 --hash=sha256:aaaa\nnumpy==2.0.0\n",
        )
        .expect("write");
        let bases = vec![dir.path().to_path_buf()];
        assert_eq!(hash_mode(&["partial.txt"], &bases), HashMode::Hashed);
        assert_eq!(
            hash_mode_for(&["partial.txt"], &bases, true),
            HashMode::Unhashed
        );
    }

    #[test]
    fn include_cycles_terminate() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.txt"), "-r b.txt\n").expect("write");
        std::fs::write(dir.path().join("b.txt"), "-r a.txt\nx\n").expect("write");
        assert_eq!(
            hash_mode(&["a.txt"], &[dir.path().to_path_buf()]),
            HashMode::Unhashed
        );
    }
}
