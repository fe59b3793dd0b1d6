//! The finding model shared by every mlvet analysis.
//!
//! Analyses (format parsers, the pickle VM, the vulnerability matcher) return [`Finding`]s and
//! [`ArtifactReport`]s; they never print. Renderers are pure functions of a [`ScanReport`].
//! Every finding names a stable kebab-case rule id described by a [`RuleMeta`]; rule ids are public
//! API and documented in `docs/rules.md`.

mod finding;
pub mod fs;
mod location;
mod package;
mod report;
mod rule;
mod severity;

pub use finding::{
    AdvisoryRef, Evidence, Finding, PackageRef, SourceRef, Suppression, SuppressionKind,
};
pub use location::Location;
pub use package::InventoryPackage;
pub use report::{
    ArtifactKind, ArtifactOrigin, ArtifactReport, DatabaseInfo, ScanError, ScanReport,
};
pub use rule::{RuleMeta, render_rules_markdown};
pub use severity::{Confidence, ParseLevelError, Severity, Verdict};
