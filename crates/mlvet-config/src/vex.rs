//! OpenVEX documents (specification v0.2.0): parsing and validation.
//!
//! Only what matching needs is kept: each statement's vulnerability name and aliases, its
//! products and subcomponents (package URLs), status, justification and impact statement, and
//! its effective timestamp (the statement's own, else the document's).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::date::parse_rfc3339;
use crate::error::ConfigError;

/// VEX documents larger than this are refused.
pub const MAX_VEX_BYTES: usize = 32 * 1024 * 1024;
/// More statements (or products in one statement) than this are refused.
pub const MAX_STATEMENTS: usize = 100_000;

/// The status of a vulnerability for the statement's products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VexStatus {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl VexStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::Affected => "affected",
            VexStatus::Fixed => "fixed",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }
}

/// One validated statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexStatement {
    /// 0-based index in the document's `statements`.
    pub index: usize,
    /// `vulnerability.name`, `vulnerability.@id` and `vulnerability.aliases`.
    pub vulnerability_ids: Vec<String>,
    /// Package URLs of the products and of their subcomponents (`@id` or `identifiers.purl`).
    pub purls: Vec<String>,
    pub status: VexStatus,
    pub justification: Option<String>,
    pub impact_statement: Option<String>,
    /// Nanoseconds since the Unix epoch, UTC.
    pub timestamp: i128,
}

/// One validated OpenVEX document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexDocument {
    pub path: PathBuf,
    pub id: String,
    pub statements: Vec<VexStatement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    #[serde(rename = "@context")]
    context: String,
    #[serde(rename = "@id")]
    id: String,
    author: String,
    #[serde(default)]
    role: Option<String>,
    timestamp: String,
    #[serde(default)]
    last_updated: Option<String>,
    version: serde_json::Value,
    #[serde(default)]
    tooling: Option<String>,
    statements: Vec<RawStatement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatement {
    #[serde(rename = "@id", default)]
    _id: Option<String>,
    #[serde(default)]
    version: Option<serde_json::Value>,
    vulnerability: RawVulnerability,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    last_updated: Option<String>,
    #[serde(default)]
    products: Vec<RawComponent>,
    status: String,
    #[serde(default)]
    supplier: Option<String>,
    #[serde(default)]
    status_notes: Option<String>,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    impact_statement: Option<String>,
    #[serde(default)]
    action_statement: Option<String>,
    #[serde(default)]
    action_statement_timestamp: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVulnerability {
    #[serde(rename = "@id", default)]
    id: Option<String>,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    #[serde(rename = "@id", default)]
    id: Option<String>,
    #[serde(default)]
    identifiers: Option<RawIdentifiers>,
    #[serde(default)]
    hashes: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    subcomponents: Vec<RawComponent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentifiers {
    #[serde(default)]
    purl: Option<String>,
    #[serde(rename = "@cpe22", default)]
    cpe22: Option<String>,
    #[serde(rename = "@cpe23", default)]
    cpe23: Option<String>,
}

/// The justifications OpenVEX defines for `not_affected`.
pub const JUSTIFICATIONS: [&str; 5] = [
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

/// Reads and validates the OpenVEX document at `path`.
pub fn load(path: &Path) -> Result<VexDocument, ConfigError> {
    use std::io::Read;
    let read_error = |message: String| ConfigError::Read {
        path: path.to_path_buf(),
        message,
    };
    let file = mlvet_core::fs::open_regular(path).map_err(|e| read_error(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_VEX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(e.to_string()))?;
    if bytes.len() > MAX_VEX_BYTES {
        return Err(read_error(format!(
            "larger than {} MiB",
            MAX_VEX_BYTES / (1024 * 1024)
        )));
    }
    parse(&bytes, path)
}

/// Parses and validates an OpenVEX JSON document; `path` names it in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<VexDocument, ConfigError> {
    let error = |message: String| ConfigError::Vex {
        path: path.to_path_buf(),
        message,
    };
    let raw: RawDocument = serde_json::from_slice(bytes).map_err(|e| {
        error(format!(
            "not an OpenVEX document: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if !raw.context.starts_with("https://openvex.dev/ns") {
        return Err(error(format!(
            "`@context` is `{}`, not an OpenVEX context such as https://openvex.dev/ns/v0.2.0",
            raw.context
        )));
    }
    if raw.id.trim().is_empty() {
        return Err(error("`@id` is empty".into()));
    }
    if raw.author.trim().is_empty() {
        return Err(error("`author` is empty".into()));
    }
    let document_time = parse_rfc3339(&raw.timestamp).ok_or_else(|| {
        error(format!(
            "`timestamp` `{}` is not an RFC 3339 date-time",
            raw.timestamp
        ))
    })?;
    if let Some(updated) = &raw.last_updated
        && parse_rfc3339(updated).is_none()
    {
        return Err(error(format!(
            "`last_updated` `{updated}` is not an RFC 3339 date-time"
        )));
    }
    if raw.version.as_u64().is_none_or(|v| v < 1) {
        return Err(error(format!(
            "`version` is {}, not an integer of at least 1",
            raw.version
        )));
    }
    if raw.statements.is_empty() {
        return Err(error("`statements` is empty".into()));
    }
    if raw.statements.len() > MAX_STATEMENTS {
        return Err(error(format!("more than {MAX_STATEMENTS} statements")));
    }
    let _ = (&raw.role, &raw.tooling);
    let mut statements = Vec::with_capacity(raw.statements.len());
    for (index, statement) in raw.statements.into_iter().enumerate() {
        statements.push(
            validate_statement(index, statement, document_time)
                .map_err(|message| error(format!("statement {index}: {message}")))?,
        );
    }
    Ok(VexDocument {
        path: path.to_path_buf(),
        id: raw.id,
        statements,
    })
}

fn validate_statement(
    index: usize,
    raw: RawStatement,
    document_time: i128,
) -> Result<VexStatement, String> {
    let status = match raw.status.as_str() {
        "not_affected" => VexStatus::NotAffected,
        "affected" => VexStatus::Affected,
        "fixed" => VexStatus::Fixed,
        "under_investigation" => VexStatus::UnderInvestigation,
        other => {
            return Err(format!(
                "`status` `{other}` is not one of not_affected, affected, fixed, under_investigation"
            ));
        }
    };
    if raw.vulnerability.name.trim().is_empty() {
        return Err("`vulnerability.name` is empty".into());
    }
    if let Some(justification) = &raw.justification
        && !JUSTIFICATIONS.contains(&justification.as_str())
    {
        return Err(format!(
            "`justification` `{justification}` is not one of {}",
            JUSTIFICATIONS.join(", ")
        ));
    }
    let impact = raw
        .impact_statement
        .as_deref()
        .filter(|s| !s.trim().is_empty());
    if status == VexStatus::NotAffected && raw.justification.is_none() && impact.is_none() {
        return Err("`not_affected` needs a `justification` or an `impact_statement`".into());
    }
    if status == VexStatus::Affected
        && raw
            .action_statement
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
    {
        return Err("`affected` needs an `action_statement`".into());
    }
    if let Some(version) = &raw.version
        && version.as_u64().is_none_or(|v| v < 1)
    {
        return Err(format!(
            "`version` is {version}, not an integer of at least 1"
        ));
    }
    let mut timestamp = document_time;
    for (key, value) in [
        ("timestamp", &raw.timestamp),
        ("last_updated", &raw.last_updated),
        (
            "action_statement_timestamp",
            &raw.action_statement_timestamp,
        ),
    ] {
        if let Some(text) = value {
            let parsed = parse_rfc3339(text)
                .ok_or_else(|| format!("`{key}` `{text}` is not an RFC 3339 date-time"))?;
            // A statement's own time replaces the document's; a later update moves it on.
            match key {
                "timestamp" => timestamp = parsed,
                "last_updated" => timestamp = timestamp.max(parsed),
                _ => {}
            }
        }
    }
    if raw.products.len() > MAX_STATEMENTS {
        return Err(format!("more than {MAX_STATEMENTS} products"));
    }
    let mut purls = Vec::new();
    for product in &raw.products {
        collect_purls(product, &mut purls)?;
        if product.subcomponents.len() > MAX_STATEMENTS {
            return Err(format!("more than {MAX_STATEMENTS} subcomponents"));
        }
        for sub in &product.subcomponents {
            if !sub.subcomponents.is_empty() {
                return Err("a subcomponent cannot have subcomponents".into());
            }
            collect_purls(sub, &mut purls)?;
        }
    }
    let _ = (
        &raw.supplier,
        &raw.status_notes,
        &raw.vulnerability.description,
    );
    let mut vulnerability_ids = vec![raw.vulnerability.name.trim().to_string()];
    vulnerability_ids.extend(raw.vulnerability.id.iter().map(|s| s.trim().to_string()));
    vulnerability_ids.extend(
        raw.vulnerability
            .aliases
            .iter()
            .map(|s| s.trim().to_string()),
    );
    vulnerability_ids.retain(|id| !id.is_empty());
    let _ = index;
    Ok(VexStatement {
        index,
        vulnerability_ids,
        purls,
        status,
        justification: raw.justification,
        impact_statement: impact.map(str::to_string),
        timestamp,
    })
}

/// The package URLs naming `component` (its `@id` when that is a purl, and `identifiers.purl`).
fn collect_purls(component: &RawComponent, out: &mut Vec<String>) -> Result<(), String> {
    let _ = &component.hashes;
    for purl in component
        .id
        .iter()
        .chain(component.identifiers.as_ref().and_then(|i| i.purl.as_ref()))
    {
        if purl.starts_with("pkg:") {
            if crate::purl::Purl::parse(purl).is_none() {
                return Err(format!("`{purl}` is not a valid package URL"));
            }
            out.push(purl.clone());
        }
    }
    if let Some(identifiers) = &component.identifiers {
        let _ = (&identifiers.cpe22, &identifiers.cpe23);
        if let Some(purl) = &identifiers.purl
            && !purl.starts_with("pkg:")
        {
            return Err(format!("`identifiers.purl` `{purl}` is not a package URL"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(statements: &str) -> String {
        format!(
            r#"{{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1",
                "author": "Security Team", "timestamp": "2024-01-01T00:00:00Z", "version": 1,
                "statements": [{statements}]}}"#
        )
    }

    fn parse_str(text: &str) -> Result<VexDocument, ConfigError> {
        parse(text.as_bytes(), Path::new("v.json"))
    }

    #[test]
    fn a_statement_keeps_ids_purls_and_time() {
        let parsed = parse_str(&doc(
            r#"{"vulnerability": {"name": "CVE-2022-45907", "aliases": ["GHSA-47fc-vmwq-366v"]},
                "timestamp": "2024-02-01T12:00:00+01:00",
                "products": [{"@id": "pkg:github/acme/app@v1",
                              "subcomponents": [{"@id": "pkg:pypi/torch@1.13.0"}]},
                             {"identifiers": {"purl": "pkg:pypi/numpy"}}],
                "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}"#,
        ))
        .expect("valid");
        let statement = &parsed.statements[0];
        assert_eq!(
            statement.vulnerability_ids,
            ["CVE-2022-45907", "GHSA-47fc-vmwq-366v"]
        );
        assert_eq!(
            statement.purls,
            [
                "pkg:github/acme/app@v1",
                "pkg:pypi/torch@1.13.0",
                "pkg:pypi/numpy"
            ]
        );
        assert_eq!(statement.status, VexStatus::NotAffected);
        assert_eq!(
            statement.timestamp,
            parse_rfc3339("2024-02-01T11:00:00Z").expect("time")
        );
    }

    #[test]
    fn statements_inherit_the_document_time() {
        let parsed = parse_str(&doc(
            r#"{"vulnerability": {"name": "CVE-1"}, "status": "fixed", "products": [{"@id": "pkg:pypi/x"}]}"#,
        ))
        .expect("valid");
        assert_eq!(
            parsed.statements[0].timestamp,
            parse_rfc3339("2024-01-01T00:00:00Z").expect("t")
        );
    }

    #[test]
    fn invalid_documents_say_why() {
        for (statements, expected) in [
            (
                r#"{"vulnerability": {"name": "CVE-1"}, "status": "not_affected"}"#,
                "justification",
            ),
            (
                r#"{"vulnerability": {"name": "CVE-1"}, "status": "affected"}"#,
                "action_statement",
            ),
            (
                r#"{"vulnerability": {"name": "CVE-1"}, "status": "unknown"}"#,
                "status",
            ),
            (
                r#"{"vulnerability": {"name": "CVE-1"}, "status": "not_affected", "justification": "because"}"#,
                "justification",
            ),
            (
                r#"{"vulnerability": {"name": ""}, "status": "fixed"}"#,
                "vulnerability.name",
            ),
            (
                r#"{"vulnerability": {"name": "CVE-1"}, "status": "fixed", "timestamp": "yesterday"}"#,
                "timestamp",
            ),
            (
                r#"{"vulnerability": {"name": "CVE-1"}, "status": "fixed", "products": [{"@id": "pkg:"}]}"#,
                "package URL",
            ),
            (
                r#"{"vulnerability": {"name": "CVE-1"}, "status": "fixed", "colour": "red"}"#,
                "colour",
            ),
        ] {
            let err = parse_str(&doc(statements)).expect_err(statements);
            assert!(err.to_string().contains(expected), "{statements}: {err}");
        }
        let err = parse_str("{}").expect_err("empty");
        assert!(err.to_string().contains("@context"), "{err}");
        let err =
            parse_str(&doc("").replace("https://openvex.dev/ns/v0.2.0", "https://example.com"))
                .expect_err("ctx");
        assert!(err.to_string().contains("@context"), "{err}");
        let err = parse_str(&doc("")).expect_err("no statements");
        assert!(err.to_string().contains("statements"), "{err}");
    }
}
