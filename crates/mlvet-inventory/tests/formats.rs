//! Every supported format, parsed from the fixtures under `tests/data` (real lockfiles and SBOMs
//! produced by uv and pipenv, registry hosts rewritten to `*.invalid`; the rest hand-written in
//! each tool's format).

use std::path::{Path, PathBuf};

use mlvet_inventory::{Dependency, Inventory, ManifestKind, Origin, detect, parse_file};

fn data(relative: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data")).join(relative)
}

/// Detects and parses `relative`, with the first path component as the scan root.
fn inventory(relative: &str) -> Inventory {
    let path = data(relative);
    let prefix = std::fs::read(&path).expect("fixture");
    let kind = detect(&path, &prefix).unwrap_or_else(|| panic!("{relative} not detected"));
    let root = data(relative.split('/').next().unwrap_or(""));
    parse_file(&path, relative, kind, &root).expect("parse")
}

fn find<'a>(inventory: &'a Inventory, normalized: &str) -> &'a Dependency {
    inventory
        .dependencies
        .iter()
        .find(|d| d.normalized_name == normalized)
        .unwrap_or_else(|| panic!("{normalized} missing from {:?}", inventory.kind))
}

fn rules(inventory: &Inventory) -> Vec<(&'static str, Option<u32>)> {
    inventory
        .findings
        .iter()
        .map(|f| (f.rule, f.location.line))
        .collect()
}

#[test]
fn requirements_tree_with_includes_constraints_and_urls() {
    let inv = inventory("req-tree/requirements.txt");
    assert_eq!(inv.kind, ManifestKind::Requirements);
    assert!(!inv.fully_parsed);

    let torch = find(&inv, "torch");
    assert_eq!(torch.requirement.as_deref(), Some(">=2.1"));
    assert_eq!(
        torch.version.as_deref(),
        Some("2.1.2"),
        "constraint pin resolves the open requirement"
    );
    assert_eq!(torch.markers.as_deref(), Some("sys_platform == \"linux\""));
    assert_eq!(
        (torch.source.file.as_str(), torch.source.line),
        ("req-tree/requirements.txt", Some(7))
    );

    let vision = find(&inv, "torchvision");
    assert_eq!(vision.version.as_deref(), Some("0.16.0+cu121"));
    assert_eq!(vision.source.line, Some(8));

    let transformers = find(&inv, "transformers");
    assert_eq!(transformers.name, "Transformers");
    assert_eq!(transformers.version, None);
    assert_eq!(transformers.requirement.as_deref(), Some(">= 4.35, <5"));
    assert_eq!(
        transformers.extras,
        vec!["torch".to_string(), "sentencepiece".to_string()]
    );

    let editable = find(&inv, "tokenizer-utils");
    assert!(
        editable
            .direct_url
            .as_deref()
            .is_some_and(|u| u.starts_with("git+https://github.invalid/"))
    );
    assert_eq!(editable.version, None);

    let wheel = find(&inv, "my-private-pkg");
    assert_eq!(wheel.version.as_deref(), Some("1.4.2"));
    assert!(wheel.direct_url.is_some());

    assert_eq!(
        find(&inv, "localpkg").direct_url.as_deref(),
        Some("./vendor/localpkg")
    );
    let star: Vec<&Dependency> = inv
        .dependencies
        .iter()
        .filter(|d| d.normalized_name == "numpy")
        .collect();
    assert!(
        star.iter()
            .any(|d| d.requirement.as_deref() == Some("==1.*") && d.version.is_none())
    );
    assert_eq!(find(&inv, "pillow").version.as_deref(), Some("10.0.1"));
    assert_eq!(find(&inv, "scipy").version.as_deref(), Some("1.11.4"));
    assert_eq!(
        find(&inv, "onnx").markers.as_deref(),
        Some("python_version < \"3.12\" and platform_machine == \"x86_64\"")
    );

    // The included file is read once despite the include cycle, with its own display path and lines.
    let safetensors = find(&inv, "safetensors");
    assert_eq!(
        (safetensors.source.file.as_str(), safetensors.source.line),
        ("req-tree/requirements/base.txt", Some(4))
    );
    assert_eq!(find(&inv, "pyyaml").version.as_deref(), Some("5.3.1"));
    assert_eq!(
        inv.dependencies
            .iter()
            .filter(|d| d.normalized_name == "safetensors")
            .count(),
        1
    );

    // Constraint-only entries are not dependencies; outside-root includes are not followed.
    assert!(
        inv.dependencies
            .iter()
            .all(|d| d.normalized_name != "accelerate")
    );
    assert!(
        inv.dependencies
            .iter()
            .all(|d| d.normalized_name != "leftpad")
    );
    assert!(inv.dependencies.iter().all(|d| d.normalized_name != "not"));
    assert!(
        inv.dependencies
            .iter()
            .all(|d| d.origin == Origin::Requirements && d.ecosystem == "PyPI")
    );

    let found = rules(&inv);
    assert!(found.contains(&("dependency-include-outside-root", Some(18))));
    assert!(found.contains(&("dependency-include-unresolved", Some(19))));
    assert!(found.contains(&("dependency-include-unresolved", Some(20))));
    assert!(found.contains(&("dependency-parse-error", Some(22))));
    assert_eq!(found.len(), 4);
}

#[test]
fn uv_export_requirements_with_hashes() {
    let inv = inventory("uv-project/requirements.txt");
    assert!(inv.fully_parsed, "{:?}", inv.findings);
    assert!(inv.dependencies.len() > 50);
    // `-e .` is the project: reported with its path, never dropped.
    assert!(
        inv.dependencies
            .iter()
            .any(|d| d.direct_url.as_deref() == Some("."))
    );
    let pinned = inv
        .dependencies
        .iter()
        .filter(|d| d.version.is_some())
        .count();
    assert_eq!(
        pinned + 1,
        inv.dependencies.len(),
        "every entry but `-e .` is pinned"
    );
    let doc = inv
        .dependencies
        .iter()
        .find(|d| d.name == "annotated-doc")
        .expect("annotated-doc");
    assert_eq!(doc.version.as_deref(), Some("0.0.6"));
    assert_eq!(doc.markers.as_deref(), Some("python_full_version < '3.11'"));
}

#[test]
fn uv_lock_skips_the_project_itself() {
    let inv = inventory("uv-project/uv.lock");
    assert!(inv.fully_parsed);
    assert!(
        inv.dependencies
            .iter()
            .all(|d| d.normalized_name != "tiny-ml-app")
    );
    assert!(
        inv.dependencies
            .iter()
            .all(|d| d.version.is_some() && d.origin == Origin::UvLock)
    );
    let transformers = find(&inv, "transformers");
    let text = std::fs::read_to_string(data("uv-project/uv.lock")).expect("fixture");
    let line = text
        .lines()
        .position(|l| l == "name = \"transformers\"")
        .map(|i| i + 1);
    assert_eq!(transformers.source.line.map(|l| l as usize), line);
    assert_eq!(inv.dependencies.len(), 55);
    // The project's own requirements (dependencies, the `serve` extra, the `dev` group).
    for name in [
        "numpy",
        "safetensors",
        "scikit-learn",
        "transformers",
        "pyyaml",
        "pytest",
    ] {
        assert!(inv.direct.iter().any(|d| d == name), "{name} not direct");
    }
    assert!(
        !inv.direct
            .iter()
            .any(|d| d == "tiny-ml-app" || d == "tokenizers")
    );
}

#[test]
fn pylock_matches_uv_lock() {
    let pylock = inventory("uv-project/pylock.toml");
    let uv = inventory("uv-project/uv.lock");
    assert!(pylock.fully_parsed);
    let names = |inv: &Inventory| {
        let mut v: Vec<(String, Option<String>)> = inv
            .dependencies
            .iter()
            .map(|d| (d.normalized_name.clone(), d.version.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&pylock), names(&uv));
    assert!(
        pylock
            .dependencies
            .iter()
            .any(|d| d.markers.as_deref() == Some("sys_platform == 'win32'"))
    );
}

#[test]
fn cyclonedx_json_from_uv() {
    let inv = inventory("uv-project/sbom.cdx.json");
    assert!(inv.fully_parsed);
    assert_eq!(
        inv.dependencies.len(),
        55,
        "metadata.component (the project) is not a dependency"
    );
    let numpy = inv
        .dependencies
        .iter()
        .find(|d| d.normalized_name == "numpy")
        .expect("numpy");
    assert!(
        numpy
            .purl
            .as_deref()
            .is_some_and(|p| p.starts_with("pkg:pypi/numpy@"))
    );
    assert_eq!(numpy.origin, Origin::CycloneDx);
    assert!(inv.findings.is_empty());
}

#[test]
fn pyproject_pep621_groups_and_build_requires() {
    let inv = inventory("uv-project/pyproject.toml");
    assert!(inv.fully_parsed);
    assert_eq!(
        find(&inv, "numpy").requirement.as_deref(),
        Some(">=1.26,<3")
    );
    assert_eq!(find(&inv, "numpy").source.line, Some(6));
    assert_eq!(find(&inv, "safetensors").requirement.as_deref(), Some(""));
    let sklearn = find(&inv, "scikit-learn");
    assert_eq!(sklearn.version.as_deref(), Some("1.5.1"));
    assert_eq!(sklearn.markers.as_deref(), Some("sys_platform == 'linux'"));
    assert_eq!(find(&inv, "pyyaml").source.line, Some(13));
    assert_eq!(find(&inv, "ruff").version.as_deref(), Some("0.5.0"));
    assert_eq!(find(&inv, "pytest").requirement.as_deref(), Some(">=8"));
    assert_eq!(
        find(&inv, "hatchling").requirement.as_deref(),
        Some(">=1.20")
    );
    assert_eq!(inv.dependencies.len(), 8);
}

#[test]
fn poetry_pyproject_constraints() {
    let inv = inventory("poetry/pyproject.toml");
    assert!(
        inv.dependencies
            .iter()
            .all(|d| d.normalized_name != "python")
    );
    assert_eq!(
        find(&inv, "numpy").requirement.as_deref(),
        Some(">=1.26,<2.0")
    );
    assert_eq!(
        find(&inv, "safetensors").requirement.as_deref(),
        Some(">=0.4.2,<0.5.0")
    );
    let yaml = find(&inv, "pyyaml");
    assert_eq!(yaml.requirement.as_deref(), Some(">=6.0,<7"));
    assert_eq!(yaml.markers.as_deref(), Some("sys_platform != 'win32'"));
    assert_eq!(
        find(&inv, "tokenizers").requirement.as_deref(),
        Some("==0.15.*")
    );
    assert_eq!(
        find(&inv, "pytest").requirement.as_deref(),
        Some(">=8.0,<9.0")
    );
    assert_eq!(find(&inv, "pytest").source.line, Some(17));
}

#[test]
fn poetry_lock() {
    let inv = inventory("poetry/poetry.lock");
    assert!(inv.fully_parsed);
    assert_eq!(inv.dependencies.len(), 6);
    assert_eq!(find(&inv, "pyyaml").name, "PyYAML");
    assert_eq!(find(&inv, "pyyaml").source.line, Some(15));
    let peft = find(&inv, "peft");
    assert_eq!(peft.version.as_deref(), Some("0.7.0"));
    assert_eq!(
        peft.direct_url.as_deref(),
        Some(
            "git+https://github.invalid/huggingface/peft.git@e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4"
        )
    );
    let torch = find(&inv, "torch");
    assert_eq!(torch.version.as_deref(), Some("2.1.2+cpu"));
    assert_eq!(
        torch.direct_url, None,
        "a legacy source is an index, not a direct reference"
    );
}

#[test]
fn broken_poetry_lock_reports_and_keeps_going() {
    let path = data("poetry/bad.lock");
    let inv = parse_file(
        &path,
        "poetry/bad.lock",
        ManifestKind::PoetryLock,
        &data("poetry"),
    )
    .expect("parse");
    assert!(!inv.fully_parsed);
    assert!(
        inv.findings
            .iter()
            .all(|f| f.rule == "dependency-parse-error")
    );
    assert_eq!(
        rules(&inv),
        vec![
            ("dependency-parse-error", Some(5)),
            ("dependency-parse-error", Some(8))
        ]
    );
    assert_eq!(find(&inv, "ok-package").version.as_deref(), Some("1.0.0"));
}

#[test]
fn pipfile_lock_from_pipenv() {
    let inv = inventory("pipenv/Pipfile.lock");
    assert!(inv.fully_parsed);
    assert_eq!(inv.dependencies.len(), 8, "default and develop");
    let numpy = find(&inv, "numpy");
    assert_eq!(numpy.version.as_deref(), Some("1.26.4"));
    assert_eq!(numpy.source.line, Some(17));
    assert!(find(&inv, "pytest").version.is_some());
}

#[test]
fn pdm_lock() {
    let inv = inventory("pdm/pdm.lock");
    assert_eq!(inv.dependencies.len(), 4);
    assert_eq!(
        find(&inv, "pytest").markers.as_deref(),
        Some("python_version >= \"3.10\"")
    );
    assert!(
        find(&inv, "tokenizer-utils")
            .direct_url
            .as_deref()
            .is_some_and(|u| u.ends_with("@0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d"))
    );
}

#[test]
fn conda_environment_with_pip_section_and_include() {
    let inv = inventory("conda/environment.yml");
    assert!(inv.fully_parsed, "{:?}", inv.findings);
    let torch = find(&inv, "torch");
    assert_eq!(
        (
            torch.name.as_str(),
            torch.ecosystem.as_str(),
            torch.version.as_deref()
        ),
        ("pytorch", "PyPI", Some("2.1.0"))
    );
    assert_eq!(torch.source.line, Some(8));
    let python = inv
        .dependencies
        .iter()
        .find(|d| d.name == "python")
        .expect("python");
    assert_eq!(python.ecosystem, "conda");
    assert_eq!(find(&inv, "cudatoolkit").ecosystem, "conda");
    assert_eq!(find(&inv, "xgboost").version.as_deref(), Some("1.7.6"));
    assert_eq!(
        find(&inv, "transformers").version.as_deref(),
        Some("4.35.2")
    );
    assert_eq!(find(&inv, "numpy").requirement.as_deref(), Some(">=1.24"));
    let safetensors = find(&inv, "safetensors");
    assert_eq!(
        (safetensors.version.as_deref(), safetensors.source.line),
        (Some("0.4.1"), Some(17))
    );
    assert_eq!(safetensors.origin, Origin::CondaEnv);
    assert_eq!(find(&inv, "accelerate").source.line, Some(18));
    let sentencepiece = find(&inv, "sentencepiece");
    assert_eq!(sentencepiece.source.file, "conda/requirements-extra.txt");
    assert!(find(&inv, "peft").direct_url.is_some());
}

#[test]
fn conda_lock_dedupes_platforms_and_classifies() {
    let inv = inventory("conda/conda-lock.yml");
    assert!(inv.fully_parsed);
    assert_eq!(
        inv.dependencies
            .iter()
            .filter(|d| d.normalized_name == "numpy")
            .count(),
        1
    );
    assert_eq!(find(&inv, "numpy").source.line, Some(40));
    assert_eq!(find(&inv, "torch").version.as_deref(), Some("2.1.0"));
    assert_eq!(find(&inv, "python").ecosystem, "conda");
    assert_eq!(find(&inv, "_libgcc_mutex").ecosystem, "conda");
    assert_eq!(find(&inv, "safetensors").ecosystem, "PyPI");
}

#[test]
fn conda_meta_uses_site_packages_evidence() {
    let torch = inventory("conda/env/conda-meta/pytorch-2.1.0-py3.10_cuda11.8_cudnn8.7.0_0.json");
    let dep = torch.dependencies.first().expect("one record");
    assert_eq!(
        (
            dep.ecosystem.as_str(),
            dep.name.as_str(),
            dep.normalized_name.as_str()
        ),
        ("PyPI", "pytorch", "torch")
    );
    assert_eq!(dep.source.line, Some(17));
    let openssl = inventory("conda/env/conda-meta/openssl-3.0.12-h7f8727e_0.json");
    assert_eq!(
        openssl.dependencies.first().map(|d| d.ecosystem.as_str()),
        Some("conda")
    );
    assert_eq!(detect(&data("conda/env/conda-meta/history"), b"==>"), None);
}

#[test]
fn installed_metadata() {
    let torch = inventory("venv/lib/python3.11/site-packages/torch-2.1.0+cu121.dist-info/METADATA");
    assert_eq!(
        torch.dependencies.len(),
        1,
        "Requires-Dist and the description are not read"
    );
    let dep = torch.dependencies.first().expect("torch");
    assert_eq!(
        (dep.version.as_deref(), dep.source.line, dep.origin),
        (Some("2.1.0+cu121"), Some(2), Origin::DistInfo)
    );
    let yaml = inventory("venv/lib/python3.11/site-packages/PyYAML-5.3.1.egg-info/PKG-INFO");
    assert_eq!(
        yaml.dependencies
            .first()
            .map(|d| (d.normalized_name.as_str(), d.origin)),
        Some(("pyyaml", Origin::EggInfo))
    );
    let peft = inventory("venv/lib/python3.11/site-packages/peft-0.7.0.dist-info/METADATA");
    assert!(
        peft.dependencies
            .first()
            .and_then(|d| d.direct_url.as_deref())
            .is_some_and(|u| u.starts_with("git+https://github.invalid/"))
    );
    let dill = inventory("venv/lib/python3.11/site-packages/dill-0.3.7-py3.11.egg-info");
    assert_eq!(
        dill.dependencies.first().and_then(|d| d.version.as_deref()),
        Some("0.3.7")
    );
}

#[test]
fn cyclonedx_xml_nested_components() {
    let inv = inventory("sbom/bom.xml");
    assert!(
        inv.dependencies
            .iter()
            .all(|d| d.name != "should-not-appear"),
        "metadata components are the subject"
    );
    assert_eq!(find(&inv, "triton").version.as_deref(), Some("2.0.0"));
    assert_eq!(find(&inv, "torch").source.line, Some(14));
    let log4j = find(&inv, "org.apache.logging.log4j:log4j-core");
    assert_eq!(
        (log4j.ecosystem.as_str(), log4j.version.as_deref()),
        ("Maven", Some("2.14.1"))
    );
    assert_eq!(find(&inv, "lodash").ecosystem, "npm");
    let unknown = find(&inv, "Tom & Jerry's lib");
    assert_eq!(unknown.ecosystem, "");
    assert_eq!(
        rules(&inv),
        vec![("dependency-unidentified-component", Some(32))]
    );
    assert!(
        inv.dependencies
            .iter()
            .all(|d| d.name != "bert-base-uncased"),
        "models are not packages"
    );
    assert_eq!(inv.dependencies.len(), 5);
}

#[test]
fn spdx_json_and_tag_value() {
    let json = inventory("sbom/image.spdx.json");
    assert_eq!(json.dependencies.len(), 3);
    assert_eq!(
        find(&json, "transformers").purl.as_deref(),
        Some("pkg:pypi/transformers@4.30.0")
    );
    assert_eq!(find(&json, "golang.org/x/net").ecosystem, "Go");
    assert_eq!(
        rules(&json),
        vec![("dependency-unidentified-component", Some(36))]
    );
    let tv = inventory("sbom/project.spdx");
    assert_eq!(tv.dependencies.len(), 2, "{:?}", tv.dependencies);
    assert_eq!(find(&tv, "numpy").source.line, Some(21));
    assert_eq!(find(&tv, "serde").ecosystem, "cargo");
    assert!(tv.findings.is_empty());
}

#[test]
fn oversized_files_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("requirements.txt");
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(mlvet_inventory::MAX_FILE_SIZE + 1)
        .expect("set_len");
    let result = parse_file(
        &path,
        "requirements.txt",
        ManifestKind::Requirements,
        dir.path(),
    );
    assert!(matches!(
        result,
        Err(mlvet_inventory::InventoryError::TooLarge { .. })
    ));
}

#[test]
fn deep_include_chains_stop_at_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let depth = mlvet_inventory::MAX_INCLUDE_DEPTH + 3;
    for i in 0..depth {
        let body = format!("-r r{}.txt\npkg{i}==1.0\n", i + 1);
        std::fs::write(dir.path().join(format!("r{i}.txt")), body).expect("write");
    }
    std::fs::write(dir.path().join(format!("r{depth}.txt")), "last==1.0\n").expect("write");
    let inv = parse_file(
        &dir.path().join("r0.txt"),
        "r0.txt",
        ManifestKind::Requirements,
        dir.path(),
    )
    .expect("parse");
    assert_eq!(
        inv.dependencies.len(),
        mlvet_inventory::MAX_INCLUDE_DEPTH + 1
    );
    assert!(
        inv.findings
            .iter()
            .any(|f| f.rule == "dependency-include-unresolved")
    );
    assert!(!inv.fully_parsed);
}
