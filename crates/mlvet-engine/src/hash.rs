//! SHA-256 of model files for inventories (JSON `models[].sha256`, CycloneDX `hashes`).
//!
//! Hashing reads every byte of the file (the analyses only read headers and graphs), so it is
//! opt-in (`--hash` in the CLI), and on by default for CycloneDX, where a model component without a hash
//! cannot be matched against anything. It runs inside the per-file scan, so files are hashed in
//! parallel on the scan's worker threads, each streaming through one 1 MiB buffer.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Read size: large enough that syscalls are negligible next to hashing (~1–2 GB/s per core).
const BUFFER_BYTES: usize = 1024 * 1024;

/// Lower-case hex SHA-256 of the file's content.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = mlvet_formats::open_regular(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; BUFFER_BYTES];
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        hasher.update(buffer.get(..read).unwrap_or_default());
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_known_digests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").expect("write");
        assert_eq!(
            sha256_file(&empty).expect("hash"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let large = dir.path().join("large");
        // Spans several buffers, so the loop's chunking is exercised.
        std::fs::write(&large, vec![b'a'; 3 * BUFFER_BYTES + 17]).expect("write");
        let expected = hex(&Sha256::digest(vec![b'a'; 3 * BUFFER_BYTES + 17]));
        assert_eq!(sha256_file(&large).expect("hash"), expected);
    }
}
