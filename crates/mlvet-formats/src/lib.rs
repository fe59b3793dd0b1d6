//! Format sniffing and loader-faithful container parsing for mlvet.
//!
//! Every file is identified by its content ([`sniff`]), never by its name. Containers are opened
//! the way the libraries that load models open them, and every pickle found inside is handed to
//! the pickle simulator (`mlvet-pickle`). Parts that cannot be inspected make an artefact
//! suspicious, never safe.
//!
//! ## Report formats
//! The `format` of an [`ArtifactReport`] is one of these stable names:
//!
//! | name | what |
//! |---|---|
//! | `pickle` | a pickle stream (all concatenated pickles are scanned) |
//! | `joblib` | a joblib file: a pickle with inline NumPy array data, plain or compressed |
//! | `pytorch-zip` | `torch.save` zip checkpoint (`<prefix>/data.pkl` + `data/<n>` storages) |
//! | `pytorch-legacy` | legacy raw `torch.save` (magic, protocol, sys_info, object, storage-keys pickles + storages) |
//! | `pytorch-tar` | legacy tar `torch.save` (`sys_info`, `pickle`, `storages`, `tensors`) |
//! | `torchscript` | `torch.jit.save` zip (`code/`, `constants.pkl`, `data.pkl`) |
//! | `numpy` | `.npy` array |
//! | `npz` | zip of `.npy` arrays |
//! | `zip`, `tar`, `7z` | generic archives, members scanned by content |
//! | `gzip`, `bz2`, `xz`, `lzma`, `zstd`, `lz4`, `zlib`, `joblib-zfile` | compressed single streams |
//! | `unknown` | a model-named file with unrecognised content (see `container-unrecognized-model-file`) |
//! | `not-a-model` | only from [`scan_bytes`]: nothing to analyse |
//!
//! ## How each container is read
//! - **zip**: own bounded parser of the central directory and of every local header (anomalies:
//!   CRC, flag bits, name mismatches, overlaps, prepended data, several end records, hidden
//!   local entries); members streamed with PyTorch's tolerance (entries that start inside
//!   another entry's bytes are reported once and never inflated again). Tensor storages of torch
//!   zips (`<prefix>/data/<key>`) are skipped by structure, never read. Member names that leave
//!   the extraction folder (`..`, absolute, drive letters) are reported.
//! - **legacy torch**: exactly the five pickles `torch.load` reads; the storage tail is never
//!   read.
//! - **legacy torch tar**: `pickle` and `sys_info` scanned; `storages` and `tensors` walked record
//!   by record (a pickle each, raw bytes skipped by structure).
//! - **joblib < 0.10 side files**: the files `NDArrayWrapper`/`ZNDArrayWrapper` make `joblib.load`
//!   open are resolved next to the pickle and scanned as part of the artefact.
//! - **npy**: header parsed as a literal (never evaluated); object arrays scanned as the pickle
//!   `np.load(allow_pickle=True)` runs; other arrays are not read.
//! - **joblib**: `NumpyArrayWrapper` array bytes are removed from the opcode stream exactly where
//!   `joblib.load` reads them; object arrays (a nested pickle) are scanned separately.
//! - **gzip/bz2/xz/lzma/zstd/lz4/zlib/ZF**: streamed through the decoder with size, ratio and
//!   total caps, then sniffed again.
//! - **tar**: streamed the way `tarfile` reads it (GNU and PAX sparse members expanded; links,
//!   devices, FIFOs and unknown types reported); **7z**: members streamed as they are decoded.
//!   Members that need random access (a zip inside a tar) are copied, to an unlinked temporary
//!   file when larger than 16 MiB. Nesting is bounded by `max_nesting`, and every decoder at every
//!   level draws on one expansion budget per artefact (`max_total_uncompressed`, and `max_ratio`
//!   times the artefact's size on disk).

mod archives;
mod engine;
mod npy;
pub mod rules;
mod side_files;
mod sniff;
mod spool;
mod walk;
mod walker;
mod zipscan;

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use mlvet_core::{ArtifactReport, Location, RuleMeta};

pub use mlvet_core::fs::open_regular;
pub use npy::{Literal, NpyError, NpyHeader, parse_header as parse_npy_header, parse_literal};
pub use sniff::{Format, SNIFF_LEN, sniff};
pub use walk::{WalkedFile, scan_paths, walk, walk_excluding};

use crate::engine::Scan;
use crate::rules::{container_extension_mismatch, container_unrecognized_model_file};
use crate::sniff::{ExtensionClass, classify_extension, extension_of};

/// Limits and policy for one scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub policy: mlvet_pickle::Policy,
    pub pickle_limits: mlvet_pickle::Limits,
    /// Container levels opened inside a file (a torch zip inside a tar.gz is 3).
    pub max_nesting: usize,
    /// Largest member copied for random access (a zip or 7z inside another archive, legacy torch
    /// tar records); streamed members have no such cap.
    pub max_member_size: u64,
    /// Largest decompressed stream scanned sequentially (pickles inside gzip...).
    pub max_stream_size: u64,
    /// Total decompressed bytes produced for one artefact, all levels together.
    pub max_total_uncompressed: u64,
    /// Entries per archive.
    pub max_entries: usize,
    /// Decompressed/compressed ratio beyond which decompression stops (above 16 MiB of output):
    /// per stream, and for the artefact as a whole against its size on disk.
    pub max_ratio: u64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            policy: mlvet_pickle::Policy::builtin(),
            pickle_limits: mlvet_pickle::Limits::default(),
            max_nesting: 4,
            max_member_size: 512 * 1024 * 1024,
            max_stream_size: 16 * 1024 * 1024 * 1024,
            max_total_uncompressed: 32 * 1024 * 1024 * 1024,
            max_entries: 100_000,
            max_ratio: 1_000,
        }
    }
}

/// A file that could not be scanned at all.
#[derive(Debug, thiserror::Error)]
pub enum ScanFileError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// Sniffs and fully scans one file. `Ok(None)` means the file is neither a model nor a container
/// and its name does not claim it is one: nothing to report.
pub fn scan_file(
    path: &Path,
    display: &str,
    opts: &ScanOptions,
) -> Result<Option<ArtifactReport>, ScanFileError> {
    let mut file = open_regular(path).map_err(|source| ScanFileError::Open {
        path: display.to_string(),
        source,
    })?;
    let size = file
        .metadata()
        .map_err(|source| ScanFileError::Read {
            path: display.to_string(),
            source,
        })?
        .len();
    let mut prefix = Vec::with_capacity(SNIFF_LEN);
    (&mut file)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut prefix)
        .map_err(|source| ScanFileError::Read {
            path: display.to_string(),
            source,
        })?;
    let format = sniff(&prefix);
    if format == Format::NotAModel {
        return Ok(unrecognized(display, path.parent(), size, opts, || {
            file.seek(SeekFrom::Start(0))?;
            Ok(std::io::BufReader::new(file))
        }));
    }
    let mut scan = Scan::new(opts, size);
    let loc = Location::file(display);
    let name = scan.scan_seekable(&mut file, size, &loc, 0);
    drop(file);
    side_files::resolve(&mut scan, path.parent());
    Ok(Some(finish(scan, display, name, size)))
}

/// Scans bytes already in memory (tests, fuzzing, nested members). Content that is not a model
/// yields a report of format `not-a-model` (or `unknown` when the name claims a model format).
pub fn scan_bytes(bytes: &[u8], display: &str, opts: &ScanOptions) -> ArtifactReport {
    let size = bytes.len() as u64;
    if sniff(bytes.get(..SNIFF_LEN).unwrap_or(bytes)) == Format::NotAModel {
        return unrecognized(display, None, size, opts, || Ok(bytes)).unwrap_or_else(|| {
            ArtifactReport::new(
                display.to_string(),
                Format::NotAModel.name().to_string(),
                size,
                true,
                Vec::new(),
            )
        });
    }
    let mut scan = Scan::new(opts, size);
    let loc = Location::file(display);
    let name = scan.scan_member_bytes(bytes, &loc, 0);
    side_files::resolve(&mut scan, None);
    finish(scan, display, name, size)
}

fn finish(mut scan: Scan<'_>, display: &str, format: &str, size: u64) -> ArtifactReport {
    if let Some(ext) = extension_of(display)
        && let Some(finding) = extension_mismatch(display, &ext, format)
    {
        scan.findings.push(finding);
    }
    ArtifactReport::new(
        display.to_string(),
        format.to_string(),
        size,
        scan.fully_inspected,
        scan.findings,
    )
}

/// A model-named file whose content is not recognised. Its loader (`pickle.load`, `torch.load`,
/// `joblib.load`) would still feed it to an unpickler, so it is simulated as a pickle: whatever
/// runs before the first invalid opcode counts (broken and headerless pickles are attacks).
/// For the ambiguous `.bin` only a malicious result is kept; otherwise it is informational.
fn unrecognized<R: Read>(
    display: &str,
    folder: Option<&Path>,
    size: u64,
    opts: &ScanOptions,
    open: impl FnOnce() -> std::io::Result<R>,
) -> Option<ArtifactReport> {
    let ext = extension_of(display)?;
    if ext == "pth" && in_site_packages(display) {
        // Python's `site` module reads `*.pth` files in site directories as path configuration
        // (text); nothing there is a PyTorch checkpoint.
        return None;
    }
    let suspicious = match classify_extension(&ext) {
        ExtensionClass::PickleModel => true,
        ExtensionClass::AmbiguousBinary => false,
        _ => return None,
    };
    let loc = Location::file(display);
    let mut scan = Scan::new(opts, size);
    match open() {
        Ok(reader) => {
            scan.scan_pickles(reader, &loc, 0, None, engine::PickleLoader::Generic);
        }
        Err(e) => scan.incomplete(rules::container_uninspectable_member::finding(
            loc.clone(),
            format!("unreadable: {e}"),
        )),
    }
    side_files::resolve(&mut scan, folder);
    let malicious = scan
        .findings
        .iter()
        .any(|f| f.verdict == mlvet_core::Verdict::Malicious);
    let unrecognized = container_unrecognized_model_file::finding(loc, &ext, suspicious);
    if suspicious || malicious {
        scan.findings.push(unrecognized);
        return Some(ArtifactReport::new(
            display.to_string(),
            "unknown".to_string(),
            size,
            scan.fully_inspected,
            scan.findings,
        ));
    }
    Some(ArtifactReport::new(
        display.to_string(),
        "unknown".to_string(),
        size,
        true,
        vec![unrecognized],
    ))
}

/// Whether the file sits directly in a Python site directory (`site-packages`, `dist-packages`).
fn in_site_packages(display: &str) -> bool {
    let mut components = display.rsplit(['/', '\\']);
    components.next();
    components
        .next()
        .is_some_and(|dir| dir == "site-packages" || dir == "dist-packages")
}

fn extension_mismatch(display: &str, ext: &str, format: &str) -> Option<mlvet_core::Finding> {
    let carries_pickle = matches!(format, "pickle" | "joblib" | "pytorch-legacy");
    let class = classify_extension(ext);
    let expected: &[&str] = match ext {
        "npy" => &["numpy"],
        "npz" => &["npz", "zip"],
        "pt" | "pth" | "ckpt" | "bin" => &[
            "pytorch-zip",
            "pytorch-legacy",
            "pytorch-tar",
            "torchscript",
            "pickle",
            "zip",
        ],
        "pkl" | "pickle" | "dill" | "p" | "sav" => {
            &["pickle", "joblib", "pytorch-zip", "pytorch-legacy"]
        }
        "joblib" => &[
            "joblib",
            "pickle",
            "zlib",
            "gzip",
            "bz2",
            "xz",
            "lzma",
            "lz4",
            "joblib-zfile",
        ],
        "zip" => &["zip", "npz", "pytorch-zip", "torchscript"],
        "tar" => &["tar", "pytorch-tar"],
        "gz" | "tgz" => &["gzip", "joblib"],
        "bz2" => &["bz2", "joblib"],
        "xz" => &["xz", "joblib"],
        "lzma" => &["lzma", "joblib"],
        "zst" | "zstd" => &["zstd"],
        "lz4" => &["lz4", "joblib"],
        "z" => &["zlib", "joblib"],
        "7z" => &["7z"],
        _ if class == ExtensionClass::CodeFree => &[],
        _ => return None,
    };
    if expected.contains(&format) {
        return None;
    }
    let disguise = carries_pickle
        && (matches!(class, ExtensionClass::CodeFree | ExtensionClass::Archive) || ext == "npy");
    Some(container_extension_mismatch::finding(
        Location::file(display),
        ext,
        format,
        disguise,
    ))
}

/// Every rule this crate can emit.
pub fn rules() -> Vec<&'static RuleMeta> {
    rules::all()
}
