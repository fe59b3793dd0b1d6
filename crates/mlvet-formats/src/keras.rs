//! Keras models and HDF5 files: the `.keras` zip's JSON members, HDF5 structure (through
//! `mlvet-hdf5`) and the model config analysis (through `mlvet-keras`), wired into a scan.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};

use mlvet_core::Location;
use mlvet_keras::{Analysis, ConfigOrigin};

use crate::engine::{ReadSeek, Scan};
use crate::rules::hdf5_malformed;
use crate::sniff::{Format, SNIFF_LEN, sniff};
use crate::zipscan::Entry;

/// A `.keras` zip: `config.json` at the root with `metadata.json` or the weights file beside it
/// (what `keras.saving.saving_lib` writes and reads).
pub(crate) fn is_keras_zip(names: &[&str]) -> bool {
    names.contains(&"config.json")
        && names.iter().any(|n| {
            matches!(
                *n,
                "metadata.json" | "model.weights.h5" | "model.weights.npz"
            )
        })
}

/// The JSON members of a `.keras` zip that the loader reads.
pub(crate) fn is_keras_json(name: &str) -> bool {
    matches!(name, "config.json" | "metadata.json")
}

/// Reads `config.json` (analysed) or `metadata.json` (facts) of a `.keras` zip.
pub(crate) fn scan_keras_json(
    scan: &mut Scan<'_>,
    reader: &mut dyn Read,
    name: &str,
    loc: &Location,
    depth: usize,
) {
    let limits = mlvet_keras::Limits::default();
    let mut bytes = Vec::new();
    if let Err(e) = reader
        .take(limits.max_config_bytes as u64 + 1)
        .read_to_end(&mut bytes)
    {
        scan.incomplete(mlvet_keras::rules::keras_config_malformed::finding(
            loc.clone(),
            format!("read failed: {e}"),
        ));
        return;
    }
    if name == "metadata.json" {
        scan.metadata.extend(mlvet_keras::read_metadata(&bytes));
        return;
    }
    let analysis = mlvet_keras::analyze_config(
        &bytes,
        loc,
        ConfigOrigin::KerasZip,
        &scan.opts.policy,
        &limits,
    );
    scan.metadata.insert("framework".into(), "keras".into());
    absorb(scan, analysis, depth);
}

/// Findings, facts and embedded payloads of one config analysis, into the scan.
fn absorb(scan: &mut Scan<'_>, analysis: Analysis, depth: usize) {
    scan.fully_inspected &= analysis.fully_inspected;
    scan.findings.extend(analysis.findings);
    for (key, value) in analysis.metadata {
        scan.metadata.entry(key).or_insert(value);
    }
    for embedded in analysis.embedded {
        if let Some(next) = scan.descend(&embedded.location, depth) {
            scan.scan_member_bytes(&embedded.bytes, &embedded.location, next);
        }
    }
}

/// A stored (uncompressed) HDF5 member of a `.keras` zip, read in place: the weights file is
/// large and only its metadata is read, so it is never copied. Returns false when the member is
/// not such a file (the caller streams it as usual). The member's CRC is not checked, since
/// checking it would read every weight.
pub(crate) fn scan_keras_member(
    scan: &mut Scan<'_>,
    src: &mut dyn ReadSeek,
    entry: &Entry,
    loc: &Location,
    depth: usize,
) -> bool {
    let encrypted = (entry.flags | entry.local_flags) & 0x0041 != 0;
    let (Some(start), 0, false) = (entry.data_start, entry.method, encrypted) else {
        return false;
    };
    if entry.csize != entry.usize {
        return false;
    }
    let mut window = Window {
        inner: src,
        start,
        len: entry.csize,
        pos: 0,
    };
    let mut prefix = Vec::with_capacity(SNIFF_LEN);
    if (&mut window)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut prefix)
        .is_err()
        || sniff(&prefix) != Format::Hdf5
    {
        return false;
    }
    scan.scan_seekable(&mut window, entry.csize, loc, depth);
    true
}

/// A byte range of another reader, seekable within itself.
struct Window<'a> {
    inner: &'a mut dyn ReadSeek,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        self.inner.seek(SeekFrom::Start(self.start + self.pos))?;
        let n = self.inner.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before start",
            )),
        }
    }
}

/// Scans an HDF5 file: its structure, and the Keras model config when the root has one.
pub(crate) fn scan_hdf5(
    scan: &mut Scan<'_>,
    src: &mut dyn ReadSeek,
    size: u64,
    loc: &Location,
    depth: usize,
) -> &'static str {
    let file = match mlvet_hdf5::read(src, size, &mlvet_hdf5::Limits::default()) {
        Ok(file) => file,
        Err(e) => {
            scan.incomplete(hdf5_malformed::finding(loc.clone(), e.to_string()));
            return Format::Hdf5.name();
        }
    };
    for problem in file.problems.iter().take(64) {
        scan.incomplete(hdf5_malformed::finding(
            loc.member(problem.path.clone()),
            problem.message.clone(),
        ));
    }
    if file.problems.len() > 64 {
        scan.incomplete(hdf5_malformed::finding(
            loc.clone(),
            format!("{} more unreadable parts", file.problems.len() - 64),
        ));
    }
    scan.metadata.extend(dataset_facts(&file));
    let root = file.root();
    let mut format = Format::Hdf5.name();
    let limits = mlvet_keras::Limits::default();
    for (attribute, origin) in [
        ("model_config", ConfigOrigin::LegacyH5),
        ("training_config", ConfigOrigin::LegacyH5Training),
    ] {
        let Some(attr) = root.attribute(attribute) else {
            continue;
        };
        let attr_loc = loc.member(format!("@{attribute}"));
        let Some(text) = attr.as_text() else {
            scan.incomplete(mlvet_keras::rules::keras_config_malformed::finding(
                attr_loc,
                format!(
                    "attribute of type {} is not one string",
                    attr.datatype.describe()
                ),
            ));
            continue;
        };
        if origin == ConfigOrigin::LegacyH5 {
            format = "keras-h5";
            scan.metadata.insert("framework".into(), "keras".into());
        }
        let analysis = mlvet_keras::analyze_config(
            text.as_bytes(),
            &attr_loc,
            origin,
            &scan.opts.policy,
            &limits,
        );
        absorb(scan, analysis, depth);
    }
    for (attribute, fact) in [
        ("keras_version", "framework_version"),
        ("backend", "backend"),
    ] {
        if let Some(value) = root.attribute(attribute).and_then(|a| a.as_text()) {
            scan.metadata
                .insert(fact.into(), value.chars().take(64).collect());
        }
    }
    format
}

/// `tensors`, `parameters` and the most common `dtype` of the datasets (shapes only).
fn dataset_facts(file: &mlvet_hdf5::File) -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    let mut tensors = 0u64;
    let mut parameters = Some(0u64);
    let mut dtypes: BTreeMap<String, u64> = BTreeMap::new();
    for dataset in file.datasets() {
        tensors += 1;
        if let mlvet_hdf5::ObjectKind::Dataset { datatype, shape } = &dataset.kind {
            let count = shape
                .as_ref()
                .and_then(|dims| dims.iter().try_fold(1u64, |a, d| a.checked_mul(*d)));
            parameters = parameters.zip(count).and_then(|(a, b)| a.checked_add(b));
            if let Some(datatype) = datatype {
                *dtypes.entry(datatype.describe()).or_default() += 1;
            }
        }
    }
    if tensors > 0 {
        facts.insert("tensors".into(), tensors.to_string());
        if let Some(parameters) = parameters {
            facts.insert("parameters".into(), parameters.to_string());
        }
        if let Some((dtype, _)) = dtypes.iter().max_by_key(|(_, n)| **n) {
            facts.insert("dtype".into(), dtype.clone());
        }
    }
    facts
}
