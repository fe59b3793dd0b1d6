//! Turns each parsed inventory into the scan result's `packages`: every dependency record with
//! a package URL, the ML flag, and the edges its lockfile records, resolved to package ids.

use std::collections::{BTreeMap, BTreeSet};

use mlvet_core::InventoryPackage;
use mlvet_inventory::{Dependency, DependencyEdge};

/// Hands out package ids unique across the whole scan.
#[derive(Default)]
pub struct IdAllocator {
    used: BTreeSet<String>,
}

impl IdAllocator {
    fn allocate(&mut self, base: String) -> String {
        let mut id = base.clone();
        let mut n = 2u32;
        while !self.used.insert(id.clone()) {
            id = format!("{base}#{n}");
            n = n.saturating_add(1);
        }
        id
    }
}

/// The packages of one inventory file, with `depends_on` filled from its edges and `direct`
/// from the project's own requirements (`direct`: normalised names, sorted; empty where the
/// file does not record them). The records are moved into the packages (no second copy of a
/// large inventory).
pub fn from_dependencies(
    dependencies: Vec<Dependency>,
    edges: &[DependencyEdge],
    direct: &[String],
    ids: &mut IdAllocator,
) -> Vec<InventoryPackage> {
    let is_direct = |name: &str| {
        (!direct.is_empty()).then(|| direct.binary_search_by(|d| d.as_str().cmp(name)).is_ok())
    };
    // Edges name packages by normalised name within this file (lockfiles are PyPI-only).
    let names: Vec<String> = if edges.is_empty() {
        Vec::new()
    } else {
        dependencies
            .iter()
            .map(|d| d.normalized_name.clone())
            .collect()
    };
    let mut packages: Vec<InventoryPackage> = dependencies
        .into_iter()
        .map(|d| {
            let direct = is_direct(&d.normalized_name);
            InventoryPackage {
                direct,
                ..package(d, ids)
            }
        })
        .collect();
    if edges.is_empty() {
        return packages;
    }
    let mut ids_by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, package) in names.iter().zip(&packages) {
        ids_by_name
            .entry(name.as_str())
            .or_default()
            .push(package.id.clone());
    }
    let mut targets_by_name: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for edge in edges {
        if let Some(targets) = ids_by_name.get(edge.to.as_str()) {
            targets_by_name
                .entry(edge.from.as_str())
                .or_default()
                .extend(targets.iter().cloned());
        }
    }
    for (name, package) in names.iter().zip(packages.iter_mut()) {
        if let Some(targets) = targets_by_name.get(name.as_str()) {
            package.depends_on = targets
                .iter()
                .filter(|t| **t != package.id)
                .cloned()
                .collect();
        }
    }
    packages
}

fn package(dependency: Dependency, ids: &mut IdAllocator) -> InventoryPackage {
    let purl = dependency.purl.or_else(|| {
        mlvet_inventory::purl_for(
            &dependency.ecosystem,
            &dependency.name,
            dependency.version.as_deref(),
        )
    });
    let base = purl
        .clone()
        .unwrap_or_else(|| format!("{}/{}", dependency.ecosystem, dependency.name));
    let place = match dependency.source.line {
        Some(line) => format!("{}:{line}", dependency.source.file),
        None => dependency.source.file.clone(),
    };
    let markers = dependency.markers;
    // An `extra == "..."` marker means the package is only installed with that extra.
    let scope = markers
        .as_deref()
        .filter(|m| m.contains("extra"))
        .map(|_| "optional".to_string());
    InventoryPackage {
        id: ids.allocate(format!("{base}|{place}")),
        ml: dependency.ecosystem == "PyPI"
            && mlvet_osv::ml::is_ml_package(&dependency.normalized_name),
        ecosystem: dependency.ecosystem,
        name: dependency.name,
        version: dependency.version,
        requirement: dependency.requirement,
        markers,
        scope,
        purl,
        direct_url: dependency.direct_url,
        source: dependency.source,
        depends_on: Vec::new(),
        direct: None,
    }
}
