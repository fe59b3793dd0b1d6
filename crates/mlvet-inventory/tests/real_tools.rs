//! The inventory of real tools' output equals the tools' own reading of it.
//!
//! `tests/data/real-tools/` holds trimmed output of pip-compile, uv, pip freeze and cyclonedx-py,
//! and trimmed real installed metadata (a virtual environment with editable installs, PEP 610
//! `direct_url.json`, a namespace package, metadata vendored inside setuptools, a build manifest
//! shipped as package data, a PEP 770 SBOM; Debian `*.egg-info`). `expected.json` holds, per file,
//! the package set computed by Python: pip's own requirements-file parser, the SBOM documents'
//! components, and `importlib.metadata.distributions()` over the installed trees (see the README).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use mlvet_inventory::{Inventory, ManifestKind, detect, parse_file};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real-tools");

/// What the CLI reads to decide what a file is.
const SNIFF_BYTES: u64 = 4096;

fn sniff(path: &Path) -> Vec<u8> {
    let mut prefix = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(SNIFF_BYTES).read_to_end(&mut prefix))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    prefix
}

fn expected() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("expected.json")).expect("expected");
    serde_json::from_str(&text).expect("expected.json")
}

/// `name==version` (PEP 503 name) for pinned PyPI records, `name` otherwise.
fn key(dep: &mlvet_inventory::Dependency) -> String {
    match &dep.version {
        Some(version) => format!("{}=={version}", dep.normalized_name),
        None => dep.normalized_name.clone(),
    }
}

fn inventory_of(relative: &str) -> Inventory {
    let path = Path::new(ROOT).join(relative);
    let kind = detect(&path, &sniff(&path)).unwrap_or_else(|| panic!("{relative} not detected"));
    parse_file(&path, relative, kind, Path::new(ROOT)).expect("parse")
}

#[test]
fn requirements_written_by_resolvers() {
    let expected = expected();
    for relative in [
        "pip-compile/requirements.txt",
        "uv-pip-compile/requirements-universal.txt",
        "uv-export/deps.txt",
        "pip-freeze/requirements.txt",
    ] {
        let inventory = inventory_of(relative);
        assert_eq!(inventory.kind, ManifestKind::Requirements, "{relative}");
        assert!(
            inventory.fully_parsed,
            "{relative}: {:?}",
            inventory.findings
        );
        // pip skips nothing but the editable project itself, which has no version (below).
        let pinned: BTreeSet<String> = inventory
            .dependencies
            .iter()
            .filter(|d| d.direct_url.is_none())
            .map(key)
            .collect();
        assert_eq!(&pinned, &expected[relative], "{relative}");
        assert_eq!(
            inventory.dependencies.len(),
            pinned.len()
                + inventory
                    .dependencies
                    .iter()
                    .filter(|d| d.direct_url.is_some())
                    .count(),
            "{relative}: one record per package"
        );
    }
}

#[test]
fn markers_and_extras_of_a_universal_resolution_are_kept() {
    let inventory = inventory_of("uv-pip-compile/requirements-universal.txt");
    let colorama = inventory
        .dependencies
        .iter()
        .find(|d| d.normalized_name == "colorama")
        .expect("colorama");
    assert_eq!(colorama.markers.as_deref(), Some("sys_platform == 'win32'"));
    assert_eq!(colorama.version.as_deref(), Some("0.4.6"));
    let pinned_compile = inventory_of("pip-compile/requirements.txt");
    let transformers = pinned_compile
        .dependencies
        .iter()
        .find(|d| d.normalized_name == "transformers")
        .expect("transformers");
    assert_eq!(transformers.extras, vec!["sentencepiece".to_string()]);
    assert_eq!(transformers.version.as_deref(), Some("5.24.0"));
}

#[test]
fn the_exported_project_itself_is_named_after_its_folder() {
    // `uv export` writes `-e .` for the project: kept (never dropped), as a path requirement.
    let inventory = inventory_of("uv-export/deps.txt");
    let project: Vec<_> = inventory
        .dependencies
        .iter()
        .filter(|d| d.direct_url.is_some())
        .collect();
    assert_eq!(project.len(), 1);
    assert_eq!(project[0].name, "uv-export");
    assert_eq!(project[0].direct_url.as_deref(), Some("."));
    assert_eq!(project[0].version, None);
}

#[test]
fn cyclonedx_py_sboms_of_every_spec_version() {
    let expected = expected();
    for (relative, kind) in [
        ("cyclonedx-py/env-1.4.cdx.xml", ManifestKind::CycloneDxXml),
        ("cyclonedx-py/env-1.5.cdx.json", ManifestKind::CycloneDxJson),
        ("cyclonedx-py/env-1.6.cdx.xml", ManifestKind::CycloneDxXml),
        ("cyclonedx-py/req-1.6.cdx.json", ManifestKind::CycloneDxJson),
        // Named like any JSON file, `bomFormat` far past the first 4 KiB (keys as the tool orders them).
        ("cyclonedx-py/sbom.json", ManifestKind::CycloneDxJson),
    ] {
        let inventory = inventory_of(relative);
        assert_eq!(inventory.kind, kind, "{relative}");
        assert!(
            inventory.fully_parsed,
            "{relative}: {:?}",
            inventory.findings
        );
        let found: BTreeSet<String> = inventory.dependencies.iter().map(key).collect();
        assert_eq!(&found, &expected[relative], "{relative}");
        assert!(
            inventory.dependencies.iter().all(|d| d.ecosystem == "PyPI"),
            "{relative}"
        );
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Walks an installed tree like the CLI does and returns every detected file's inventory.
fn installed(relative: &str) -> Vec<(String, Inventory)> {
    let mut files = Vec::new();
    files_under(&Path::new(ROOT).join(relative), &mut files);
    files
        .iter()
        .filter_map(|path| {
            let kind = detect(path, &sniff(path))?;
            let display = path
                .strip_prefix(ROOT)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let inventory = parse_file(path, &display, kind, Path::new(ROOT)).expect("parse");
            Some((display, inventory))
        })
        .collect()
}

#[test]
fn installed_environments_match_importlib_metadata() {
    let expected = expected();
    for relative in [
        "venv/lib/python3.11/site-packages",
        "debian/usr/lib/python3/dist-packages",
    ] {
        let inventories = installed(relative);
        let distributions: BTreeSet<String> = inventories
            .iter()
            .filter(|(_, inv)| {
                matches!(
                    inv.kind,
                    ManifestKind::DistInfoMetadata | ManifestKind::EggInfo
                )
            })
            .flat_map(|(_, inv)| inv.dependencies.iter().map(key))
            .collect();
        assert_eq!(&distributions, &expected[relative], "{relative}");
        // Nothing but installed metadata and PEP 770 SBOMs is read inside an installed tree.
        for (display, inventory) in &inventories {
            let allowed = match inventory.kind {
                ManifestKind::DistInfoMetadata | ManifestKind::EggInfo => true,
                ManifestKind::CycloneDxJson => display.contains(".dist-info/sboms/"),
                _ => false,
            };
            assert!(allowed, "{display} read as {}", inventory.kind);
        }
    }
}

#[test]
fn installed_metadata_keeps_pep_610_urls_and_bundled_components() {
    let inventories = installed("venv/lib/python3.11/site-packages");
    let find = |name: &str| {
        inventories
            .iter()
            .flat_map(|(_, inv)| inv.dependencies.iter())
            .find(|d| d.normalized_name == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    let editable = find("proj-a-sample");
    assert_eq!(editable.version.as_deref(), Some("0.3.0.post1"));
    assert_eq!(
        editable.direct_url.as_deref(),
        Some("file:///home/user/projA")
    );
    let from_wheel_file = find("protobuf");
    assert!(
        from_wheel_file
            .direct_url
            .as_deref()
            .is_some_and(|u| u.ends_with("protobuf-4.25.0-cp37-abi3-manylinux2014_x86_64.whl")),
        "{from_wheel_file:?}"
    );
    assert_eq!(find("torch").direct_url, None);
    // auditwheel's PEP 770 SBOM: the wheel itself and the system library it grafted in.
    let (_, sbom) = inventories
        .iter()
        .find(|(d, _)| d.ends_with("sboms/auditwheel.cdx.json"))
        .expect("PEP 770 SBOM read");
    let components: BTreeSet<(String, String)> = sbom
        .dependencies
        .iter()
        .map(|d| (d.ecosystem.clone(), key(d)))
        .collect();
    assert!(components.contains(&("PyPI".to_string(), "pillow==13.0.0".to_string())));
    let grafted = sbom
        .dependencies
        .iter()
        .find(|d| d.name.ends_with("libXau"))
        .expect("libXau");
    assert_ne!(grafted.ecosystem, "PyPI");
    assert!(
        grafted
            .purl
            .as_deref()
            .is_some_and(|p| p.starts_with("pkg:rpm/"))
    );
}

#[test]
fn includes_resolve_when_the_file_is_named_relative_to_the_current_folder() {
    // `mlvet scan requirements.txt` in the file's folder: its parent is the empty path, which
    // must mean the current folder (cargo runs tests in the crate folder).
    let relative = Path::new("tests/data/req-tree/requirements.txt");
    let inventory = parse_file(
        relative,
        "requirements.txt",
        ManifestKind::Requirements,
        Path::new(""),
    )
    .expect("parse");
    let names: BTreeSet<String> = inventory
        .dependencies
        .iter()
        .map(|d| d.normalized_name.clone())
        .collect();
    for included in ["safetensors", "pyyaml"] {
        assert!(
            names.contains(included),
            "{included} from -r requirements/base.txt: {names:?}"
        );
    }
}
