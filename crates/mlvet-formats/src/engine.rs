//! The scan of one artefact: dispatch by sniffed format, containers opened the way their loaders
//! open them, every pickle handed to the simulator, limits enforced everywhere.

use std::cell::Cell;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::rc::Rc;

use mlvet_core::{Finding, Location};
use mlvet_pickle::StreamOptions;

use crate::rules::{
    container_malformed, container_nesting_too_deep, container_resource_limit,
    container_torchscript_code, container_uninspectable_member,
};
use crate::sniff::{Format, SNIFF_LEN, sniff};
use crate::walker::{Val, Walker};
use crate::{ScanOptions, npy};

/// Random-access input.
pub(crate) trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// How the pickles of a stream are loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PickleLoader {
    /// `pickle.load` or `joblib.load`: every pickle, joblib arrays understood.
    Generic,
    /// A loader's own unpickler reading exactly one pickle (torch `data.pkl`, numpy object arrays).
    One,
}

pub(crate) struct Scan<'o> {
    pub opts: &'o ScanOptions,
    pub findings: Vec<Finding>,
    pub fully_inspected: bool,
    /// The one expansion budget of the artefact, shared by every decoder at every nesting level.
    pub expansion: Expansion,
    pub entries: usize,
    /// joblib side files the pickles of this artefact make `joblib.load` open, resolved by the
    /// caller that knows the artefact's folder.
    pub side_files: Vec<PendingSideFile>,
    /// Facts parsers read for model cards (`ArtifactReport::metadata`).
    pub metadata: std::collections::BTreeMap<String, String>,
    /// The artefact's format when a member reveals it (a tar with `model_config.yaml` is `nemo`).
    pub format_override: Option<&'static str>,
}

/// A side file named by a pickle, not yet looked at.
#[derive(Debug, Clone)]
pub(crate) struct PendingSideFile {
    /// Where the pickle naming it is.
    pub loc: Location,
    pub class: String,
    /// `None` when the name could not be determined.
    pub filename: Option<String>,
}

/// Bytes of one pickle stream kept to follow side-file names. Old joblib pickles are small (the
/// arrays are in the side files); a larger one naming a side file is reported as not fully
/// inspected, and large modern pickles cost at most this much extra memory.
const SIDE_FILE_PICKLE_MAX: usize = 4 * 1024 * 1024;

/// Passes a stream through, keeping a copy of its first `cap` bytes.
struct Recorder<R> {
    inner: R,
    kept: Vec<u8>,
    cap: usize,
    overflowed: bool,
}

impl<R: Read> Read for Recorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let room = self.cap - self.kept.len();
        let read = buf.get(..n).unwrap_or(&[]);
        if read.len() > room {
            self.overflowed = true;
        }
        self.kept.extend_from_slice(&read[..read.len().min(room)]);
        Ok(n)
    }
}

/// Decompressed bytes produced for one artefact, counted live by every decoder at every nesting
/// level (a gzip inside an xz inside a bzip2 all draw from it), against one limit: the absolute
/// cap, and the ratio cap measured against the artefact's own size on disk. A per-level ratio is
/// not enough: each level of a 42.zip-style nest looks modest against its immediate parent.
#[derive(Debug, Clone)]
pub(crate) struct Expansion {
    produced: Rc<Cell<u64>>,
    limit: u64,
}

impl Expansion {
    fn for_input(opts: &ScanOptions, input_size: u64) -> Self {
        let by_ratio = input_size.saturating_mul(opts.max_ratio).max(RATIO_FLOOR);
        Expansion {
            produced: Rc::new(Cell::new(0)),
            limit: opts.max_total_uncompressed.min(by_ratio),
        }
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.produced.get())
    }

    fn charge(&self, n: u64) {
        self.produced.set(self.produced.get().saturating_add(n));
    }
}

impl<'o> Scan<'o> {
    /// A scan of one artefact of `input_size` bytes on disk (sets its expansion budget).
    pub(crate) fn new(opts: &'o ScanOptions, input_size: u64) -> Self {
        Scan {
            opts,
            findings: Vec::new(),
            fully_inspected: true,
            expansion: Expansion::for_input(opts, input_size),
            entries: 0,
            side_files: Vec::new(),
            metadata: std::collections::BTreeMap::new(),
            format_override: None,
        }
    }

    /// A scan whose findings the caller filters, drawing on the same expansion budget.
    pub(crate) fn child(&self) -> Scan<'o> {
        Scan {
            opts: self.opts,
            findings: Vec::new(),
            fully_inspected: true,
            expansion: self.expansion.clone(),
            entries: 0,
            side_files: Vec::new(),
            metadata: std::collections::BTreeMap::new(),
            format_override: None,
        }
    }

    /// Wraps a decoder so that it draws on the artefact's expansion budget and on `own_limit`.
    pub(crate) fn limit_decoder<R: Read>(&self, decoder: R, own_limit: u64) -> LimitedReader<R> {
        LimitedReader::new(decoder, own_limit, self.expansion.clone())
    }

    /// The finding for a decoder that hit its limit.
    pub(crate) fn expansion_exceeded(&mut self, loc: &Location, what: &str, own_limit: u64) {
        let why = if self.expansion.remaining() == 0 {
            format!(
                "{what}: the artefact's expansion budget ({} bytes decompressed across all nesting levels) is exhausted",
                self.expansion.limit()
            )
        } else {
            format!("{what} exceeds {own_limit} bytes")
        };
        self.incomplete(container_resource_limit::finding(loc.clone(), why));
    }

    pub(crate) fn incomplete(&mut self, finding: Finding) {
        self.fully_inspected = false;
        self.findings.push(finding);
    }

    /// Scans random-access content of `size` bytes; returns its format name.
    pub(crate) fn scan_seekable(
        &mut self,
        src: &mut dyn ReadSeek,
        size: u64,
        loc: &Location,
        depth: usize,
    ) -> &'static str {
        let mut prefix = Vec::with_capacity(SNIFF_LEN);
        if src.seek(SeekFrom::Start(0)).is_err()
            || src.take(SNIFF_LEN as u64).read_to_end(&mut prefix).is_err()
        {
            self.incomplete(container_uninspectable_member::finding(
                loc.clone(),
                "unreadable",
            ));
            return "unknown";
        }
        let format = sniff(&prefix);
        if src.seek(SeekFrom::Start(0)).is_err() {
            self.incomplete(container_uninspectable_member::finding(
                loc.clone(),
                "unreadable",
            ));
            return format.name();
        }
        match format {
            Format::Zip => crate::zipscan::scan_zip(self, src, size, loc, depth),
            Format::SevenZip => self.scan_7z(src, loc, depth),
            Format::TorchLegacy => {
                self.scan_pickles(BufReader::new(src), loc, 0, Some(5), PickleLoader::One);
                format.name()
            }
            Format::Numpy => self.scan_npy_seekable(src, size, loc),
            Format::Hdf5 => crate::keras::scan_hdf5(self, src, size, loc, depth),
            Format::Gguf => crate::gguf::scan_gguf(self, src, size, loc),
            Format::Safetensors => crate::safetensors::scan_seekable(self, src, size, loc),
            Format::ModelFile(kind) => crate::modelfiles::scan_model_file(self, kind, src, loc),
            _ => self.scan_stream_format(format, &mut BufReader::new(src), Some(size), loc, depth),
        }
    }

    /// Scans sequential content (a decompressed stream, a tar member).
    pub(crate) fn scan_reader(
        &mut self,
        src: &mut dyn Read,
        size_hint: Option<u64>,
        loc: &Location,
        depth: usize,
    ) -> &'static str {
        let mut prefix = Vec::with_capacity(SNIFF_LEN);
        if src.take(SNIFF_LEN as u64).read_to_end(&mut prefix).is_err() {
            self.incomplete(container_uninspectable_member::finding(
                loc.clone(),
                "unreadable stream",
            ));
            return "unknown";
        }
        let format = sniff(&prefix);
        let mut chained = Cursor::new(prefix).chain(src);
        match format {
            Format::Zip | Format::SevenZip | Format::Numpy | Format::Hdf5 | Format::Gguf => {
                // Random access needed: a copy (in memory when small, on disk otherwise),
                // within the member cap.
                match self.buffer(&mut chained, loc) {
                    Some((mut copy, len)) => self.scan_seekable(&mut copy, len, loc, depth),
                    None => format.name(),
                }
            }
            Format::TorchLegacy => {
                self.scan_pickles(chained, loc, 0, Some(5), PickleLoader::One);
                format.name()
            }
            Format::Safetensors => crate::safetensors::scan_stream(self, &mut chained, loc),
            Format::ModelFile(kind) => {
                crate::modelfiles::scan_model_file(self, kind, &mut chained, loc)
            }
            _ => self.scan_stream_format(format, &mut chained, size_hint, loc, depth),
        }
    }

    /// A seekable copy of a stream, up to `max_member_size` (small copies in memory, larger ones
    /// in an unlinked temporary file).
    pub(crate) fn buffer(
        &mut self,
        src: &mut dyn Read,
        loc: &Location,
    ) -> Option<(crate::spool::Spooled, u64)> {
        let cap = self.opts.max_member_size;
        match crate::spool::spool(src, cap) {
            Ok(crate::spool::Outcome::Copied(copy, len)) => Some((copy, len)),
            Ok(crate::spool::Outcome::TooLarge) => {
                self.incomplete(container_resource_limit::finding(
                    loc.clone(),
                    format!(
                        "member larger than {cap} bytes needs random access and was not inspected"
                    ),
                ));
                None
            }
            Err(e) => {
                self.incomplete(container_uninspectable_member::finding(
                    loc.clone(),
                    format!("read failed: {e}"),
                ));
                None
            }
        }
    }

    fn scan_stream_format(
        &mut self,
        format: Format,
        src: &mut dyn Read,
        size_hint: Option<u64>,
        loc: &Location,
        depth: usize,
    ) -> &'static str {
        match format {
            Format::Pickle => {
                let arrays = self.scan_pickles(src, loc, 0, None, PickleLoader::Generic);
                if arrays > 0 { "joblib" } else { "pickle" }
            }
            Format::Tar | Format::TorchTar => crate::archives::scan_tar(self, src, loc, depth),
            f if f.is_compression() => self.scan_compressed(f, src, size_hint, loc, depth),
            Format::NotAModel => "not-a-model",
            // Random-access formats reach here only from scan_seekable, which handles them.
            other => other.name(),
        }
    }

    /// One nesting level deeper, or a finding when that is too deep.
    pub(crate) fn descend(&mut self, loc: &Location, depth: usize) -> Option<usize> {
        let next = depth + 1;
        if next > self.opts.max_nesting.min(NESTING_CEILING) {
            self.incomplete(container_nesting_too_deep::finding(loc.clone(), next));
            None
        } else {
            Some(next)
        }
    }

    /// Scans bytes already in memory (a member).
    pub(crate) fn scan_member_bytes(
        &mut self,
        bytes: &[u8],
        loc: &Location,
        depth: usize,
    ) -> &'static str {
        let len = bytes.len() as u64;
        self.scan_seekable(&mut Cursor::new(bytes), len, loc, depth)
    }

    // ---- compression --------------------------------------------------------------------------

    fn scan_compressed(
        &mut self,
        format: Format,
        src: &mut dyn Read,
        compressed_size: Option<u64>,
        loc: &Location,
        depth: usize,
    ) -> &'static str {
        let inner_loc = loc.member(format!("<{}>", format.name()));
        let Some(next) = self.descend(&inner_loc, depth) else {
            return format.name();
        };
        let decoder: Box<dyn Read + '_> = match open_decoder(format, src) {
            Ok(d) => d,
            Err(e) => {
                self.incomplete(container_uninspectable_member::finding(
                    loc.clone(),
                    format!("{} stream cannot be decoded: {e}", format.name()),
                ));
                return format.name();
            }
        };
        let budget = self.budget(compressed_size);
        let mut limited = self.limit_decoder(decoder, budget);
        let inner_format = self.scan_reader(&mut limited, None, &inner_loc, next);
        if let Some(err) = limited.error.take() {
            self.incomplete(container_uninspectable_member::finding(
                inner_loc.clone(),
                format!("{} stream is corrupt: {err}", format.name()),
            ));
        }
        if limited.hit_limit {
            let what = format!("decompressed {} stream", format.name());
            self.expansion_exceeded(&inner_loc, &what, budget);
        }
        match (format, inner_format) {
            (_, "joblib") | (Format::Zlib | Format::JoblibZfile, "pickle") => "joblib",
            _ => format.name(),
        }
    }

    /// Bytes one decompressor may produce on its own (the stream cap and its own ratio); the
    /// shared expansion budget applies on top, live.
    pub(crate) fn budget(&self, compressed_size: Option<u64>) -> u64 {
        let by_ratio = compressed_size
            .map(|c| c.saturating_mul(self.opts.max_ratio).max(RATIO_FLOOR))
            .unwrap_or(u64::MAX);
        by_ratio.min(self.opts.max_stream_size)
    }

    // ---- pickles ------------------------------------------------------------------------------

    /// Scans the pickles of a stream starting at `base_offset` of the member; returns how many
    /// joblib arrays were read (so callers can name the format).
    pub(crate) fn scan_pickles<R: Read>(
        &mut self,
        src: R,
        loc: &Location,
        base_offset: u64,
        max_pickles: Option<usize>,
        loader: PickleLoader,
    ) -> u64 {
        let stream_opts = StreamOptions {
            max_pickles,
            require_pickle_start: false,
        };
        // The simulator itself skips joblib's inline array bytes (and simulates object arrays'
        // nested pickles) exactly where joblib reads them, in one pass; a plain `pickle.load`
        // stream needs nothing in front of it.
        let mut recorder = Recorder {
            inner: src,
            kept: Vec::new(),
            cap: SIDE_FILE_PICKLE_MAX,
            overflowed: false,
        };
        let scan = if loader == PickleLoader::Generic {
            let scan = mlvet_pickle::scan_joblib_stream(
                &mut recorder,
                loc,
                &self.opts.policy,
                &self.opts.pickle_limits,
                &stream_opts,
            );
            if let Some(class) = scan
                .globals
                .iter()
                .find(|g| crate::walker::is_side_file_class(&g.module, &g.name))
            {
                let class = class.name.clone();
                // Inline arrays (the current format) are raw bytes the walker cannot step over.
                let inline_arrays = scan.globals.iter().any(|g| g.name == "NumpyArrayWrapper");
                let unreadable = recorder.overflowed || inline_arrays;
                self.follow_side_files(&recorder.kept, unreadable, loc, &class);
            }
            scan
        } else {
            let src = recorder.inner;
            mlvet_pickle::scan_stream(
                src,
                loc,
                &self.opts.policy,
                &self.opts.pickle_limits,
                &stream_opts,
            )
        };
        let arrays = u64::from(
            scan.globals
                .iter()
                .any(|g| g.module == "joblib.numpy_pickle" && g.name == "NumpyArrayWrapper"),
        );
        self.absorb(scan.findings, scan.fully_inspected, |off| base_offset + off);
        arrays
    }

    /// Finds the side files `joblib.load` would open while loading the pickle in `kept` (the
    /// first pickle: `joblib.load` loads one).
    fn follow_side_files(&mut self, kept: &[u8], unreadable: bool, loc: &Location, class: &str) {
        let undetermined = |class: &str| PendingSideFile {
            loc: loc.clone(),
            class: class.to_string(),
            filename: None,
        };
        if unreadable {
            self.side_files.push(undetermined(class));
            return;
        }
        let mut walker = Walker::new(kept);
        let _ = io::copy(&mut walker, &mut io::sink());
        for side in walker.side_files.drain(..) {
            self.side_files.push(PendingSideFile {
                loc: loc.clone().with_offset(side.offset),
                class: side.class,
                filename: side.filename,
            });
        }
        if walker.gave_up() {
            // Interpretation stopped at a bound of ours before the end: a BUILD after that
            // point is unknown.
            self.side_files.push(undetermined(class));
        }
    }

    fn absorb(&mut self, findings: Vec<Finding>, fully_inspected: bool, map: impl Fn(u64) -> u64) {
        self.fully_inspected &= fully_inspected;
        for mut finding in findings {
            if let Some(offset) = finding.location.offset {
                finding.location.offset = Some(map(offset));
            }
            self.findings.push(finding);
        }
    }

    /// Cuts exactly one pickle out of `src` (as a loader's `pickle.load(f)` consumes it), scans
    /// it, and returns the value it evaluates to as far as the walker tracks it.
    pub(crate) fn scan_one_pickle(
        &mut self,
        src: &mut dyn Read,
        loc: &Location,
        base_offset: u64,
    ) -> Result<(Option<Val>, u64), ()> {
        let mut walker = Walker::new(src);
        let mut bytes = Vec::new();
        let read = (&mut walker)
            .take(crate::walker::ONE_PICKLE_MAX)
            .read_to_end(&mut bytes);
        let consumed = walker.input_pos();
        let value = walker.value.take();
        let complete = read.is_ok() && value.is_some();
        drop(walker);
        let opts = StreamOptions {
            max_pickles: Some(1),
            require_pickle_start: false,
        };
        let scan = mlvet_pickle::scan_stream(
            Cursor::new(&bytes),
            loc,
            &self.opts.policy,
            &self.opts.pickle_limits,
            &opts,
        );
        self.absorb(scan.findings, scan.fully_inspected, |off| base_offset + off);
        if complete {
            Ok((value, consumed))
        } else {
            Err(())
        }
    }

    // ---- numpy ----------------------------------------------------------------------------------

    fn scan_npy_seekable(
        &mut self,
        src: &mut dyn ReadSeek,
        size: u64,
        loc: &Location,
    ) -> &'static str {
        let mut head = Vec::new();
        let header_end = match npy::preamble(&read_prefix(src, 12)) {
            Ok((_, _, end)) => end,
            Err(e) => {
                self.incomplete(container_malformed::finding(
                    loc.clone(),
                    format!("NumPy header: {e}"),
                ));
                return "numpy";
            }
        };
        if src.seek(SeekFrom::Start(0)).is_err()
            || src.take(header_end).read_to_end(&mut head).is_err()
        {
            self.incomplete(container_uninspectable_member::finding(
                loc.clone(),
                "unreadable NumPy header",
            ));
            return "numpy";
        }
        let header = match npy::parse_header(&head) {
            Ok(h) => h,
            Err(e) => {
                // np.load parses the header with ast.literal_eval and refuses it: nothing runs,
                // but the file is not what it claims to be.
                self.incomplete(container_malformed::finding(
                    loc.clone(),
                    format!("NumPy header: {e}"),
                ));
                return "numpy";
            }
        };
        match header.has_object() {
            Some(true) => {
                // np.load(allow_pickle=True) runs pickle.load on the rest of the file.
                let _ = src.seek(SeekFrom::Start(header.data_offset));
                self.scan_pickles(
                    BufReader::new(src),
                    loc,
                    header.data_offset,
                    Some(1),
                    PickleLoader::One,
                );
            }
            Some(false) => match header.data_len() {
                Some(len)
                    if header
                        .data_offset
                        .checked_add(len)
                        .is_some_and(|end| end <= size) =>
                {
                    let end = header.data_offset + len;
                    if end < size {
                        self.findings.push(container_malformed::finding(
                            loc.clone().with_offset(end),
                            format!(
                                "{} bytes after the array data (np.load ignores them)",
                                size - end
                            ),
                        ));
                    }
                }
                _ => self.findings.push(container_malformed::finding(
                    loc.clone(),
                    "array data shorter than the header declares (np.load fails)",
                )),
            },
            None => self.incomplete(container_malformed::finding(
                loc.clone(),
                "NumPy dtype not understood",
            )),
        }
        "numpy"
    }

    // ---- 7z -------------------------------------------------------------------------------------

    fn scan_7z(&mut self, src: &mut dyn ReadSeek, loc: &Location, depth: usize) -> &'static str {
        let mut reader = match sevenz_rust2::ArchiveReader::new_with_memory_limit(
            src,
            sevenz_rust2::Password::empty(),
            SEVEN_Z_DICTIONARY_MAX_KB,
        ) {
            Ok(r) => r,
            Err(e) => {
                self.incomplete(container_uninspectable_member::finding(
                    loc.clone(),
                    format!("7z archive cannot be read: {e}"),
                ));
                return "7z";
            }
        };
        // One decoder thread: files are already scanned in parallel, and the multi-threaded
        // LZMA2 decoder decodes ahead into memory (8 × 128 MiB of zeros reached 1.3 GB).
        reader.set_thread_count(1);
        let count = reader.archive().files.len();
        if count > self.opts.max_entries {
            self.incomplete(container_resource_limit::finding(
                loc.clone(),
                format!("7z archive with {count} entries"),
            ));
            return "7z";
        }
        let mut escapes = crate::rules::container_archive_path_escape::Escapes::default();
        for file in &reader.archive().files {
            escapes.check(&file.name, || file.name.clone());
        }
        if let Some(finding) = escapes.finding(loc) {
            self.findings.push(finding);
        }
        // Members are scanned as they are decoded, never collected: a 7z of eight 128 MiB
        // members must not hold a gigabyte. Each draws on the artefact's expansion budget.
        let own_limit = self.budget(None);
        let result = reader.for_each_entries_with_decision(|entry, data| {
            if entry.is_directory || !entry.has_stream {
                return Ok(sevenz_rust2::EntryDecision::Continue);
            }
            let member_loc = loc.member(entry.name.clone());
            self.entries += 1;
            let mut limited = self.limit_decoder(data, own_limit);
            if let Some(next) = self.descend(&member_loc, depth) {
                self.scan_reader(&mut limited, Some(entry.size), &member_loc, next);
            }
            // Finish the member ourselves, within the budget, so the reader's own drain (which
            // knows no budget) has nothing left to do.
            limited.drain();
            if let Some(err) = limited.error.take() {
                self.incomplete(container_uninspectable_member::finding(
                    member_loc,
                    format!("7z data cannot be decoded: {err}"),
                ));
                return Ok(sevenz_rust2::EntryDecision::Stop);
            }
            if limited.hit_limit {
                self.expansion_exceeded(&member_loc, "decompressed 7z member", own_limit);
                return Ok(sevenz_rust2::EntryDecision::Stop);
            }
            Ok(sevenz_rust2::EntryDecision::Continue)
        });
        if let Err(e) = result {
            self.incomplete(container_uninspectable_member::finding(
                loc.clone(),
                format!("7z data cannot be decoded: {e}"),
            ));
        }
        "7z"
    }

    pub(crate) fn torchscript_note(&mut self, loc: &Location, code_files: usize) {
        self.findings
            .push(container_torchscript_code::finding(loc.clone(), code_files));
    }
}

/// Dictionary and model memory a 7z decoder may allocate (7-Zip's `-mx9` uses a 64 MiB
/// dictionary); larger ones are refused and reported.
const SEVEN_Z_DICTIONARY_MAX_KB: usize = 128 * 1024;

/// Container levels opened whatever `max_nesting` says: each level is a few stack frames of
/// recursion (scan, decoder, member reader), and this many fit well within a 2 MiB worker-thread
/// stack (tested with 256 KiB).
const NESTING_CEILING: usize = 16;

/// Below this many output bytes the ratio limit does not apply (small inputs compress well).
const RATIO_FLOOR: u64 = 16 * 1024 * 1024;

pub(crate) fn read_prefix(src: &mut dyn ReadSeek, n: u64) -> Vec<u8> {
    let mut prefix = Vec::new();
    if src.seek(SeekFrom::Start(0)).is_ok() {
        let _ = src.take(n).read_to_end(&mut prefix);
    }
    prefix
}

fn open_decoder<'a>(format: Format, src: &'a mut dyn Read) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match format {
        Format::Gzip => Box::new(flate2::read::MultiGzDecoder::new(src)),
        Format::Zlib => Box::new(flate2::read::ZlibDecoder::new(src)),
        Format::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(src)),
        Format::Xz => Box::new(lzma_rust2::XzReader::new(src, true)),
        Format::Lzma => Box::new(
            lzma_rust2::LzmaReader::new_mem_limit(src, 1024 * 1024, None)
                .map_err(|e| io::Error::other(e.to_string()))?,
        ),
        Format::Zstd => Box::new(zstd::stream::read::Decoder::new(src)?),
        Format::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(src)),
        Format::JoblibZfile => {
            // `ZF` + 19 characters of hex length (+ an optional space from old writers) + zlib.
            let mut header = [0u8; 21];
            src.read_exact(&mut header)?;
            let mut next = [0u8; 1];
            src.read_exact(&mut next)?;
            let rest: Box<dyn Read + 'a> = if next[0] == b' ' {
                Box::new(src)
            } else {
                Box::new(Cursor::new(next).chain(src))
            };
            Box::new(flate2::read::ZlibDecoder::new(rest))
        }
        other => {
            return Err(io::Error::other(format!(
                "{} is not a compression format",
                other.name()
            )));
        }
    })
}

/// Caps how much a decompressor may produce; remembers whether the cap was hit or the stream
/// was corrupt (a corrupt stream ends the data the loader would see).
pub(crate) struct LimitedReader<R> {
    inner: R,
    remaining: u64,
    shared: Expansion,
    pub produced: u64,
    pub hit_limit: bool,
    pub error: Option<String>,
}

impl<R: Read> LimitedReader<R> {
    fn new(inner: R, limit: u64, shared: Expansion) -> Self {
        LimitedReader {
            inner,
            remaining: limit,
            shared,
            produced: 0,
            hit_limit: false,
            error: None,
        }
    }

    /// Reads and discards the rest (bounded by the limits), e.g. to finish a checksum.
    pub(crate) fn drain(&mut self) {
        let mut sink = [0u8; 64 * 1024];
        while matches!(self.read(&mut sink), Ok(n) if n > 0) {}
    }
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.error.is_some() || buf.is_empty() {
            return Ok(0);
        }
        if self.hit_limit {
            return Ok(0);
        }
        let allowed = self.remaining.min(self.shared.remaining());
        if allowed == 0 {
            let mut probe = [0u8; 1];
            if matches!(self.inner.read(&mut probe), Ok(n) if n > 0) {
                self.hit_limit = true;
            }
            return Ok(0);
        }
        let want = usize::try_from(allowed)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        match self.inner.read(&mut buf[..want]) {
            Ok(n) => {
                self.remaining -= n as u64;
                self.produced += n as u64;
                self.shared.charge(n as u64);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                self.error = Some(e.to_string());
                Ok(0)
            }
        }
    }
}
