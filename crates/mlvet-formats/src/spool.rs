//! Random-access copies of streamed members (a zip inside a tar.gz, a 7z member that is an
//! `.npz`): small ones in memory, larger ones in an unlinked temporary file, so that a nested
//! archive costs disk, not memory.

use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};

/// Members up to this size stay in memory.
const MEMORY_MAX: u64 = 16 * 1024 * 1024;

/// A seekable copy of a stream.
pub(crate) enum Spooled {
    Memory(Cursor<Vec<u8>>),
    File(File),
}

impl Read for Spooled {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Spooled::Memory(c) => c.read(buf),
            Spooled::File(f) => f.read(buf),
        }
    }
}

impl Seek for Spooled {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Spooled::Memory(c) => c.seek(pos),
            Spooled::File(f) => f.seek(pos),
        }
    }
}

/// What [`spool`] made of a stream.
pub(crate) enum Outcome {
    Copied(Spooled, u64),
    /// More than the cap: nothing kept.
    TooLarge,
}

/// Copies `src` (at most `cap` bytes) into a seekable store.
pub(crate) fn spool(src: &mut dyn Read, cap: u64) -> io::Result<Outcome> {
    let mut head = Vec::new();
    src.take(MEMORY_MAX.min(cap).saturating_add(1))
        .read_to_end(&mut head)?;
    let head_len = head.len() as u64;
    if head_len <= MEMORY_MAX.min(cap) {
        return Ok(Outcome::Copied(
            Spooled::Memory(Cursor::new(head)),
            head_len,
        ));
    }
    if head_len > cap {
        return Ok(Outcome::TooLarge);
    }
    let Ok(mut file) = anonymous_file() else {
        // No writable temporary folder: keep it in memory, within the cap, as before.
        let mut rest = Vec::new();
        src.take(cap - head_len + 1).read_to_end(&mut rest)?;
        head.extend(rest);
        let len = head.len() as u64;
        if len > cap {
            return Ok(Outcome::TooLarge);
        }
        return Ok(Outcome::Copied(Spooled::Memory(Cursor::new(head)), len));
    };
    file.write_all(&head)?;
    drop(head);
    let rest = io::copy(&mut src.take(cap - head_len + 1), &mut file)?;
    let len = head_len + rest;
    if len > cap {
        return Ok(Outcome::TooLarge);
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(Outcome::Copied(Spooled::File(file), len))
}

/// A new temporary file that has no name any more (removed right after creation: the space is
/// freed when the scan drops it, even if the process dies).
fn anonymous_file() -> io::Result<File> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir();
    for _ in 0..16 {
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = dir.join(format!(
            ".mlvet-spool-{}-{unique}-{nanos}",
            std::process::id()
        ));
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(file) => {
                std::fs::remove_file(&path)?;
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no unique temporary file name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(data: &[u8], cap: u64) -> Option<(Vec<u8>, bool)> {
        match spool(&mut &data[..], cap).expect("spool") {
            Outcome::Copied(mut spooled, len) => {
                assert_eq!(len, data.len() as u64);
                let on_disk = matches!(spooled, Spooled::File(_));
                spooled.seek(SeekFrom::Start(0)).expect("seek");
                let mut back = Vec::new();
                spooled.read_to_end(&mut back).expect("read");
                Some((back, on_disk))
            }
            Outcome::TooLarge => None,
        }
    }

    #[test]
    fn small_streams_stay_in_memory_large_ones_go_to_disk() {
        let small = vec![7u8; 1000];
        assert_eq!(copy(&small, u64::MAX), Some((small.clone(), false)));
        let large: Vec<u8> = (0..MEMORY_MAX as usize + 4096).map(|i| i as u8).collect();
        assert_eq!(copy(&large, u64::MAX), Some((large.clone(), true)));
        assert_eq!(copy(&large, MEMORY_MAX + 10), None);
        assert_eq!(copy(&small, 999), None);
        assert_eq!(copy(&small, 1000).map(|(b, _)| b), Some(small));
    }
}
