//! The rules this crate's findings are filed under: one file per rule, docs beside the code.

pub mod dependency_malicious_package;
pub mod dependency_not_matched;
pub mod dependency_unpinned;
pub mod dependency_unversioned;
pub mod dependency_vulnerable;

use mlvet_core::{Location, PackageRef};

/// Where a dependency finding points: the manifest, lockfile or SBOM line that declared it.
pub(crate) fn location_of(package: &PackageRef) -> Location {
    let location = Location::file(package.source.file.clone());
    match package.source.line {
        Some(line) => location.with_line(line),
        None => location,
    }
}

/// `name version` or `name requirement` for messages.
pub(crate) fn display_package(package: &PackageRef) -> String {
    match (&package.version, &package.requirement) {
        (Some(version), _) => format!("{} {}", package.name, version),
        (None, Some(requirement)) if !requirement.trim().is_empty() => {
            format!("{} ({})", package.name, requirement.trim())
        }
        _ => package.name.clone(),
    }
}
