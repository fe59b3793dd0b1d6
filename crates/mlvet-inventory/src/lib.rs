//! Dependency inventory for ML projects.
//!
//! Finds every dependency a project really has — from requirements files (with their includes),
//! `pyproject.toml` (PEP 621, PEP 735, Poetry), lockfiles (Poetry, Pipenv, PDM, uv, PEP 751),
//! conda environments, conda-lock files and installed conda packages, installed `*.dist-info` /
//! `*.egg-info` metadata, and CycloneDX / SPDX SBOMs — and records for each package the file and
//! the 1-based line it came from.
//!
//! Principles:
//! - A requirement without an exact pin keeps `version: None` and its specifier in `requirement`;
//!   it is never dropped and never treated as pinned.
//! - URL, VCS and path requirements are reported with `direct_url` (never dropped).
//! - Parse problems become findings (`dependency-parse-error`, with the line) and the rest of the
//!   file is still read. Every parser is bounded (file size, nesting, entry count).
//! - Nothing is executed, fetched or evaluated; environment variables in requirement lines are not
//!   expanded.

mod conda;
mod detect;
mod installed;
mod json;
mod lockfiles;
mod names;
mod pep508;
mod purl;
mod pyproject;
mod requirements;
mod rules;
mod sbom;
mod sink;
mod text;
mod toml_doc;

use std::path::Path;

use mlvet_core::{Finding, RuleMeta, SourceRef};

pub use conda::{CONDA_TO_PYPI, conda_to_pypi_name};
pub use names::normalize_pypi_name;
pub use purl::{Purl, purl_for, purl_type_to_ecosystem};
pub use rules::{
    dependency_include_outside_root, dependency_include_unresolved, dependency_inventory_truncated,
    dependency_parse_error, dependency_unidentified_component,
};

/// Largest inventory file read (bytes). Real lockfiles and SBOMs of ML projects are a few MiB.
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;
/// Most dependency records taken from one file (including its requirement includes). Each record
/// costs about 500 bytes held (the struct and its strings), so this bound keeps one file's
/// inventory near 50 MB, inside the input + 100 MB budget; the largest real SBOMs (whole container
/// images) list tens of thousands of components, ML lockfiles a few thousand.
pub const MAX_ENTRIES: usize = 100_000;
/// Deepest chain of `-r`/`-c` includes followed.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Longest package name kept (bytes). Real names are short (PyPI caps them far lower; Maven
/// coordinates and Go module paths stay well under this); a longer one is refused with a
/// finding, so that no hostile file can make every later step (matching, reports, the advisory
/// database) carry megabytes per name. The OSV record model applies the same limits.
pub const MAX_NAME_BYTES: usize = 512;
/// Longest version kept (bytes).
pub const MAX_VERSION_BYTES: usize = 256;
/// Longest requirement, marker expression, URL or package URL kept (bytes).
pub const MAX_SPEC_BYTES: usize = 8 * 1024;
/// Most dependency edges (`a` depends on `b`) kept from one lockfile: a real lockfile has a few
/// per package; this allows 16 per entry at the entry limit.
pub const MAX_EDGES: usize = 16 * MAX_ENTRIES;
/// Deepest nesting of JSON/XML structure (and CycloneDX components) parsed.
pub const MAX_NESTING: usize = 128;

/// Which kind of inventory source a dependency record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    Requirements,
    Pyproject,
    PoetryLock,
    PipfileLock,
    PdmLock,
    UvLock,
    Pylock,
    CondaEnv,
    CondaLock,
    CondaMeta,
    DistInfo,
    EggInfo,
    CycloneDx,
    Spdx,
}

/// One package a project depends on, with where it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dependency {
    /// OSV ecosystem name: `PyPI`, `npm`, `Go`, `Maven`, `conda` (non-Python conda
    /// packages), ... Empty when unknown (an SBOM component without a package URL).
    pub ecosystem: String,
    /// As written in the source.
    pub name: String,
    /// PEP 503 for PyPI; lowercased for case-insensitive ecosystems; as written otherwise.
    pub normalized_name: String,
    /// The exact version in use: lockfiles, installed metadata, SBOMs, `==1.2.3` (not `==1.*`),
    /// `===x`, or a version fixed by a constraints file.
    pub version: Option<String>,
    /// The specifier set as written when the entry is not an exact pin (`""` = any version).
    pub requirement: Option<String>,
    /// Environment markers as written, not evaluated.
    pub markers: Option<String>,
    pub extras: Vec<String>,
    pub source: SourceRef,
    pub origin: Origin,
    /// URL / VCS / path the package is installed from, as written.
    pub direct_url: Option<String>,
    /// The package URL, when the record came from an SBOM.
    pub purl: Option<String>,
}

/// The kinds of file the inventory understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ManifestKind {
    Requirements,
    Pyproject,
    PoetryLock,
    PipfileLock,
    PdmLock,
    UvLock,
    Pylock,
    CondaEnvironment,
    CondaLock,
    CondaMeta,
    DistInfoMetadata,
    EggInfo,
    CycloneDxJson,
    CycloneDxXml,
    SpdxJson,
    SpdxTagValue,
}

impl ManifestKind {
    pub const ALL: [ManifestKind; 16] = [
        ManifestKind::Requirements,
        ManifestKind::Pyproject,
        ManifestKind::PoetryLock,
        ManifestKind::PipfileLock,
        ManifestKind::PdmLock,
        ManifestKind::UvLock,
        ManifestKind::Pylock,
        ManifestKind::CondaEnvironment,
        ManifestKind::CondaLock,
        ManifestKind::CondaMeta,
        ManifestKind::DistInfoMetadata,
        ManifestKind::EggInfo,
        ManifestKind::CycloneDxJson,
        ManifestKind::CycloneDxXml,
        ManifestKind::SpdxJson,
        ManifestKind::SpdxTagValue,
    ];

    /// A stable kebab-case name, used as the artefact format in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ManifestKind::Requirements => "requirements",
            ManifestKind::Pyproject => "pyproject",
            ManifestKind::PoetryLock => "poetry-lock",
            ManifestKind::PipfileLock => "pipfile-lock",
            ManifestKind::PdmLock => "pdm-lock",
            ManifestKind::UvLock => "uv-lock",
            ManifestKind::Pylock => "pylock",
            ManifestKind::CondaEnvironment => "conda-environment",
            ManifestKind::CondaLock => "conda-lock",
            ManifestKind::CondaMeta => "conda-meta",
            ManifestKind::DistInfoMetadata => "dist-info-metadata",
            ManifestKind::EggInfo => "egg-info",
            ManifestKind::CycloneDxJson => "cyclonedx-json",
            ManifestKind::CycloneDxXml => "cyclonedx-xml",
            ManifestKind::SpdxJson => "spdx-json",
            ManifestKind::SpdxTagValue => "spdx-tag-value",
        }
    }

    /// The origin recorded on dependencies read from this kind of file.
    pub fn origin(self) -> Origin {
        match self {
            ManifestKind::Requirements => Origin::Requirements,
            ManifestKind::Pyproject => Origin::Pyproject,
            ManifestKind::PoetryLock => Origin::PoetryLock,
            ManifestKind::PipfileLock => Origin::PipfileLock,
            ManifestKind::PdmLock => Origin::PdmLock,
            ManifestKind::UvLock => Origin::UvLock,
            ManifestKind::Pylock => Origin::Pylock,
            ManifestKind::CondaEnvironment => Origin::CondaEnv,
            ManifestKind::CondaLock => Origin::CondaLock,
            ManifestKind::CondaMeta => Origin::CondaMeta,
            ManifestKind::DistInfoMetadata => Origin::DistInfo,
            ManifestKind::EggInfo => Origin::EggInfo,
            ManifestKind::CycloneDxJson | ManifestKind::CycloneDxXml => Origin::CycloneDx,
            ManifestKind::SpdxJson | ManifestKind::SpdxTagValue => Origin::Spdx,
        }
    }
}

impl std::fmt::Display for ManifestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `from` depends on `to`: both are normalised names of packages in the same file. Recorded from
/// `uv.lock` (`dependencies`), `poetry.lock` (`[package.dependencies]`) and `pylock.toml`
/// (`dependencies`); a name that no record of the file carries is kept (the consumer decides).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DependencyEdge {
    pub from: String,
    pub to: String,
}

/// The result of parsing one inventory file.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    pub kind: ManifestKind,
    /// Sorted by source (file, line), then name.
    pub dependencies: Vec<Dependency>,
    /// Parse problems, unresolved includes, unidentified SBOM components...
    pub findings: Vec<Finding>,
    /// False when any part could not be read (parse errors, skipped includes, limits).
    pub fully_parsed: bool,
    /// The dependency graph where the file records one (lockfiles), sorted; empty otherwise.
    pub edges: Vec<DependencyEdge>,
    /// Normalised names the file records as the project's own requirements (`uv.lock` and
    /// `pylock.toml`: the dependencies of the project's editable/virtual entry and of its
    /// workspace members), sorted. The project itself is not a dependency record. Empty where
    /// the file does not say (`poetry.lock` leaves that to `pyproject.toml`).
    pub direct: Vec<String>,
}

/// A file that could not be inventoried at all.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is {size} bytes, above the {limit}-byte limit for inventory files")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("invalid environment markers `{markers}`: {message}")]
    Markers { markers: String, message: String },
    #[error("invalid target environment: {0}")]
    TargetEnv(String),
}

/// The environment markers are evaluated against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetEnv {
    /// `major.minor`, e.g. `3.11` (`python_version`).
    pub python_version: String,
    /// `sys.platform`: `linux`, `darwin` or `win32`.
    pub platform: String,
    /// `platform.python_implementation()`: `CPython` by default.
    pub implementation: String,
    /// `platform.machine()`, e.g. `x86_64`.
    pub machine: String,
    /// Exact interpreter version; `python_version` + `.0` when `None`.
    pub python_full_version: Option<String>,
}

impl TargetEnv {
    /// CPython `python_version` on `platform` (`linux`, `darwin`, `win32`), x86_64.
    pub fn new(python_version: impl Into<String>, platform: impl Into<String>) -> Self {
        TargetEnv {
            python_version: python_version.into(),
            platform: platform.into(),
            implementation: "CPython".to_string(),
            machine: "x86_64".to_string(),
            python_full_version: None,
        }
    }
}

/// Decides by file name / path (and a content prefix for `.json`/`.xml`/`.spdx`/`.txt`/`.yml`
/// ambiguity) whether a file is an inventory source.
pub fn detect(path: &Path, prefix: &[u8]) -> Option<ManifestKind> {
    detect::detect(path, prefix)
}

/// Parses one inventory file. `display` is the path as the user should see it; `root` bounds
/// `-r`/`-c` includes of requirements files (an include escaping `root` is a finding, not
/// followed). Installed `METADATA` also reads a sibling `direct_url.json` (PEP 610).
pub fn parse_file(
    path: &Path,
    display: &str,
    kind: ManifestKind,
    root: &Path,
) -> Result<Inventory, InventoryError> {
    let content = text::read_text(path, display)?;
    let mut sink = sink::Sink::new(display, kind);
    if content.lossy {
        sink.parse_error(None, "file is not valid UTF-8 (or UTF-16 with a byte-order mark); invalid bytes were replaced");
    }
    match kind {
        ManifestKind::Requirements => {
            requirements::parse_with_includes(&content.text, path, display, root, &mut sink);
        }
        ManifestKind::CondaEnvironment => {
            conda::parse_environment(&content.text, Some((path, root)), &mut sink)
        }
        ManifestKind::DistInfoMetadata => {
            installed::parse_metadata(&content.text, &mut sink);
            installed::attach_direct_url(path, &mut sink);
        }
        _ => dispatch(&content.text, kind, &mut sink),
    }
    Ok(sink.finish())
}

/// Parses inventory content without touching the file system (no includes followed).
pub fn parse_str(content: &str, display: &str, kind: ManifestKind) -> Inventory {
    let mut sink = sink::Sink::new(display, kind);
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    match kind {
        ManifestKind::Requirements => requirements::parse_without_includes(content, &mut sink),
        ManifestKind::CondaEnvironment => conda::parse_environment(content, None, &mut sink),
        _ => dispatch(content, kind, &mut sink),
    }
    sink.finish()
}

fn dispatch(content: &str, kind: ManifestKind, sink: &mut sink::Sink) {
    match kind {
        ManifestKind::Requirements => requirements::parse_without_includes(content, sink),
        ManifestKind::Pyproject => pyproject::parse(content, sink),
        ManifestKind::PoetryLock => lockfiles::parse_poetry_lock(content, sink),
        ManifestKind::PipfileLock => lockfiles::parse_pipfile_lock(content, sink),
        ManifestKind::PdmLock => lockfiles::parse_pdm_lock(content, sink),
        ManifestKind::UvLock => lockfiles::parse_uv_lock(content, sink),
        ManifestKind::Pylock => lockfiles::parse_pylock(content, sink),
        ManifestKind::CondaEnvironment => conda::parse_environment(content, None, sink),
        ManifestKind::CondaLock => conda::parse_conda_lock(content, sink),
        ManifestKind::CondaMeta => conda::parse_conda_meta(content, sink),
        ManifestKind::DistInfoMetadata | ManifestKind::EggInfo => {
            installed::parse_metadata(content, sink)
        }
        ManifestKind::CycloneDxJson => sbom::parse_cyclonedx_json(content, sink),
        ManifestKind::CycloneDxXml => sbom::parse_cyclonedx_xml(content, sink),
        ManifestKind::SpdxJson => sbom::parse_spdx_json(content, sink),
        ManifestKind::SpdxTagValue => sbom::parse_spdx_tag_value(content, sink),
    }
}

/// Whether `markers` (PEP 508 environment markers) hold in `env`. Markers that test `extra` are
/// false (no extras are requested); an empty string is true.
pub fn markers_apply(markers: &str, env: &TargetEnv) -> Result<bool, InventoryError> {
    pep508::markers_apply(markers, env)
}

/// Every rule this crate can emit.
pub fn rules() -> Vec<&'static RuleMeta> {
    rules::all()
}
