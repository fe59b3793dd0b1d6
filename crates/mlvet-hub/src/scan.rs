//! Scanning a Hub target: resolve the revision once, list the files at that commit, read each one
//! by ranges through the same analyses as a local scan, verify what was read whole.

use mlvet_core::{ArtifactOrigin, ArtifactReport, Location, ScanError};
use mlvet_formats::{ScanOptions, WalkedFile};
use rayon::prelude::*;
use std::collections::BTreeMap;

use crate::client::{HubClient, HubError, RepoFile, RepoInfo};
use crate::integrity;
use crate::remote::{ReadStats, RemoteFile};
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
}

impl Default for HubScanOptions {
    fn default() -> Self {
        HubScanOptions {
            scan: ScanOptions::default(),
            file_budget: 256 * 1024 * 1024,
            max_files: 5_000,
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
    fatal: Option<HubError>,
}

/// Everything a Hub scan produced.
#[derive(Debug, Clone)]
pub struct HubScan {
    pub target: HubTarget,
    /// The full commit the revision resolved to; every read named it.
    pub commit: String,
    pub artifacts: Vec<ArtifactReport>,
    pub errors: Vec<ScanError>,
    pub files: Vec<FileRead>,
}

/// Files the folder pass reads whole: the remote-code configs it follows (one list, in
/// `mlvet-formats`, so the two cannot drift) and the pipeline, custom-pipeline and adapter configs.
fn is_folder_config(name: &str) -> bool {
    mlvet_formats::folders::REMOTE_CODE_CONFIGS.contains(&name)
        || ["model_index.json", "custom_pipeline.json", "adapter_config.json"].contains(&name)
}
const MAX_FOLDER_CONFIG: u64 = 16 * 1024 * 1024;

/// Resolves the target's revision (one repo-info call) and lists the files to scan at that commit.
pub fn resolve(
    client: &HubClient,
    target: &HubTarget,
) -> Result<(RepoInfo, Vec<RepoFile>), HubError> {
    let info = client.repo_info(target)?;
    let files = match info.files() {
        Some(files) => files,
        None => client.list_tree(target, &info.sha)?,
    };
    let selected: Vec<RepoFile> = match &target.path {
        None => files,
        Some(path) => {
            let prefix = format!("{path}/");
            let selected: Vec<RepoFile> = files
                .into_iter()
                .filter(|f| f.path == *path || f.path.starts_with(&prefix))
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
    Ok((info, selected))
}

/// Scans a Hub target: an error only when nothing could be scanned (repository, revision, path,
/// access); per-file failures are in [`HubScan::errors`].
pub fn scan_target(
    client: &HubClient,
    target: &HubTarget,
    opts: &HubScanOptions,
) -> Result<HubScan, HubError> {
    let (info, mut files) = resolve(client, target)?;
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
    // The first file alone: access problems (gated, bad token) end the scan with one clear error.
    let mut outcomes = Vec::with_capacity(files.len());
    let mut rest = files.iter();
    if let Some(first) = rest.next() {
        let outcome = scan_file(client, target, &info, first, opts);
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
    outcomes.par_extend(
        rest.into_par_iter()
            .map(|file| scan_file(client, target, &info, file, opts)),
    );

    let tmp = tempfile::tempdir().map_err(|e| HubError::BadResponse {
        url: target.display(&commit, ""),
        message: format!("cannot create a temporary folder: {e}"),
    })?;
    let mut walked = Vec::new();
    let mut artifacts = Vec::new();
    let mut reads = Vec::new();
    for outcome in outcomes {
        let local = tmp.path().join(&outcome.read.path);
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
    })
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
    let commit = &info.sha;
    let display = target.display(commit, &file.path);
    let size = file.size.unwrap_or(0);
    let url = client.resolve_url(target, commit, &file.path);
    let mut remote = RemoteFile::new(
        client,
        &target.repo_id,
        commit,
        &file.path,
        url,
        size,
        opts.file_budget,
    );
    if size > ZIP_PREFETCH_MIN {
        prefetch_zip_local_headers(&mut remote);
    }
    let scanned = mlvet_formats::scan_reader(&mut remote, size, &display, &opts.scan);
    let name = file.path.rsplit('/').next().unwrap_or(&file.path);
    let config =
        if is_folder_config(name) && size <= MAX_FOLDER_CONFIG && remote.error.is_none() {
            remote.read_all().ok()
        } else {
            None
        };
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
        key: CacheKey {
            repo_type: target.repo_type.name(),
            repo_id: target.repo_id.clone(),
            commit: commit.clone(),
            path: file.path.clone(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        },
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
    let error = fatal.as_ref().map(|e| ScanError {
        path: display.clone(),
        message: e.to_string(),
    });
    FileOutcome {
        read,
        artifact,
        error,
        config,
        fatal,
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
/// Concurrent range requests of one prefetch.
const PREFETCH_PARALLEL: usize = 8;
/// Largest central directory read for the prefetch hint.
const PREFETCH_CD_MAX: u64 = 64 * 1024 * 1024;

/// A zip (a PyTorch checkpoint) is checked member by member, local header included, and the
/// local headers of tensor storages are spread through the file: read the central directory
/// first and fetch the blocks of every local header concurrently, so that the analysis (which
/// reads them one after the other) finds them cached. Only a hint: any parse failure here
/// leaves the analysis to read on demand, with the same bytes and the same verdict.
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
    let blocks: Vec<u64> = offsets
        .iter()
        .flat_map(|&(offset, name_len)| {
            let first = offset / crate::remote::BLOCK;
            let last = (offset + 30 + name_len + 64) / crate::remote::BLOCK;
            first..=last
        })
        .collect();
    remote.prefetch(&blocks, PREFETCH_PARALLEL);
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
