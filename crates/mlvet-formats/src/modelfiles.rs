//! Glue between the container engine and `mlvet-modelfiles`: code-free model files validated
//! whole (XGBoost, LightGBM, Flax msgpack), and the manifests of formats that ship code or name
//! callables (NeMo `model_config.yaml` in a tar, TorchServe `MANIFEST.json` and skops
//! `schema.json` in a zip). Members are read into memory only up to a per-format cap.

use std::io::Read;

use mlvet_core::{ArtifactReport, Location};
use mlvet_modelfiles::{Analysis, Kind, mar, nemo, skops};

use crate::ScanOptions;
use crate::engine::{ReadSeek, Scan};
use crate::rules::{container_resource_limit, container_uninspectable_member};
use crate::zipscan::{Entry, scan_entry};

/// Every format name this module can give an artefact.
pub(crate) const FORMAT_NAMES: [&str; 8] = [
    "xgboost-json",
    "xgboost-ubjson",
    "xgboost-binary",
    "lightgbm",
    "flax-msgpack",
    "nemo",
    "torchserve-mar",
    "skops",
];

/// Reads at most `cap` bytes; `None` (with a finding) when there is more or reading fails.
fn read_capped(
    scan: &mut Scan<'_>,
    src: &mut dyn Read,
    cap: u64,
    loc: &Location,
    what: &str,
) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    match src.take(cap.saturating_add(1)).read_to_end(&mut bytes) {
        Ok(_) if bytes.len() as u64 > cap => {
            scan.incomplete(container_resource_limit::finding(
                loc.clone(),
                format!("{what} larger than {cap} bytes was not validated"),
            ));
            None
        }
        Ok(_) => Some(bytes),
        Err(e) => {
            scan.incomplete(container_uninspectable_member::finding(
                loc.clone(),
                format!("{what} unreadable: {e}"),
            ));
            None
        }
    }
}

fn absorb(scan: &mut Scan<'_>, analysis: Analysis) {
    scan.fully_inspected &= analysis.fully_inspected;
    scan.findings.extend(analysis.findings);
    for (key, value) in analysis.metadata {
        scan.metadata.entry(key).or_insert(value);
    }
}

/// A whole XGBoost or LightGBM model (file or member): read within the member cap, validated.
pub(crate) fn scan_model_file(
    scan: &mut Scan<'_>,
    kind: Kind,
    src: &mut dyn Read,
    loc: &Location,
) -> &'static str {
    let cap = scan.opts.max_member_size;
    if let Some(bytes) = read_capped(scan, src, cap, loc, kind.name()) {
        let analysis = mlvet_modelfiles::analyze(kind, &bytes, loc);
        absorb(scan, analysis);
    }
    kind.name()
}

/// A `.msgpack` file: a Flax checkpoint if it validates, otherwise not safe.
pub(crate) fn scan_msgpack_file(
    file: &mut dyn ReadSeek,
    size: u64,
    display: &str,
    opts: &ScanOptions,
) -> ArtifactReport {
    let mut scan = Scan::new(opts, size);
    let loc = Location::file(display);
    // Walked in place with seeks over array bodies: a multi-GB checkpoint costs a few reads.
    let reader = std::io::BufReader::with_capacity(64 * 1024, file);
    absorb(
        &mut scan,
        mlvet_modelfiles::msgpack::analyze_from(reader, size, &loc),
    );
    let mut report = ArtifactReport::new(
        display.to_string(),
        "flax-msgpack".to_string(),
        size,
        scan.fully_inspected,
        scan.findings,
    );
    report.metadata = scan.metadata;
    report
}

/// Whether a tar member is the configuration NeMo's `SaveRestoreConnector` restores from.
pub(crate) fn is_nemo_config(name: &str) -> bool {
    name.rsplit('/').next() == Some(nemo::CONFIG_MEMBER)
}

pub(crate) fn scan_nemo_config(scan: &mut Scan<'_>, content: &mut dyn Read, loc: &Location) {
    scan.format_override = Some("nemo");
    if let Some(bytes) = read_capped(
        scan,
        content,
        nemo::MAX_CONFIG_BYTES,
        loc,
        "model_config.yaml",
    ) {
        let analysis = nemo::analyze_config(&bytes, loc, &scan.opts.policy);
        absorb(scan, analysis);
    }
}

/// A zip that is a TorchServe archive or a skops file, by its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZipModel {
    /// Index of `MAR-INF/MANIFEST.json`.
    Mar(usize),
    /// Index of `schema.json`.
    Skops(usize),
}

impl ZipModel {
    pub(crate) fn detect(entries: &[Entry]) -> Option<ZipModel> {
        if let Some(i) = entries.iter().position(|e| e.name == mar::MANIFEST_MEMBER) {
            return Some(ZipModel::Mar(i));
        }
        entries
            .iter()
            .position(|e| e.name == skops::SCHEMA_MEMBER)
            .map(ZipModel::Skops)
    }
}

/// Reads the manifest or schema (members were already scanned as usual) and analyses it;
/// returns the artefact's format.
pub(crate) fn finish_zip(
    scan: &mut Scan<'_>,
    src: &mut dyn ReadSeek,
    entries: &[Entry],
    model: ZipModel,
    loc: &Location,
) -> &'static str {
    let (index, cap, format) = match model {
        ZipModel::Mar(i) => (i, mar::MAX_MANIFEST_BYTES, "torchserve-mar"),
        ZipModel::Skops(i) => (i, skops::MAX_SCHEMA_BYTES, "skops"),
    };
    let Some(entry) = entries.get(index) else {
        return format;
    };
    let member_loc = loc.member(entry.name.clone());
    // The member itself was scanned (and its anomalies reported) with the others: read it in a
    // child scan so nothing is reported twice.
    let mut child = scan.child();
    let mut bytes = None;
    scan_entry(
        &mut child,
        src,
        entry,
        index,
        &member_loc,
        |child, reader, _| {
            bytes = read_capped(child, reader, cap, &member_loc, &entry.name);
        },
    );
    let Some(bytes) = bytes else {
        scan.incomplete(container_uninspectable_member::finding(
            member_loc,
            format!("{} could not be read", entry.name),
        ));
        return format;
    };
    let analysis = match model {
        ZipModel::Mar(_) => {
            let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
            mar::analyze(&bytes, &names, &member_loc)
        }
        ZipModel::Skops(_) => skops::analyze_schema(&bytes, &member_loc, &scan.opts.policy),
    };
    absorb(scan, analysis);
    format
}
