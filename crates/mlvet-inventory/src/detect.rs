//! Which files are inventory sources: by name and path, with a look at the content prefix where
//! the name is ambiguous (`.json`, `.xml`, `.spdx`, `.txt`, `.yml`).

use std::path::Path;

use crate::ManifestKind;

pub(crate) fn detect(path: &Path, prefix: &[u8]) -> Option<ManifestKind> {
    let file_name = path.file_name()?.to_string_lossy();
    let name = file_name.to_ascii_lowercase();
    let parent = path
        .parent()
        .and_then(Path::file_name)
        .map(|p| p.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let head = String::from_utf8_lossy(prefix.get(..prefix.len().min(8192)).unwrap_or(prefix));
    let head = head.trim_start_matches('\u{feff}');

    if let Some(kind) = by_exact_name(&name) {
        return Some(kind);
    }
    if name.starts_with("pylock.") && name.ends_with(".toml") {
        return Some(ManifestKind::Pylock);
    }
    // Installed metadata: the walker hands over METADATA / PKG-INFO files; the directory decides.
    if file_name == "METADATA" && parent.ends_with(".dist-info") {
        return Some(ManifestKind::DistInfoMetadata);
    }
    if file_name == "PKG-INFO" && parent.ends_with(".egg-info") {
        return Some(ManifestKind::EggInfo);
    }
    if name.ends_with(".egg-info") && looks_like_metadata(head) {
        return Some(ManifestKind::EggInfo);
    }
    if parent == "conda-meta" && name.ends_with(".json") {
        return Some(ManifestKind::CondaMeta);
    }
    if name.ends_with(".conda-lock.yml") || name.ends_with(".conda-lock.yaml") {
        return Some(ManifestKind::CondaLock);
    }
    if let Some(kind) = sbom_by_name(&name, head) {
        return Some(kind);
    }
    if is_yaml(&name) && looks_like_conda_environment(&name, head) {
        return Some(ManifestKind::CondaEnvironment);
    }
    if is_requirements_name(&name, &parent) {
        if head.starts_with("SPDXVersion:") {
            return Some(ManifestKind::SpdxTagValue);
        }
        return Some(ManifestKind::Requirements);
    }
    None
}

fn by_exact_name(name: &str) -> Option<ManifestKind> {
    Some(match name {
        "pyproject.toml" => ManifestKind::Pyproject,
        "poetry.lock" => ManifestKind::PoetryLock,
        "pipfile.lock" => ManifestKind::PipfileLock,
        "pdm.lock" => ManifestKind::PdmLock,
        "uv.lock" => ManifestKind::UvLock,
        "pylock.toml" => ManifestKind::Pylock,
        "conda-lock.yml" | "conda-lock.yaml" => ManifestKind::CondaLock,
        _ => return None,
    })
}

fn sbom_by_name(name: &str, head: &str) -> Option<ManifestKind> {
    if name.ends_with(".cdx.json") || name.ends_with(".bom.json") || name == "bom.json" {
        return Some(ManifestKind::CycloneDxJson);
    }
    if name.ends_with(".cdx.xml") || name.ends_with(".bom.xml") || name == "bom.xml" {
        return Some(ManifestKind::CycloneDxXml);
    }
    if name.ends_with(".spdx.json") {
        return Some(ManifestKind::SpdxJson);
    }
    if name.ends_with(".spdx") {
        return Some(ManifestKind::SpdxTagValue);
    }
    if name.ends_with(".json") {
        if head.contains("\"bomFormat\"") && head.contains("CycloneDX") {
            return Some(ManifestKind::CycloneDxJson);
        }
        if head.contains("\"spdxVersion\"") {
            return Some(ManifestKind::SpdxJson);
        }
    }
    if name.ends_with(".xml") && head.contains("cyclonedx.org/schema/bom") {
        return Some(ManifestKind::CycloneDxXml);
    }
    None
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yml") || name.ends_with(".yaml")
}

/// `environment.yml`, `environment-gpu.yaml`, MLflow's `conda.yaml`, or any YAML whose start
/// looks like a conda environment (a `dependencies:` list next to `channels:` or `name:`).
fn looks_like_conda_environment(name: &str, head: &str) -> bool {
    let stem = name.trim_end_matches(".yaml").trim_end_matches(".yml");
    if stem.starts_with("environment")
        || stem == "conda"
        || stem.ends_with("environment")
        || stem.starts_with("conda-env")
    {
        return true;
    }
    let has_dependencies = head.lines().any(|l| l.starts_with("dependencies:"));
    has_dependencies && head.lines().any(|l| l.starts_with("channels:"))
}

fn looks_like_metadata(head: &str) -> bool {
    head.lines()
        .take(20)
        .any(|l| l.starts_with("Metadata-Version:") || l.starts_with("Name:"))
}

/// `requirements*.txt`, `*requirements.txt`, `*-requirements*.txt`, `constraints*.txt`, pip-compile
/// inputs `requirements*.in`, and any `.txt`/`.in` inside a `requirements/` directory.
fn is_requirements_name(name: &str, parent: &str) -> bool {
    let (stem, ext) = match name.rsplit_once('.') {
        Some(split) => split,
        None => return false,
    };
    if !matches!(ext, "txt" | "in") {
        return false;
    }
    if name == "manifest.in" {
        return false;
    }
    let in_requirements_dir = matches!(parent, "requirements" | "requirements.d" | "reqs");
    in_requirements_dir
        || stem.contains("requirements")
        || stem.starts_with("requirement")
        || stem.starts_with("constraints")
        || stem.ends_with("constraints")
        || stem.starts_with("reqs")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(path: &str, prefix: &str) -> Option<ManifestKind> {
        detect(Path::new(path), prefix.as_bytes())
    }

    #[test]
    fn names_and_prefixes() {
        assert_eq!(
            kind("proj/requirements.txt", ""),
            Some(ManifestKind::Requirements)
        );
        assert_eq!(
            kind("proj/requirements-dev.txt", ""),
            Some(ManifestKind::Requirements)
        );
        assert_eq!(
            kind("proj/dev-requirements.txt", ""),
            Some(ManifestKind::Requirements)
        );
        assert_eq!(
            kind("proj/requirements/base.txt", ""),
            Some(ManifestKind::Requirements)
        );
        assert_eq!(
            kind("proj/requirements.in", ""),
            Some(ManifestKind::Requirements)
        );
        assert_eq!(
            kind("proj/constraints.txt", ""),
            Some(ManifestKind::Requirements)
        );
        assert_eq!(kind("proj/MANIFEST.in", ""), None);
        assert_eq!(kind("proj/README.txt", ""), None);
        assert_eq!(kind("proj/LICENSE", ""), None);
        assert_eq!(kind("pyproject.toml", ""), Some(ManifestKind::Pyproject));
        assert_eq!(kind("poetry.lock", ""), Some(ManifestKind::PoetryLock));
        assert_eq!(kind("Pipfile.lock", ""), Some(ManifestKind::PipfileLock));
        assert_eq!(kind("pdm.lock", ""), Some(ManifestKind::PdmLock));
        assert_eq!(kind("uv.lock", ""), Some(ManifestKind::UvLock));
        assert_eq!(kind("pylock.toml", ""), Some(ManifestKind::Pylock));
        assert_eq!(kind("pylock.dev.toml", ""), Some(ManifestKind::Pylock));
        assert_eq!(
            kind("environment.yml", ""),
            Some(ManifestKind::CondaEnvironment)
        );
        assert_eq!(
            kind("model/conda.yaml", ""),
            Some(ManifestKind::CondaEnvironment)
        );
        assert_eq!(kind("ci.yml", "name: ci\non: push\n"), None);
        assert_eq!(
            kind(
                "env/gpu.yml",
                "name: gpu\nchannels:\n  - conda-forge\ndependencies:\n  - numpy\n"
            ),
            Some(ManifestKind::CondaEnvironment)
        );
        assert_eq!(kind("conda-lock.yml", ""), Some(ManifestKind::CondaLock));
        assert_eq!(
            kind("linux.conda-lock.yml", ""),
            Some(ManifestKind::CondaLock)
        );
        assert_eq!(
            kind("env/conda-meta/numpy-1.26.4-py311_0.json", "{"),
            Some(ManifestKind::CondaMeta)
        );
        assert_eq!(
            kind("site-packages/torch-2.1.0.dist-info/METADATA", ""),
            Some(ManifestKind::DistInfoMetadata)
        );
        assert_eq!(
            kind("site-packages/foo.egg-info/PKG-INFO", ""),
            Some(ManifestKind::EggInfo)
        );
        assert_eq!(
            kind(
                "site-packages/foo-1.0-py3.8.egg-info",
                "Metadata-Version: 1.0\nName: foo\n"
            ),
            Some(ManifestKind::EggInfo)
        );
        assert_eq!(kind("sbom.cdx.json", ""), Some(ManifestKind::CycloneDxJson));
        assert_eq!(
            kind("out/anything.json", "{\"bomFormat\": \"CycloneDX\"}"),
            Some(ManifestKind::CycloneDxJson)
        );
        assert_eq!(
            kind("out/anything.json", "{\"spdxVersion\": \"SPDX-2.3\"}"),
            Some(ManifestKind::SpdxJson)
        );
        assert_eq!(kind("out/package.json", "{\"name\": \"x\"}"), None);
        assert_eq!(kind("bom.xml", ""), Some(ManifestKind::CycloneDxXml));
        assert_eq!(
            kind(
                "x.xml",
                "<bom xmlns=\"http://cyclonedx.org/schema/bom/1.5\">"
            ),
            Some(ManifestKind::CycloneDxXml)
        );
        assert_eq!(kind("x.spdx", ""), Some(ManifestKind::SpdxTagValue));
        assert_eq!(
            kind("requirements-sbom.txt", "SPDXVersion: SPDX-2.3\n"),
            Some(ManifestKind::SpdxTagValue)
        );
    }
}
