//! Edge cases of single files, through `parse_str` (no file system).

use mlvet_inventory::{ManifestKind, TargetEnv, markers_apply, parse_str, rules};

/// (normalised name, version, requirement, line)
type Row = (String, Option<String>, Option<String>, Option<u32>);

fn deps(text: &str, kind: ManifestKind) -> Vec<Row> {
    parse_str(text, "f", kind)
        .dependencies
        .into_iter()
        .map(|d| (d.normalized_name, d.version, d.requirement, d.source.line))
        .collect()
}

#[test]
fn requirements_options_comments_and_continuations() {
    let text = "--index-url https://example.invalid/simple ; python_version > \"3.8\"\n\
                --no-binary :all:; sys_platform == \"win32\"\n\
                -i https://example.invalid/simple\n\
                --find-links \"file:///path/with spaces/packages\"\n\
                requests>=2.28.0 # trailing comment\n\
                # comment \\\n\
                numpy \\\n    ==1.26.4 \\\n    --hash=sha256:aa\n\
                -r other.txt\n\
                \n\
                foo @ https://example.invalid/foo.zip#egg=foo ; python_version >= '3.9'\n";
    assert_eq!(
        deps(text, ManifestKind::Requirements),
        vec![
            ("requests".into(), None, Some(">=2.28.0".into()), Some(5)),
            ("numpy".into(), Some("1.26.4".into()), None, Some(7)),
            ("foo".into(), None, None, Some(12)),
        ]
    );
    let inventory = parse_str(text, "f", ManifestKind::Requirements);
    assert!(inventory.fully_parsed, "{:?}", inventory.findings);
    assert_eq!(
        inventory.dependencies[2].markers.as_deref(),
        Some("python_version >= '3.9'")
    );
}

#[test]
fn requirements_errors_keep_the_rest() {
    let inventory = parse_str(
        "torch==\n--bogus\n-r\nnumpy==1.0\n",
        "f",
        ManifestKind::Requirements,
    );
    let lines: Vec<Option<u32>> = inventory.findings.iter().map(|f| f.location.line).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.contains(&Some(1)) && lines.contains(&Some(2)) && lines.contains(&Some(3)));
    assert!(!inventory.fully_parsed);
    // The bad pin is still reported (unpinned), never silently dropped.
    assert!(
        inventory
            .dependencies
            .iter()
            .any(|d| d.normalized_name == "torch" && d.version.is_none())
    );
    assert!(
        inventory
            .dependencies
            .iter()
            .any(|d| d.normalized_name == "numpy")
    );
}

#[test]
fn environment_variables_are_not_expanded() {
    let inventory = parse_str(
        "private @ https://${TOKEN}@example.invalid/private-1.0.tar.gz\n",
        "f",
        ManifestKind::Requirements,
    );
    assert_eq!(
        inventory.dependencies[0].direct_url.as_deref(),
        Some("https://${TOKEN}@example.invalid/private-1.0.tar.gz")
    );
}

#[test]
fn pyproject_dependency_groups_validate_includes() {
    let text = "[dependency-groups]\ntest = [\"pytest\", {include-group = \"typing\"}]\n";
    let inventory = parse_str(text, "pyproject.toml", ManifestKind::Pyproject);
    assert_eq!(inventory.findings.len(), 1);
    assert_eq!(inventory.findings[0].location.line, Some(2));
    assert_eq!(inventory.dependencies.len(), 1);
}

#[test]
fn pyproject_poetry_tables_and_alternatives() {
    let text = r#"[tool.poetry.dependencies]
python = "^3.10"
torch = [
  { version = "2.1.0", markers = "sys_platform == 'darwin'" },
  { url = "https://example.invalid/torch-2.1.0+cu121-cp311-cp311-linux_x86_64.whl", markers = "sys_platform == 'linux'" },
]
mylib = { git = "https://example.invalid/org/mylib.git", tag = "v1.2" }
legacy = "~1.4"
"#;
    let inventory = parse_str(text, "pyproject.toml", ManifestKind::Pyproject);
    assert!(inventory.fully_parsed, "{:?}", inventory.findings);
    let torch: Vec<_> = inventory
        .dependencies
        .iter()
        .filter(|d| d.normalized_name == "torch")
        .collect();
    assert_eq!(torch.len(), 2);
    assert_eq!(torch[0].version.as_deref(), Some("2.1.0"));
    assert_eq!(torch[0].source.line, Some(4));
    assert!(torch[1].direct_url.is_some());
    let mylib = inventory
        .dependencies
        .iter()
        .find(|d| d.name == "mylib")
        .expect("mylib");
    assert_eq!(
        mylib.direct_url.as_deref(),
        Some("git+https://example.invalid/org/mylib.git@v1.2")
    );
    let legacy = inventory
        .dependencies
        .iter()
        .find(|d| d.name == "legacy")
        .expect("legacy");
    assert_eq!(legacy.requirement.as_deref(), Some(">=1.4,<1.5"));
}

#[test]
fn not_toml_not_json_not_yaml() {
    for kind in [
        ManifestKind::PoetryLock,
        ManifestKind::UvLock,
        ManifestKind::PdmLock,
        ManifestKind::Pylock,
        ManifestKind::Pyproject,
    ] {
        let inventory = parse_str("this is [not toml\n", "f", kind);
        assert!(!inventory.fully_parsed, "{kind:?}");
        assert!(inventory.dependencies.is_empty());
    }
    for kind in [
        ManifestKind::PipfileLock,
        ManifestKind::CycloneDxJson,
        ManifestKind::SpdxJson,
        ManifestKind::CondaMeta,
    ] {
        let inventory = parse_str("{\"a\": [1,}", "f", kind);
        assert!(!inventory.fully_parsed, "{kind:?}");
        assert_eq!(inventory.findings[0].rule, "dependency-parse-error");
    }
    let inventory = parse_str(
        "dependencies: [unclosed\n",
        "f",
        ManifestKind::CondaEnvironment,
    );
    assert!(!inventory.fully_parsed);
}

#[test]
fn empty_files_are_empty_inventories() {
    for kind in [
        ManifestKind::Requirements,
        ManifestKind::PoetryLock,
        ManifestKind::UvLock,
        ManifestKind::Pyproject,
        ManifestKind::SpdxTagValue,
    ] {
        let inventory = parse_str("", "f", kind);
        assert!(
            inventory.dependencies.is_empty()
                && inventory.findings.is_empty()
                && inventory.fully_parsed,
            "{kind:?}"
        );
    }
}

#[test]
fn metadata_without_name_is_an_error() {
    let inventory = parse_str(
        "Metadata-Version: 2.1\nVersion: 1.0\n",
        "METADATA",
        ManifestKind::DistInfoMetadata,
    );
    assert!(inventory.dependencies.is_empty());
    assert_eq!(inventory.findings.len(), 1);
}

#[test]
fn cyclonedx_nesting_is_bounded() {
    let depth = 500;
    let mut text = String::from("{\"components\": ");
    for _ in 0..depth {
        text.push_str("[{\"name\": \"a\", \"purl\": \"pkg:pypi/a@1\", \"components\": ");
    }
    text.push_str("[]");
    for _ in 0..depth {
        text.push_str("}]");
    }
    text.push('}');
    let inventory = parse_str(&text, "bom.json", ManifestKind::CycloneDxJson);
    assert!(!inventory.fully_parsed);
    let mut xml = String::from("<bom><components>");
    for _ in 0..depth {
        xml.push_str("<component><name>a</name><components>");
    }
    let inventory = parse_str(&xml, "bom.xml", ManifestKind::CycloneDxXml);
    assert!(!inventory.fully_parsed);
    assert!(
        inventory
            .findings
            .iter()
            .any(|f| f.rule == "dependency-inventory-truncated")
    );
}

#[test]
fn markers_against_targets() {
    let linux = TargetEnv::new("3.11", "linux");
    assert_eq!(
        markers_apply(
            "sys_platform == \"linux\" and python_version >= \"3.8\"",
            &linux
        )
        .ok(),
        Some(true)
    );
    assert_eq!(markers_apply("os_name == 'nt'", &linux).ok(), Some(false));
    assert_eq!(
        markers_apply("os_name == 'nt'", &TargetEnv::new("3.11", "win32")).ok(),
        Some(true)
    );
    assert_eq!(
        markers_apply("python_full_version < '3.11.1'", &linux).ok(),
        Some(true)
    );
}

#[test]
fn rules_are_documented_and_unique() {
    let all = rules();
    let mut ids: Vec<&str> = all.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len());
    for rule in all {
        assert!(rule.id.starts_with("dependency-"));
        for section in ["## What it does", "## Why is this bad?", "## Remediation"] {
            assert!(rule.docs.contains(section), "{} lacks {section}", rule.id);
        }
    }
}
