//! Format sniffing and loader-faithful container parsing for mlvet.
//!
//! Every file is identified by its content ([`sniff`]). Names decide only where the loader itself
//! goes by name or the format has no magic: the Hugging Face tokenizer and processor files that
//! carry chat templates (`hf_templates`), `.msgpack` (Flax), `.pb`/`.pbtxt`/`.onnx`/`.tflite`
//! claims that must then parse, `.pth` files in site directories, and the model-folder pass
//! ([`folders`]). Containers are opened the way the libraries that load models open them, and every pickle found inside is handed to
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
//! | `keras` | Keras 3 `.keras` zip (`config.json` analysed, `metadata.json` read, weights `.h5` headers read) |
//! | `keras-h5` | legacy Keras HDF5 model (root attribute `model_config`, and `training_config`, analysed) |
//! | `hdf5` | other HDF5 files (Keras weights): structure and attributes read, dataset data never |
//! | `xgboost-json`, `xgboost-ubjson` | XGBoost `save_model` JSON/UBJSON, recognised by content and validated (`mlvet-modelfiles`) |
//! | `xgboost-binary` | XGBoost's deprecated binary format (`binf` + packed structs), validated field by field |
//! | `lightgbm` | LightGBM text model, validated line by line |
//! | `flax-msgpack` | a `.msgpack` file: Flax `to_bytes` tree of maps, arrays and Flax ext types, validated |
//! | `nemo` | a tar (plain or gzip) with `model_config.yaml`: Hydra `_target_`s classified, checkpoint scanned |
//! | `torchserve-mar` | a zip with `MAR-INF/MANIFEST.json`: shipped handler/Python code reported, members scanned |
//! | `skops` | a zip with `schema.json`: every referenced type checked against skops' trusted set and the policy |
//! | `zip`, `tar`, `7z` | generic archives, members scanned by content |
//! | `gzip`, `bz2`, `xz`, `lzma`, `zstd`, `lz4`, `zlib`, `joblib-zfile` | compressed single streams |
//! | `gguf` | llama.cpp GGUF v1-v3, either byte order: header, metadata and tensor infos parsed by `mlvet-gguf` (tensor data never read), chat templates analysed by `mlvet-jinja`, facts in `metadata` |
//! | `hf-tokenizer-config` | `tokenizer_config.json` (by name): its `chat_template` string or `{name, template}` list analysed |
//! | `hf-chat-template` | `chat_template.json` (by name) |
//! | `hf-processor-config` | `processor_config.json`, `preprocessor_config.json` (by name) with a `chat_template` |
//! | `jinja-template` | `chat_template.jinja`, `additional_chat_templates/*.jinja` (by name) |
//! | `onnx` | ONNX `ModelProto` (by a strict parse of its top level, any name; `.onnx` names that do not parse are malformed) |
//! | `tensorflow-savedmodel` | TensorFlow `saved_model.pb` (meta graphs, graph and function library) |
//! | `tensorflow-graphdef` | frozen TensorFlow `GraphDef` (a `.pb` name and a validating parse) |
//! | `tensorflow-text` | text-format TensorFlow graph (`.pbtxt`): lexical op scan only, never safe |
//! | `tflite` | TFLite FlatBuffers model (`TFL3` identifier, or a `.tflite` name) |
//! | `safetensors` | safetensors weights: the header checked as the loader checks it (`mlvet-safetensors`); the body is never read |
//! | `pth` | a `.pth` file directly in `site-packages`/`dist-packages`: its startup lines (see [`pth`]) |
//! | `gguf`, `png`, `jpeg`, `gif` | only when a zip archive is appended (`container-polyglot`; the zip is scanned as `<as zip>`) |
//! | `llamafile`, `elf-executable`, `pe-executable`, `mach-o-executable`, `script` | executables under model names, and llamafiles (`container-executable-model`) |
//! | `hf-config`, `python` | from the folder pass ([`folders`]): a config with `auto_map`, Python beside the weights |
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
//! - **Keras / HDF5**: HDF5 files are read by `mlvet-hdf5` (superblock, object headers, groups,
//!   attributes; tensor data never read); the model config (`config.json` of a `.keras` zip, the
//!   `model_config` / `training_config` attributes of an `.h5`) is analysed by `mlvet-keras`, and
//!   payloads embedded in it (`TorchModuleWrapper` torch.save bytes) are scanned as members.
//!   Stored members of a `.keras` zip are read in place, so weights are never copied.
//! - **tar**: streamed the way `tarfile` reads it (GNU and PAX sparse members expanded; links,
//!   devices, FIFOs and unknown types reported); **7z**: members streamed as they are decoded.
//!   Members that need random access (a zip inside a tar) are copied, to an unlinked temporary
//!   file when larger than 16 MiB. Nesting is bounded by `max_nesting`, and every decoder at every
//!   level draws on one expansion budget per artefact (`max_total_uncompressed`, and `max_ratio`
//!   times the artefact's size on disk).
//! - **ONNX, TensorFlow, TFLite** (`mlvet-graphs`): graphs, nodes, attributes, functions and
//!   operator codes walked by bounded parsers through a read window; tensor data and weight
//!   buffers are stepped over by length, never read. ONNX external-data files are checked on
//!   disk (location, symlinks, size) from their metadata only.
//! - **safetensors**: the 8-byte length and the header only (at most 100 MB, like the loader);
//!   tensor count, parameter count, dtypes and `__metadata__["format"]` go to the artefact's
//!   `metadata`. Streamed members (inside tar or a compressor) are read for the header, then
//!   only counted.
//! - **polyglots**: every top-level file is also checked for a second reading: a zip end record
//!   at its tail (a pickle, safetensors, GGUF, image... that `zipfile` opens), a pickle at the
//!   start of a safetensors file. Each reading is scanned; findings of the second carry
//!   `<as zip>` / `<as pickle>` as their first member.
//! - **model folders** ([`folders`], after the walk): `auto_map`/`custom_pipelines` in configs,
//!   Python beside weights, pickle weights beside safetensors, origins from the hub cache layout
//!   (`models--org--name/snapshots/<commit>/`) and `local_dir` download metadata, and the facts of
//!   `config.json` on the weights. Snapshot links into the repository's `blobs/` are followed
//!   even when only the snapshot folder is scanned; blobs reached that way are reported once,
//!   under their snapshot name.

mod archives;
mod engine;
pub mod folders;
mod gguf;
mod graphs;
mod hf_templates;
mod keras;
mod modelfiles;
mod npy;
mod polyglot;
pub mod pth;
pub mod rules;
mod safetensors;
mod side_files;
mod sniff;
mod spool;
mod templates;
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
    if let Some(kind) = hf_templates::kind_of(display) {
        return Ok(Some(hf_templates::scan(path, display, kind)));
    }
    let file = open_regular(path).map_err(|source| ScanFileError::Open {
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
    scan_open(file, size, display, path.parent(), opts)
}

/// [`scan_file`] over any random-access reader of `size` bytes (a remote file read by ranges):
/// the same analyses, reading only what they read from a local file. Files that a local scan
/// would look for beside it (ONNX external data, old joblib side files) are not available and
/// are reported as such.
pub fn scan_reader<R: Read + Seek>(
    mut reader: R,
    size: u64,
    display: &str,
    opts: &ScanOptions,
) -> Result<Option<ArtifactReport>, ScanFileError> {
    if let Some(kind) = hf_templates::kind_of(display) {
        reader
            .seek(SeekFrom::Start(0))
            .map_err(|source| ScanFileError::Read {
                path: display.to_string(),
                source,
            })?;
        return Ok(Some(hf_templates::scan_reader(reader, size, display, kind)));
    }
    scan_open(reader, size, display, None, opts)
}

/// [`scan_reader`] for a file whose folder is known (a remote repository mirrored as sparse
/// files of the listed sizes): ONNX external data is then checked in `folder` as in a local scan.
pub fn scan_reader_in<R: Read + Seek>(
    mut reader: R,
    size: u64,
    display: &str,
    folder: Option<&Path>,
    opts: &ScanOptions,
) -> Result<Option<ArtifactReport>, ScanFileError> {
    if hf_templates::kind_of(display).is_some() || folder.is_none() {
        return scan_reader(reader, size, display, opts);
    }
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|source| ScanFileError::Read {
            path: display.to_string(),
            source,
        })?;
    scan_open(reader, size, display, folder, opts)
}

fn scan_open<R: Read + Seek>(
    mut file: R,
    size: u64,
    display: &str,
    folder: Option<&Path>,
    opts: &ScanOptions,
) -> Result<Option<ArtifactReport>, ScanFileError> {
    let mut prefix = Vec::with_capacity(SNIFF_LEN);
    (&mut file)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut prefix)
        .map_err(|source| ScanFileError::Read {
            path: display.to_string(),
            source,
        })?;
    let format = sniff(&prefix);
    if format == Format::NotAModel && extension_of(display).as_deref() == Some("msgpack") {
        // msgpack has no magic: a `.msgpack` file is taken for a Flax checkpoint and validated.
        file.seek(SeekFrom::Start(0))
            .map_err(|source| ScanFileError::Read {
                path: display.to_string(),
                source,
            })?;
        return Ok(Some(modelfiles::scan_msgpack_file(
            &mut file, size, display, opts,
        )));
    }
    if format == Format::NotAModel {
        if let Some(report) = graphs::scan_reader(&mut file, size, display, folder) {
            return Ok(Some(report));
        }
        if let Some(report) = polyglot::scan_unmodelled(&mut file, display, size, &prefix, opts) {
            return Ok(Some(report));
        }
        return Ok(unrecognized(display, folder, size, opts, || {
            file.seek(SeekFrom::Start(0))?;
            Ok(std::io::BufReader::new(file))
        }));
    }
    let mut scan = Scan::new(opts, size);
    let loc = Location::file(display);
    let name = scan.scan_seekable(&mut file, size, &loc, 0);
    polyglot::scan_other_readings(&mut scan, &mut file, size, &prefix, format, name, &loc);
    drop(file);
    side_files::resolve(&mut scan, folder);
    Ok(Some(finish(scan, display, name, size)))
}

/// Scans bytes already in memory (tests, fuzzing, nested members). Content that is not a model
/// yields a report of format `not-a-model` (or `unknown` when the name claims a model format).
pub fn scan_bytes(bytes: &[u8], display: &str, opts: &ScanOptions) -> ArtifactReport {
    let size = bytes.len() as u64;
    if sniff(bytes.get(..SNIFF_LEN).unwrap_or(bytes)) == Format::NotAModel {
        if let Some(report) = graphs::scan_bytes(bytes, display) {
            return report;
        }
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
    let format = scan.format_override.unwrap_or(format);
    if let Some(ext) = extension_of(display)
        && let Some(finding) = extension_mismatch(display, &ext, format)
    {
        scan.findings.push(finding);
    }
    let mut report = ArtifactReport::new(
        display.to_string(),
        format.to_string(),
        size,
        scan.fully_inspected,
        scan.findings,
    );
    report.metadata = scan.metadata;
    report
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
        // and startup code (text); nothing there is a PyTorch checkpoint.
        return Some(pth_report(display, size, open));
    }
    if ext == "safetensors" {
        // Named safetensors but not even the start of one: the header checks say why.
        let loc = Location::file(display);
        let mut scan = Scan::new(opts, size);
        match open() {
            Ok(mut reader) => {
                safetensors::scan_stream_sized(&mut scan, &mut reader, size, &loc);
            }
            Err(e) => scan.incomplete(rules::container_uninspectable_member::finding(
                loc,
                format!("unreadable: {e}"),
            )),
        }
        return Some(ArtifactReport::new(
            display.to_string(),
            "safetensors".to_string(),
            size,
            scan.fully_inspected,
            scan.findings,
        ));
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

/// A `.pth` file of a site directory: its startup lines classified (see [`pth`]).
fn pth_report<R: Read>(
    display: &str,
    size: u64,
    open: impl FnOnce() -> std::io::Result<R>,
) -> ArtifactReport {
    let loc = Location::file(display);
    let mut content = Vec::new();
    let read = open().and_then(|reader| {
        reader
            .take(pth::MAX_PTH_BYTES as u64 + 1)
            .read_to_end(&mut content)
    });
    let mut findings = Vec::new();
    let mut fully_inspected = true;
    if let Err(e) = read {
        fully_inspected = false;
        findings.push(rules::container_uninspectable_member::finding(
            loc,
            format!("unreadable: {e}"),
        ));
    } else if content.len() > pth::MAX_PTH_BYTES {
        content.truncate(pth::MAX_PTH_BYTES);
        fully_inspected = false;
        findings.push(rules::container_resource_limit::finding(
            loc,
            format!(
                ".pth file larger than {} bytes: only the start was checked",
                pth::MAX_PTH_BYTES
            ),
        ));
    }
    findings.extend(pth::findings(&content, display));
    ArtifactReport::new(
        display.to_string(),
        "pth".to_string(),
        size,
        fully_inspected,
        findings,
    )
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
    if modelfiles::FORMAT_NAMES.contains(&format) {
        // Validated formats whose usual names (`.json`, `.txt`, `.msgpack`, `.nemo`...) vary.
        return None;
    }
    let carries_pickle = matches!(format, "pickle" | "joblib" | "pytorch-legacy");
    let class = classify_extension(ext);
    let expected: &[&str] = match ext {
        "npy" => &["numpy"],
        "safetensors" => &["safetensors"],
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
        "h5" | "hdf5" => &["hdf5", "keras-h5"],
        "keras" => &["keras"],
        "gguf" => &["gguf"],
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
    let mut all = rules::all();
    all.extend(mlvet_modelfiles::rules());
    all.sort_by_key(|rule| rule.id);
    all
}
