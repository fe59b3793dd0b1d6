//! The hashing engine: every file (or shard of a file) is one job, jobs run in parallel on the
//! rayon pool, large files are memory-mapped and hashed in place, small ones are read through
//! one buffer. SHA-256 goes through `sha2`, which selects the CPU's SHA extensions (SHA-NI on
//! x86_64, the ARMv8 crypto extensions on aarch64) at run time.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::Digest as _;

/// Files at least this large are memory-mapped: below it a read is as fast and has no set-up cost.
const MMAP_THRESHOLD: u64 = 4 * 1024 * 1024;
/// Read size for small files and for the fallback when a map cannot be made.
const BUFFER_BYTES: usize = 1024 * 1024;

/// The hash algorithms OpenSSF model signing records (`serialization.hash_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashAlgorithm {
    Sha256,
    /// BLAKE2b-512 (Python's `hashlib.blake2b()` default size), recorded as `blake2b`.
    Blake2b,
    Blake3,
}

impl HashAlgorithm {
    /// The name model signing records.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Blake2b => "blake2b",
            HashAlgorithm::Blake3 => "blake3",
        }
    }

    /// Accepts the recorded names and the reference tool's input spelling `blake2`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(HashAlgorithm::Sha256),
            "blake2b" | "blake2" => Some(HashAlgorithm::Blake2b),
            "blake3" => Some(HashAlgorithm::Blake3),
            _ => None,
        }
    }

    /// Length of a digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 | HashAlgorithm::Blake3 => 32,
            HashAlgorithm::Blake2b => 64,
        }
    }

    pub fn hasher(self) -> Hasher {
        match self {
            HashAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Blake2b => Hasher::Blake2b(Box::default()),
            HashAlgorithm::Blake3 => Hasher::Blake3(Box::default()),
        }
    }
}

/// One running hash.
pub enum Hasher {
    Sha256(sha2::Sha256),
    Blake2b(Box<blake2::Blake2b512>),
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Blake2b(h) => blake2::Digest::update(h.as_mut(), bytes),
            Hasher::Blake3(h) => {
                h.update(bytes);
            }
        }
    }

    pub fn finalize(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Blake2b(h) => blake2::Digest::finalize(*h).to_vec(),
            Hasher::Blake3(h) => h.finalize().as_bytes().to_vec(),
        }
    }
}

/// One unit of hashing work: a whole file, or the byte range `[start, end)` of it (a shard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashJob {
    pub path: PathBuf,
    pub range: Option<(u64, u64)>,
}

impl HashJob {
    pub fn file(path: impl Into<PathBuf>) -> Self {
        HashJob {
            path: path.into(),
            range: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot hash {path}: {source}")]
pub struct HashError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Hashes every job in parallel; results in the order of `jobs`.
pub fn hash_jobs(jobs: &[HashJob], algorithm: HashAlgorithm) -> Vec<Result<Vec<u8>, HashError>> {
    jobs.par_iter()
        .with_max_len(1)
        .map(|job| {
            hash_job(job, algorithm).map_err(|source| HashError {
                path: job.path.clone(),
                source,
            })
        })
        .collect()
}

/// Hashes one whole file.
pub fn hash_file(path: &Path, algorithm: HashAlgorithm) -> Result<Vec<u8>, HashError> {
    hash_job(&HashJob::file(path), algorithm).map_err(|source| HashError {
        path: path.to_path_buf(),
        source,
    })
}

fn hash_job(job: &HashJob, algorithm: HashAlgorithm) -> std::io::Result<Vec<u8>> {
    // Follows symbolic links (hub cache snapshots point into `blobs/`); callers decide whether a
    // link may be hashed at all.
    let mut file = File::open(&job.path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let size = metadata.len();
    let (start, end) = match job.range {
        Some((start, end)) if start <= end && end <= size => (start, end),
        Some((start, end)) => {
            return Err(std::io::Error::other(format!(
                "shard {start}..{end} is outside the file ({size} bytes)"
            )));
        }
        None => (0, size),
    };
    let mut hasher = algorithm.hasher();
    if end - start >= MMAP_THRESHOLD
        && let Some(map) = map_file(&file)
        && map.len() as u64 == size
    {
        let from = usize::try_from(start).map_err(std::io::Error::other)?;
        let to = usize::try_from(end).map_err(std::io::Error::other)?;
        let bytes = map
            .get(from..to)
            .ok_or_else(|| std::io::Error::other("the file changed size while it was hashed"))?;
        hasher.update(bytes);
        return Ok(hasher.finalize());
    }
    file.seek(SeekFrom::Start(start))?;
    let mut remaining = end - start;
    let mut buffer = vec![0u8; BUFFER_BYTES];
    while remaining > 0 {
        let want = usize::try_from(remaining.min(BUFFER_BYTES as u64)).unwrap_or(BUFFER_BYTES);
        let chunk = buffer.get_mut(..want).unwrap_or_default();
        let read = match file.read(chunk) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was hashed",
                ));
            }
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        hasher.update(buffer.get(..read).unwrap_or_default());
        remaining -= read as u64;
    }
    Ok(hasher.finalize())
}

/// A read-only map of the whole file, or `None` when the system refuses one (the caller then
/// reads the file instead).
#[allow(unsafe_code)]
fn map_file(file: &File) -> Option<memmap2::Mmap> {
    // SAFETY: the map is private and read-only and lives only while this job hashes it. The
    // one hazard of file maps is another process truncating or rewriting the file meanwhile:
    // a rewrite yields a digest that matches no version of the file (reported as a mismatch,
    // which is the truth: the file is changing), and a truncation below the mapped length
    // raises SIGBUS. Hashers that map files (b3sum, the reference tool's peers) accept the
    // same trade for the throughput: no copy through a buffer, and the kernel's read-ahead.
    let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    Some(map)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Decodes hex (either case); `None` for odd lengths or other characters.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    }

    #[test]
    fn digests_match_known_vectors_for_every_algorithm() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = write(dir.path(), "empty", b"");
        let abc = write(dir.path(), "abc", b"abc");
        let sha = |p: &Path| hex(&hash_file(p, HashAlgorithm::Sha256).expect("hash"));
        assert_eq!(
            sha(&empty),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha(&abc),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&hash_file(&abc, HashAlgorithm::Blake3).expect("hash")),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!(
            hex(&hash_file(&abc, HashAlgorithm::Blake2b).expect("hash")),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
             7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
        );
    }

    #[test]
    fn mapped_buffered_and_sharded_paths_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data: Vec<u8> = (0..(MMAP_THRESHOLD as usize + 3 * BUFFER_BYTES + 11))
            .map(|i| (i % 251) as u8)
            .collect();
        let big = write(dir.path(), "big", &data);
        let whole = hash_file(&big, HashAlgorithm::Sha256).expect("hash");
        assert_eq!(whole, sha2::Sha256::digest(&data).to_vec());
        let cut = 1_000_003u64;
        let jobs = [
            HashJob {
                path: big.clone(),
                range: Some((0, cut)),
            },
            HashJob {
                path: big.clone(),
                range: Some((cut, data.len() as u64)),
            },
        ];
        let shards = hash_jobs(&jobs, HashAlgorithm::Sha256);
        let first = shards[0].as_ref().expect("shard");
        let second = shards[1].as_ref().expect("shard");
        assert_eq!(first, &sha2::Sha256::digest(&data[..cut as usize]).to_vec());
        assert_eq!(
            second,
            &sha2::Sha256::digest(&data[cut as usize..]).to_vec()
        );
    }

    #[test]
    fn shards_outside_the_file_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let small = write(dir.path(), "small", b"0123");
        let jobs = [HashJob {
            path: small,
            range: Some((2, 9)),
        }];
        assert!(hash_jobs(&jobs, HashAlgorithm::Sha256)[0].is_err());
    }

    proptest::proptest! {
        #[test]
        fn hex_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            proptest::prop_assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        }
    }
}
