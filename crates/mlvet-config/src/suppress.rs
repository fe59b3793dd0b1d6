//! Applying configured ignores and OpenVEX statements to a finished scan report.
//!
//! Suppressed findings stay in the report with [`Suppression`] set; verdicts are derived again
//! (`refresh_verdict`), so exit codes and summaries only count what is left. Every ignore that
//! matched nothing, and every expired one, becomes a warning in the report.

use mlvet_core::{Finding, ScanReport, Suppression, SuppressionKind};

use crate::date::Date;
use crate::purl::{Purl, normalize_pypi, purl_type};
use crate::settings::{Ignore, IgnoreTarget};
use crate::vex::{VexDocument, VexStatement, VexStatus};

/// Ignores from one configuration file.
#[derive(Debug, Clone)]
pub struct IgnoreSet<'a> {
    /// The configuration file, as shown in reports.
    pub source: String,
    pub ignores: &'a [Ignore],
}

/// How many findings each kind of suppression covered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub by_config: usize,
    pub by_vex: usize,
}

/// Suppresses the findings of `report` that an unexpired ignore or a `not_affected` VEX
/// statement covers, refreshes the verdicts and appends warnings for expired and unused ignores.
/// Findings already suppressed (e.g. inline) are left as they are. Ignores are consulted first,
/// in file order; then VEX.
pub fn apply(
    report: &mut ScanReport,
    ignores: &IgnoreSet<'_>,
    vex: &[VexDocument],
    today: Date,
) -> Applied {
    let mut applied = Applied::default();
    let mut used = vec![0usize; ignores.ignores.len()];
    let active: Vec<bool> = ignores
        .ignores
        .iter()
        .map(|ignore| ignore.expires.is_none_or(|last_day| today <= last_day))
        .collect();
    for artifact in &mut report.artifacts {
        for finding in &mut artifact.findings {
            if finding.suppression.is_some() {
                continue;
            }
            let by_ignore = ignores
                .ignores
                .iter()
                .enumerate()
                .find(|(i, ignore)| active[*i] && ignore_matches(ignore, finding));
            if let Some((index, ignore)) = by_ignore {
                used[index] += 1;
                applied.by_config += 1;
                finding.suppression = Some(Suppression {
                    kind: SuppressionKind::Config,
                    reason: ignore.reason.clone(),
                    source: Some(format!("{}:{}", ignores.source, ignore.line)),
                });
                continue;
            }
            if let Some((document, statement)) = deciding_statement(vex, finding)
                && statement.status == VexStatus::NotAffected
            {
                applied.by_vex += 1;
                finding.suppression = Some(Suppression {
                    kind: SuppressionKind::Vex,
                    reason: vex_reason(statement),
                    source: Some(format!(
                        "{} (statement {})",
                        document.path.display(),
                        statement.index
                    )),
                });
            }
        }
        artifact.refresh_verdict();
    }
    for (index, ignore) in ignores.ignores.iter().enumerate() {
        if !active[index] {
            if let Some(last_day) = ignore.expires {
                report.warnings.push(format!(
                    "{}:{}: the ignore of {} expired on {last_day} and no longer applies; \
                     fix the findings or renew it with a new reason",
                    ignores.source,
                    ignore.line,
                    ignore.describe()
                ));
            }
        } else if used[index] == 0 {
            report.warnings.push(format!(
                "{}:{}: the ignore of {} matched no finding; remove it if it is no longer needed",
                ignores.source,
                ignore.line,
                ignore.describe()
            ));
        }
    }
    report.sort();
    applied
}

fn ignore_matches(ignore: &Ignore, finding: &Finding) -> bool {
    let selected = match &ignore.target {
        IgnoreTarget::Rule(rule) => finding.rule == rule,
        IgnoreTarget::Advisory(id) => advisory_matches(finding, std::slice::from_ref(id)),
        IgnoreTarget::RuleAndAdvisory { rule, advisory } => {
            finding.rule == rule && advisory_matches(finding, std::slice::from_ref(advisory))
        }
    };
    if !selected {
        return false;
    }
    if let Some(package) = &ignore.package {
        let Some(found) = &finding.package else {
            return false;
        };
        if normalize_pypi(&found.name) != normalize_pypi(package) {
            return false;
        }
    }
    if let Some((_, globs)) = &ignore.path {
        let path = std::path::Path::new(&finding.location.path);
        let in_source = finding
            .package
            .as_ref()
            .map(|p| std::path::Path::new(&p.source.file));
        if !globs.matches(path, false) && !in_source.is_some_and(|p| globs.matches(p, false)) {
            return false;
        }
    }
    true
}

/// Whether the finding's advisory id or one of its aliases is one of `ids` (case-insensitive).
fn advisory_matches(finding: &Finding, ids: &[String]) -> bool {
    let Some(advisory) = &finding.advisory else {
        return false;
    };
    std::iter::once(&advisory.id)
        .chain(advisory.aliases.iter())
        .any(|known| ids.iter().any(|id| id.eq_ignore_ascii_case(known)))
}

/// The statement that decides the finding: of every statement naming its vulnerability and its
/// package, the one with the latest timestamp (on a tie, the later one in command-line and
/// document order). A later `affected` statement therefore overrides an older `not_affected`.
fn deciding_statement<'a>(
    vex: &'a [VexDocument],
    finding: &Finding,
) -> Option<(&'a VexDocument, &'a VexStatement)> {
    let package = finding.package.as_ref()?;
    finding.advisory.as_ref()?;
    let mut best: Option<(&VexDocument, &VexStatement)> = None;
    for document in vex {
        for statement in &document.statements {
            if !advisory_matches(finding, &statement.vulnerability_ids) {
                continue;
            }
            if !statement
                .purls
                .iter()
                .any(|purl| purl_matches(purl, package))
            {
                continue;
            }
            if best.is_none_or(|(_, current)| statement.timestamp >= current.timestamp) {
                best = Some((document, statement));
            }
        }
    }
    best
}

/// Whether `purl` names the finding's package: same type and name, and, when the purl has a
/// version, the same version (PEP 440 equality for PyPI).
fn purl_matches(purl: &str, package: &mlvet_core::PackageRef) -> bool {
    let Some(purl) = Purl::parse(purl) else {
        return false;
    };
    let Some(kind) = purl_type(&package.ecosystem) else {
        return false;
    };
    if purl.kind != kind {
        return false;
    }
    let name_matches = match kind {
        "pypi" => {
            purl.namespace.is_none() && normalize_pypi(&purl.name) == normalize_pypi(&package.name)
        }
        "maven" => purl
            .namespace
            .as_ref()
            .is_some_and(|ns| format!("{ns}:{}", purl.name) == package.name),
        _ => {
            let full = match &purl.namespace {
                Some(ns) => format!("{ns}/{}", purl.name),
                None => purl.name.clone(),
            };
            full == package.name
        }
    };
    if !name_matches {
        return false;
    }
    match (&purl.version, &package.version) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(wanted), Some(used)) if kind == "pypi" => pep440_equal(wanted, used),
        (Some(wanted), Some(used)) => wanted == used,
    }
}

fn pep440_equal(a: &str, b: &str) -> bool {
    use std::str::FromStr;
    match (
        uv_pep440::Version::from_str(a),
        uv_pep440::Version::from_str(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn vex_reason(statement: &VexStatement) -> String {
    match (&statement.justification, &statement.impact_statement) {
        (Some(justification), Some(impact)) => format!("not_affected: {justification}: {impact}"),
        (Some(justification), None) => format!("not_affected: {justification}"),
        (None, Some(impact)) => format!("not_affected: {impact}"),
        (None, None) => "not_affected".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{ConfigKind, parse};
    use mlvet_core::{
        AdvisoryRef, ArtifactReport, Location, PackageRef, RuleMeta, Severity, Verdict,
    };
    use std::path::Path;

    static VULN: RuleMeta = RuleMeta {
        id: "vulnerable-dependency",
        category: "dependencies",
        summary: "s",
        default_severity: Severity::High,
        verdict: Verdict::Vulnerable,
        docs: "",
    };

    fn torch_finding(version: &str) -> Finding {
        Finding::new(
            &VULN,
            Location::file("requirements.txt").with_line(1),
            "torch is vulnerable",
        )
        .package(PackageRef {
            ecosystem: "PyPI".into(),
            name: "torch".into(),
            version: Some(version.into()),
            ..PackageRef::default()
        })
        .advisory(AdvisoryRef {
            id: "PYSEC-2022-43015".into(),
            aliases: vec!["CVE-2022-45907".into()],
            ..AdvisoryRef::default()
        })
    }

    fn report(findings: Vec<Finding>) -> ScanReport {
        ScanReport {
            artifacts: vec![ArtifactReport::new(
                "requirements.txt".into(),
                "requirements".into(),
                10,
                true,
                findings,
            )],
            ..ScanReport::default()
        }
    }

    fn ignores(text: &str) -> Vec<Ignore> {
        parse(text, Path::new("/p/mlvet.toml"), ConfigKind::MlvetToml)
            .expect("valid")
            .ignores
    }

    fn vex(statements: &str) -> VexDocument {
        let text = format!(
            r#"{{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:x", "author": "a",
                "timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": [{statements}]}}"#
        );
        crate::vex::parse(text.as_bytes(), Path::new("v.json")).expect("valid vex")
    }

    const TODAY: Date = Date {
        year: 2026,
        month: 6,
        day: 1,
    };

    #[test]
    fn an_alias_ignore_suppresses_and_the_verdict_follows() {
        let list =
            ignores("[[ignore]]\nadvisory = \"cve-2022-45907\"\nreason = \"not reachable\"\n");
        let mut r = report(vec![torch_finding("1.13.0")]);
        assert_eq!(r.artifacts[0].verdict, Verdict::Vulnerable);
        let applied = apply(
            &mut r,
            &IgnoreSet {
                source: "mlvet.toml".into(),
                ignores: &list,
            },
            &[],
            TODAY,
        );
        assert_eq!(applied.by_config, 1);
        let finding = &r.artifacts[0].findings[0];
        let suppression = finding.suppression.as_ref().expect("suppressed");
        assert_eq!(suppression.kind, SuppressionKind::Config);
        assert_eq!(suppression.reason, "not reachable");
        assert_eq!(suppression.source.as_deref(), Some("mlvet.toml:1"));
        assert_eq!(r.artifacts[0].verdict, Verdict::Safe);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn package_and_path_narrow_an_ignore() {
        let list = ignores(
            "[[ignore]]\nrule = \"vulnerable-dependency\"\npackage = \"numpy\"\nreason = \"r\"\n\
             [[ignore]]\nrule = \"vulnerable-dependency\"\npath = \"/other/**\"\nreason = \"r\"\n",
        );
        let mut r = report(vec![torch_finding("1.13.0")]);
        apply(
            &mut r,
            &IgnoreSet {
                source: "mlvet.toml".into(),
                ignores: &list,
            },
            &[],
            TODAY,
        );
        assert!(r.artifacts[0].findings[0].suppression.is_none());
        assert_eq!(r.warnings.len(), 2, "both unused: {:?}", r.warnings);
    }

    #[test]
    fn expired_ignores_stop_applying_and_say_so() {
        let list = ignores(
            "[[ignore]]\nadvisory = \"PYSEC-2022-43015\"\nreason = \"r\"\nexpires = 2026-05-31\n",
        );
        let mut r = report(vec![torch_finding("1.13.0")]);
        apply(
            &mut r,
            &IgnoreSet {
                source: "mlvet.toml".into(),
                ignores: &list,
            },
            &[],
            TODAY,
        );
        assert!(r.artifacts[0].findings[0].suppression.is_none());
        assert_eq!(r.artifacts[0].verdict, Verdict::Vulnerable);
        assert!(
            r.warnings[0].contains("expired on 2026-05-31"),
            "{:?}",
            r.warnings
        );

        // The last day itself still applies.
        let list = ignores(
            "[[ignore]]\nadvisory = \"PYSEC-2022-43015\"\nreason = \"r\"\nexpires = 2026-06-01\n",
        );
        let mut r = report(vec![torch_finding("1.13.0")]);
        apply(
            &mut r,
            &IgnoreSet {
                source: "mlvet.toml".into(),
                ignores: &list,
            },
            &[],
            TODAY,
        );
        assert!(r.artifacts[0].findings[0].suppression.is_some());
    }

    #[test]
    fn vex_not_affected_suppresses_matching_version_only() {
        let document = vex(
            r#"{"vulnerability": {"name": "CVE-2022-45907"}, "products": [{"@id": "pkg:pypi/torch@1.13.0"}],
                "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}"#,
        );
        let none = IgnoreSet {
            source: "-".into(),
            ignores: &[],
        };
        let mut r = report(vec![torch_finding("1.13.0"), torch_finding("1.12.0")]);
        let applied = apply(&mut r, &none, std::slice::from_ref(&document), TODAY);
        assert_eq!(applied.by_vex, 1);
        let suppressed: Vec<_> = r.artifacts[0]
            .findings
            .iter()
            .map(|f| {
                (
                    f.package.as_ref().and_then(|p| p.version.clone()),
                    f.suppression.is_some(),
                )
            })
            .collect();
        assert!(
            suppressed.contains(&(Some("1.13.0".into()), true)),
            "{suppressed:?}"
        );
        assert!(
            suppressed.contains(&(Some("1.12.0".into()), false)),
            "{suppressed:?}"
        );
        assert_eq!(r.artifacts[0].verdict, Verdict::Vulnerable);
    }

    #[test]
    fn the_latest_statement_wins() {
        let document = vex(
            r#"{"vulnerability": {"name": "CVE-2022-45907"}, "products": [{"@id": "pkg:pypi/torch"}],
                "status": "affected", "action_statement": "upgrade", "timestamp": "2024-03-01T00:00:00Z"},
               {"vulnerability": {"name": "PYSEC-2022-43015"}, "products": [{"@id": "pkg:pypi/torch@1.13"}],
                "status": "not_affected", "impact_statement": "never loaded", "timestamp": "2024-02-01T00:00:00Z"}"#,
        );
        let none = IgnoreSet {
            source: "-".into(),
            ignores: &[],
        };
        let mut r = report(vec![torch_finding("1.13.0")]);
        apply(&mut r, &none, std::slice::from_ref(&document), TODAY);
        assert!(
            r.artifacts[0].findings[0].suppression.is_none(),
            "later affected wins"
        );

        let document = vex(
            r#"{"vulnerability": {"name": "CVE-2022-45907"}, "products": [{"@id": "pkg:github/acme/app",
                "subcomponents": [{"@id": "pkg:pypi/Torch@1.13"}]}],
                "status": "not_affected", "impact_statement": "never loaded", "timestamp": "2024-03-01T00:00:00Z"}"#,
        );
        let mut r = report(vec![torch_finding("1.13.0")]);
        apply(&mut r, &none, std::slice::from_ref(&document), TODAY);
        let suppression = r.artifacts[0].findings[0]
            .suppression
            .as_ref()
            .expect("subcomponent matches");
        assert_eq!(suppression.kind, SuppressionKind::Vex);
        assert_eq!(suppression.reason, "not_affected: never loaded");
    }
}
