//! Matching hand-written OSV records (GHSA/PYSEC style, for torch, transformers, vllm and a few
//! other ecosystems) against dependencies, through the public API.

use mlvet_core::{Confidence, Finding, Severity, SourceRef, Verdict};
use mlvet_inventory::{Dependency, Origin};
use mlvet_osv::{
    Advisory, AdvisorySource, MatchOptions, MatchResult, MemorySource, OsvError, affects,
    match_dependencies, parse_json, parse_yaml,
};

fn dep(
    ecosystem: &str,
    name: &str,
    version: Option<&str>,
    requirement: Option<&str>,
) -> Dependency {
    Dependency {
        ecosystem: ecosystem.to_string(),
        name: name.to_string(),
        normalized_name: mlvet_osv::normalize_package_name(ecosystem, name),
        version: version.map(str::to_string),
        requirement: requirement.map(str::to_string),
        markers: None,
        extras: Vec::new(),
        source: SourceRef {
            file: "requirements.txt".to_string(),
            line: Some(3),
        },
        origin: Origin::Requirements,
        direct_url: None,
        purl: None,
    }
}

fn pypi(name: &str, version: &str) -> Dependency {
    dep("PyPI", name, Some(version), None)
}

fn record(json: &str) -> Advisory {
    parse_json(json.as_bytes()).unwrap_or_else(|e| panic!("test record: {e}"))
}

/// GHSA record for torch: CVSS v4, fixed 2.6.0, aliases the CVE.
const TORCH_GHSA: &str = r#"{
  "schema_version": "1.7.0",
  "id": "GHSA-53q9-r3pm-6pq6",
  "modified": "2025-04-18T00:00:00Z",
  "published": "2025-04-17T00:00:00Z",
  "aliases": ["CVE-2025-32434"],
  "summary": "PyTorch: torch.load with weights_only=True leads to remote code execution",
  "severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],
  "affected": [{
    "package": {"ecosystem": "PyPI", "name": "torch", "purl": "pkg:pypi/torch"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.6.0"}]}]
  }],
  "database_specific": {"severity": "CRITICAL", "github_reviewed": true, "cwe_ids": ["CWE-502"]}
}"#;

/// The PYSEC record of the same vulnerability: GIT range first, aliases both the CVE and the
/// GHSA, no severity, and a looser fix (2.5.2) that the GHSA record says is still affected.
const TORCH_PYSEC: &str = r#"{
  "id": "PYSEC-2025-41",
  "modified": "2025-04-20T00:00:00Z",
  "aliases": ["CVE-2025-32434", "GHSA-53q9-r3pm-6pq6"],
  "details": "PyTorch is a Python package. In 2.5.1 and prior, torch.load with weights_only=True can execute code. More.",
  "affected": [{
    "package": {"ecosystem": "PyPI", "name": "torch"},
    "ranges": [
      {"type": "GIT", "repo": "https://github.com/pytorch/pytorch", "events": [{"introduced": "0"}, {"fixed": "8d4b8a920a2172523deb95bf20e8e52d50649c04"}]},
      {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.5.2"}]}
    ],
    "versions": ["2.5.0", "2.5.1"]
  }]
}"#;

/// A CVE-only record aliasing the PYSEC one (transitive merge: CVE ↔ PYSEC ↔ GHSA).
const TORCH_CVE_ONLY: &str = r#"{
  "id": "CVE-2025-32434",
  "modified": "2025-04-19T00:00:00Z",
  "affected": [{"package": {"ecosystem": "PyPI", "name": "torch"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.6.0"}]}]}]
}"#;

/// A different torch vulnerability with CVSS v3 and last_affected (no fix).
const TORCH_OTHER: &str = r#"{
  "id": "GHSA-pg7h-5qx3-wjr3",
  "modified": "2025-05-01T00:00:00Z",
  "summary": "PyTorch denial of service in torch.nn.functional.ctc_loss",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:L"}],
  "affected": [{"package": {"ecosystem": "PyPI", "name": "torch"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.0.0"}, {"last_affected": "2.6.0"}]}]}]
}"#;

/// transformers: GHSA rating only (MODERATE), a versions list written as `4.0` (dependency
/// `4.0.0`), and an npm package of the same name that must never match PyPI.
const TRANSFORMERS: &str = r#"{
  "id": "GHSA-qxrp-vhvm-j765",
  "modified": "2024-01-01T00:00:00Z",
  "summary": "Deserialization of untrusted data in Hugging Face Transformers",
  "affected": [
    {"package": {"ecosystem": "PyPI", "name": "Transformers"}, "versions": ["4.0", "4.1.1"]},
    {"package": {"ecosystem": "npm", "name": "transformers"},
     "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}
  ],
  "database_specific": {"severity": "MODERATE"}
}"#;

/// vllm: a limit event and a withdrawn twin.
const VLLM_LIMIT: &str = r#"{
  "id": "GHSA-w6q7-j642-7c25",
  "modified": "2025-02-01T00:00:00Z",
  "summary": "vLLM deserialises pickled data from the network in MessageQueue",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "PyPI", "name": "vllm"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0.5.0"}, {"limit": "0.7.0"}]}]}]
}"#;

const VLLM_WITHDRAWN: &str = r#"{
  "id": "GHSA-xxxx-withdrawn",
  "modified": "2025-02-02T00:00:00Z",
  "withdrawn": "2025-02-03T00:00:00Z",
  "summary": "Withdrawn: duplicate",
  "affected": [{"package": {"ecosystem": "PyPI", "name": "vllm"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]
}"#;

/// A record with no severity at all, and one with a GIT-only range (must never match).
const KERAS_UNRATED: &str = r#"{
  "id": "PYSEC-2024-9999",
  "modified": "2024-06-01T00:00:00Z",
  "details": "Keras Lambda layers in .keras archives run arbitrary code on load.",
  "affected": [{"package": {"ecosystem": "PyPI", "name": "keras"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.9.0"}]}]}]
}"#;

const KERAS_GIT_ONLY: &str = r#"{
  "id": "PYSEC-2024-8888",
  "modified": "2024-06-01T00:00:00Z",
  "affected": [{"package": {"ecosystem": "PyPI", "name": "keras"},
    "ranges": [{"type": "GIT", "repo": "https://github.com/keras-team/keras", "events": [{"introduced": "0"}, {"fixed": "abcdef0123456789abcdef0123456789abcdef01"}]}]}]
}"#;

/// A Root:PyPI record (a different package universe) with the same name as a PyPI package.
const ROOT_PYPI: &str = r#"{
  "id": "ROOT-2025-1",
  "modified": "2025-01-01T00:00:00Z",
  "affected": [{"package": {"ecosystem": "Root:PyPI", "name": "keras"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]
}"#;

const LOG4J: &str = r#"{
  "id": "GHSA-jfh8-c2jp-5v3q",
  "modified": "2021-12-10T00:00:00Z",
  "aliases": ["CVE-2021-44228"],
  "summary": "Remote code injection in Log4j",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "Maven", "name": "org.apache.logging.log4j:log4j-core"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.0-beta9"}, {"fixed": "2.15.0"}]}]}]
}"#;

const GO_RECORD: &str = r#"{
  "id": "GO-2024-0001",
  "modified": "2024-01-01T00:00:00Z",
  "affected": [{"package": {"ecosystem": "Go", "name": "github.com/example/mod"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "2.1.0"}]}]}]
}"#;

const NPM_RECORD: &str = r#"{
  "id": "GHSA-npm1-npm1-npm1",
  "modified": "2024-01-01T00:00:00Z",
  "affected": [{"package": {"ecosystem": "npm", "name": "onnxruntime-web"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"fixed": "1.17.0-rc.1"}]}]}]
}"#;

fn source() -> MemorySource {
    MemorySource::new(
        [
            TORCH_GHSA,
            TORCH_PYSEC,
            TORCH_CVE_ONLY,
            TORCH_OTHER,
            TRANSFORMERS,
            VLLM_LIMIT,
            VLLM_WITHDRAWN,
            KERAS_UNRATED,
            KERAS_GIT_ONLY,
            ROOT_PYPI,
            LOG4J,
            GO_RECORD,
            NPM_RECORD,
        ]
        .into_iter()
        .map(record)
        .collect(),
    )
}

fn run(deps: &[Dependency]) -> MatchResult {
    match_dependencies(deps, &source(), &MatchOptions::default())
}

fn only(result: &MatchResult, rule: &str) -> Vec<Finding> {
    result
        .findings
        .iter()
        .filter(|f| f.rule == rule)
        .cloned()
        .collect()
}

#[test]
fn aliases_merge_transitively_into_one_finding_named_by_ghsa() {
    let result = run(&[pypi("torch", "2.5.1+cu121")]);
    let vulnerable = only(&result, "dependency-vulnerable");
    // Two distinct vulnerabilities: the RCE (3 merged records) and the DoS.
    assert_eq!(vulnerable.len(), 2, "{vulnerable:#?}");
    let rce = vulnerable
        .iter()
        .find(|f| {
            f.advisory
                .as_ref()
                .is_some_and(|a| a.id == "GHSA-53q9-r3pm-6pq6")
        })
        .unwrap_or_else(|| panic!("rce"));
    let advisory = rce.advisory.as_ref().unwrap_or_else(|| panic!("advisory"));
    assert_eq!(advisory.aliases, vec!["CVE-2025-32434", "PYSEC-2025-41"]);
    // PYSEC says 2.5.2 fixes it, GHSA says 2.5.2 is still affected: the fix must satisfy both.
    assert_eq!(advisory.fixed.as_deref(), Some("2.6.0"));
    assert_eq!(rce.severity, Severity::Critical);
    assert_eq!(advisory.cvss_score, Some(9.3));
    assert_eq!(rce.verdict, Verdict::Vulnerable);
    assert_eq!(rce.remediation.as_deref(), Some("upgrade torch to 2.6.0"));
    assert!(
        rce.message.contains("torch 2.5.1+cu121") && rce.message.contains("GHSA-53q9-r3pm-6pq6")
    );
    assert!(
        rce.message.contains("weights_only=True") && rce.message.contains("fixed in 2.6.0"),
        "{}",
        rce.message
    );
    let package = rce.package.as_ref().unwrap_or_else(|| panic!("package"));
    assert!(package.ml);
    assert_eq!(package.version.as_deref(), Some("2.5.1+cu121"));
    assert_eq!(rce.location.line, Some(3));
    assert_eq!(
        advisory.modified.as_deref(),
        Some("2025-04-20T00:00:00Z"),
        "latest modification of the group"
    );
    assert_eq!(result.matched, 1);
    assert_eq!(result.vulnerable, 1);
}

#[test]
fn last_affected_is_inclusive_and_gives_no_fix() {
    let at = run(&[pypi("torch", "2.6.0")]);
    let dos = only(&at, "dependency-vulnerable");
    assert_eq!(
        dos.len(),
        1,
        "2.6.0 is fixed for the RCE but last_affected for the DoS"
    );
    let finding = dos.first().unwrap_or_else(|| panic!("finding"));
    assert_eq!(finding.severity, Severity::Low);
    assert!(finding.message.contains("no fixed version is known"));
    assert!(finding.advisory.as_ref().is_some_and(|a| a.fixed.is_none()));
    assert!(
        finding
            .remediation
            .as_deref()
            .is_some_and(|r| r.contains("2.6.0 is the last version listed as affected")),
        "{:?}",
        finding.remediation
    );
    assert!(only(&run(&[pypi("torch", "2.6.1")]), "dependency-vulnerable").is_empty());
    assert!(
        only(&run(&[pypi("torch", "1.13.0")]), "dependency-vulnerable").len() == 1,
        "DoS introduced in 2.0.0"
    );
}

#[test]
fn versions_list_compares_parsed_values_and_other_ecosystems_never_match() {
    let result = run(&[
        pypi("transformers", "4.0.0"),
        pypi("transformers", "4.1.1+local"),
        pypi("transformers", "4.1.0"),
    ]);
    let vulnerable = only(&result, "dependency-vulnerable");
    assert_eq!(
        vulnerable.len(),
        2,
        "4.0.0 == 4.0 and 4.1.1+local is 4.1.1; 4.1.0 is not listed (npm's introduced:0 must not leak)"
    );
    for f in &vulnerable {
        assert_eq!(f.severity, Severity::Medium, "GHSA MODERATE");
        assert!(
            !f.evidence.iter().any(|e| e.label == "severity"),
            "severity is known"
        );
    }
    // The npm package of the same name is affected in npm.
    let npm = run(&[dep("npm", "transformers", Some("3.0.0"), None)]);
    assert_eq!(only(&npm, "dependency-vulnerable").len(), 1);
}

#[test]
fn limit_events_and_withdrawn_records() {
    assert_eq!(
        only(&run(&[pypi("vllm", "0.6.4")]), "dependency-vulnerable").len(),
        1
    );
    assert!(
        only(&run(&[pypi("vllm", "0.7.0")]), "dependency-vulnerable").is_empty(),
        "limit excludes 0.7.0 and the withdrawn record never matches"
    );
    assert!(only(&run(&[pypi("vllm", "0.4.0")]), "dependency-vulnerable").is_empty());
    let opts = MatchOptions {
        include_withdrawn: true,
    };
    let with = match_dependencies(&[pypi("vllm", "0.7.0")], &source(), &opts);
    assert_eq!(
        only(&with, "dependency-vulnerable").len(),
        1,
        "opt-in withdrawn records match"
    );
}

#[test]
fn unrated_advisories_are_medium_with_a_note_and_git_ranges_never_match() {
    let result = run(&[pypi("Keras", "3.8.0")]);
    let vulnerable = only(&result, "dependency-vulnerable");
    assert_eq!(
        vulnerable.len(),
        1,
        "GIT-only and Root:PyPI records must not match: {vulnerable:#?}"
    );
    let f = vulnerable.first().unwrap_or_else(|| panic!("finding"));
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.confidence, Confidence::High);
    assert!(
        f.evidence
            .iter()
            .any(|e| e.label == "severity" && e.value.starts_with("unknown"))
    );
    assert_eq!(
        f.advisory.as_ref().and_then(|a| a.summary.as_deref()),
        Some("Keras Lambda layers in .keras archives run arbitrary code on load.")
    );
}

#[test]
fn unpinned_requirements_report_what_an_allowed_version_would_hit() {
    let result = run(&[dep("PyPI", "torch", None, Some(">=2.5"))]);
    assert_eq!(result.unpinned, 1);
    let unpinned = only(&result, "dependency-unpinned");
    assert_eq!(
        unpinned.len(),
        2,
        "the RCE (2.5.x allowed) and the DoS: {unpinned:#?}"
    );
    let rce = unpinned
        .iter()
        .find(|f| {
            f.advisory
                .as_ref()
                .is_some_and(|a| a.id == "GHSA-53q9-r3pm-6pq6")
        })
        .unwrap_or_else(|| panic!("rce"));
    assert_eq!(rce.verdict, Verdict::Vulnerable);
    assert_eq!(rce.confidence, Confidence::Medium);
    assert_eq!(rce.severity, Severity::Critical);
    assert_eq!(
        rce.advisory.as_ref().and_then(|a| a.fixed.as_deref()),
        Some("2.6.0")
    );
    assert_eq!(
        rce.remediation.as_deref(),
        Some("require torch>=2.6.0 and pin an exact version in a lockfile")
    );
    let allowed = rce
        .advisory
        .as_ref()
        .and_then(|a| a.affected_allowed.clone())
        .unwrap_or_default();
    assert!(
        allowed.contains("2.5") && allowed.contains("2.6.0"),
        "{allowed}"
    );

    // A range above every affected version is clean but still reported (info, safe).
    let clean = run(&[dep("PyPI", "vllm", None, Some(">=0.7.0"))]);
    let finding = only(&clean, "dependency-unpinned");
    assert_eq!(finding.len(), 1);
    let f = finding.first().unwrap_or_else(|| panic!("finding"));
    assert_eq!((f.severity, f.verdict), (Severity::Info, Verdict::Safe));

    // `<2.6` excludes 2.6.0 pre-releases, so the DoS (introduced 2.0.0) is hit but not via 2.6.0rc1.
    let bare = run(&[dep("PyPI", "keras", None, Some(""))]);
    assert_eq!(
        only(&bare, "dependency-unpinned")
            .first()
            .map(|f| f.verdict),
        Some(Verdict::Vulnerable),
        "a bare name allows every version"
    );
}

#[test]
fn direct_urls_are_unversioned_and_uncomparable_packages_are_reported() {
    let mut vcs = dep("PyPI", "transformers", None, None);
    vcs.direct_url = Some("git+https://github.com/huggingface/transformers@main".to_string());
    let conda = dep("conda", "cudatoolkit", Some("11.8.0"), None);
    let bad_version = pypi("torch", "latest");
    let bad_spec = dep("PyPI", "torch", None, Some(">=>2"));
    let result = run(&[vcs, conda, bad_version, bad_spec]);
    assert_eq!(result.unversioned, 1);
    assert_eq!(only(&result, "dependency-unversioned").len(), 1);
    assert_eq!(result.unmatched_ecosystem, 1);
    assert_eq!(result.unmatched_version, 2);
    let not_matched = only(&result, "dependency-not-matched");
    assert_eq!(not_matched.len(), 3);
    assert!(
        not_matched
            .iter()
            .all(|f| f.severity == Severity::Info && f.verdict == Verdict::Safe)
    );
    assert!(
        not_matched
            .iter()
            .any(|f| f.message.contains("ecosystem `conda`"))
    );
    assert!(not_matched.iter().any(|f| {
        f.message
            .contains("`latest` is not a valid PEP 440 version")
    }));
}

#[test]
fn maven_go_and_npm_versions_compare_in_their_own_schemes() {
    let result = run(&[
        dep(
            "Maven",
            "org.apache.logging.log4j:log4j-core",
            Some("2.14.1"),
            None,
        ),
        dep(
            "Maven",
            "org.apache.logging.log4j:log4j-core",
            Some("2.15.0"),
            None,
        ),
        dep(
            "Maven",
            "org.apache.logging.log4j:log4j-core",
            Some("2.0-beta8"),
            None,
        ),
        dep(
            "Go",
            "github.com/example/mod",
            Some("v2.0.9+incompatible"),
            None,
        ),
        dep("Go", "github.com/example/mod", Some("v2.1.0"), None),
        dep("npm", "onnxruntime-web", Some("1.17.0-rc.0"), None),
        dep("npm", "onnxruntime-web", Some("1.17.0"), None),
    ]);
    let hits: Vec<String> = only(&result, "dependency-vulnerable")
        .iter()
        .filter_map(|f| {
            f.package
                .as_ref()
                .map(|p| format!("{} {}", p.name, p.version.clone().unwrap_or_default()))
        })
        .collect();
    let mut hits = hits;
    hits.sort();
    assert_eq!(
        hits,
        vec![
            "github.com/example/mod v2.0.9+incompatible",
            "onnxruntime-web 1.17.0-rc.0",
            "org.apache.logging.log4j:log4j-core 2.14.1",
        ]
    );
    assert_eq!(result.matched, 7);
    assert!(result.findings.iter().all(|f| f.package.as_ref().is_some_and(|p| !p.ml) || f.rule != "dependency-vulnerable"));
}

#[test]
fn affects_answers_the_single_question() {
    let torch = record(TORCH_PYSEC);
    assert!(matches!(
        affects(&torch, "PyPI", "torch", "2.5.1+cpu"),
        Ok(true)
    ));
    assert!(matches!(
        affects(&torch, "PyPI", "torch", "2.5.0.post1"),
        Ok(true)
    ));
    assert!(matches!(
        affects(&torch, "PyPI", "torch", "2.5.2"),
        Ok(false)
    ));
    assert!(
        matches!(affects(&torch, "PyPI", "pytorch", "2.5.1"), Ok(false)),
        "conda's name is not PyPI's"
    );
    assert!(matches!(
        affects(&torch, "conda", "torch", "2.5.1"),
        Err(OsvError::UnsupportedEcosystem(_))
    ));
    assert!(matches!(
        affects(&torch, "PyPI", "torch", "two"),
        Err(OsvError::InvalidVersion { .. })
    ));
}

#[test]
fn results_are_deterministic_and_sorted_worst_first() {
    let deps = [
        pypi("keras", "3.0.0"),
        pypi("torch", "2.5.1"),
        pypi("vllm", "0.6.0"),
        dep("conda", "openssl", Some("3.0"), None),
    ];
    let a = run(&deps);
    let mut reversed = deps.to_vec();
    reversed.reverse();
    let b = run(&reversed);
    assert_eq!(a.findings, b.findings);
    for pair in a.findings.windows(2) {
        if let [x, y] = pair {
            assert!(x.severity >= y.severity);
        }
    }
}

struct FailingSource;

impl AdvisorySource for FailingSource {
    fn advisories_for(&self, _: &str, _: &str) -> Result<Vec<Advisory>, OsvError> {
        Err(OsvError::Source("database is locked".to_string()))
    }
}

#[test]
fn a_failing_source_is_reported_per_dependency() {
    let result = match_dependencies(
        &[pypi("torch", "2.5.1")],
        &FailingSource,
        &MatchOptions::default(),
    );
    let f = only(&result, "dependency-not-matched");
    assert_eq!(f.len(), 1);
    assert!(
        f.first()
            .is_some_and(|f| f.message.contains("database is locked"))
    );
    assert_eq!(result.matched, 0);
}

#[test]
fn yaml_and_json_forms_of_a_record_are_the_same_advisory() {
    let yaml = "id: GHSA-53q9-r3pm-6pq6\nmodified: '2025-04-18T00:00:00Z'\naliases: [CVE-2025-32434]\naffected:\n- package: {ecosystem: PyPI, name: torch}\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: 0\n    - fixed: 2.6.0\n";
    let from_yaml = parse_yaml(yaml).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        affects(&from_yaml, "PyPI", "torch", "2.5.1"),
        Ok(true)
    ));
    assert_eq!(
        from_yaml.affected,
        record(TORCH_GHSA)
            .affected
            .into_iter()
            .map(|mut a| {
                a.package.purl = None;
                a
            })
            .collect::<Vec<_>>()
    );
}

#[test]
fn rules_are_listed_with_docs() {
    let rules = mlvet_osv::rules();
    let ids: Vec<&str> = rules.iter().map(|r| r.id).collect();
    assert_eq!(
        ids,
        [
            "dependency-vulnerable",
            "dependency-malicious-package",
            "dependency-unpinned",
            "dependency-unversioned",
            "dependency-not-matched"
        ]
    );
    for rule in rules {
        assert!(
            rule.docs.contains("## What it does")
                && rule.docs.contains("## Why is this bad?")
                && rule.docs.contains("## Remediation"),
            "{}",
            rule.id
        );
    }
}

/// An OSV malicious-packages record: every version of a typosquat.
const MALWARE: &str = r#"{
  "id": "MAL-2024-9001",
  "modified": "2024-06-01T00:00:00Z",
  "published": "2024-06-01T00:00:00Z",
  "summary": "Malicious code in torchtriton-nightly (PyPI)",
  "affected": [{
    "package": {"ecosystem": "PyPI", "name": "torchtriton-nightly"},
    "versions": ["3.0.0", "3.0.1"],
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
  }],
  "database_specific": {"malicious-packages-origins": [{"source": "ghsa-malware"}]}
}"#;

#[test]
fn malicious_package_records_are_malicious_critical_findings_pinned_or_not() {
    let source = MemorySource::new(vec![record(MALWARE), record(TORCH_GHSA)]);
    let deps = [
        pypi("torchtriton_nightly", "3.0.1"),
        dep("PyPI", "torchtriton-nightly", None, Some(">=3")),
        pypi("torch", "2.5.1"),
    ];
    let result = match_dependencies(&deps, &source, &MatchOptions::default());
    let malware = only(&result, "dependency-malicious-package");
    assert_eq!(malware.len(), 2, "{:#?}", result.findings);
    for finding in &malware {
        assert_eq!(finding.severity, Severity::Critical);
        assert_eq!(finding.verdict, Verdict::Malicious);
        assert_eq!(
            finding.advisory.as_ref().map(|a| a.id.as_str()),
            Some("MAL-2024-9001")
        );
        assert!(
            finding.message.contains("known malicious package"),
            "{}",
            finding.message
        );
    }
    // An ordinary vulnerability stays a vulnerability.
    assert_eq!(only(&result, "dependency-vulnerable").len(), 1);
}

/// A conda `pytorch` is inventoried under its PyPI name `torch`: the matcher looks it up by the
/// inventory's normalised name, never by re-normalising the conda name as written.
#[test]
fn mapped_names_are_matched_under_the_inventory_name() {
    let source = MemorySource::new(vec![record(TORCH_GHSA)]);
    let mut conda = dep("PyPI", "pytorch", Some("2.5.1"), None);
    conda.normalized_name = "torch".to_string();
    conda.origin = Origin::CondaEnv;
    let result = match_dependencies(&[conda], &source, &MatchOptions::default());
    assert_eq!(result.vulnerable, 1, "{result:#?}");
    let finding = &result.findings[0];
    let advisory = finding.advisory.as_ref().expect("advisory");
    assert_eq!(advisory.id, "GHSA-53q9-r3pm-6pq6");
    let package = finding.package.as_ref().expect("package");
    assert_eq!(
        package.name, "pytorch",
        "the name as written stays in the report"
    );
    assert!(package.ml, "the ML flag follows the PyPI name");
}
