//! tar archives, including the legacy PyTorch tar format (`sys_info`, `pickle`, `storages`,
//! `tensors`), read sequentially the way `tarfile` and `torch.load` read them.

use std::collections::HashSet;
use std::io::{Read, SeekFrom};

use mlvet_core::{Location, Severity};

use crate::engine::{ReadSeek, Scan};
use crate::rules::container_archive_path_escape::Escapes;
use crate::rules::{
    container_malformed, container_resource_limit, container_tar_special_member,
    container_uninspectable_member,
};
use crate::sniff::TORCH_TAR_MEMBERS;
use crate::walker::Val;

mod sparse;

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
    // Regular members scanned so far: what a link may name without hiding anything.
    let mut scanned: HashSet<String> = HashSet::new();
    let mut escapes = Escapes::default();
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
        let pax = pax_records(&mut entry);
        let name = member_name(&entry, &pax);
        escapes.check(&name, || name.clone());
        let member_loc = loc.member(name.clone());
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Directory
            | tar::EntryType::XGlobalHeader
            | tar::EntryType::XHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => continue,
            tar::EntryType::Link | tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|raw| String::from_utf8_lossy(&raw).into_owned())
                    .unwrap_or_default();
                escapes.check(&target, || format!("{name} -> {target}"));
                report_link(scan, &member_loc, &name, &target, kind, &scanned);
                continue;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let what = match kind {
                    tar::EntryType::Fifo => "a FIFO",
                    _ => "a device node",
                };
                scan.findings.push(container_tar_special_member::finding(
                    member_loc,
                    &format!("`{name}` is {what} (tarfile.extractall creates it; extractfile returns nothing)"),
                    Severity::Medium,
                ));
                continue;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {}
            other => {
                // tarfile: "members with unknown types are treated as regular files".
                scan.findings.push(container_tar_special_member::finding(
                    member_loc.clone(),
                    &format!(
                        "`{name}` has the unknown type flag {:?}; tarfile reads it as a regular file (scanned as one)",
                        char::from(other.as_byte())
                    ),
                    Severity::Medium,
                ));
            }
        }
        let Some(next) = scan.descend(&member_loc, depth) else {
            continue;
        };
        if TORCH_TAR_MEMBERS.contains(&name.as_str()) {
            torch_members += 1;
        }
        scanned.insert(name.clone());
        let sparse = match sparse::map_from_pax(&pax, &mut entry) {
            Ok(sparse) => sparse,
            Err(why) => {
                scan.incomplete(container_malformed::finding(
                    member_loc,
                    format!("PAX sparse member: {why}"),
                ));
                continue;
            }
        };
        // Holes expand to zeros (GNU `S` members are expanded by the tar crate, PAX ones here):
        // that output draws on the expansion budget like any decompression.
        let own_limit = scan.budget(None);
        let mut limited = match sparse {
            Some(map) => scan.limit_decoder(
                Box::new(sparse::SparseReader::new(&mut entry, map)) as Box<dyn Read + '_>,
                own_limit,
            ),
            None if kind == tar::EntryType::GNUSparse => {
                scan.limit_decoder(Box::new(&mut entry) as Box<dyn Read + '_>, own_limit)
            }
            None => {
                scan_member(scan, &mut entry, &name, &member_loc, next);
                continue;
            }
        };
        scan_member(scan, &mut limited, &name, &member_loc, next);
        if limited.hit_limit {
            scan.expansion_exceeded(&member_loc, "expanded sparse member", own_limit);
        }
    }
    if let Some(finding) = escapes.finding(loc) {
        scan.findings.push(finding);
    }
    if torch_members >= 2 {
        "pytorch-tar"
    } else {
        "tar"
    }
}

/// Scans one member's content: legacy torch records by structure, everything else by content
/// (streamed; only formats that need random access are buffered, within the member cap).
fn scan_member(
    scan: &mut Scan<'_>,
    content: &mut dyn Read,
    name: &str,
    member_loc: &Location,
    next: usize,
) {
    match name {
        "storages" | "tensors" => {
            // Records are walked with seeks: a copy (on disk when large), within the cap.
            if let Some((mut copy, len)) = scan.buffer(content, member_loc) {
                scan_torch_tar_records(scan, &mut copy, len, member_loc, name == "storages");
            }
        }
        _ if crate::modelfiles::is_nemo_config(name) => {
            crate::modelfiles::scan_nemo_config(scan, content, member_loc);
        }
        _ => {
            scan.scan_reader(content, None, member_loc, next);
        }
    }
}

/// The PAX records of a member (bounded: the tar crate holds them in memory already).
fn pax_records(entry: &mut tar::Entry<'_, &mut dyn Read>) -> Vec<(String, Vec<u8>)> {
    let Ok(Some(extensions)) = entry.pax_extensions() else {
        return Vec::new();
    };
    extensions
        .filter_map(Result::ok)
        .take(sparse::PAX_RECORDS_MAX)
        .filter_map(|ext| {
            let key = ext.key().ok()?.to_string();
            Some((key, ext.value_bytes().to_vec()))
        })
        .collect()
}

/// The member name as `tarfile` reports it: PAX sparse files carry their real name in
/// `GNU.sparse.name` (the header name is a `GNUSparseFile.<pid>/...` placeholder).
fn member_name(entry: &tar::Entry<'_, &mut dyn Read>, pax: &[(String, Vec<u8>)]) -> String {
    if let Some((_, value)) = pax.iter().rev().find(|(key, _)| key == "GNU.sparse.name") {
        return String::from_utf8_lossy(value).into_owned();
    }
    match entry.path() {
        Ok(p) => p.to_string_lossy().into_owned(),
        Err(_) => String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
    }
}

/// `tarfile.extractfile` on a link returns the bytes of the member it names. Those bytes are
/// covered when that member was scanned before; otherwise the artefact is not fully inspected.
fn report_link(
    scan: &mut Scan<'_>,
    loc: &Location,
    name: &str,
    target: &str,
    kind: tar::EntryType,
    scanned: &HashSet<String>,
) {
    let (what, resolved) = if kind == tar::EntryType::Symlink {
        // tarfile resolves a symlink relative to the link's own folder.
        let folder = name.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("");
        ("symbolic link", normalize_member_path(folder, target))
    } else {
        ("hard link", normalize_member_path("", target))
    };
    let covered = resolved.as_ref().is_some_and(|r| scanned.contains(r));
    let description = format!("`{name}` is a {what} to `{target}`");
    if TORCH_TAR_MEMBERS.contains(&name) {
        scan.findings.push(container_tar_special_member::finding(
            loc.clone(),
            &format!("{description}; torch.save never writes links to its records"),
            Severity::High,
        ));
        if !covered {
            scan.fully_inspected = false;
        }
    } else if covered {
        scan.findings.push(container_tar_special_member::finding(
            loc.clone(),
            &format!("{description} (tarfile.extractfile returns that member's bytes, scanned)"),
            Severity::Info,
        ));
    } else {
        scan.incomplete(container_tar_special_member::finding(
            loc.clone(),
            &format!(
                "{description}, which is not a member scanned before it: tarfile.extractfile would read bytes mlvet did not inspect"
            ),
            Severity::Medium,
        ));
    }
}

/// `folder/target` with `.` and `..` segments resolved; `None` when it leaves the archive.
fn normalize_member_path(folder: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    let joined = if folder.is_empty() {
        target.to_string()
    } else {
        format!("{folder}/{target}")
    };
    if joined.starts_with('/') {
        return None;
    }
    for segment in joined.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
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
fn scan_torch_tar_records(
    scan: &mut Scan<'_>,
    records: &mut dyn ReadSeek,
    len: u64,
    loc: &Location,
    storages: bool,
) {
    let mut pos: u64 = 0;
    let fail = |scan: &mut Scan<'_>, pos: u64, why: &str| {
        scan.incomplete(container_malformed::finding(
            loc.clone().with_offset(pos),
            format!("legacy torch tar record: {why}"),
        ));
    };
    let count = match scan.scan_one_pickle(records, loc, pos) {
        Ok((Some(Val::Int(n)), used)) if (0..=10_000_000).contains(&n) => {
            pos += used;
            n as u64
        }
        _ => return fail(scan, pos, "record count pickle not understood"),
    };
    for _ in 0..count {
        let (value, used) = match scan.scan_one_pickle(records, loc, pos) {
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
            let Some(numel) = read_u64(records, pos) else {
                return fail(scan, pos, "truncated storage size");
            };
            numel.checked_mul(elsize).and_then(|n| n.checked_add(8))
        } else {
            let Some(ndim) = read_u64(records, pos).map(|v| (v & 0xffff_ffff) as u32 as i32) else {
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
            Some(p) if p <= len => p,
            _ => return fail(scan, pos, "record data truncated"),
        };
        if records.seek(SeekFrom::Start(pos)).is_err() {
            return fail(scan, pos, "record data unreadable");
        }
    }
    if storages && scan.scan_one_pickle(records, loc, pos).is_err() {
        fail(scan, pos, "storage views pickle is broken");
    }
}

fn read_u64(records: &mut dyn ReadSeek, pos: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    records.seek(SeekFrom::Start(pos)).ok()?;
    records.read_exact(&mut b).ok()?;
    Some(u64::from_le_bytes(b))
}
