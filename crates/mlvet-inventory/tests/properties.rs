//! Property tests: no parser panics on arbitrary input, normalisation is idempotent, every record
//! points at a real line of its file, and pins survive a requirements round trip.

use mlvet_inventory::{ManifestKind, normalize_pypi_name, parse_str};
use proptest::prelude::*;

/// Text shaped like the formats (brackets, quotes, operators, keys), so that parsers get past
/// their first byte.
fn format_like_text() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("\n".to_string()),
        Just("[[package]]\nname = \"x\"\nversion = \"1\"\n".to_string()),
        Just("{\"components\": [{\"purl\": \"pkg:pypi/a@1\", \"components\": [".to_string()),
        Just("]}".to_string()),
        Just("dependencies = [{ name = \"y\" }, { name = \"\" }]\n".to_string()),
        Just("[package.dependencies]\nnumpy = \">=1\"\n".to_string()),
        Just("[[packages]]\nname = \"z\"\ndependencies = [{ name = \"x\" }]\n".to_string()),
        Just("<component><name>a</name><purl>pkg:npm/b@2</purl>".to_string()),
        Just("</component>".to_string()),
        Just("dependencies:\n  - numpy=1.0=py_0\n  - pip:\n    - torch==2\n".to_string()),
        Just("PackageName: a\nExternalRef: PACKAGE-MANAGER purl pkg:pypi/a@1\n".to_string()),
        Just("-r x.txt\n-c y.txt\n-e ./p\n".to_string()),
        Just("a==1 ; python_version < '3'\\\n".to_string()),
        Just("Name: a\nVersion: 1\n".to_string()),
        "[ -~]{0,12}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(atoms, 0..24).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_kind_panics_on_arbitrary_text(text in ".{0,400}", kind_index in 0usize..16) {
        let kind = ManifestKind::ALL[kind_index];
        let _ = parse_str(&text, "input", kind);
    }

    #[test]
    fn no_kind_panics_on_format_like_text(text in format_like_text()) {
        for kind in ManifestKind::ALL {
            let inventory = parse_str(&text, "input", kind);
            let lines = u32::try_from(text.lines().count().max(1)).unwrap_or(u32::MAX);
            for dependency in &inventory.dependencies {
                if let Some(line) = dependency.source.line {
                    prop_assert!(line >= 1 && line <= lines, "{kind:?} line {line} of {lines}");
                }
                prop_assert!(dependency.version.is_some() || dependency.requirement.is_some() || dependency.direct_url.is_some());
            }
            if !inventory.findings.is_empty() && inventory.findings.iter().any(|f| f.rule == "dependency-parse-error") {
                prop_assert!(!inventory.fully_parsed);
            }
        }
    }

    #[test]
    fn normalisation_is_idempotent(name in ".{0,40}") {
        let once = normalize_pypi_name(&name);
        prop_assert_eq!(normalize_pypi_name(&once), once.clone());
        prop_assert!(!once.contains("--") && !once.contains('_') && !once.contains('.'));
    }

    #[test]
    fn normalisation_ignores_case_and_separators(parts in prop::collection::vec("[a-zA-Z0-9]{1,6}", 1..5), seps in prop::collection::vec("[-_.]{1,3}", 4)) {
        let joined_dash = parts.join("-").to_lowercase();
        let mut mixed = String::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                mixed.push_str(&seps[(i - 1) % seps.len()]);
            }
            mixed.push_str(&part.to_uppercase());
        }
        prop_assert_eq!(normalize_pypi_name(&mixed), joined_dash);
    }

    #[test]
    fn exact_pins_round_trip(name in "[A-Za-z][A-Za-z0-9_.-]{0,20}[A-Za-z0-9]", major in 0u32..100, minor in 0u32..100, local in prop::option::of("[a-z0-9]{1,6}")) {
        let version = match &local {
            Some(local) => format!("{major}.{minor}+{local}"),
            None => format!("{major}.{minor}"),
        };
        let text = format!("# header\n{name}=={version} --hash=sha256:00\n{name}>={major}.{minor}\n");
        let inventory = parse_str(&text, "requirements.txt", ManifestKind::Requirements);
        prop_assert!(inventory.fully_parsed, "{:?}", inventory.findings);
        prop_assert_eq!(inventory.dependencies.len(), 2);
        let pinned = &inventory.dependencies[0];
        prop_assert_eq!(pinned.version.as_deref(), Some(version.as_str()));
        prop_assert_eq!(pinned.source.line, Some(2));
        prop_assert_eq!(&pinned.normalized_name, &normalize_pypi_name(&name));
        let ranged = &inventory.dependencies[1];
        prop_assert_eq!(ranged.version.as_deref(), None);
        let expected = format!(">={major}.{minor}");
        prop_assert_eq!(ranged.requirement.as_deref(), Some(expected.as_str()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Detection never panics on any path or prefix (cut mid-character, any bytes).
    #[test]
    fn detect_never_panics(
        dirs in prop::collection::vec("[a-zA-Z0-9._-]{0,12}|site-packages|[a-z]{1,6}\\.dist-info|sboms", 0..6),
        file in "[a-zA-Z0-9._-]{0,20}|METADATA|PKG-INFO|requirements\\.txt|deps\\.txt|sbom\\.json",
        prefix in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let path: std::path::PathBuf = dirs.iter().chain(std::iter::once(&file)).collect();
        let _ = mlvet_inventory::detect(&path, &prefix);
        let text = format_like_text_bytes(&prefix);
        let _ = mlvet_inventory::detect(&path, text.as_bytes());
    }

    /// Inside an installed tree, a file below a package's own folder is never a manifest: only
    /// `*.dist-info` content (METADATA one level down, PEP 770 SBOMs deeper) can be.
    #[test]
    fn package_data_in_site_packages_is_never_a_manifest(
        package in "[a-z][a-z0-9_]{0,10}",
        sub in prop::collection::vec("[a-z0-9_]{1,8}", 0..3),
        file in "requirements\\.txt|pyproject\\.toml|environment\\.yml|uv\\.lock|poetry\\.lock|bom\\.json|METADATA|deps\\.txt",
        head in "numpy==1\\.0\\ntorch==2\\.0\\n|\\{\"bomFormat\": \"CycloneDX\"\\}|",
    ) {
        let mut path = std::path::PathBuf::from("venv/lib/python3.11/site-packages");
        path.push(&package);
        for s in &sub {
            path.push(s);
        }
        path.push(&file);
        prop_assert_eq!(mlvet_inventory::detect(&path, head.as_bytes()), None);
    }
}

fn format_like_text_bytes(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Dependency edges from lockfiles are sorted, unique, named and normalised, whatever the input.
    #[test]
    fn lockfile_edges_are_well_formed(text in format_like_text()) {
        for kind in [ManifestKind::UvLock, ManifestKind::PoetryLock, ManifestKind::Pylock] {
            let inventory = parse_str(&text, "lock", kind);
            prop_assert!(inventory.edges.windows(2).all(|pair| pair[0] < pair[1]));
            for edge in &inventory.edges {
                prop_assert!(!edge.from.is_empty() && !edge.to.is_empty());
                prop_assert_eq!(normalize_pypi_name(&edge.to), edge.to.clone());
            }
        }
    }
}
