//! The three heaps attribute values and names live in: local heaps (old-style group member
//! names), the global heap (variable-length data) and fractal heaps (dense attribute and link
//! storage).

use std::rc::Rc;

use crate::Error;
use crate::io::{Cursor, Source};

/// The data segment of a local heap (`HEAP`), where old-style groups keep member names.
pub(crate) fn local_heap(src: &mut Source<'_>, address: u64) -> Result<Vec<u8>, Error> {
    let header_len = 8 + 2 * u64::from(src.length_size) + u64::from(src.offset_size);
    let header = src.read(address, header_len, "local heap")?;
    let mut c = Cursor::new(&header, "local heap");
    if c.take(4)? != b"HEAP" {
        return Err(Error::Malformed("local heap signature missing".into()));
    }
    c.skip(4)?;
    let data_size = c.uint(usize::from(src.length_size))?;
    let _free_list = c.uint(usize::from(src.length_size))?;
    let data_address = c.uint(usize::from(src.offset_size))?;
    src.read(data_address, data_size, "local heap data")
}

/// A NUL-terminated name at `offset` of a local heap's data segment.
pub(crate) fn name_at(heap: &[u8], offset: u64) -> Result<String, Error> {
    let start = usize::try_from(offset).map_err(|_| Error::Malformed("name offset".into()))?;
    let rest = heap
        .get(start..)
        .ok_or_else(|| Error::Malformed("name offset outside the local heap".into()))?;
    let end = rest
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| Error::Malformed("unterminated name in the local heap".into()))?;
    Ok(String::from_utf8_lossy(rest.get(..end).unwrap_or(&[])).into_owned())
}

/// Object `index` of the global heap collection at `address`.
pub(crate) fn global_heap_object(
    src: &mut Source<'_>,
    address: u64,
    index: u32,
) -> Result<Vec<u8>, Error> {
    let collection = match src.global_heaps.get(&address) {
        Some(c) => Rc::clone(c),
        None => {
            let head_len = 8 + u64::from(src.length_size);
            let head = src.read(address, head_len, "global heap collection")?;
            let mut c = Cursor::new(&head, "global heap collection");
            if c.take(4)? != b"GCOL" {
                return Err(Error::Malformed("global heap signature missing".into()));
            }
            c.skip(4)?;
            let size = c.uint(usize::from(src.length_size))?;
            if size < head_len || size > src.limits.max_structure_bytes {
                return Err(Error::Malformed(format!(
                    "global heap collection of {size} bytes"
                )));
            }
            // The last collection of a file may be shorter than declared (free space at its end).
            let bytes = Rc::new(src.read_up_to(address, size, "global heap collection")?);
            if src.global_heaps.len() < 1024 {
                src.global_heaps.insert(address, Rc::clone(&bytes));
            }
            bytes
        }
    };
    let mut c = Cursor::new(&collection, "global heap collection");
    c.skip(8 + usize::from(src.length_size))?;
    let header = 8 + usize::from(src.length_size);
    while c.remaining() >= header {
        let object_index = c.u16()?;
        c.skip(6)?;
        let size = c.uint(usize::from(src.length_size))?;
        if object_index == 0 {
            break; // free space: the rest of the collection
        }
        let len = usize::try_from(size).map_err(|_| Error::Malformed("heap object size".into()))?;
        let data = c.take(len)?;
        if u32::from(object_index) == index {
            return Ok(data.to_vec());
        }
        c.align(8);
    }
    Err(Error::Malformed(format!(
        "global heap object {index} not found at {address:#x}"
    )))
}

/// A fractal heap (`FRHP`): managed objects in a doubling table of direct blocks.
#[derive(Debug, Clone)]
pub(crate) struct FractalHeap {
    pub id_len: usize,
    filtered: bool,
    checksummed_direct: bool,
    width: u64,
    start_block: u64,
    max_direct: u64,
    offset_bytes: usize,
    length_bytes: usize,
    root: u64,
    root_rows: u64,
}

fn log2_floor(v: u64) -> u32 {
    63u32.saturating_sub(v.leading_zeros())
}

impl FractalHeap {
    pub fn open(src: &mut Source<'_>, address: u64) -> Result<Self, Error> {
        let o = usize::from(src.offset_size);
        let l = usize::from(src.length_size);
        let header_len = 4 + 1 + 2 + 2 + 1 + 4 + l + o + l + o + 8 * l + 2 + l + l + 2 + 2 + o + 2;
        let bytes = src.read(address, header_len as u64, "fractal heap header")?;
        let mut c = Cursor::new(&bytes, "fractal heap header");
        if c.take(4)? != b"FRHP" {
            return Err(Error::Malformed("fractal heap signature missing".into()));
        }
        let _version = c.u8()?;
        let id_len = usize::from(c.u16()?);
        let filter_len = c.u16()?;
        let flags = c.u8()?;
        let max_managed = c.u32()?;
        c.skip(l + o + l + o + 8 * l)?;
        let width = u64::from(c.u16()?);
        let start_block = c.uint(l)?;
        let max_direct = c.uint(l)?;
        let max_heap_bits = u32::from(c.u16()?);
        let _start_rows = c.u16()?;
        let root = c.uint(o)?;
        let root_rows = u64::from(c.u16()?);
        let pow2 = |v: u64| v != 0 && v.is_power_of_two();
        if !pow2(width) || !pow2(start_block) || !pow2(max_direct) || max_direct < start_block {
            return Err(Error::Malformed(
                "fractal heap doubling table is invalid".into(),
            ));
        }
        if !(1..=64).contains(&max_heap_bits) || id_len == 0 || id_len > 64 || root_rows > 64 {
            return Err(Error::Malformed(
                "fractal heap parameters are invalid".into(),
            ));
        }
        let dir_len_bytes = (log2_floor(max_direct) as usize).div_ceil(8);
        let managed_len_bytes = log2_floor(u64::from(max_managed.max(1))) as usize / 8 + 1;
        Ok(FractalHeap {
            id_len,
            filtered: filter_len > 0,
            checksummed_direct: flags & 0x02 != 0,
            width,
            start_block,
            max_direct,
            offset_bytes: (max_heap_bits as usize).div_ceil(8),
            length_bytes: dir_len_bytes.min(managed_len_bytes),
            root,
            root_rows,
        })
    }

    /// The object a heap ID names.
    pub fn get(&self, src: &mut Source<'_>, id: &[u8]) -> Result<Vec<u8>, Error> {
        let mut c = Cursor::new(id, "fractal heap ID");
        let first = c.u8()?;
        if first >> 6 != 0 {
            return Err(Error::Unsupported(format!(
                "heap ID version {}",
                first >> 6
            )));
        }
        match (first >> 4) & 0x03 {
            0 => {
                if self.filtered {
                    return Err(Error::Unsupported(
                        "fractal heap with I/O filters (compressed dense storage)".into(),
                    ));
                }
                let offset = c.uint(self.offset_bytes)?;
                let length = c.uint(self.length_bytes)?;
                self.managed(src, offset, length)
            }
            2 => {
                let (len, skip) = if self.id_len <= 18 {
                    (usize::from(first & 0x0f) + 1, 1)
                } else {
                    let second = usize::from(*id.get(1).ok_or(Error::Truncated("heap ID"))?);
                    ((usize::from(first & 0x0f) << 8 | second) + 1, 2)
                };
                id.get(skip..skip + len)
                    .map(<[u8]>::to_vec)
                    .ok_or(Error::Truncated("tiny heap object"))
            }
            1 => Err(Error::Unsupported(
                "huge fractal heap object (stored outside the heap blocks)".into(),
            )),
            t => Err(Error::Malformed(format!("heap ID type {t}"))),
        }
    }

    fn block_size(&self, row: u64) -> u64 {
        if row == 0 {
            self.start_block
        } else {
            self.start_block.saturating_mul(1u64 << (row - 1).min(62))
        }
    }

    fn managed(&self, src: &mut Source<'_>, offset: u64, length: u64) -> Result<Vec<u8>, Error> {
        if length > src.limits.max_structure_bytes {
            return Err(Error::Limit(format!("heap object of {length} bytes")));
        }
        let (block_address, block_offset) = if self.root_rows == 0 {
            (self.root, 0)
        } else {
            self.find_direct_block(src, offset)?
        };
        if src.is_undefined(block_address) {
            return Err(Error::Malformed(
                "heap object in an unallocated block".into(),
            ));
        }
        let within = offset
            .checked_sub(block_offset)
            .ok_or_else(|| Error::Malformed("heap offset before its block".into()))?;
        let prefix = 5 + u64::from(src.offset_size) + self.offset_bytes as u64;
        let header = src.read(block_address, 4, "fractal heap direct block")?;
        if header != b"FHDB" {
            return Err(Error::Malformed("direct block signature missing".into()));
        }
        let min = prefix + if self.checksummed_direct { 4 } else { 0 };
        if within < min {
            return Err(Error::Malformed(
                "heap object overlaps its block header".into(),
            ));
        }
        let at = block_address
            .checked_add(within)
            .ok_or_else(|| Error::Malformed("heap object address overflows".into()))?;
        src.read(at, length, "fractal heap object")
    }

    /// Walks indirect blocks down to the direct block holding `offset`; returns its address and
    /// heap offset.
    fn find_direct_block(&self, src: &mut Source<'_>, offset: u64) -> Result<(u64, u64), Error> {
        let o = usize::from(src.offset_size);
        let l = usize::from(src.length_size);
        let max_direct_rows =
            u64::from(log2_floor(self.max_direct) - log2_floor(self.start_block)) + 2;
        let first_row_bits = log2_floor(self.start_block) + log2_floor(self.width);
        let mut block = self.root;
        let mut rows = self.root_rows;
        let mut base = 0u64;
        for _ in 0..16 {
            let direct_rows = rows.min(max_direct_rows);
            let indirect_rows = rows - direct_rows;
            let direct_entry = o + if self.filtered { l + 4 } else { 0 };
            let entries_len = direct_rows * self.width * direct_entry as u64
                + indirect_rows * self.width * o as u64;
            let head = 5 + o + self.offset_bytes;
            let bytes = src.read(
                block,
                head as u64 + entries_len,
                "fractal heap indirect block",
            )?;
            let mut c = Cursor::new(&bytes, "fractal heap indirect block");
            if c.take(4)? != b"FHIB" {
                return Err(Error::Malformed("indirect block signature missing".into()));
            }
            c.skip(1 + o + self.offset_bytes)?;
            let rel = offset
                .checked_sub(base)
                .ok_or_else(|| Error::Malformed("heap offset outside its block".into()))?;
            let row_span = self.width.saturating_mul(self.start_block);
            let row = if rel < row_span {
                0
            } else {
                u64::from(log2_floor(rel / row_span)) + 1
            };
            if row >= rows {
                return Err(Error::Malformed(
                    "heap offset beyond the heap's rows".into(),
                ));
            }
            let row_start = if row == 0 {
                0
            } else {
                row_span.saturating_mul(1u64 << (row - 1).min(62))
            };
            let size = self.block_size(row);
            let col = (rel - row_start) / size;
            let block_heap_offset = base + row_start + col * size;
            let (entry_pos, entry_len) = if row < direct_rows {
                (
                    (row * self.width + col) as usize * direct_entry,
                    direct_entry,
                )
            } else {
                (
                    direct_rows as usize * self.width as usize * direct_entry
                        + ((row - direct_rows) * self.width + col) as usize * o,
                    o,
                )
            };
            let _ = entry_len;
            c.skip(entry_pos)?;
            let child = c.uint(o)?;
            if row < direct_rows {
                return Ok((child, block_heap_offset));
            }
            if src.is_undefined(child) {
                return Err(Error::Malformed(
                    "heap object in an unallocated block".into(),
                ));
            }
            block = child;
            base = block_heap_offset;
            rows = u64::from(log2_floor(size)).saturating_sub(u64::from(first_row_bits)) + 1;
        }
        Err(Error::Limit(
            "fractal heap indirect blocks nested too deeply".into(),
        ))
    }
}
