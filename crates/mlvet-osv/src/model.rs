//! The OSV record model (schema 1.x), lenient on input and canonical on output.
//!
//! Every field is optional on input (`#[serde(default)]`, `null` accepted for lists and strings),
//! unknown fields are dropped, and serialisation omits empty fields so that the JSON the database
//! stores is canonical: parse → serialise → parse is the identity.

use serde::{Deserialize, Deserializer, Serialize};

use crate::OsvError;

/// Records larger than this are refused: the largest real OSV PyPI record is a few hundred KiB.
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// Longest id or alias kept (bytes): real ids (`GHSA-…`, `PYSEC-2024-1`, `CVE-…`) are short.
pub const MAX_ID_BYTES: usize = 256;
/// Longest package name, same limit as the inventory's.
pub const MAX_NAME_BYTES: usize = mlvet_inventory::MAX_NAME_BYTES;
/// Longest version in an event or `versions[]`, same limit as the inventory's.
pub const MAX_VERSION_BYTES: usize = mlvet_inventory::MAX_VERSION_BYTES;
/// Longest URL (package URL, repository, reference), same limit as the inventory's.
pub const MAX_URL_BYTES: usize = mlvet_inventory::MAX_SPEC_BYTES;
/// Longest short keyword (ecosystem, range and severity types, timestamps, CVSS vectors).
pub const MAX_KEYWORD_BYTES: usize = 256;
/// Longest summary kept (characters); longer ones are cut with an ellipsis.
pub const MAX_SUMMARY_CHARS: usize = 1024;
/// Longest details text kept (characters); longer ones are cut with an ellipsis.
pub const MAX_DETAILS_CHARS: usize = 64 * 1024;

/// One OSV advisory record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Advisory {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    #[serde(deserialize_with = "string_or_null")]
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Set when the record was withdrawn: it then never matches (unless asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aliases: Vec<String>,
    #[serde(
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub upstream: Vec<String>,
    #[serde(
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub related: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub severity: Vec<SeverityEntry>,
    #[serde(
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub affected: Vec<Affected>,
    #[serde(
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub references: Vec<Reference>,
    #[serde(
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub credits: Vec<Credit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// `severity[]` entry: a scoring method and its value (a CVSS vector for `CVSS_V*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SeverityEntry {
    #[serde(rename = "type", deserialize_with = "string_or_null")]
    pub kind: String,
    #[serde(deserialize_with = "string_or_null")]
    pub score: String,
}

/// `affected[]` entry: one package and the versions of it the vulnerability is in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Affected {
    pub package: Package,
    #[serde(
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub severity: Vec<SeverityEntry>,
    #[serde(
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ranges: Vec<Range>,
    #[serde(
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub versions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Package {
    #[serde(deserialize_with = "string_or_null")]
    pub ecosystem: String,
    #[serde(deserialize_with = "string_or_null")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// `ranges[]` entry: `ECOSYSTEM`, `SEMVER` or `GIT`, and its timeline of events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Range {
    #[serde(rename = "type", deserialize_with = "string_or_null")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub events: Vec<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// One event. The schema allows exactly one field per event; a malformed event carrying several
/// is kept as written and contributes each of its fields (see `range.rs`). Unquoted YAML scalars
/// (`introduced: 0`, `fixed: 1.10`) are read as their text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Event {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Reference {
    #[serde(rename = "type", deserialize_with = "string_or_null")]
    pub kind: String,
    #[serde(deserialize_with = "string_or_null")]
    pub url: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Credit {
    #[serde(deserialize_with = "string_or_null")]
    pub name: String,
    #[serde(
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub contact: Vec<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl Advisory {
    /// Whether the record was withdrawn (any non-empty `withdrawn` timestamp).
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn
            .as_deref()
            .is_some_and(|w| !w.trim().is_empty())
    }

    /// The record as canonical JSON (the form the database stores).
    pub fn to_canonical_json(&self) -> String {
        // Serialising plain strings, vectors and JSON values cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Refuses records without an id or with an over-long identifying or compared field (an id,
    /// alias, package name, version, URL or keyword: cutting one would make it name something
    /// else), cuts over-long free text (summary, details) and drops references and credits whose
    /// fields are over-long (they are only displayed). Nothing mlvet keeps from a record is then
    /// larger than these limits, whatever the record.
    fn validated(mut self) -> Result<Advisory, OsvError> {
        if self.id.trim().is_empty() {
            return Err(OsvError::MissingId);
        }
        self.check_identifying_fields()?;
        self.summary = self.summary.map(|s| cut(s, MAX_SUMMARY_CHARS));
        self.details = self.details.map(|s| cut(s, MAX_DETAILS_CHARS));
        self.references
            .retain(|r| r.kind.len() <= MAX_KEYWORD_BYTES && r.url.len() <= MAX_URL_BYTES);
        self.credits.retain(|c| {
            c.name.len() <= MAX_URL_BYTES
                && c.contact.iter().all(|x| x.len() <= MAX_URL_BYTES)
                && c.kind.as_ref().is_none_or(|k| k.len() <= MAX_KEYWORD_BYTES)
        });
        Ok(self)
    }

    fn check_identifying_fields(&self) -> Result<(), OsvError> {
        bounded("id", &self.id, MAX_ID_BYTES)?;
        for (field, list) in [
            ("aliases", &self.aliases),
            ("upstream", &self.upstream),
            ("related", &self.related),
        ] {
            list.iter()
                .try_for_each(|id| bounded(field, id, MAX_ID_BYTES))?;
        }
        for (field, value) in [
            ("schema_version", &self.schema_version),
            ("modified", &self.modified),
            ("published", &self.published),
            ("withdrawn", &self.withdrawn),
        ] {
            bounded_opt(field, value, MAX_KEYWORD_BYTES)?;
        }
        check_severities(&self.severity)?;
        self.affected.iter().try_for_each(check_affected)
    }
}

fn check_severities(severities: &[SeverityEntry]) -> Result<(), OsvError> {
    severities.iter().try_for_each(|s| {
        bounded("severity.type", &s.kind, MAX_KEYWORD_BYTES)?;
        bounded("severity.score", &s.score, MAX_KEYWORD_BYTES)
    })
}

fn check_affected(affected: &Affected) -> Result<(), OsvError> {
    let package = &affected.package;
    bounded("package.ecosystem", &package.ecosystem, MAX_KEYWORD_BYTES)?;
    bounded("package.name", &package.name, MAX_NAME_BYTES)?;
    bounded_opt("package.purl", &package.purl, MAX_URL_BYTES)?;
    check_severities(&affected.severity)?;
    affected
        .versions
        .iter()
        .try_for_each(|v| bounded("versions", v, MAX_VERSION_BYTES))?;
    for range in &affected.ranges {
        bounded("ranges.type", &range.kind, MAX_KEYWORD_BYTES)?;
        bounded_opt("ranges.repo", &range.repo, MAX_URL_BYTES)?;
        for event in &range.events {
            for value in [
                &event.introduced,
                &event.fixed,
                &event.last_affected,
                &event.limit,
            ] {
                bounded_opt("ranges.events", value, MAX_VERSION_BYTES)?;
            }
        }
    }
    Ok(())
}

fn bounded(field: &'static str, value: &str, limit: usize) -> Result<(), OsvError> {
    if value.len() > limit {
        Err(OsvError::FieldTooLong {
            field,
            length: value.len(),
            limit,
        })
    } else {
        Ok(())
    }
}

fn bounded_opt(field: &'static str, value: &Option<String>, limit: usize) -> Result<(), OsvError> {
    value
        .as_deref()
        .map_or(Ok(()), |value| bounded(field, value, limit))
}

/// `text` cut to `max` characters, an ellipsis marking the cut.
fn cut(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or_default()),
        None => text,
    }
}

/// Parses one OSV record from JSON.
pub fn parse_json(bytes: &[u8]) -> Result<Advisory, OsvError> {
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(OsvError::TooLarge {
            size: bytes.len(),
            limit: MAX_RECORD_BYTES,
        });
    }
    let advisory: Advisory =
        serde_json::from_slice(bytes).map_err(|e| OsvError::Json(e.to_string()))?;
    advisory.validated()
}

/// Parses one OSV record from YAML (the PyPA advisory database's storage form).
pub fn parse_yaml(text: &str) -> Result<Advisory, OsvError> {
    if text.len() > MAX_RECORD_BYTES {
        return Err(OsvError::TooLarge {
            size: text.len(),
            limit: MAX_RECORD_BYTES,
        });
    }
    let advisory: Advisory =
        serde_yaml::from_str(text).map_err(|e| OsvError::Yaml(e.to_string()))?;
    advisory.validated()
}

fn string_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn vec_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_record_parses_and_round_trips() {
        let json = br#"{"id":"GHSA-xxxx","modified":"2024-01-01T00:00:00Z","aliases":null,
            "affected":[{"package":{"ecosystem":"PyPI","name":"torch"},
            "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.6.0"}]}]}],
            "unknown_field":{"x":1}}"#;
        let a = parse_json(json).expect("parses");
        assert_eq!(a.affected.len(), 1);
        let again = parse_json(a.to_canonical_json().as_bytes()).expect("round trip");
        assert_eq!(a, again);
        assert!(!a.to_canonical_json().contains("unknown_field"));
    }

    #[test]
    fn records_without_id_or_oversized_are_refused() {
        assert!(matches!(parse_json(b"{}"), Err(OsvError::MissingId)));
        assert!(matches!(parse_json(b"[1,2]"), Err(OsvError::Json(_))));
        let big = vec![b' '; MAX_RECORD_BYTES + 1];
        assert!(matches!(parse_json(&big), Err(OsvError::TooLarge { .. })));
    }

    #[test]
    fn over_long_identifying_fields_are_refused_and_free_text_is_cut() {
        let record = |field: &str, value: &str| {
            let mut json = serde_json::json!({
                "id": "X-1",
                "summary": "s",
                "affected": [{"package": {"ecosystem": "PyPI", "name": "torch"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}],
                    "versions": ["0.9"]}]
            });
            let pointer = match field {
                "id" => "/id",
                "aliases" => "/aliases",
                "package.name" => "/affected/0/package/name",
                "versions" => "/affected/0/versions/0",
                "ranges.events" => "/affected/0/ranges/0/events/1/fixed",
                _ => "/summary",
            };
            if field == "aliases" {
                json["aliases"] = serde_json::json!([value]);
            } else if let Some(slot) = json.pointer_mut(pointer) {
                *slot = serde_json::Value::String(value.to_string());
            }
            parse_json(json.to_string().as_bytes())
        };
        for (field, limit) in [
            ("id", MAX_ID_BYTES),
            ("aliases", MAX_ID_BYTES),
            ("package.name", MAX_NAME_BYTES),
            ("versions", MAX_VERSION_BYTES),
            ("ranges.events", MAX_VERSION_BYTES),
        ] {
            assert!(
                record(field, &"1".repeat(limit)).is_ok(),
                "{field} at the limit"
            );
            match record(field, &"1".repeat(limit + 1)) {
                Err(OsvError::FieldTooLong {
                    field: f,
                    length,
                    limit: l,
                }) => {
                    assert_eq!((f, length, l), (field, limit + 1, limit));
                }
                other => panic!("{field}: {other:?}"),
            }
        }
        let long = "é".repeat(MAX_SUMMARY_CHARS + 10);
        let advisory = record("summary", &long).expect("summaries are cut, not refused");
        let summary = advisory.summary.expect("summary");
        assert_eq!(summary.chars().count(), MAX_SUMMARY_CHARS + 1);
        assert!(summary.ends_with('…'));
    }

    #[test]
    fn unquoted_yaml_numbers_keep_their_text() {
        let yaml = "id: X-1\naffected:\n- package: {ecosystem: PyPI, name: a}\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: 0\n    - fixed: 1.10\n";
        let a = parse_yaml(yaml).expect("parses");
        let events = &a.affected[0].ranges[0].events;
        assert_eq!(events[0].introduced.as_deref(), Some("0"));
        // A plain scalar read as a string keeps its text: `1.10` is not the float 1.1.
        assert_eq!(events[1].fixed.as_deref(), Some("1.10"));
    }
}
