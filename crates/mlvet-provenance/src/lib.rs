//! Provenance for ML artefacts.
//!
//! - [`lockfile`]: `mlvet.lock`, the pinned inventory of a folder's models, tokenizers and
//!   datasets (size, SHA-256, format, verdict, origin), and the diff `mlvet lock --check` reports.
//! - [`hubcache`]: Hugging Face cache blobs checked against their content address.
//! - [`oms`]: OpenSSF model signing bundles, verified (key and certificate methods) and signed
//!   (key method), interoperable with the reference `model-signing` tool.
//! - [`hashing`]: the parallel hashing engine all of them use.
//! - [`artifacts`]: which files, beyond those the scan analyses, are artefacts worth pinning.

pub mod artifacts;
pub mod hashing;
pub mod hubcache;
pub mod lockfile;
pub mod oms;
