//! tar archives, including the legacy PyTorch tar format (`sys_info`, `pickle`, `storages`,
//! `tensors`), read sequentially the way `tarfile` and `torch.load` read them.

use std::io::{Cursor, Read};

use mlvet_core::Location;

use crate::engine::Scan;
use crate::rules::{container_malformed, container_resource_limit, container_uninspectable_member};
use crate::sniff::TORCH_TAR_MEMBERS;
use crate::walker::Val;

pub(crate) fn scan_tar(
    scan: &mut Scan<'_>,
    src: &mut dyn Read,
    loc: &Location,
    depth: usize,
) -> &'static str {
    let mut archive = tar::Archive::new(src);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            scan.incomplete(container_uninspectable_member::finding(
                loc.clone(),
                format!("tar cannot be read: {e}"),
            ));
            return "tar";
        }
    };
    let mut torch_members = 0;
    let mut count = 0usize;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                scan.incomplete(container_malformed::finding(
                    loc.clone(),
                    format!("tar archive is corrupt: {e}"),
                ));
                break;
            }
        };
        count += 1;
        if count > scan.opts.max_entries || scan.entries >= scan.opts.max_entries.saturating_mul(4)
        {
            scan.incomplete(container_resource_limit::finding(
                loc.clone(),
                format!("more than {} tar entries", scan.opts.max_entries),
            ));
            break;
        }
        scan.entries += 1;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            continue;
        }
        let name = match entry.path() {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(_) => String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
        };
        let size = entry.size();
        let member_loc = loc.member(name.clone());
        let Some(next) = scan.descend(&member_loc, depth) else {
            continue;
        };
        if TORCH_TAR_MEMBERS.contains(&name.as_str()) {
            torch_members += 1;
        }
        match name.as_str() {
            "storages" | "tensors" => {
                if let Some(bytes) = read_member(scan, &mut entry, size, &member_loc) {
                    scan_torch_tar_records(scan, &bytes, &member_loc, name == "storages");
                }
            }
            _ => {
                if size <= scan.opts.max_member_size {
                    if let Some(bytes) = read_member(scan, &mut entry, size, &member_loc) {
                        scan.scan_member_bytes(&bytes, &member_loc, next);
                    }
                } else {
                    // Too big for memory: sequential formats are still scanned as a stream.
                    scan.scan_reader(&mut entry, Some(size), &member_loc, next);
                }
            }
        }
    }
    if torch_members >= 2 {
        "pytorch-tar"
    } else {
        "tar"
    }
}

fn read_member(
    scan: &mut Scan<'_>,
    entry: &mut dyn Read,
    size: u64,
    loc: &Location,
) -> Option<Vec<u8>> {
    let budget = scan.opts.max_member_size.min(
        scan.opts
            .max_total_uncompressed
            .saturating_sub(scan.total_out),
    );
    if size > budget {
        scan.incomplete(container_resource_limit::finding(
            loc.clone(),
            format!("member of {size} bytes exceeds {budget}"),
        ));
        return None;
    }
    let mut bytes = Vec::new();
    match entry.take(size).read_to_end(&mut bytes) {
        Ok(_) => {
            scan.total_out = scan.total_out.saturating_add(bytes.len() as u64);
            Some(bytes)
        }
        Err(e) => {
            scan.incomplete(container_malformed::finding(
                loc.clone(),
                format!("tar member unreadable: {e}"),
            ));
            None
        }
    }
}

/// Element size of a legacy storage type (`torch.FloatStorage`...).
fn element_size(storage_type: &Val) -> Option<u64> {
    let (module, name) = storage_type.global_name()?;
    if module != "torch" {
        return None;
    }
    Some(match name.strip_suffix("Storage")? {
        "Double" | "Long" | "ComplexFloat" => 8,
        "Float" | "Int" | "QInt32" => 4,
        "Half" | "Short" | "BFloat16" => 2,
        "Char" | "Byte" | "Bool" | "QUInt8" | "QInt8" | "QUInt4x2" | "QUInt2x4" | "Untyped" => 1,
        "ComplexDouble" => 16,
        _ => return None,
    })
}

/// `storages`: count pickle, then per storage an args pickle `(key, location, storage_type)`, an
/// 8-byte element count and the raw bytes, then the storage-views pickle. `tensors`: count
/// pickle, then per tensor an args pickle and `ndim`, 4 skipped bytes, sizes, strides, offset.
/// torch.load unpickles every one of those pickles; the raw parts are skipped by structure.
fn scan_torch_tar_records(scan: &mut Scan<'_>, bytes: &[u8], loc: &Location, storages: bool) {
    let mut cursor = Cursor::new(bytes);
    let mut pos: u64 = 0;
    let fail = |scan: &mut Scan<'_>, pos: u64, why: &str| {
        scan.incomplete(container_malformed::finding(
            loc.clone().with_offset(pos),
            format!("legacy torch tar record: {why}"),
        ));
    };
    let count = match scan.scan_one_pickle(&mut cursor, loc, pos) {
        Ok((Some(Val::Int(n)), used)) if (0..=10_000_000).contains(&n) => {
            pos += used;
            n as u64
        }
        _ => return fail(scan, pos, "record count pickle not understood"),
    };
    for _ in 0..count {
        let (value, used) = match scan.scan_one_pickle(&mut cursor, loc, pos) {
            Ok(v) => v,
            Err(()) => return fail(scan, pos, "record pickle is broken"),
        };
        pos += used;
        let skip = if storages {
            let elsize = match &value {
                Some(Val::Tuple(args, _)) => args.get(2).and_then(element_size),
                _ => None,
            };
            let Some(elsize) = elsize else {
                return fail(scan, pos, "storage type not understood");
            };
            let Some(numel) = read_u64(bytes, pos) else {
                return fail(scan, pos, "truncated storage size");
            };
            numel.checked_mul(elsize).and_then(|n| n.checked_add(8))
        } else {
            let Some(ndim) = read_u64(bytes, pos).map(|v| (v & 0xffff_ffff) as u32 as i32) else {
                return fail(scan, pos, "truncated tensor record");
            };
            if !(0..=64).contains(&ndim) {
                return fail(scan, pos, "invalid tensor rank");
            }
            Some(8 + 16 * ndim as u64 + 8)
        };
        let Some(skip) = skip else {
            return fail(scan, pos, "record size overflows");
        };
        pos = match pos.checked_add(skip) {
            Some(p) if p <= bytes.len() as u64 => p,
            _ => return fail(scan, pos, "record data truncated"),
        };
        cursor.set_position(pos);
    }
    if storages && scan.scan_one_pickle(&mut cursor, loc, pos).is_err() {
        fail(scan, pos, "storage views pickle is broken");
    }
}

fn read_u64(bytes: &[u8], pos: u64) -> Option<u64> {
    let start = usize::try_from(pos).ok()?;
    let b = bytes.get(start..start.checked_add(8)?)?;
    Some(u64::from_le_bytes([
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
    ]))
}
