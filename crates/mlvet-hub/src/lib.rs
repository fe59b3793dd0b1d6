//! Scan a Hugging Face Hub repository before downloading it: `mlvet scan hf://org/name[@rev][/path]`.
//!
//! The pipeline, usable by the CLI and by `mlvet serve`:
//! 1. [`parse_target`]: an `hf://` URI or a Hub web URL → [`HubTarget`].
//! 2. [`scan::resolve`]: one repo-info call pins the revision to its 40-hex commit and lists the
//!    files with their sizes, LFS sha256 and git blob ids (and the Hub's own scan status).
//! 3. [`scan::scan_file`] per file: a [`RemoteFile`] (`Read + Seek` over ranges fetched on
//!    demand) goes through [`mlvet_formats::scan_reader`], the same analyses as a local file, so
//!    only the bytes a loader acts on are read (zip end records and central directory, every
//!    pickle member, safetensors/GGUF headers, ONNX graphs without weights…). Every request names
//!    the commit and checks `X-Repo-Commit`; the token goes to the Hub's origin only.
//! 4. Files read whole are hashed against the commit's records; partial reads say so.
//! 5. [`scan::scan_target`] runs the model-folder pass over the results and returns
//!    [`mlvet_core::ArtifactReport`]s keyed by [`scan::CacheKey`] (commit, path, mlvet version).
//!
//! With the `mock` feature, [`mock`] is a loopback Hub and CDN (two host names) reproducing the
//! behaviours of the research note (`shared/research/hub.md` §5) for tests and benchmarks.

pub mod budget;
pub mod client;
mod integrity;
#[cfg(feature = "mock")]
pub mod mock;
pub mod remote;
pub mod rules;
pub mod scan;
pub mod target;

pub use budget::{Bucket, RateBudget};
pub use client::{DEFAULT_ENDPOINT, HubClient, HubConfig, HubError, RepoFile, RepoInfo};
pub use integrity::{git_blob_id, sha256_hex};
pub use remote::{CachedReads, ReadStats, RemoteFile};
pub use scan::{
    CacheKey, FileRead, HubScan, HubScanOptions, Integrity, ReadCache, SourceFile, scan_target,
    scan_target_cached,
};
pub use target::{HubTarget, RepoType, TargetError, is_hub_target, parse_target};

/// Every rule this crate can emit.
pub fn rules() -> Vec<&'static mlvet_core::RuleMeta> {
    rules::all()
}
