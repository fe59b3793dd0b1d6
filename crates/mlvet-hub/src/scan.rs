//! Scanning a Hub target: resolve the revision once, list the files at that commit, read each one
//! by ranges through the same analyses as a local scan, verify what was read whole.

use mlvet_core::{ArtifactOrigin, ArtifactReport, Location, ScanError};
use mlvet_formats::{ScanOptions, WalkedFile};
use rayon::prelude::*;
use std::collections::BTreeMap;

use crate::client::{HubClient, HubError, RepoFile, RepoInfo};
use crate::integrity;
use crate::remote::{CachedReads, ReadStats, RemoteFile};
use crate::rules::hub_integrity_mismatch;
use crate::target::HubTarget;

/// Limits of one Hub scan.
#[derive(Debug, Clone)]
pub struct HubScanOptions {
    pub scan: ScanOptions,
    /// Bytes read from one file at most; a file needing more is reported not fully inspected.
    pub file_budget: u64,
    /// Files scanned per target; more is an error (the rest is not reported safe).
    pub max_files: usize,
    /// Which files are dependency manifests or code to hand back whole ([`HubScan::sources`])
    /// for the inventory and the code rules, by path and the first bytes; `None`: none.
    pub sources: Option<fn(&str, &[u8]) -> bool>,
    /// Largest source file read whole; a larger one is a scan error (not inspected).
    pub source_file_max: u64,
    /// Source bytes read per target at most; beyond, the rest are scan errors.
    pub source_total_max: u64,
    /// The version part of every [`CacheKey`]: mlvet's version and what else changes results
    /// (the service adds a digest of its rules).
    pub tool_version: String,
}

impl Default for HubScanOptions {
    fn default() -> Self {
        HubScanOptions {
            scan: ScanOptions::default(),
            file_budget: 256 * 1024 * 1024,
            max_files: 5_000,
            sources: None,
            source_file_max: 8 * 1024 * 1024,
            source_total_max: 64 * 1024 * 1024,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// What was verified about the bytes of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// Read whole; sha256 equals the commit's LFS sha256.
    Sha256Verified,
    /// Read whole; git blob id equals the commit's.
    GitBlobVerified,
    /// Read whole; the hash differs (a `hub-integrity-mismatch` finding).
    Mismatch,
    /// Read whole, but the listing gave no hash to compare with.
    NoReference,
    /// Read in part: integrity not claimed.
    Partial,
}

impl Integrity {
    pub fn as_str(self) -> &'static str {
        match self {
            Integrity::Sha256Verified => "sha256 verified (read whole)",
            Integrity::GitBlobVerified => "git blob id verified (read whole)",
            Integrity::Mismatch => "MISMATCH (read whole)",
            Integrity::NoReference => "read whole, no reference hash",
            Integrity::Partial => "partial read, not verified",
        }
    }
}

/// The cache key of one file's result: the same file at the same commit, scanned by the same
/// mlvet, gives the same report (for `mlvet serve`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CacheKey {
    pub repo_type: &'static str,
    pub repo_id: String,
    pub commit: String,
    pub path: String,
    pub tool_version: String,
}

/// One file of the repository and what reading it cost.
#[derive(Debug, Clone)]
pub struct FileRead {
    pub path: String,
    /// `hf://org/name@<commit>/<path>`.
    pub display: String,
    pub size: u64,
    pub stats: ReadStats,
    pub integrity: Integrity,
    /// The Hub's own scan status for the file.
    pub hub_scan: String,
    pub key: CacheKey,
}

/// The result of scanning one file.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    pub read: FileRead,
    pub artifact: Option<ArtifactReport>,
    pub error: Option<ScanError>,
    /// The whole content, for the files the folder pass reads (configs).
    config: Option<Vec<u8>>,
    /// The whole content of a dependency manifest or code file (see [`HubScanOptions::sources`]).
    source: Option<Vec<u8>>,
    fatal: Option<HubError>,
}

/// A dependency manifest or code file of the repository, read whole and verified, for the
/// analyses of local files (inventory, advisories, code rules).
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path in the repository.
    pub path: String,
    /// `hf://org/name@<commit>/<path>`.
    pub display: String,
    pub bytes: Vec<u8>,
}

/// Earlier reads of files, keyed by [`CacheKey`]: a scan seeds each file with what the cache
/// holds and only fetches what is missing (the service keeps one in its store, so the same file
/// at the same commit is never fetched twice by the same mlvet).
pub trait ReadCache: Sync {
    fn get(&self, key: &CacheKey) -> Option<CachedReads>;
    fn put(&self, key: &CacheKey, reads: &CachedReads);
}

/// Largest per-file read kept in a [`ReadCache`].
pub const CACHE_FILE_MAX: u64 = 32 * 1024 * 1024;

/// Everything a Hub scan produced.
#[derive(Debug, Clone)]
pub struct HubScan {
    pub target: HubTarget,
    /// The full commit the revision resolved to; every read named it.
    pub commit: String,
    pub artifacts: Vec<ArtifactReport>,
    pub errors: Vec<ScanError>,
    pub files: Vec<FileRead>,
    /// Dependency manifests and code, read whole (when [`HubScanOptions::sources`] is set).
    pub sources: Vec<SourceFile>,
}

/// Files the folder pass reads whole: the remote-code configs it follows (one list, in
/// `mlvet-formats`, so the two cannot drift) and the pipeline, custom-pipeline and adapter configs.
fn is_folder_config(name: &str) -> bool {
    mlvet_formats::folders::REMOTE_CODE_CONFIGS.contains(&name)
        || [
            "model_index.json",
            "custom_pipeline.json",
            "adapter_config.json",
        ]
        .contains(&name)
}
const MAX_FOLDER_CONFIG: u64 = 16 * 1024 * 1024;

/// Resolves the target's revision (one repo-info call) and lists the files to scan at that commit.
pub fn resolve(
    client: &HubClient,
    target: &HubTarget,
) -> Result<(RepoInfo, Vec<RepoFile>), HubError> {
    let (info, _, selected) = resolve_all(client, target)?;
    Ok((info, selected))
}

/// Like [`resolve`], with every file of the commit as well (the selection may be a folder or a
/// file; ONNX external data is looked up among all of them).
pub fn resolve_all(
    client: &HubClient,
    target: &HubTarget,
) -> Result<(RepoInfo, Vec<RepoFile>, Vec<RepoFile>), HubError> {
    let info = client.repo_info(target)?;
    let files = match info.files() {
        Some(files) => files,
        None => client.list_tree(target, &info.sha)?,
    };
    let selected: Vec<RepoFile> = match &target.path {
        None => files.clone(),
        Some(path) => {
            let prefix = format!("{path}/");
            let selected: Vec<RepoFile> = files
                .iter()
                .filter(|f| f.path == *path || f.path.starts_with(&prefix))
                .cloned()
                .collect();
            if selected.is_empty() {
                return Err(HubError::EntryNotFound {
                    repo: target.repo_id.clone(),
                    revision: info.sha.clone(),
                    path: path.clone(),
                });
            }
            selected
        }
    };
    Ok((info, files, selected))
}

/// Scans a Hub target: an error only when nothing could be scanned (repository, revision, path,
/// access); per-file failures are in [`HubScan::errors`].
pub fn scan_target(
    client: &HubClient,
    target: &HubTarget,
    opts: &HubScanOptions,
) -> Result<HubScan, HubError> {
    scan_target_cached(client, target, opts, None)
}

/// What every file's scan shares.
struct Context<'a> {
    client: &'a HubClient,
    target: &'a HubTarget,
    info: &'a RepoInfo,
    opts: &'a HubScanOptions,
    cache: Option<&'a dyn ReadCache>,
    /// The repository's files as empty sparse files of their sizes (ONNX external data).
    mirror: Option<&'a std::path::Path>,
    source_bytes: std::sync::atomic::AtomicU64,
}

/// [`scan_target`] with a cache of earlier reads (see [`ReadCache`]).
pub fn scan_target_cached(
    client: &HubClient,
    target: &HubTarget,
    opts: &HubScanOptions,
    cache: Option<&dyn ReadCache>,
) -> Result<HubScan, HubError> {
    let (info, all_files, mut files) = resolve_all(client, target)?;
    let commit = info.sha.clone();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut errors = Vec::new();
    if files.len() > opts.max_files {
        errors.push(ScanError {
            path: target.display(&commit, ""),
            message: format!(
                "{} files at this commit; only the first {} were scanned (the rest is NOT inspected)",
                files.len(),
                opts.max_files
            ),
        });
        files.truncate(opts.max_files);
    }
    let tmp = tempfile::tempdir().map_err(|e| HubError::BadResponse {
        url: target.display(&commit, ""),
        message: format!("cannot create a temporary folder: {e}"),
    })?;
    let mirror = if files.iter().any(|f| is_onnx(&f.path)) {
        let root = tmp.path().join("mirror");
        sparse_mirror(&root, &all_files, opts.max_files.saturating_mul(4));
        Some(root)
    } else {
        None
    };
    let context = Context {
        client,
        target,
        info: &info,
        opts,
        cache,
        mirror: mirror.as_deref(),
        source_bytes: std::sync::atomic::AtomicU64::new(0),
    };
    // The first file alone: access problems (gated, bad token) end the scan with one clear error.
    let mut outcomes = Vec::with_capacity(files.len());
    let mut rest = files.iter();
    if let Some(first) = rest.next() {
        let outcome = scan_one(&context, first);
        if let Some(fatal) = &outcome.fatal
            && matches!(
                fatal,
                HubError::Gated { .. }
                    | HubError::BadToken { .. }
                    | HubError::RepoNotFound { .. }
                    | HubError::Disabled { .. }
            )
        {
            return Err(fatal.clone());
        }
        outcomes.push(outcome);
    }
    let rest: Vec<&RepoFile> = rest.collect();
    outcomes.par_extend(rest.into_par_iter().map(|file| scan_one(&context, file)));

    let configs = tmp.path().join("configs");
    let mut walked = Vec::new();
    let mut artifacts = Vec::new();
    let mut reads = Vec::new();
    let mut sources = Vec::new();
    for outcome in outcomes {
        let local = configs.join(&outcome.read.path);
        if let Some(bytes) = &outcome.config
            && let Some(parent) = local.parent()
            && std::fs::create_dir_all(parent).is_ok()
        {
            let _ = std::fs::write(&local, bytes);
        }
        walked.push(WalkedFile {
            path: local,
            display: outcome.read.display.clone(),
            size: outcome.read.size,
        });
        if let Some(bytes) = outcome.source {
            sources.push(SourceFile {
                path: outcome.read.path.clone(),
                display: outcome.read.display.clone(),
                bytes,
            });
        }
        artifacts.extend(outcome.artifact);
        errors.extend(outcome.error);
        reads.push(outcome.read);
    }
    mlvet_formats::folders::apply(&walked, &mut artifacts);
    // Findings of the folder pass become artefacts of their own: give them their origin and reads.
    let by_display: BTreeMap<&str, &FileRead> =
        reads.iter().map(|r| (r.display.as_str(), r)).collect();
    for artifact in &mut artifacts {
        if let Some(read) = by_display.get(artifact.path.as_str()) {
            annotate(artifact, target, &commit, read);
        }
    }
    drop(tmp);
    Ok(HubScan {
        target: target.clone(),
        commit,
        artifacts,
        errors,
        files: reads,
        sources,
    })
}

fn is_onnx(path: &str) -> bool {
    path.rsplit('.')
        .next()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("onnx"))
}

/// The repository's file list as empty sparse files of the listed sizes under `root`, so that
/// the ONNX analysis checks external-data references (missing, escaping, shorter than
/// offset + length) exactly as for a local folder, without a byte of tensor data. Paths that
/// are not plain relative paths are left out (and so reported missing if referenced).
fn sparse_mirror(root: &std::path::Path, files: &[RepoFile], max: usize) {
    for file in files.iter().take(max) {
        let plain = !file.path.is_empty()
            && !file.path.starts_with('/')
            && !file.path.contains('\\')
            && !file.path.contains('\0')
            && file
                .path
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..");
        if !plain {
            continue;
        }
        let path = root.join(&file.path);
        let created = path
            .parent()
            .is_some_and(|parent| std::fs::create_dir_all(parent).is_ok())
            && std::fs::File::create(&path)
                .and_then(|f| f.set_len(file.size.unwrap_or(0)))
                .is_ok();
        if !created {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn annotate(artifact: &mut ArtifactReport, target: &HubTarget, commit: &str, read: &FileRead) {
    artifact.origin = Some(ArtifactOrigin {
        hub: "huggingface".to_string(),
        repo_type: target.repo_type.name().to_string(),
        repo_id: target.repo_id.clone(),
        revision: Some(commit.to_string()),
        path_in_repo: Some(read.path.clone()),
    });
    let meta = &mut artifact.metadata;
    meta.insert(
        "hub_bytes_read".to_string(),
        read.stats.bytes_read.to_string(),
    );
    meta.insert("hub_requests".to_string(), read.stats.requests.to_string());
    meta.insert(
        "hub_resolver_calls".to_string(),
        read.stats.resolver_calls.to_string(),
    );
    meta.insert(
        "hub_integrity".to_string(),
        read.integrity.as_str().to_string(),
    );
    meta.insert("hub_scan".to_string(), read.hub_scan.clone());
    if read.stats.range_ignored {
        meta.insert("hub_range_ignored".to_string(), "true".to_string());
    }
}

/// Scans one file of the repository at the pinned commit.
pub fn scan_file(
    client: &HubClient,
    target: &HubTarget,
    info: &RepoInfo,
    file: &RepoFile,
    opts: &HubScanOptions,
) -> FileOutcome {
    let context = Context {
        client,
        target,
        info,
        opts,
        cache: None,
        mirror: None,
        source_bytes: std::sync::atomic::AtomicU64::new(0),
    };
    scan_one(&context, file)
}

fn scan_one(context: &Context<'_>, file: &RepoFile) -> FileOutcome {
    let Context {
        client,
        target,
        info,
        opts,
        ..
    } = *context;
    let commit = &info.sha;
    let display = target.display(commit, &file.path);
    let size = file.size.unwrap_or(0);
    let url = client.resolve_url(target, commit, &file.path);
    let key = CacheKey {
        repo_type: target.repo_type.name(),
        repo_id: target.repo_id.clone(),
        commit: commit.clone(),
        path: file.path.clone(),
        tool_version: opts.tool_version.clone(),
    };
    let mut remote = RemoteFile::new(
        client,
        &target.repo_id,
        commit,
        &file.path,
        url,
        size,
        opts.file_budget,
    );
    let cached = context.cache.and_then(|cache| cache.get(&key));
    if let Some(cached) = &cached {
        remote.seed(cached);
    }
    if size > ZIP_PREFETCH_MIN && cached.is_none() {
        prefetch_zip_local_headers(&mut remote);
    }
    let folder = if is_onnx(&file.path) {
        context
            .mirror
            .map(|mirror| match file.path.rsplit_once('/') {
                Some((dir, _)) => mirror.join(dir),
                None => mirror.to_path_buf(),
            })
    } else {
        None
    };
    let scanned =
        mlvet_formats::scan_reader_in(&mut remote, size, &display, folder.as_deref(), &opts.scan);
    let name = file.path.rsplit('/').next().unwrap_or(&file.path);
    let config = if is_folder_config(name) && size <= MAX_FOLDER_CONFIG && remote.error.is_none() {
        remote.read_all().ok()
    } else {
        None
    };
    let (source, source_error) = read_source(context, &mut remote, &file.path, &display, size);
    let mut artifact = match scanned {
        Ok(artifact) => artifact,
        Err(error) => {
            let why = remote
                .error
                .as_ref()
                .map_or_else(|| error.to_string(), ToString::to_string);
            remote.error.get_or_insert(HubError::BadResponse {
                url: display.clone(),
                message: error.to_string(),
            });
            // Not even its start could be read: an artefact that is not fully inspected, never
            // a file silently left out.
            Some(ArtifactReport::new(
                display.clone(),
                "unknown".to_string(),
                size,
                false,
                vec![
                    mlvet_formats::rules::container_uninspectable_member::finding(
                        Location::file(&display),
                        format!("unreadable from the Hub: {why}"),
                    ),
                ],
            ))
        }
    };
    if let (Some(error), Some(report)) = (&remote.error, &mut artifact)
        && report.fully_inspected
    {
        // A read failed somewhere (an analysis may have taken it for "nothing there"): what
        // could not be read is never reported safe.
        report.fully_inspected = false;
        report.findings.push(
            mlvet_formats::rules::container_uninspectable_member::finding(
                Location::file(&display),
                format!("part of the file could not be read from the Hub: {error}"),
            ),
        );
        report.refresh_verdict();
    }
    let (integrity, mismatch) = verify(&remote, file, &display);
    let read = FileRead {
        path: file.path.clone(),
        display: display.clone(),
        size,
        stats: remote.stats.clone(),
        integrity,
        hub_scan: info.hub_scan_status(&file.path),
        key,
    };
    if let Some(mismatch) = &mismatch {
        // Bytes that are not the commit's: whatever the analyses said, the artefact is suspect.
        let report = artifact.get_or_insert_with(|| {
            ArtifactReport::new(
                display.clone(),
                "unknown".to_string(),
                size,
                true,
                Vec::new(),
            )
        });
        report.findings.push(mismatch.clone());
        report.refresh_verdict();
    }
    if let Some(report) = &mut artifact {
        if integrity == Integrity::Sha256Verified || integrity == Integrity::GitBlobVerified {
            report.sha256 = remote.content().map(|c| integrity::sha256_hex(&c));
        }
        annotate(report, target, commit, &read);
    }
    let fatal = remote.error.clone();
    if let Some(cache) = context.cache
        && fatal.is_none()
        && (cached.is_none() || remote.stats.requests > 0)
    {
        let reads = remote.export();
        if reads.len() <= CACHE_FILE_MAX {
            cache.put(&read.key, &reads);
        }
    }
    let error = fatal
        .as_ref()
        .map(|e| ScanError {
            path: display.clone(),
            message: e.to_string(),
        })
        .or(source_error);
    FileOutcome {
        read,
        artifact,
        error,
        config,
        source,
        fatal,
    }
}

/// The whole content of a dependency manifest or code file, within the per-file and per-scan
/// budgets; past them, a scan error (what was not read is not reported safe).
fn read_source(
    context: &Context<'_>,
    remote: &mut RemoteFile<'_>,
    path: &str,
    display: &str,
    size: u64,
) -> (Option<Vec<u8>>, Option<ScanError>) {
    use std::io::{Read, Seek, SeekFrom};
    use std::sync::atomic::Ordering;
    let Some(is_source) = context.opts.sources else {
        return (None, None);
    };
    if remote.error.is_some() {
        return (None, None);
    }
    let mut prefix = Vec::new();
    if remote.seek(SeekFrom::Start(0)).is_err()
        || (&mut *remote).take(4096).read_to_end(&mut prefix).is_err()
    {
        return (None, None);
    }
    if !is_source(path, &prefix) {
        return (None, None);
    }
    let too_large = |why: String| {
        (
            None,
            Some(ScanError {
                path: display.to_string(),
                message: format!("dependency or code file NOT inspected: {why}"),
            }),
        )
    };
    if size > context.opts.source_file_max {
        return too_large(format!(
            "{size} bytes, more than the {} read whole per file",
            context.opts.source_file_max
        ));
    }
    let total = context.source_bytes.fetch_add(size, Ordering::Relaxed) + size;
    if total > context.opts.source_total_max {
        return too_large(format!(
            "the repository's dependency and code files exceed {} bytes",
            context.opts.source_total_max
        ));
    }
    match remote.read_all() {
        Ok(bytes) => (Some(bytes), None),
        Err(_) => (None, None),
    }
}

fn verify(
    remote: &RemoteFile<'_>,
    file: &RepoFile,
    display: &str,
) -> (Integrity, Option<mlvet_core::Finding>) {
    let loc = || Location::file(display);
    if let (Some(etag), Some(sha)) = (&remote.linked_etag, &file.lfs_sha256)
        && etag.len() == 64
        && !etag.eq_ignore_ascii_case(sha)
    {
        return (
            Integrity::Mismatch,
            Some(hub_integrity_mismatch::finding(
                loc(),
                "X-Linked-Etag",
                sha,
                etag,
            )),
        );
    }
    let Some(content) = remote.content() else {
        return (Integrity::Partial, None);
    };
    if let Some(expected) = &file.lfs_sha256 {
        let got = integrity::sha256_hex(&content);
        return if got.eq_ignore_ascii_case(expected) {
            (Integrity::Sha256Verified, None)
        } else {
            (
                Integrity::Mismatch,
                Some(hub_integrity_mismatch::finding(
                    loc(),
                    "sha256",
                    expected,
                    &got,
                )),
            )
        };
    }
    if let Some(expected) = &file.blob_id {
        let got = integrity::git_blob_id(&content);
        return if got.eq_ignore_ascii_case(expected) {
            (Integrity::GitBlobVerified, None)
        } else {
            (
                Integrity::Mismatch,
                Some(hub_integrity_mismatch::finding(
                    loc(),
                    "git blob id",
                    expected,
                    &got,
                )),
            )
        };
    }
    (Integrity::NoReference, None)
}

/// Zips smaller than this are read in few ranges anyway.
const ZIP_PREFETCH_MIN: u64 = 4 * 1024 * 1024;
/// Largest central directory read for the prefetch hint.
const PREFETCH_CD_MAX: u64 = 64 * 1024 * 1024;
/// Bytes fetched after a local header's fixed part and name: its extra field (PyTorch pads to
/// 64-byte alignment, zip64 adds 20; 128 covers both) and then the first
/// [`STORAGE_PREFIX`] bytes of the member's data, which the analysis reads to tell a staged
/// pickle from raw tensor bytes. Without the prefix every storage cost a second (block)
/// request after its prefetched header.
const LOCAL_HEADER_SLACK: u64 = 128 + STORAGE_PREFIX;
/// What `mlvet-formats` reads of every stored member's data (its staged-pickle check).
const STORAGE_PREFIX: u64 = 256;
/// Bytes fetched before a local header (the previous member's data descriptor, which the
/// hidden-entry walk reads).
const DESCRIPTOR_SLACK: u64 = 16;
/// How the local headers are batched: neighbours within 16 KiB (what one block read cost
/// before) always share a request; beyond 64 requests, the nearest are merged while the
/// unneeded bytes stay under 1 MiB in total (on a 50 ms, 100 Mbit/s link a round trip costs
/// about as much as 600 KiB).
const LOCAL_HEADER_PLAN: crate::remote::RangePlan = crate::remote::RangePlan {
    gap: 16 * 1024,
    max_requests: 64,
    max_extra: 1024 * 1024,
    parallel: 8,
};

/// A zip (a PyTorch checkpoint) is checked member by member, local header included, and the
/// local headers of tensor storages are spread through the file: read the central directory
/// first and fetch every local header (exactly its bytes, merged with its neighbours where they
/// are close) concurrently, so that the analysis (which reads them one after the other) finds
/// them cached. Only a hint: any parse failure here leaves the analysis to read on demand, with
/// the same bytes and the same verdict.
fn prefetch_zip_local_headers(remote: &mut RemoteFile<'_>) {
    use std::io::{Read, Seek, SeekFrom};
    let size = remote.size();
    let mut magic = [0u8; 4];
    if remote.seek(SeekFrom::Start(0)).is_err()
        || remote.read_exact(&mut magic).is_err()
        || magic != *b"PK\x03\x04"
    {
        let _ = remote.seek(SeekFrom::Start(0));
        return;
    }
    let offsets = zip_local_header_offsets(remote, size).unwrap_or_default();
    let _ = remote.seek(SeekFrom::Start(0));
    if remote.error.is_some() {
        return;
    }
    let ranges: Vec<(u64, u64)> = offsets
        .iter()
        .map(|&(offset, name_len)| {
            (
                offset.saturating_sub(DESCRIPTOR_SLACK),
                offset + 30 + name_len + LOCAL_HEADER_SLACK,
            )
        })
        .collect();
    remote.prefetch_ranges(&ranges, &LOCAL_HEADER_PLAN);
}

/// `(local header offset, name length)` of every central-directory entry.
fn zip_local_header_offsets(remote: &mut RemoteFile<'_>, size: u64) -> Option<Vec<(u64, u64)>> {
    use std::io::{Read, Seek, SeekFrom};
    let u16_at = |b: &[u8], i: usize| -> Option<u64> {
        Some(u64::from(u16::from_le_bytes(
            b.get(i..i + 2)?.try_into().ok()?,
        )))
    };
    let u32_at = |b: &[u8], i: usize| -> Option<u64> {
        Some(u64::from(u32::from_le_bytes(
            b.get(i..i + 4)?.try_into().ok()?,
        )))
    };
    let u64_at = |b: &[u8], i: usize| -> Option<u64> {
        Some(u64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?))
    };
    let mut read_at = |offset: u64, len: u64| -> Option<Vec<u8>> {
        remote.seek(SeekFrom::Start(offset)).ok()?;
        let mut buf = vec![0; usize::try_from(len).ok()?];
        remote.read_exact(&mut buf).ok()?;
        Some(buf)
    };
    let tail_len = size.min(65_557);
    let tail_start = size - tail_len;
    let tail = read_at(tail_start, tail_len)?;
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06"))?;
    let mut cd_size = u32_at(&tail, eocd + 12)?;
    let mut cd_offset = u32_at(&tail, eocd + 16)?;
    if (cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF)
        && eocd >= 20
        && tail[eocd - 20..].starts_with(b"PK\x06\x07")
    {
        let record = read_at(u64_at(&tail, eocd - 20 + 8)?, 56)?;
        if !record.starts_with(b"PK\x06\x06") {
            return None;
        }
        cd_size = u64_at(&record, 40)?;
        cd_offset = u64_at(&record, 48)?;
    }
    if cd_size > PREFETCH_CD_MAX || cd_offset.checked_add(cd_size)? > size {
        return None;
    }
    let cd = read_at(cd_offset, cd_size)?;
    let mut offsets = Vec::new();
    let mut at = 0usize;
    while cd.get(at..at + 4) == Some(b"PK\x01\x02") {
        let name_len = u16_at(&cd, at + 28)?;
        let extra_len = u16_at(&cd, at + 30)?;
        let comment_len = u16_at(&cd, at + 32)?;
        let offset = u32_at(&cd, at + 42)?;
        if offset != 0xFFFF_FFFF && offset < size {
            offsets.push((offset, name_len));
        }
        at += 46 + usize::try_from(name_len + extra_len + comment_len).ok()?;
    }
    Some(offsets)
}
