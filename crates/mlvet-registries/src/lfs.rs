//! Git LFS pointer files (git-lfs `docs/spec.md`): UTF-8 `key value` lines, `version` first
//! (`https://git-lfs.github.com/spec/v1`, or the pre-release `https://hawser.github.com/spec/v1`),
//! then `oid sha256:<64 hex>` and `size <bytes>`; unknown keys are allowed. Pointers are small:
//! git-lfs itself only looks at files under 1024 bytes.

use std::path::{Path, PathBuf};

/// Files larger than this are never pointers.
pub const MAX_POINTER_BYTES: u64 = 1024;

const VERSIONS: &[&str] = &[
    "https://git-lfs.github.com/spec/v1",
    "https://hawser.github.com/spec/v1",
];

/// A parsed pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    /// Lower-case 64-hex sha256 of the object.
    pub oid: String,
    pub size: u64,
}

/// Reads `bytes` as a pointer; `None` when it is not one (or is malformed).
pub fn parse_pointer(bytes: &[u8]) -> Option<Pointer> {
    if bytes.len() as u64 > MAX_POINTER_BYTES {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    let version = lines.next()?.strip_prefix("version ")?;
    if !VERSIONS.contains(&version.trim()) {
        return None;
    }
    let mut oid = None;
    let mut size = None;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (key, value) = line.split_once(' ')?;
        match key {
            "oid" => {
                let hex = value.strip_prefix("sha256:")?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                oid = Some(hex.to_ascii_lowercase());
            }
            "size" => size = value.trim().parse::<u64>().ok(),
            _ => {}
        }
    }
    Some(Pointer {
        oid: oid?,
        size: size?,
    })
}

/// Where git-lfs keeps the object of `oid` under the repository whose `.git` is `git_dir`.
pub fn object_path(git_dir: &Path, oid: &str) -> Option<PathBuf> {
    if oid.len() != 64 {
        return None;
    }
    Some(
        git_dir
            .join("lfs")
            .join("objects")
            .join(&oid[0..2])
            .join(&oid[2..4])
            .join(oid),
    )
}

/// The `.git` directory of the repository holding `path`: the nearest ancestor with a `.git`
/// directory (at most 64 levels up).
pub fn git_dir_for(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    absolute
        .ancestors()
        .skip(1)
        .take(64)
        .map(|dir| dir.join(".git"))
        .find(|candidate| candidate.is_dir())
}

/// The oid an object in `.git/lfs/objects/aa/bb/<oid>` claims by its name, when the layout is
/// consistent.
pub fn object_name_oid(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let second = path.parent()?.file_name()?.to_str()?;
    let first = path.parent()?.parent()?.file_name()?.to_str()?;
    let valid = name.len() == 64
        && name.bytes().all(|b| b.is_ascii_hexdigit())
        && name[0..2] == *first
        && name[2..4] == *second;
    valid.then(|| name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OID: &str = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";

    #[test]
    fn pointer_parses() {
        let text =
            format!("version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 12345\n");
        let pointer = parse_pointer(text.as_bytes()).expect("pointer");
        assert_eq!(pointer.oid, OID);
        assert_eq!(pointer.size, 12345);
        assert!(parse_pointer(b"version https://git-lfs.github.com/spec/v1\nsize 1\n").is_none());
        assert!(parse_pointer(b"hello").is_none());
    }

    #[test]
    fn object_names() {
        let path = PathBuf::from(format!(".git/lfs/objects/4d/7a/{OID}"));
        assert_eq!(object_name_oid(&path).as_deref(), Some(OID));
        let wrong = PathBuf::from(format!(".git/lfs/objects/00/7a/{OID}"));
        assert!(object_name_oid(&wrong).is_none());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..1200)) {
            let _ = parse_pointer(&bytes);
        }
    }
}
