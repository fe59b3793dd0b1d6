use crate::SourceRef;

/// One dependency record of the scanned project, kept in the scan result so that reports can
/// list the whole inventory (JSON `packages[]`, CycloneDX components), not only the packages a
/// finding is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InventoryPackage {
    /// Unique within one scan report: the package URL (or `ecosystem/name`) with the file and
    /// line it was recorded at, so the same package listed by two files stays two records.
    pub id: String,
    /// OSV ecosystem name (`PyPI`, `npm`, `conda`...); empty when unknown.
    pub ecosystem: String,
    /// As written in the source.
    pub name: String,
    /// The exact version in use, when pinned or locked.
    pub version: Option<String>,
    /// The requirement as written when it is not an exact pin (`""` = any version).
    pub requirement: Option<String>,
    /// Environment markers as written (not evaluated).
    pub markers: Option<String>,
    /// `optional` when the record is only installed with an extra, otherwise unknown (`None`).
    pub scope: Option<String>,
    /// Package URL: as the record gave it (SBOMs), or built from ecosystem, name and version.
    pub purl: Option<String>,
    /// URL / VCS / path the package is installed from, as written.
    pub direct_url: Option<String>,
    pub source: SourceRef,
    /// Whether the package is on mlvet's curated list of ML libraries.
    pub ml: bool,
    /// `id`s of the packages this one depends on, where a lockfile or SBOM says so. Sorted.
    pub depends_on: Vec<String>,
    /// Whether the project itself requires this package, where its file records the project's
    /// own requirements (`uv.lock`, `pylock.toml`); `None` where the file does not say.
    pub direct: Option<bool>,
}
