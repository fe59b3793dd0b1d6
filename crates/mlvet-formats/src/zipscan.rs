//! Zip archives read the way model loaders read them.
//!
//! PyTorch's reader (miniz, `caffe2/serialize/inline_container.cc`) locates members by their
//! central-directory name, reads the local header only to find where the data starts, and checks
//! neither CRC-32 nor the general-purpose flag bits. Python's `zipfile` (used by `numpy.load` for
//! `.npz`) tolerates data prepended to the archive. mlvet therefore parses the central directory
//! and every local header itself (bounded), reads members with the same tolerance, and reports
//! every disagreement a strict reader would have refused.

use std::io::{Read, SeekFrom};

use mlvet_core::Location;

use crate::engine::{PickleLoader, ReadSeek, Scan};
use crate::rules::container_archive_path_escape::Escapes;
use crate::rules::{
    container_malformed, container_resource_limit, container_staged_pickle,
    container_uninspectable_member, container_zip_anomaly,
};
use crate::sniff::{Format, sniff};

const EOCD_SIG: u32 = 0x0605_4b50;
const CDH_SIG: u32 = 0x0201_4b50;
const LFH_SIG: u32 = 0x0403_4b50;
const EOCD64_LOCATOR_SIG: u32 = 0x0706_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const CENTRAL_DIRECTORY_MAX: u64 = 512 * 1024 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub name: String,
    pub flags: u16,
    pub method: u16,
    pub crc: u32,
    pub csize: u64,
    pub usize: u64,
    /// Absolute offset of the local header (prepended data already accounted for).
    pub lfh_offset: u64,
    /// Absolute start of the data, from the local header; `None` when the local header is bad.
    pub data_start: Option<u64>,
    pub local_name: Option<String>,
    pub local_flags: u16,
    pub local_method: u16,
}

#[derive(Debug, Default)]
pub(crate) struct Directory {
    pub entries: Vec<Entry>,
    /// Human-readable anomalies, with whether each signals evasion.
    pub anomalies: Vec<(String, bool, Option<u64>)>,
    /// Bytes before the archive (`zipfile`-style self-extracting / polyglot offset).
    pub prepended: u64,
    /// Entries (by index) that start inside bytes an earlier entry covers.
    pub overlapping: std::collections::HashSet<usize>,
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?]))
}
fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(i)?,
        *b.get(i + 1)?,
        *b.get(i + 2)?,
        *b.get(i + 3)?,
    ]))
}
fn u64_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from(u32_at(b, i)?) | (u64::from(u32_at(b, i + 4)?) << 32))
}

fn read_at(src: &mut dyn ReadSeek, offset: u64, len: u64) -> Option<Vec<u8>> {
    src.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = Vec::new();
    src.take(len).read_to_end(&mut buf).ok()?;
    (buf.len() as u64 == len).then_some(buf)
}

fn name_of(raw: &[u8]) -> String {
    // Names are cp437 or utf-8; loaders compare bytes, so a lossless-enough rendering will do.
    String::from_utf8(raw.to_vec()).unwrap_or_else(|_| raw.iter().map(|b| char::from(*b)).collect())
}

/// Parses the central directory and each entry's local header.
pub(crate) fn read_directory(
    src: &mut dyn ReadSeek,
    size: u64,
    max_entries: usize,
) -> Result<Directory, String> {
    let mut dir = Directory::default();
    let tail_len = size.min(65_535 + 22);
    let tail_start = size - tail_len;
    let tail = read_at(src, tail_start, tail_len).ok_or("unreadable end of archive")?;
    // Every plausible end-of-central-directory record; loaders use the last one.
    let mut eocds = Vec::new();
    for i in (0..tail.len().saturating_sub(21)).rev() {
        if u32_at(&tail, i) == Some(EOCD_SIG) {
            let comment = usize::from(u16_at(&tail, i + 20).unwrap_or(0));
            if i + 22 + comment <= tail.len() {
                eocds.push(i);
            }
        }
    }
    let &eocd = eocds.first().ok_or("no end-of-central-directory record")?;
    let eocd_abs = tail_start + eocd as u64;
    let mut total = u64::from(u16_at(&tail, eocd + 10).ok_or("truncated EOCD")?);
    let mut cd_size = u64::from(u32_at(&tail, eocd + 12).ok_or("truncated EOCD")?);
    let mut cd_offset = u64::from(u32_at(&tail, eocd + 16).ok_or("truncated EOCD")?);
    let mut eocd64_len = 0;
    if eocd >= 20 && u32_at(&tail, eocd - 20) == Some(EOCD64_LOCATOR_SIG) {
        let rec_off = u64_at(&tail, eocd - 20 + 8).ok_or("truncated zip64 locator")?;
        let rec = read_at(src, rec_off, 56).ok_or("unreadable zip64 end record")?;
        if u32_at(&rec, 0) != Some(EOCD64_SIG) {
            return Err("bad zip64 end record".into());
        }
        total = u64_at(&rec, 32).ok_or("truncated zip64 record")?;
        cd_size = u64_at(&rec, 40).ok_or("truncated zip64 record")?;
        cd_offset = u64_at(&rec, 48).ok_or("truncated zip64 record")?;
        eocd64_len = 56 + 20;
    }
    // Python's zipfile: data prepended to the archive shifts every offset.
    let expected_end = cd_offset
        .checked_add(cd_size)
        .ok_or("central directory offset overflows")?;
    let cd_end = eocd_abs.checked_sub(eocd64_len).ok_or("bad zip64 layout")?;
    if cd_end > expected_end {
        dir.prepended = cd_end - expected_end;
        dir.anomalies.push((
            format!("{} bytes of data before the archive", dir.prepended),
            true,
            Some(0),
        ));
    } else if cd_end < expected_end {
        return Err("central directory extends past its end record".into());
    }
    if cd_size > CENTRAL_DIRECTORY_MAX {
        return Err(format!("central directory of {cd_size} bytes"));
    }
    if total > max_entries as u64 {
        return Err(format!(
            "archive declares {total} entries (limit {max_entries})"
        ));
    }
    let cd =
        read_at(src, cd_offset + dir.prepended, cd_size).ok_or("unreadable central directory")?;
    let mut i = 0usize;
    while i + 46 <= cd.len() && u32_at(&cd, i) == Some(CDH_SIG) {
        if dir.entries.len() >= max_entries {
            return Err(format!("more than {max_entries} entries"));
        }
        let field16 = |o| u16_at(&cd, i + o).unwrap_or(0);
        let field32 = |o| u32_at(&cd, i + o).unwrap_or(0);
        let name_len = usize::from(field16(28));
        let extra_len = usize::from(field16(30));
        let comment_len = usize::from(field16(32));
        let name_raw = cd
            .get(i + 46..i + 46 + name_len)
            .ok_or("truncated central directory")?;
        let extra = cd
            .get(i + 46 + name_len..i + 46 + name_len + extra_len)
            .unwrap_or(&[]);
        let mut usize_ = u64::from(field32(24));
        let mut csize = u64::from(field32(20));
        let mut lfh = u64::from(field32(42));
        apply_zip64(extra, &mut usize_, &mut csize, &mut lfh);
        dir.entries.push(Entry {
            name: name_of(name_raw),
            flags: field16(8),
            method: field16(10),
            crc: field32(16),
            csize,
            usize: usize_,
            lfh_offset: lfh.saturating_add(dir.prepended),
            data_start: None,
            local_name: None,
            local_flags: 0,
            local_method: 0,
        });
        i += 46 + name_len + extra_len + comment_len;
    }
    if dir.entries.len() as u64 != total {
        dir.anomalies.push((
            format!(
                "end record declares {total} entries, central directory holds {}",
                dir.entries.len()
            ),
            false,
            None,
        ));
    }
    for entry in &mut dir.entries {
        let Some(header) = read_at(src, entry.lfh_offset, 30) else {
            continue;
        };
        if u32_at(&header, 0) != Some(LFH_SIG) {
            continue;
        }
        let name_len = u64::from(u16_at(&header, 26).unwrap_or(0));
        let extra_len = u64::from(u16_at(&header, 28).unwrap_or(0));
        entry.local_flags = u16_at(&header, 6).unwrap_or(0);
        entry.local_method = u16_at(&header, 8).unwrap_or(0);
        entry.local_name = read_at(src, entry.lfh_offset + 30, name_len).map(|raw| name_of(&raw));
        entry.data_start = Some(entry.lfh_offset + 30 + name_len + extra_len);
    }
    report_extra_end_records(&mut dir, &eocds, tail_start);
    check_layout(&mut dir, size);
    find_hidden_local_headers(src, &mut dir, max_entries);
    Ok(dir)
}

/// Several end records mean two archives spliced together (loaders disagree on which one counts),
/// unless the extra ones lie inside a member's data: a stored zip inside the archive (the
/// `.pt2` of `torch.export.save` stores `sample_inputs/model.pt`, itself a torch zip).
fn report_extra_end_records(dir: &mut Directory, eocds: &[usize], tail_start: u64) {
    let inside_member = |offset: u64| {
        dir.entries.iter().any(|entry| {
            entry
                .data_start
                .is_some_and(|start| offset >= start && offset < start.saturating_add(entry.csize))
        })
    };
    let outside = eocds
        .iter()
        .skip(1)
        .filter(|&&i| !inside_member(tail_start + i as u64))
        .count();
    if outside > 0 {
        dir.anomalies.push((
            format!("{} end-of-central-directory records", outside + 1),
            true,
            None,
        ));
    }
}

fn apply_zip64(extra: &[u8], usize_: &mut u64, csize: &mut u64, lfh: &mut u64) {
    let mut i = 0;
    while i + 4 <= extra.len() {
        let id = u16_at(extra, i).unwrap_or(0);
        let len = usize::from(u16_at(extra, i + 2).unwrap_or(0));
        if id == 0x0001 {
            let mut p = i + 4;
            for field in [usize_, csize, lfh] {
                if *field == 0xffff_ffff
                    && let Some(v) = u64_at(extra, p)
                {
                    *field = v;
                    p += 8;
                }
            }
            return;
        }
        i += 4 + len;
    }
}

fn check_layout(dir: &mut Directory, size: u64) {
    let mut spans: Vec<(u64, u64, usize)> = Vec::new();
    for (index, entry) in dir.entries.iter().enumerate() {
        let Some(start) = entry.data_start else {
            dir.anomalies.push((
                format!("`{}`: no valid local header at its offset", entry.name),
                true,
                Some(entry.lfh_offset),
            ));
            continue;
        };
        if let Some(local) = &entry.local_name
            && *local != entry.name
        {
            dir.anomalies.push((
                format!("`{}`: local header names it `{local}`", entry.name),
                true,
                Some(entry.lfh_offset),
            ));
        }
        let flags = entry.flags | entry.local_flags;
        if flags & 0x0001 != 0 {
            dir.anomalies.push((
                format!("`{}`: encryption flag set", entry.name),
                false,
                Some(entry.lfh_offset),
            ));
        }
        if flags & 0x0020 != 0 {
            dir.anomalies.push((
                format!("`{}`: 'compressed patched data' flag set", entry.name),
                true,
                Some(entry.lfh_offset),
            ));
        }
        if flags & 0x0040 != 0 {
            dir.anomalies.push((
                format!("`{}`: strong-encryption flag set", entry.name),
                false,
                Some(entry.lfh_offset),
            ));
        }
        if entry.local_method != entry.method {
            dir.anomalies.push((
                format!(
                    "`{}`: local header says compression {}, directory says {}",
                    entry.name, entry.local_method, entry.method
                ),
                true,
                Some(entry.lfh_offset),
            ));
        }
        let end = start.saturating_add(entry.csize);
        if end > size {
            dir.anomalies.push((
                format!("`{}`: data runs past the end of the file", entry.name),
                false,
                Some(start),
            ));
        }
        spans.push((entry.lfh_offset, end, index));
    }
    report_overlaps(dir, spans);
}

/// Entries whose bytes overlap (Fifield's non-recursive zip bomb: every entry's data quotes the
/// next entries and shares one compressed kernel). One finding names the first pair and the
/// count; every entry that starts inside bytes an earlier entry already covers is marked, so
/// those bytes are never inflated twice.
fn report_overlaps(dir: &mut Directory, mut spans: Vec<(u64, u64, usize)>) {
    spans.sort_unstable();
    let mut covered: Option<(u64, usize)> = None;
    let mut first_pair: Option<(usize, usize, u64)> = None;
    for &(start, end, index) in &spans {
        match covered {
            Some((covered_end, owner)) if start < covered_end => {
                dir.overlapping.insert(index);
                first_pair.get_or_insert((owner, index, start));
                covered = Some((covered_end.max(end), owner));
            }
            _ => covered = Some((end, index)),
        }
    }
    if let Some((a, b, at)) = first_pair {
        let name = |i: usize| {
            dir.entries
                .get(i)
                .map(|e| e.name.clone())
                .unwrap_or_default()
        };
        let others = dir.overlapping.len();
        dir.anomalies.push((
            format!(
                "entries `{}` and `{}` overlap ({others} entries start inside another entry's bytes; overlapping entries are not inflated again)",
                name(a),
                name(b)
            ),
            true,
            Some(at),
        ));
    }
}

/// Local headers that the central directory does not list are invisible to `torch.load` and
/// `zipfile` but not to streaming readers (`unzip -`, Java's ZipInputStream...).
fn find_hidden_local_headers(src: &mut dyn ReadSeek, dir: &mut Directory, max_entries: usize) {
    // Offset -> compressed size, for entries whose local header defers sizes to a data
    // descriptor: a map, so the walk stays linear in the number of entries.
    let known: std::collections::HashMap<u64, u64> = dir
        .entries
        .iter()
        .map(|e| (e.lfh_offset, e.csize))
        .collect();
    let mut offset = dir.prepended;
    let mut hidden = Vec::new();
    for _ in 0..max_entries.saturating_add(1) {
        let Some(header) = read_at(src, offset, 30) else {
            break;
        };
        if u32_at(&header, 0) != Some(LFH_SIG) {
            break;
        }
        let flags = u16_at(&header, 6).unwrap_or(0);
        let csize = u64::from(u32_at(&header, 18).unwrap_or(0));
        let name_len = u64::from(u16_at(&header, 26).unwrap_or(0));
        let extra_len = u64::from(u16_at(&header, 28).unwrap_or(0));
        let data = offset + 30 + name_len + extra_len;
        let csize = if flags & 0x0008 != 0 {
            // Sizes are in the data descriptor; only the directory knows them.
            match known.get(&offset) {
                Some(&csize) => csize,
                None => break,
            }
        } else {
            csize
        };
        if !known.contains_key(&offset) {
            let name = read_at(src, offset + 30, name_len)
                .map(|raw| name_of(&raw))
                .unwrap_or_default();
            hidden.push((offset, name));
        }
        offset = data.saturating_add(csize);
        if flags & 0x0008 != 0 {
            // Skip an optional data descriptor (with or without its signature).
            if let Some(d) = read_at(src, offset, 4) {
                offset += if u32_at(&d, 0) == Some(0x0807_4b50) {
                    16
                } else {
                    12
                };
            }
        }
    }
    for (offset, name) in hidden {
        dir.anomalies.push((
            format!(
                "local entry `{name}` is not in the central directory (hidden from most readers)"
            ),
            true,
            Some(offset),
        ));
    }
}

/// What kind of zip this is, from its member names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Torch,
    TorchScript,
    Npz,
    /// Keras 3 `.keras`: `config.json` + `metadata.json` + `model.weights.{h5,npz}` at the root.
    Keras,
    Plain,
}

fn classify(entries: &[Entry]) -> Kind {
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let in_dir = |suffix: &str| {
        names.iter().any(|n| {
            n.ends_with(suffix)
                && n.len() > suffix.len()
                && n.matches('/').count() == suffix.matches('/').count()
        })
    };
    let has_code = names.iter().any(|n| n.split('/').nth(1) == Some("code"));
    if has_code || in_dir("/constants.pkl") {
        return Kind::TorchScript;
    }
    if in_dir("/data.pkl") {
        return Kind::Torch;
    }
    if !names.is_empty() && names.iter().all(|n| n.ends_with(".npy")) {
        return Kind::Npz;
    }
    if crate::keras::is_keras_zip(&names) {
        return Kind::Keras;
    }
    Kind::Plain
}

/// `<prefix>/data/<key>` (and TorchScript's `<prefix>/constants/<key>`): raw tensor storages,
/// read by torch as bytes, never unpickled. Skipped by structure.
fn is_tensor_storage(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    matches!(parts.as_slice(), [_, "data" | "constants", key] if !key.is_empty() && !key.contains('.'))
}

pub(crate) fn scan_zip(
    scan: &mut Scan<'_>,
    src: &mut dyn ReadSeek,
    size: u64,
    loc: &Location,
    depth: usize,
) -> &'static str {
    let dir = match read_directory(src, size, scan.opts.max_entries) {
        Ok(dir) => dir,
        Err(why) => {
            let finding = if why.contains("entries") {
                container_resource_limit::finding(loc.clone(), why)
            } else {
                container_malformed::finding(loc.clone(), format!("zip cannot be read: {why}"))
            };
            scan.incomplete(finding);
            return "zip";
        }
    };
    for (what, evasion, offset) in &dir.anomalies {
        let at = match offset {
            Some(o) => loc.clone().with_offset(*o),
            None => loc.clone(),
        };
        scan.findings
            .push(container_zip_anomaly::finding(at, what, *evasion));
    }
    let mut escapes = Escapes::default();
    for entry in &dir.entries {
        escapes.check(&entry.name, || entry.name.clone());
    }
    if let Some(finding) = escapes.finding(loc) {
        scan.findings.push(finding);
    }
    let kind = classify(&dir.entries);
    let model_zip = crate::modelfiles::ZipModel::detect(&dir.entries);
    let mut code_files = 0usize;
    scan.entries += dir.entries.len();
    let torch_like = matches!(kind, Kind::Torch | Kind::TorchScript);
    let mut skipped_overlap = false;
    for (index, entry) in dir.entries.iter().enumerate() {
        if entry.name.ends_with('/') {
            continue;
        }
        if matches!(kind, Kind::TorchScript) && entry.name.split('/').nth(1) == Some("code") {
            code_files += 1;
        }
        let member_loc = loc.member(entry.name.clone());
        if dir.overlapping.contains(&index) {
            // One finding for all of them (the anomaly above names the first pair).
            if !skipped_overlap {
                skipped_overlap = true;
                scan.incomplete(container_resource_limit::finding(
                    member_loc,
                    format!(
                        "{} entries overlap bytes of another entry (zip bomb structure) and were not inflated again",
                        dir.overlapping.len()
                    ),
                ));
            }
            continue;
        }
        if torch_like && is_tensor_storage(&entry.name) {
            check_staged_pickle(scan, src, entry, index, loc);
            continue;
        }
        let Some(next) = scan.descend(&member_loc, depth) else {
            continue;
        };
        if kind == Kind::Keras
            && crate::keras::scan_keras_member(scan, src, entry, &member_loc, next)
        {
            continue;
        }
        scan_entry(
            scan,
            src,
            entry,
            index,
            &member_loc,
            |scan, reader, prefix| {
                if kind == Kind::Keras && crate::keras::is_keras_json(&entry.name) {
                    crate::keras::scan_keras_json(scan, reader, &entry.name, &member_loc, next);
                } else if torch_like && sniff(prefix) == Format::Pickle {
                    // torch's own unpickler reads exactly one pickle; scan them all anyway (other
                    // tools may load the member with pickle.load in a loop), without joblib
                    // semantics.
                    scan.scan_pickles(reader, &member_loc, 0, None, PickleLoader::One);
                } else {
                    scan.scan_reader(reader, Some(entry.usize), &member_loc, next);
                }
            },
        );
    }
    if let Some(model_zip) = model_zip {
        return crate::modelfiles::finish_zip(scan, src, &dir.entries, model_zip, loc);
    }
    match kind {
        Kind::Torch => "pytorch-zip",
        Kind::TorchScript => {
            scan.torchscript_note(loc, code_files);
            "torchscript"
        }
        Kind::Npz => "npz",
        Kind::Keras => "keras",
        Kind::Plain => "zip",
    }
}

/// torch.load reads a storage record as raw bytes; only its first bytes are looked at, and only
/// a record that starts like a pickle is simulated (a staged payload is worth reporting).
fn check_staged_pickle(
    scan: &mut Scan<'_>,
    src: &mut dyn ReadSeek,
    entry: &Entry,
    index: usize,
    loc: &Location,
) {
    let (Some(start), 0) = (entry.data_start, entry.method) else {
        return;
    };
    let Some(prefix) = read_at(src, start, entry.csize.min(256)) else {
        return;
    };
    if !mlvet_pickle::looks_like_pickle(&prefix) {
        return;
    }
    let member_loc = loc.member(entry.name.clone());
    let mut inner = scan.child();
    scan_entry(
        &mut inner,
        src,
        entry,
        index,
        &member_loc,
        |inner, reader, _| {
            inner.scan_pickles(reader, &member_loc, 0, None, PickleLoader::One);
        },
    );
    // Dangerous or unknown references are both worth reporting (same rule as pickle values).
    if let Some(detail) = mlvet_pickle::staged_detail(&inner.findings) {
        scan.findings
            .push(container_staged_pickle::finding(member_loc, &detail));
    }
}

/// A CRC-32 computed over what passes through.
struct CrcReader<R> {
    inner: R,
    crc: flate2::Crc,
}

impl<R: Read> Read for CrcReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(buf.get(..n).unwrap_or(&[]));
        Ok(n)
    }
}

/// A decoder over the member's compressed bytes, streaming; `Err` for methods only the zip crate
/// decodes (read whole, within the member cap).
fn open_decoder<'a>(
    src: &'a mut dyn ReadSeek,
    data_start: u64,
    entry: &Entry,
) -> Result<Box<dyn Read + 'a>, String> {
    src.seek(SeekFrom::Start(data_start))
        .map_err(|e| e.to_string())?;
    let raw = src.take(entry.csize);
    Ok(match entry.method {
        0 => Box::new(raw),
        8 => Box::new(flate2::read::DeflateDecoder::new(raw)),
        12 => Box::new(bzip2::read::BzDecoder::new(raw)),
        93 => Box::new(zstd::stream::read::Decoder::new(raw).map_err(|e| e.to_string())?),
        95 => Box::new(lzma_rust2::XzReader::new(raw, true)),
        other => return Err(format!("compression method {other} is not streamed")),
    })
}

/// Streams one member, with the loaders' tolerance, through `consume` (which gets the reader and
/// the member's first bytes); then finishes the member within the budget to check its CRC.
/// Problems become findings; nothing is held in memory beyond what `consume` buffers itself.
pub(crate) fn scan_entry(
    scan: &mut Scan<'_>,
    src: &mut dyn ReadSeek,
    entry: &Entry,
    index: usize,
    loc: &Location,
    consume: impl FnOnce(&mut Scan<'_>, &mut dyn Read, &[u8]),
) {
    let Some(data_start) = entry.data_start else {
        scan.incomplete(container_uninspectable_member::finding(
            loc.clone(),
            "no local header",
        ));
        return;
    };
    let encrypted = (entry.flags | entry.local_flags) & 0x0041 != 0;
    let ratio_cap = entry
        .csize
        .saturating_mul(scan.opts.max_ratio)
        .max(16 * 1024 * 1024);
    let own_limit = ratio_cap.min(scan.opts.max_stream_size);
    let buffered: Vec<u8>;
    let decoder: Box<dyn Read + '_> = if matches!(entry.method, 0 | 8 | 12 | 93 | 95) {
        match open_decoder(src, data_start, entry) {
            Ok(decoder) => decoder,
            Err(why) => {
                scan.incomplete(container_uninspectable_member::finding(loc.clone(), why));
                return;
            }
        }
    } else if !encrypted && matches!(entry.method, 9 | 14) {
        // Deflate64 and LZMA (Python's zipfile reads them): decoded whole by the zip crate.
        let cap = own_limit.min(scan.opts.max_member_size);
        match read_with_zip_crate(src, index, cap) {
            Ok(bytes) => {
                buffered = bytes;
                Box::new(&buffered[..])
            }
            Err(why) => {
                scan.incomplete(container_uninspectable_member::finding(loc.clone(), why));
                return;
            }
        }
    } else {
        let why = format!("compression method {} is not supported", entry.method);
        let reason = if encrypted {
            format!("encrypted member ({why})")
        } else {
            why
        };
        scan.incomplete(container_uninspectable_member::finding(loc.clone(), reason));
        return;
    };
    let mut member = CrcReader {
        inner: scan.limit_decoder(decoder, own_limit),
        crc: flate2::Crc::new(),
    };
    let mut prefix = Vec::with_capacity(crate::sniff::SNIFF_LEN);
    if let Err(e) = (&mut member)
        .take(crate::sniff::SNIFF_LEN as u64)
        .read_to_end(&mut prefix)
    {
        scan.incomplete(container_uninspectable_member::finding(
            loc.clone(),
            format!("read failed: {e}"),
        ));
        return;
    }
    if encrypted {
        // A genuinely encrypted member is noise; a plain one behind the flag is an evasion that
        // torch.load does not care about.
        if sniff(&prefix) == Format::NotAModel {
            scan.incomplete(container_uninspectable_member::finding(
                loc.clone(),
                "encrypted (password-protected) member",
            ));
            return;
        }
        scan.findings.push(container_zip_anomaly::finding(
            loc.clone(),
            "encryption flag set on a member stored in plain text (strict readers refuse it, torch.load reads it)",
            true,
        ));
    }
    let head = prefix.clone();
    {
        let mut whole = std::io::Cursor::new(prefix).chain(&mut member);
        consume(scan, &mut whole, &head);
    }
    // Finish the member through the CRC reader (the limits still apply): members the consumer
    // stopped reading early (a JSON file after its sniffed prefix) must still be checksummed
    // over all their bytes.
    let _ = std::io::copy(&mut member, &mut std::io::sink());
    let limited = &mut member.inner;
    if let Some(err) = limited.error.take() {
        scan.incomplete(container_uninspectable_member::finding(
            loc.clone(),
            format!("member data cannot be decoded: {err}"),
        ));
        return;
    }
    if limited.hit_limit {
        scan.expansion_exceeded(loc, "inflated member", own_limit);
        return;
    }
    let actual = member.crc.sum();
    if actual != entry.crc {
        scan.findings.push(container_zip_anomaly::finding(
            loc.clone(),
            &format!(
                "CRC-32 mismatch (stored {:08x}, actual {actual:08x})",
                entry.crc
            ),
            false,
        ));
    }
}

fn read_with_zip_crate(
    src: &mut dyn ReadSeek,
    index: usize,
    limit: u64,
) -> Result<Vec<u8>, String> {
    // Only for methods miniz does not have (bzip2, lzma, zstd, xz, deflate64), which Python's
    // zipfile reads; rare enough that re-opening the archive per member is fine.
    let mut archive = zip::ZipArchive::new(src).map_err(|e| e.to_string())?;
    let options = zip::read::ZipReadOptions::new()
        .ignore_crc32(true)
        .ignore_encryption_flag(true);
    let mut file = archive
        .by_index_with_options(index, options)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    (&mut file)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}
