//! B-trees: version 1 group trees (old-style groups) and version 2 trees (dense link and
//! attribute name indexes). Only enumeration is needed: every record, in any order.

use crate::io::{Cursor, Source};
use crate::{Error, heap};

/// Members of an old-style group: its v1 B-tree of symbol nodes, names in its local heap.
pub(crate) fn symbol_table_members(
    src: &mut Source<'_>,
    btree: u64,
    local_heap: u64,
) -> Result<Vec<(String, u64)>, Error> {
    let names = heap::local_heap(src, local_heap)?;
    let mut out = Vec::new();
    let mut pending = vec![(btree, 0usize)];
    let mut visited = std::collections::HashSet::new();
    let o = usize::from(src.offset_size);
    let l = usize::from(src.length_size);
    while let Some((node, depth)) = pending.pop() {
        if depth > 64 || !visited.insert(node) {
            return Err(Error::Malformed(
                "group B-tree has a cycle or is too deep".into(),
            ));
        }
        if visited.len() > src.limits.max_objects {
            return Err(Error::Limit("too many group B-tree nodes".into()));
        }
        let head = src.read(node, 8 + 2 * o as u64, "group B-tree node")?;
        let mut c = Cursor::new(&head, "group B-tree node");
        if c.take(4)? != b"TREE" {
            // A symbol table node directly (some writers point level-0 trees at one).
            return Err(Error::Malformed("group B-tree signature missing".into()));
        }
        let node_type = c.u8()?;
        let level = c.u8()?;
        let used = u64::from(c.u16()?);
        if node_type != 0 {
            return Err(Error::Malformed(format!(
                "group B-tree node of type {node_type}"
            )));
        }
        let body_len = (used + 1) * l as u64 + used * o as u64;
        let body = src.read(node + 8 + 2 * o as u64, body_len, "group B-tree node")?;
        let mut c = Cursor::new(&body, "group B-tree node");
        for _ in 0..used {
            c.skip(l)?;
            let child = c.uint(o)?;
            if level > 0 {
                pending.push((child, depth + 1));
            } else {
                symbol_node(src, child, &names, &mut out)?;
            }
        }
        if out.len() > src.limits.max_objects {
            return Err(Error::Limit("too many group members".into()));
        }
    }
    Ok(out)
}

fn symbol_node(
    src: &mut Source<'_>,
    address: u64,
    names: &[u8],
    out: &mut Vec<(String, u64)>,
) -> Result<(), Error> {
    let o = u64::from(src.offset_size);
    let head = src.read(address, 8, "symbol table node")?;
    let mut c = Cursor::new(&head, "symbol table node");
    if c.take(4)? != b"SNOD" {
        return Err(Error::Malformed(
            "symbol table node signature missing".into(),
        ));
    }
    c.skip(2)?;
    let count = u64::from(c.u16()?);
    let entry = 2 * o + 24;
    let body = src.read(address + 8, count * entry, "symbol table node")?;
    let mut c = Cursor::new(&body, "symbol table node");
    for _ in 0..count {
        let name_offset = c.uint(usize::from(src.offset_size))?;
        let header = c.uint(usize::from(src.offset_size))?;
        c.skip(24)?;
        out.push((heap::name_at(names, name_offset)?, header));
    }
    Ok(())
}

/// Every record of a version 2 B-tree, as raw bytes of the tree's record size.
pub(crate) fn v2_records(src: &mut Source<'_>, address: u64) -> Result<(u8, Vec<Vec<u8>>), Error> {
    let o = usize::from(src.offset_size);
    let l = usize::from(src.length_size);
    let header_len = 4 + 1 + 1 + 4 + 2 + 2 + 1 + 1 + o + 2 + l;
    let bytes = src.read(address, header_len as u64, "v2 B-tree header")?;
    let mut c = Cursor::new(&bytes, "v2 B-tree header");
    if c.take(4)? != b"BTHD" {
        return Err(Error::Malformed("v2 B-tree signature missing".into()));
    }
    let _version = c.u8()?;
    let tree_type = c.u8()?;
    let node_size = u64::from(c.u32()?);
    let record_size = u64::from(c.u16()?);
    let depth = usize::from(c.u16()?);
    c.skip(2)?;
    let root = c.uint(o)?;
    let root_records = u64::from(c.u16()?);
    let total = c.uint(l)?;
    if record_size == 0 || node_size < 16 || depth > 16 {
        return Err(Error::Malformed("v2 B-tree parameters are invalid".into()));
    }
    if total > src.limits.max_objects as u64 {
        return Err(Error::Limit(format!("v2 B-tree of {total} records")));
    }
    // Field widths of child pointers, as the library derives them from the node size.
    const PREFIX: u64 = 10;
    let enc = |n: u64| (log2_floor(n.max(1)) / 8 + 1) as usize;
    let leaf_max = (node_size.saturating_sub(PREFIX)) / record_size;
    let max_nrec_size = enc(leaf_max);
    let mut cum_max = vec![leaf_max];
    let mut cum_size = vec![0usize];
    for u in 1..=depth {
        let ptr = o as u64 + max_nrec_size as u64 + if u > 1 { cum_size[u - 1] as u64 } else { 0 };
        let max = node_size.saturating_sub(PREFIX + ptr) / (record_size + ptr);
        let cum = (max + 1).saturating_mul(cum_max[u - 1]).saturating_add(max);
        cum_max.push(cum);
        cum_size.push(enc(cum));
    }
    let mut records = Vec::new();
    let mut pending = vec![(root, root_records, depth)];
    let mut nodes = 0usize;
    while let Some((node, count, level)) = pending.pop() {
        nodes += 1;
        if nodes > src.limits.max_objects {
            return Err(Error::Limit("too many v2 B-tree nodes".into()));
        }
        if count * record_size > node_size {
            return Err(Error::Malformed("v2 B-tree node overflows".into()));
        }
        let bytes = src.read(node, node_size, "v2 B-tree node")?;
        let mut c = Cursor::new(&bytes, "v2 B-tree node");
        let sig = c.take(4)?;
        let expected: &[u8] = if level == 0 { b"BTLF" } else { b"BTIN" };
        if sig != expected {
            return Err(Error::Malformed("v2 B-tree node signature missing".into()));
        }
        c.skip(2)?;
        for _ in 0..count {
            records.push(c.take(record_size as usize)?.to_vec());
        }
        if records.len() as u64 > total.max(1).saturating_mul(2) + 16 {
            return Err(Error::Malformed(
                "v2 B-tree holds more records than declared".into(),
            ));
        }
        if level > 0 {
            for _ in 0..=count {
                let child = c.uint(o)?;
                let child_count = c.uint(max_nrec_size)?;
                if level > 1 {
                    c.skip(cum_size[level - 1])?;
                }
                pending.push((child, child_count, level - 1));
            }
        }
    }
    Ok((tree_type, records))
}

fn log2_floor(v: u64) -> u32 {
    63u32.saturating_sub(v.leading_zeros())
}
