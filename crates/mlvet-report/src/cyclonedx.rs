//! CycloneDX 1.6 JSON AI-BOM (`mlvet scan --format cyclonedx`).
//!
//! A small serde model of the parts of the specification mlvet fills, rather than the
//! `cyclonedx-bom` crate: mlvet needs the 1.6 `machine-learning-model` and `data` component
//! types, `modelCard`, and vulnerabilities with `analysis`, written deterministically.
//!
//! - Every dependency record is a `library` component (`purl`, `version`, `scope`, and
//!   `mlvet:*` properties for the source file and line, the requirement and the ML flag).
//! - Every model file is a `machine-learning-model` component (SHA-256, format and verdict as
//!   properties, `pkg:huggingface/<org>/<name>@<commit>` when its origin is known, a `modelCard`
//!   from the parser's metadata); a file from a dataset repository is a `data` component.
//! - `dependencies` is the graph the lockfiles record.
//! - `vulnerabilities` groups matched advisories by id, with aliases as `references`, ratings
//!   from the CVSS vector, the fixed version as `recommendation`, and `affects` pointing at the
//!   package components. When every finding of an advisory is suppressed by VEX, its `analysis`
//!   is `not_affected` with the statement's justification; by configuration, the reason is
//!   given as `analysis.detail` without a state.
//! - Deterministic: no serial number, and `metadata.timestamp` only when the caller passes one
//!   (the CLI uses `SOURCE_DATE_EPOCH`).

use std::collections::{BTreeMap, BTreeSet};

use mlvet_core::{
    AdvisoryRef, ArtifactReport, Finding, InventoryPackage, PackageRef, ScanReport, Severity,
    SuppressionKind,
};
use serde::Serialize;

use crate::RunMeta;
use crate::inventory::{ModelKind, models};

const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// What the CycloneDX renderer needs beyond the scan result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycloneDxOptions {
    /// RFC 3339 UTC time for `metadata.timestamp`; omitted when `None`, so output stays
    /// byte-identical across runs.
    pub timestamp: Option<String>,
}

/// Renders a CycloneDX 1.6 JSON BOM, pretty-printed with a trailing newline.
pub fn render_cyclonedx(report: &ScanReport, meta: &RunMeta, options: &CycloneDxOptions) -> String {
    let bom = build(report, meta, options);
    let mut out = serde_json::to_string_pretty(&bom).unwrap_or_else(|err| {
        serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "error": err.to_string()})
            .to_string()
    });
    out.push('\n');
    out
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom {
    #[serde(rename = "$schema")]
    schema: &'static str,
    bom_format: &'static str,
    spec_version: &'static str,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
    dependencies: Vec<DependencyNode>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vulnerabilities: Vec<Vulnerability>,
}

#[derive(Serialize)]
struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    tools: Tools,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<Component>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Component {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<LicenseChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_references: Vec<ExternalReference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_card: Option<ModelCard>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    data: Vec<ComponentData>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Hash {
    alg: &'static str,
    content: String,
}

#[derive(Serialize)]
struct LicenseChoice {
    license: License,
}

#[derive(Serialize)]
struct License {
    name: String,
}

#[derive(Serialize)]
struct ExternalReference {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelCard {
    model_parameters: ModelParameters,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    architecture_family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_architecture: Option<String>,
}

#[derive(Serialize)]
struct ComponentData {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
}

#[derive(Serialize, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Property {
    name: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DependencyNode {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<String>,
}

#[derive(Serialize)]
struct Vulnerability {
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    id: String,
    source: Source,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ratings: Vec<Rating>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recommendation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    published: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    analysis: Option<Analysis>,
    affects: Vec<Affects>,
}

#[derive(Serialize, Clone)]
struct Source {
    name: &'static str,
    url: String,
}

#[derive(Serialize)]
struct Reference {
    id: String,
    source: Source,
}

#[derive(Serialize)]
struct Rating {
    source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vector: Option<String>,
}

#[derive(Serialize)]
struct Analysis {
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    justification: Option<&'static str>,
    detail: String,
}

#[derive(Serialize)]
struct Affects {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    versions: Vec<AffectedVersion>,
}

#[derive(Serialize)]
struct AffectedVersion {
    version: String,
    status: &'static str,
}

fn build(report: &ScanReport, meta: &RunMeta, options: &CycloneDxOptions) -> Bom {
    let mut packages: Vec<InventoryPackage> = report.packages.clone();
    // A finding may name a package the inventory list lacks (a hand-built report, an SBOM
    // record refused by the inventory): it still gets a component, so `affects` can point at it.
    let mut refs_by_place: BTreeMap<(String, Option<u32>, String), String> = packages
        .iter()
        .map(|p| {
            (
                (p.source.file.clone(), p.source.line, p.name.clone()),
                p.id.clone(),
            )
        })
        .collect();
    let mut used: BTreeSet<String> = packages.iter().map(|p| p.id.clone()).collect();
    for finding in report.findings() {
        if let Some(package) = &finding.package
            && let std::collections::btree_map::Entry::Vacant(slot) =
                refs_by_place.entry(place_key(package))
        {
            let mut id = format!(
                "{}/{}|{}",
                package.ecosystem, package.name, package.source.file
            );
            while !used.insert(id.clone()) {
                id.push('+');
            }
            slot.insert(id.clone());
            packages.push(InventoryPackage {
                id,
                ecosystem: package.ecosystem.clone(),
                name: package.name.clone(),
                version: package.version.clone(),
                requirement: package.requirement.clone(),
                markers: package.markers.clone(),
                source: package.source.clone(),
                ml: package.ml,
                ..InventoryPackage::default()
            });
        }
    }
    packages.sort_by(|a, b| a.id.cmp(&b.id));

    let mut components: Vec<Component> = packages.iter().map(package_component).collect();
    let mut model_refs = BTreeSet::new();
    for (artifact, kind) in models(report) {
        let component = model_component(artifact, kind, &mut model_refs);
        components.push(component);
    }

    let dependencies = packages
        .iter()
        .map(|p| DependencyNode {
            reference: p.id.clone(),
            depends_on: p
                .depends_on
                .iter()
                .filter(|d| used.contains(*d))
                .cloned()
                .collect(),
        })
        .collect();

    Bom {
        schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
        bom_format: "CycloneDX",
        spec_version: "1.6",
        version: 1,
        metadata: Metadata {
            timestamp: options.timestamp.clone(),
            tools: Tools {
                components: vec![Component {
                    kind: "application",
                    name: "mlvet".to_string(),
                    version: Some(meta.tool_version.clone()),
                    external_references: vec![ExternalReference {
                        kind: "vcs",
                        url: REPOSITORY.to_string(),
                    }],
                    ..Component::default()
                }],
            },
            properties: meta
                .inputs
                .iter()
                .map(|input| Property {
                    name: "mlvet:input".to_string(),
                    value: input.clone(),
                })
                .collect(),
        },
        components,
        dependencies,
        vulnerabilities: vulnerabilities(report, &refs_by_place),
    }
}

fn place_key(package: &PackageRef) -> (String, Option<u32>, String) {
    (
        package.source.file.clone(),
        package.source.line,
        package.name.clone(),
    )
}

fn property(name: &str, value: impl Into<String>) -> Property {
    Property {
        name: name.to_string(),
        value: value.into(),
    }
}

fn package_component(package: &InventoryPackage) -> Component {
    let mut properties = vec![property("mlvet:source-file", package.source.file.clone())];
    if let Some(line) = package.source.line {
        properties.push(property("mlvet:source-line", line.to_string()));
    }
    if !package.ecosystem.is_empty() {
        properties.push(property("mlvet:ecosystem", package.ecosystem.clone()));
    }
    if let Some(requirement) = &package.requirement {
        properties.push(property("mlvet:requirement", requirement.clone()));
    }
    if let Some(markers) = &package.markers {
        properties.push(property("mlvet:markers", markers.clone()));
    }
    if let Some(url) = &package.direct_url {
        properties.push(property("mlvet:direct-url", url.clone()));
    }
    if package.ml {
        properties.push(property("mlvet:ml-library", "true"));
    }
    Component {
        kind: "library",
        bom_ref: Some(package.id.clone()),
        name: package.name.clone(),
        version: package.version.clone(),
        scope: match package.scope.as_deref() {
            Some("optional") => Some("optional"),
            Some("excluded") => Some("excluded"),
            Some("required") => Some("required"),
            _ => None,
        },
        purl: package.purl.clone(),
        properties,
        ..Component::default()
    }
}

/// A 40-hex commit id (the only revision a `pkg:huggingface` version may be).
fn is_commit(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

fn model_component(
    artifact: &ArtifactReport,
    kind: ModelKind,
    used: &mut BTreeSet<String>,
) -> Component {
    let mut bom_ref = format!("{}:{}", kind.as_str(), artifact.path);
    while !used.insert(bom_ref.clone()) {
        bom_ref.push('+');
    }
    let file_name = artifact
        .path
        .rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or(&artifact.path)
        .to_string();
    let metadata = &artifact.metadata;
    let origin = artifact.origin.as_ref();
    let revision = origin
        .and_then(|o| o.revision.as_deref())
        .filter(|r| is_commit(r))
        .map(str::to_ascii_lowercase);
    let (group, name) = match origin {
        Some(origin) => match origin.repo_id.split_once('/') {
            Some((org, repo)) => (Some(org.to_string()), repo.to_string()),
            None => (None, origin.repo_id.clone()),
        },
        None => (
            None,
            metadata
                .get("name")
                .cloned()
                .unwrap_or_else(|| file_name.clone()),
        ),
    };
    let purl = origin.filter(|o| o.repo_type == "model").map(|o| {
        let path = o
            .repo_id
            .split('/')
            .map(crate::sarif::encode_uri_path)
            .collect::<Vec<_>>()
            .join("/");
        match &revision {
            Some(revision) => format!("pkg:huggingface/{path}@{revision}"),
            None => format!("pkg:huggingface/{path}"),
        }
    });
    let mut properties = vec![
        property("mlvet:path", artifact.path.clone()),
        property("mlvet:format", artifact.format.clone()),
        property("mlvet:verdict", artifact.verdict.as_str()),
        property(
            "mlvet:fully-inspected",
            artifact.fully_inspected.to_string(),
        ),
        property("mlvet:size", artifact.size.to_string()),
    ];
    if let Some(path_in_repo) = origin.and_then(|o| o.path_in_repo.clone()) {
        properties.push(property("mlvet:path-in-repo", path_in_repo));
    }
    for (key, value) in metadata {
        properties.push(property(&format!("mlvet:metadata:{key}"), value.clone()));
    }
    let mut rules: Vec<&str> = artifact
        .findings
        .iter()
        .filter(|f| f.suppression.is_none())
        .map(|f| f.rule)
        .collect();
    rules.sort_unstable();
    rules.dedup();
    for rule in rules {
        properties.push(property("mlvet:finding", rule));
    }
    let parameters = ModelParameters {
        task: metadata.get("task").cloned(),
        architecture_family: metadata.get("model_type").cloned(),
        model_architecture: metadata.get("architecture").cloned(),
    };
    let has_card = parameters.task.is_some()
        || parameters.architecture_family.is_some()
        || parameters.model_architecture.is_some();
    let hub_url = origin.filter(|o| o.hub == "huggingface").map(|o| {
        let prefix = match o.repo_type.as_str() {
            "dataset" => "datasets/",
            "space" => "spaces/",
            _ => "",
        };
        format!("https://huggingface.co/{prefix}{}", o.repo_id)
    });
    Component {
        kind: match kind {
            ModelKind::Model => "machine-learning-model",
            ModelKind::Dataset => "data",
        },
        bom_ref: Some(bom_ref),
        group,
        name,
        version: revision,
        description: Some(format!("{} file {}", artifact.format, file_name)),
        hashes: artifact
            .sha256
            .iter()
            .map(|digest| Hash {
                alg: "SHA-256",
                content: digest.clone(),
            })
            .collect(),
        licenses: metadata
            .get("license")
            .map(|name| LicenseChoice {
                license: License { name: name.clone() },
            })
            .into_iter()
            .collect(),
        purl,
        external_references: hub_url
            .map(|url| ExternalReference {
                kind: "distribution",
                url,
            })
            .into_iter()
            .collect(),
        model_card: (kind == ModelKind::Model && has_card).then_some(ModelCard {
            model_parameters: parameters,
        }),
        data: match kind {
            ModelKind::Dataset => vec![ComponentData {
                kind: "dataset",
                name: file_name,
            }],
            ModelKind::Model => Vec::new(),
        },
        properties,
        ..Component::default()
    }
}

fn vulnerabilities(
    report: &ScanReport,
    refs_by_place: &BTreeMap<(String, Option<u32>, String), String>,
) -> Vec<Vulnerability> {
    let mut by_id: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for finding in report.findings() {
        if let Some(advisory) = &finding.advisory {
            by_id.entry(advisory.id.as_str()).or_default().push(finding);
        }
    }
    by_id
        .into_iter()
        .filter_map(|(id, findings)| {
            let advisory = findings.first()?.advisory.as_ref()?;
            let mut affects: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for finding in &findings {
                if let Some(package) = &finding.package
                    && let Some(reference) = refs_by_place.get(&place_key(package))
                {
                    let versions = affects.entry(reference.clone()).or_default();
                    versions.extend(package.version.clone());
                }
            }
            let fixes: BTreeSet<String> = findings
                .iter()
                .filter_map(|f| {
                    let fixed = f.advisory.as_ref()?.fixed.as_ref()?;
                    let name = f
                        .package
                        .as_ref()
                        .map_or("the package", |p| p.name.as_str());
                    Some(format!("Upgrade {name} to {fixed} or later."))
                })
                .collect();
            Some(Vulnerability {
                bom_ref: format!("vulnerability:{id}"),
                id: id.to_string(),
                source: source_of(id),
                references: advisory
                    .aliases
                    .iter()
                    .filter(|alias| alias.as_str() != id)
                    .map(|alias| Reference {
                        id: alias.clone(),
                        source: source_of(alias),
                    })
                    .collect(),
                ratings: rating(advisory, id).into_iter().collect(),
                description: advisory.summary.clone(),
                recommendation: (!fixes.is_empty())
                    .then(|| fixes.into_iter().collect::<Vec<_>>().join(" ")),
                published: advisory.published.clone().filter(|t| is_date_time(t)),
                updated: advisory.modified.clone().filter(|t| is_date_time(t)),
                analysis: analysis(&findings),
                affects: affects
                    .into_iter()
                    .map(|(reference, versions)| Affects {
                        reference,
                        versions: versions
                            .into_iter()
                            .map(|version| AffectedVersion {
                                version,
                                status: "affected",
                            })
                            .collect(),
                    })
                    .collect(),
            })
        })
        .collect()
}

/// Where an advisory id is published, by its prefix.
fn source_of(id: &str) -> Source {
    if id.starts_with("CVE-") {
        Source {
            name: "NVD",
            url: format!("https://nvd.nist.gov/vuln/detail/{id}"),
        }
    } else if id.starts_with("GHSA-") {
        Source {
            name: "GitHub",
            url: format!("https://github.com/advisories/{id}"),
        }
    } else {
        Source {
            name: "OSV",
            url: format!("https://osv.dev/vulnerability/{id}"),
        }
    }
}

fn rating(advisory: &AdvisoryRef, id: &str) -> Option<Rating> {
    let vector = advisory.cvss_vector.clone();
    let method = vector.as_deref().map(|v| {
        if v.starts_with("CVSS:3.1/") {
            "CVSSv31"
        } else if v.starts_with("CVSS:3.0/") {
            "CVSSv3"
        } else if v.starts_with("CVSS:4.0/") {
            "CVSSv4"
        } else if v.starts_with("AV:") || v.starts_with("(AV:") {
            "CVSSv2"
        } else {
            "other"
        }
    });
    let score = advisory.cvss_score.filter(|s| s.is_finite());
    if advisory.severity.is_none() && score.is_none() && vector.is_none() {
        return None;
    }
    Some(Rating {
        source: source_of(id),
        score,
        severity: match advisory.severity {
            Some(Severity::Critical) => "critical",
            Some(Severity::High) => "high",
            Some(Severity::Medium) => "medium",
            Some(Severity::Low) => "low",
            Some(Severity::Info) => "info",
            None => "unknown",
        },
        method,
        vector,
    })
}

/// OpenVEX justifications and their CycloneDX counterparts.
const VEX_JUSTIFICATIONS: [(&str, &str); 4] = [
    ("component_not_present", "code_not_present"),
    ("vulnerable_code_not_present", "code_not_present"),
    ("vulnerable_code_not_in_execute_path", "code_not_reachable"),
    (
        "inline_mitigations_already_exist",
        "protected_by_mitigating_control",
    ),
];

/// The analysis of an advisory whose findings are all suppressed: `not_affected` when every
/// suppression is a VEX statement, otherwise only the reasons as detail. `None` while any
/// finding still counts.
fn analysis(findings: &[&Finding]) -> Option<Analysis> {
    let suppressions: Vec<_> = findings
        .iter()
        .map(|f| f.suppression.as_ref())
        .collect::<Option<Vec<_>>>()?;
    let all_vex = suppressions.iter().all(|s| s.kind == SuppressionKind::Vex);
    let reasons: BTreeSet<String> = suppressions
        .iter()
        .map(|s| match &s.source {
            Some(source) => format!("{} ({}: {source})", s.reason, s.kind.as_str()),
            None => format!("{} ({})", s.reason, s.kind.as_str()),
        })
        .collect();
    let justification = all_vex
        .then(|| {
            VEX_JUSTIFICATIONS
                .iter()
                .find(|(vex, _)| suppressions.iter().all(|s| s.reason.contains(vex)))
                .map(|(_, cyclonedx)| *cyclonedx)
        })
        .flatten();
    Some(Analysis {
        state: all_vex.then_some("not_affected"),
        justification,
        detail: reasons.into_iter().collect::<Vec<_>>().join("; "),
    })
}

/// RFC 3339 date-time shape (`YYYY-MM-DDTHH:MM:SS` then fraction and zone), as the schema's
/// `date-time` format requires; anything else is left out rather than make the BOM invalid.
fn is_date_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    let zone = text.get(19..).unwrap_or("");
    let zone = zone
        .strip_prefix('.')
        .map(|rest| rest.trim_start_matches(|c: char| c.is_ascii_digit()))
        .unwrap_or(zone);
    digits(0..4)
        && bytes.get(4) == Some(&b'-')
        && digits(5..7)
        && bytes.get(7) == Some(&b'-')
        && digits(8..10)
        && matches!(bytes.get(10), Some(b'T' | b't'))
        && digits(11..13)
        && bytes.get(13) == Some(&b':')
        && digits(14..16)
        && bytes.get(16) == Some(&b':')
        && digits(17..19)
        && (zone == "Z"
            || zone == "z"
            || (zone.len() == 6
                && matches!(zone.as_bytes().first(), Some(b'+' | b'-'))
                && zone.as_bytes().get(3) == Some(&b':')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_are_checked_before_they_reach_the_bom() {
        assert!(is_date_time("2022-11-26T02:15:00Z"));
        assert!(is_date_time("2023-05-04T03:49:48.383740Z"));
        assert!(is_date_time("2023-05-04T03:49:48+02:00"));
        assert!(!is_date_time("2023-05-04"));
        assert!(!is_date_time("yesterday"));
        assert!(!is_date_time("2023-05-04T03:49:48"));
    }

    #[test]
    fn only_full_commits_version_a_hub_purl() {
        assert!(is_commit("0123456789abcdef0123456789abcdef01234567"));
        assert!(!is_commit("main"));
    }
}
