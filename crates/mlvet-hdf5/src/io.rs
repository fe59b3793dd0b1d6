//! Bounded random access to the file, and a cursor over bytes already read.

use std::io::{Read, Seek, SeekFrom};

use crate::{Error, Limits};

/// Random-access input.
pub trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// Lets unsized readers (`dyn Read + Seek` of any trait) be used as [`ReadSeek`].
pub(crate) struct Adapter<'a, R: ?Sized>(pub &'a mut R);

impl<R: Read + ?Sized> Read for Adapter<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Seek + ?Sized> Seek for Adapter<'_, R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

/// The file being read: every read is checked against its size and charged to one byte budget.
pub(crate) struct Source<'a> {
    src: &'a mut dyn ReadSeek,
    pub size: u64,
    /// Added to every address (the superblock's base address, usually its own position).
    pub base: u64,
    pub offset_size: u8,
    pub length_size: u8,
    pub limits: &'a Limits,
    read_so_far: u64,
    /// Global heap collections already read (vlen strings of one attribute share one).
    pub global_heaps: std::collections::HashMap<u64, std::rc::Rc<Vec<u8>>>,
}

impl<'a> Source<'a> {
    pub fn new(src: &'a mut dyn ReadSeek, size: u64, limits: &'a Limits) -> Self {
        Source {
            src,
            size,
            base: 0,
            offset_size: 8,
            length_size: 8,
            limits,
            read_so_far: 0,
            global_heaps: std::collections::HashMap::new(),
        }
    }

    /// Reads `len` bytes at absolute file position `pos`.
    pub fn read_abs(&mut self, pos: u64, len: u64, what: &'static str) -> Result<Vec<u8>, Error> {
        let end = pos
            .checked_add(len)
            .ok_or(Error::OutOfBounds { what, address: pos })?;
        if end > self.size {
            return Err(Error::OutOfBounds { what, address: pos });
        }
        if len > self.limits.max_structure_bytes {
            return Err(Error::Limit(format!(
                "{what} of {len} bytes exceeds the {} byte structure limit",
                self.limits.max_structure_bytes
            )));
        }
        self.read_so_far = self.read_so_far.saturating_add(len);
        if self.read_so_far > self.limits.max_total_read {
            return Err(Error::Limit(format!(
                "more than {} bytes of metadata read",
                self.limits.max_total_read
            )));
        }
        self.src.seek(SeekFrom::Start(pos))?;
        let mut buf = Vec::new();
        (&mut *self.src).take(len).read_to_end(&mut buf)?;
        if buf.len() as u64 != len {
            return Err(Error::OutOfBounds { what, address: pos });
        }
        Ok(buf)
    }

    /// Reads `len` bytes at a file address (relative to the base address).
    pub fn read(&mut self, address: u64, len: u64, what: &'static str) -> Result<Vec<u8>, Error> {
        let pos = self
            .base
            .checked_add(address)
            .ok_or(Error::OutOfBounds { what, address })?;
        self.read_abs(pos, len, what)
    }

    /// Reads up to `len` bytes at an address, fewer when the file ends first.
    pub fn read_up_to(
        &mut self,
        address: u64,
        len: u64,
        what: &'static str,
    ) -> Result<Vec<u8>, Error> {
        let pos = self
            .base
            .checked_add(address)
            .ok_or(Error::OutOfBounds { what, address })?;
        let available = self.size.saturating_sub(pos);
        if available == 0 {
            return Err(Error::OutOfBounds { what, address });
        }
        self.read_abs(pos, len.min(available), what)
    }

    pub fn is_undefined(&self, address: u64) -> bool {
        let bits = u32::from(self.offset_size) * 8;
        if bits >= 64 {
            address == u64::MAX
        } else {
            address == (1u64 << bits) - 1
        }
    }
}

/// A cursor over bytes already read; every accessor fails instead of panicking.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'b> {
    pub bytes: &'b [u8],
    pub pos: usize,
    what: &'static str,
}

impl<'b> Cursor<'b> {
    pub fn new(bytes: &'b [u8], what: &'static str) -> Self {
        Cursor {
            bytes,
            pos: 0,
            what,
        }
    }

    fn truncated(&self) -> Error {
        Error::Truncated(self.what)
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub fn take(&mut self, n: usize) -> Result<&'b [u8], Error> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.truncated())?;
        let out = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| self.truncated())?;
        self.pos = end;
        Ok(out)
    }

    pub fn skip(&mut self, n: usize) -> Result<(), Error> {
        self.take(n).map(|_| ())
    }

    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }

    pub fn u16(&mut self) -> Result<u16, Error> {
        Ok(self.uint(2)? as u16)
    }

    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(self.uint(4)? as u32)
    }

    /// A little-endian unsigned integer of `n` (≤ 8) bytes.
    pub fn uint(&mut self, n: usize) -> Result<u64, Error> {
        if n > 8 {
            return Err(Error::Unsupported(format!("{n}-byte integer field")));
        }
        let bytes = self.take(n)?;
        Ok(le_uint(bytes))
    }

    pub fn align(&mut self, to: usize) {
        let rem = self.pos % to;
        if rem != 0 {
            self.pos = self.pos.saturating_add(to - rem);
        }
    }
}

pub(crate) fn le_uint(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .rev()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

pub(crate) fn be_uint(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}
