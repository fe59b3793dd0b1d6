//! Hugging Face cache blobs are content-addressed: `blobs/<etag>` where the ETag is the SHA-256
//! of the content for LFS files (64 hex) and the git blob SHA-1 (`sha1("blob <len>\0" + content)`,
//! 40 hex) for regular git files. Snapshot files are (relative) links to those blobs, or copies
//! named by their path when links are unavailable. So every cached file whose blob name is known
//! can be checked without any lockfile.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha1::Digest as _;

use crate::hashing::{HashAlgorithm, hash_file, hex};

/// The content address a cached file claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentAddress {
    /// 64-hex blob name: SHA-256 of the content (LFS files).
    Sha256(String),
    /// 40-hex blob name: git blob SHA-1 of the content (regular files).
    GitSha1(String),
}

/// The blob name a file in a hub cache claims: its own name when it sits in a repository's
/// `blobs/` folder, or the name of the blob a snapshot link points to.
pub fn content_address(path: &Path) -> Option<ContentAddress> {
    let named = if in_blobs_folder(path) {
        path.to_path_buf()
    } else {
        let target = std::fs::read_link(path).ok()?;
        let resolved = match path.parent() {
            Some(parent) if target.is_relative() => lexical_join(parent, &target),
            _ => target,
        };
        if !in_blobs_folder(&resolved) {
            return None;
        }
        resolved
    };
    address_of_name(named.file_name()?.to_str()?)
}

/// `base/target` with `..` and `.` resolved without touching the file system (the link may
/// point into a folder the caller cannot canonicalise, and only its name matters here).
fn lexical_join(base: &Path, target: &Path) -> PathBuf {
    let mut out = base.to_path_buf();
    for component in target.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn in_blobs_folder(path: &Path) -> bool {
    let mut components = path.components().rev();
    let _name = components.next();
    let Some(blobs) = components.next() else {
        return false;
    };
    if blobs.as_os_str() != "blobs" {
        return false;
    }
    components.next().is_some_and(|repo| {
        let repo = repo.as_os_str().to_string_lossy();
        ["models--", "datasets--", "spaces--", "kernels--"]
            .iter()
            .any(|prefix| repo.starts_with(prefix))
    })
}

fn address_of_name(name: &str) -> Option<ContentAddress> {
    let hexadecimal = name.bytes().all(|b| b.is_ascii_hexdigit());
    match name.len() {
        64 if hexadecimal => Some(ContentAddress::Sha256(name.to_ascii_lowercase())),
        40 if hexadecimal => Some(ContentAddress::GitSha1(name.to_ascii_lowercase())),
        _ => None,
    }
}

/// A cached file whose content does not match its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMismatch {
    pub path: PathBuf,
    pub expected: ContentAddress,
    pub actual: String,
}

/// Checks `path` against its content address. `known_sha256` avoids hashing twice when the
/// caller already has the SHA-256. `Ok(None)` when the file has no content address or matches it.
pub fn check(path: &Path, known_sha256: Option<&str>) -> std::io::Result<Option<BlobMismatch>> {
    let Some(address) = content_address(path) else {
        return Ok(None);
    };
    let actual = match &address {
        ContentAddress::Sha256(_) => match known_sha256 {
            Some(sha) => sha.to_string(),
            None => hex(&hash_file(path, HashAlgorithm::Sha256).map_err(|e| e.source)?),
        },
        ContentAddress::GitSha1(_) => git_blob_sha1(path)?,
    };
    let expected = match &address {
        ContentAddress::Sha256(h) | ContentAddress::GitSha1(h) => h,
    };
    Ok((&actual != expected).then(|| BlobMismatch {
        path: path.to_path_buf(),
        expected: address.clone(),
        actual,
    }))
}

/// `git hash-object`: SHA-1 of `blob <len>\0` followed by the content.
pub fn git_blob_sha1(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut hasher = sha1::Sha1::new();
    hasher.update(format!("blob {len}\0").as_bytes());
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        total += read as u64;
        hasher.update(buffer.get(..read).unwrap_or_default());
    }
    if total != len {
        return Err(std::io::Error::other(
            "the file changed size while it was hashed",
        ));
    }
    Ok(hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_hash_matches_git() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello\n").expect("write");
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_sha1(&path).expect("hash"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[cfg(unix)]
    #[test]
    fn blobs_and_snapshot_links_are_checked_against_their_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("models--org--name");
        let blobs = repo.join("blobs");
        let snapshot = repo.join("snapshots").join("a".repeat(40));
        std::fs::create_dir_all(&blobs).expect("mkdir");
        std::fs::create_dir_all(&snapshot).expect("mkdir");
        let good_sha = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"; // "hello"
        std::fs::write(blobs.join(good_sha), b"hello").expect("write");
        let bad_sha = "0".repeat(64);
        std::fs::write(blobs.join(&bad_sha), b"tampered").expect("write");
        std::fs::write(
            blobs.join("ce013625030ba8dba906f756967f9e9ca394464a"),
            b"hello\n",
        )
        .expect("write");
        std::os::unix::fs::symlink(
            format!("../../blobs/{bad_sha}"),
            snapshot.join("model.safetensors"),
        )
        .expect("link");
        assert_eq!(check(&blobs.join(good_sha), None).expect("check"), None);
        assert_eq!(
            check(
                &blobs.join("ce013625030ba8dba906f756967f9e9ca394464a"),
                None
            )
            .expect("check"),
            None
        );
        let mismatch = check(&snapshot.join("model.safetensors"), None)
            .expect("check")
            .expect("mismatch");
        assert_eq!(mismatch.expected, ContentAddress::Sha256(bad_sha));
        // Files outside a cache claim nothing.
        let plain = dir.path().join(good_sha);
        std::fs::write(&plain, b"other").expect("write");
        assert_eq!(check(&plain, None).expect("check"), None);
    }
}
