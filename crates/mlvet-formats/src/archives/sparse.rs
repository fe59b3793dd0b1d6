//! PAX sparse members (GNU tar formats 0.0, 0.1 and 1.0), read expanded exactly as Python's
//! `tarfile.extractfile` returns them (`TarInfo._proc_gnusparse_00/01/10` and `_FileInFile`):
//! stored data segments at their offsets, holes as zeros, up to the real size. (Old GNU `S`
//! members are expanded by the `tar` crate itself.)

use std::io::{self, Read};

/// PAX records kept per member.
pub(crate) const PAX_RECORDS_MAX: usize = 100_000;
/// Data segments of one sparse member.
const SEGMENTS_MAX: u64 = 100_000;
/// 512-byte blocks a format 1.0 map may occupy (each number takes at least 2 bytes).
const MAP_BLOCKS_MAX: u64 = SEGMENTS_MAX * 2 * 21 / 512 + 2;
const BLOCK: usize = 512;

/// Where the stored bytes go in the expanded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SparseMap {
    /// `(offset, length)` of each stored segment, in order.
    segments: Vec<(u64, u64)>,
    real_size: u64,
}

fn last<'a>(pax: &'a [(String, Vec<u8>)], key: &str) -> Option<&'a [u8]> {
    pax.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_slice())
}

fn number(raw: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(raw)
        .ok()
        .map(str::trim)
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| format!("`{}` is not a number", String::from_utf8_lossy(raw)))
}

/// The sparse map of a member from its PAX records (reading a format 1.0 map from the front of
/// `data`, as tarfile does, so `data` is left at the first stored byte); `None` when the member
/// is not a PAX sparse file.
pub(crate) fn map_from_pax(
    pax: &[(String, Vec<u8>)],
    data: &mut dyn Read,
) -> Result<Option<SparseMap>, String> {
    let (numbers, real_size) = if let Some(map) = last(pax, "GNU.sparse.map") {
        // 0.1: "offset,size,offset,size,..."
        let numbers = map
            .split(|b| *b == b',')
            .filter(|part| !part.is_empty())
            .map(number)
            .collect::<Result<Vec<u64>, String>>()?;
        (
            numbers,
            last(pax, "GNU.sparse.size").map(number).transpose()?,
        )
    } else if let Some(size) = last(pax, "GNU.sparse.size") {
        // 0.0: repeated GNU.sparse.offset / GNU.sparse.numbytes records, paired in order.
        let values = |key: &str| -> Result<Vec<u64>, String> {
            pax.iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| number(v))
                .collect()
        };
        let offsets = values("GNU.sparse.offset")?;
        let lengths = values("GNU.sparse.numbytes")?;
        let numbers = offsets
            .iter()
            .zip(&lengths)
            .flat_map(|(o, l)| [*o, *l])
            .collect();
        (numbers, Some(number(size)?))
    } else if last(pax, "GNU.sparse.major") == Some(b"1")
        && last(pax, "GNU.sparse.minor") == Some(b"0")
    {
        let numbers = read_map_10(data)?;
        (
            numbers,
            last(pax, "GNU.sparse.realsize").map(number).transpose()?,
        )
    } else {
        return Ok(None);
    };
    if numbers.len() as u64 > SEGMENTS_MAX * 2 {
        return Err(format!("more than {SEGMENTS_MAX} segments"));
    }
    let segments: Vec<(u64, u64)> = numbers.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    let mut end = 0u64;
    for &(offset, length) in &segments {
        if offset < end {
            return Err("segments overlap or are out of order".into());
        }
        end = offset.checked_add(length).ok_or("segment end overflows")?;
    }
    Ok(Some(SparseMap {
        segments,
        real_size: real_size.unwrap_or(end),
    }))
}

/// Format 1.0: the map is at the start of the data, decimal numbers each ending in a newline
/// (the count, then offset/size pairs), padded to whole 512-byte blocks.
fn read_map_10(data: &mut dyn Read) -> Result<Vec<u64>, String> {
    let mut pending: Vec<u8> = Vec::new();
    let mut blocks = 0u64;
    let mut next_number = |pending: &mut Vec<u8>| -> Result<u64, String> {
        loop {
            if let Some(newline) = pending.iter().position(|b| *b == b'\n') {
                let value = number(&pending[..newline]);
                pending.drain(..=newline);
                return value;
            }
            if blocks >= MAP_BLOCKS_MAX {
                return Err("sparse map too long".into());
            }
            let mut block = [0u8; BLOCK];
            data.read_exact(&mut block)
                .map_err(|e| format!("truncated sparse map: {e}"))?;
            blocks += 1;
            pending.extend_from_slice(&block);
        }
    };
    let count = next_number(&mut pending)?;
    if count > SEGMENTS_MAX {
        return Err(format!("{count} segments (limit {SEGMENTS_MAX})"));
    }
    (0..count * 2).map(|_| next_number(&mut pending)).collect()
}

/// The expanded content of a sparse member.
pub(crate) struct SparseReader<R> {
    stored: R,
    map: SparseMap,
    pos: u64,
    index: usize,
}

impl<R: Read> SparseReader<R> {
    pub(crate) fn new(stored: R, map: SparseMap) -> Self {
        SparseReader {
            stored,
            map,
            pos: 0,
            index: 0,
        }
    }
}

impl<R: Read> Read for SparseReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.map.real_size.saturating_sub(self.pos);
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let segments = &self.map.segments;
        while segments
            .get(self.index)
            .is_some_and(|&(offset, length)| offset.saturating_add(length) <= self.pos)
        {
            self.index += 1;
        }
        let want = |until: u64| {
            usize::try_from(until.min(left))
                .unwrap_or(usize::MAX)
                .min(buf.len())
        };
        let n = match segments.get(self.index) {
            Some(&(offset, length)) if offset <= self.pos => {
                let n = want(offset + length - self.pos);
                let got = self.stored.read(&mut buf[..n])?;
                if got == 0 {
                    // The stored data ends early: so does what tarfile returns.
                    self.map.real_size = self.pos;
                }
                got
            }
            next => {
                let hole_end = next.map_or(self.map.real_size, |&(offset, _)| offset);
                let n = want(hole_end - self.pos);
                buf[..n].fill(0);
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pax(records: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        records
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn expand(map: SparseMap, stored: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        SparseReader::new(stored, map)
            .read_to_end(&mut out)
            .expect("read");
        out
    }

    #[test]
    fn format_01_expands_holes_as_zeros() {
        let records = pax(&[("GNU.sparse.map", "2,3,8,2"), ("GNU.sparse.size", "12")]);
        let map = map_from_pax(&records, &mut &b""[..])
            .expect("ok")
            .expect("sparse");
        assert_eq!(expand(map, b"abcde"), b"\0\0abc\0\0\0de\0\0");
    }

    #[test]
    fn format_00_pairs_repeated_records() {
        let records = pax(&[
            ("GNU.sparse.size", "6"),
            ("GNU.sparse.offset", "0"),
            ("GNU.sparse.numbytes", "1"),
            ("GNU.sparse.offset", "4"),
            ("GNU.sparse.numbytes", "2"),
        ]);
        let map = map_from_pax(&records, &mut &b""[..])
            .expect("ok")
            .expect("sparse");
        assert_eq!(expand(map, b"xyz"), b"x\0\0\0yz");
    }

    #[test]
    fn format_10_reads_the_map_from_the_data_blocks() {
        let mut data = b"1\n4\n3\n".to_vec();
        data.resize(512, 0);
        data.extend(b"abc");
        let records = pax(&[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.realsize", "9"),
        ]);
        let mut reader = &data[..];
        let map = map_from_pax(&records, &mut reader)
            .expect("ok")
            .expect("sparse");
        assert_eq!(expand(map, reader), b"\0\0\0\0abc\0\0");
    }

    #[test]
    fn bad_maps_are_errors_not_panics() {
        for records in [
            pax(&[("GNU.sparse.map", "5,1,2,1"), ("GNU.sparse.size", "9")]),
            pax(&[("GNU.sparse.map", "x,1")]),
            pax(&[("GNU.sparse.map", "18446744073709551615,2")]),
        ] {
            assert!(
                map_from_pax(&records, &mut &b""[..]).is_err(),
                "{records:?}"
            );
        }
        let records = pax(&[("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0")]);
        assert!(map_from_pax(&records, &mut &b"99999999999\n"[..]).is_err());
        assert!(map_from_pax(&records, &mut &[b'7'; 4096][..]).is_err());
        assert_eq!(
            map_from_pax(&pax(&[("path", "x")]), &mut &b""[..]),
            Ok(None)
        );
    }
}
