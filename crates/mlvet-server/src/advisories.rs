//! The advisories view: the advisory database in the data directory (the one `mlvet db update`
//! fills), by default only advisories affecting the curated ML packages, newest first.

use std::collections::HashMap;

use axum::http::StatusCode;
use mlvet_osv::Advisory;
use serde_json::{Value, json};

use crate::problem::Problem;

pub const PAGE_SIZE: usize = 50;

/// The query of `GET /advisories`.
#[derive(Debug, Default)]
pub struct Query {
    pub ml: bool,
    pub package: Option<String>,
    pub q: Option<String>,
    pub severity: Option<String>,
    pub since: Option<String>,
    pub page: usize,
}

impl Query {
    pub fn parse(params: &HashMap<String, String>) -> Result<Query, Problem> {
        for key in ["package", "q", "since", "severity", "page", "ml"] {
            if params.get(key).is_some_and(|v| v.chars().count() > 500) {
                return Err(Problem::bad_request(format!(
                    "`{key}` is longer than 500 characters"
                )));
            }
        }
        let nonempty = |key: &str| {
            params
                .get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let ml = match params.get("ml").map(String::as_str) {
            None | Some("true") | Some("1") => true,
            Some("false") | Some("0") => false,
            Some(other) => {
                return Err(Problem::bad_request(format!("ml=`{other}`: true or false")));
            }
        };
        let severity = match params.get("severity").cloned() {
            None => None,
            Some(s) if ["critical", "high", "medium", "low"].contains(&s.as_str()) => {
                Some(s.to_lowercase())
            }
            Some(s) => {
                return Err(Problem::bad_request(format!(
                    "severity=`{s}`: critical, high, medium or low"
                )));
            }
        };
        let page = match params.get("page") {
            None => 1,
            Some(p) => p
                .parse::<usize>()
                .ok()
                .filter(|p| (1..=100_000).contains(p))
                .ok_or_else(|| Problem::bad_request(format!("page=`{p}`: a number from 1")))?,
        };
        // Present means a date: an empty or malformed one is refused, not ignored.
        let since = params.get("since").cloned();
        if let Some(since) = &since
            && mlvet_config::Date::parse(since).is_none_or(|d| d.to_string() != *since)
        {
            return Err(Problem::bad_request(format!(
                "since=`{since}`: a date YYYY-MM-DD"
            )));
        }
        let package = nonempty("package");
        Ok(Query {
            ml,
            package,
            q: nonempty("q").map(|q| q.to_lowercase()),
            severity,
            since,
            page,
        })
    }
}

fn open(data_dir: &std::path::Path) -> Result<mlvet_db::Database, Problem> {
    match mlvet_db::Database::open(data_dir) {
        Ok(Some(db)) => Ok(db),
        Ok(None) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server has no advisory database yet (`mlvet db update` on the server)",
        )),
        Err(error) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the advisory database cannot be read: {error}"),
        )),
    }
}

/// The severity mlvet gives an advisory: the highest CVSS v3/v4 base score's rating, else the
/// record's own rating (GHSA's LOW/MODERATE/HIGH/CRITICAL), else unknown.
pub fn severity(advisory: &Advisory) -> Option<String> {
    let vectors = advisory
        .severity
        .iter()
        .chain(advisory.affected.iter().flat_map(|a| a.severity.iter()));
    let best = vectors
        .filter(|s| s.kind == "CVSS_V3" || s.kind == "CVSS_V4")
        .filter_map(|s| mlvet_osv::cvss::base_score(&s.score))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((_, severity)) = best {
        return Some(severity.to_string());
    }
    let stated = advisory
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(Value::as_str)?;
    Some(
        match stated.to_ascii_uppercase().as_str() {
            "CRITICAL" => "critical",
            "HIGH" => "high",
            "MODERATE" | "MEDIUM" => "medium",
            "LOW" => "low",
            _ => return None,
        }
        .to_string(),
    )
}

fn fixed_versions(advisory: &Advisory) -> Vec<String> {
    let mut fixed: Vec<String> = advisory
        .affected
        .iter()
        .flat_map(|a| a.ranges.iter())
        .flat_map(|r| r.events.iter())
        .filter_map(|e| e.fixed.clone())
        .collect();
    fixed.sort();
    fixed.dedup();
    fixed
}

fn matches(advisory: &Advisory, query: &Query) -> bool {
    if let Some(wanted) = &query.severity
        && severity(advisory).as_deref() != Some(wanted.as_str())
    {
        return false;
    }
    if let Some(since) = &query.since {
        let published = advisory.published.as_deref().unwrap_or_default();
        if published.get(..10).unwrap_or(published) < since.as_str() {
            return false;
        }
    }
    if let Some(q) = &query.q {
        let haystack = [
            Some(advisory.id.as_str()),
            advisory.summary.as_deref(),
            advisory.details.as_deref(),
        ]
        .into_iter()
        .flatten()
        .chain(advisory.aliases.iter().map(String::as_str))
        .chain(advisory.affected.iter().map(|a| a.package.name.as_str()))
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("\n");
        if !q.split_whitespace().all(|word| haystack.contains(word)) {
            return false;
        }
    }
    true
}

/// A list entry: enough to choose, the full record is at `/advisories/{id}`.
pub fn summary(advisory: &Advisory) -> Value {
    let mut packages: Vec<&str> = advisory
        .affected
        .iter()
        .map(|a| a.package.name.as_str())
        .collect();
    packages.sort_unstable();
    packages.dedup();
    json!({
        "id": advisory.id,
        "aliases": advisory.aliases,
        "summary": advisory.summary,
        "published": advisory.published,
        "modified": advisory.modified,
        "severity": severity(advisory),
        "packages": packages,
        "fixed": fixed_versions(advisory),
    })
}

pub fn list(data_dir: &std::path::Path, query: &Query) -> Result<Value, Problem> {
    let db = open(data_dir)?;
    // An advisory named by id or alias is found wherever it is: beyond the ML list too when
    // `ml=false`; within it otherwise (the ML view stays the ML view).
    let by_id = match query.q.as_deref().and_then(as_advisory_id) {
        Some(id) => db.advisory_by_id_or_alias(id).map_err(Problem::internal)?,
        None => None,
    };
    if !query.ml && query.package.is_none() && by_id.is_none() {
        // Beyond the curated ML list, advisories are looked up by package.
        return Ok(json!({
            "advisories": [],
            "page": query.page,
            "per_page": PAGE_SIZE,
            "total": 0,
            "note": "name a package (package=NAME) to list advisories beyond the ML libraries",
        }));
    }
    let mut found = if query.ml {
        db.ml_advisories(query.package.as_deref())
            .map_err(Problem::internal)?
    } else {
        let package = query.package.as_deref().unwrap_or_default();
        let name = mlvet_osv::normalize_package_name("PyPI", package);
        let mut found = mlvet_osv::AdvisorySource::advisories_for(&db, "PyPI", &name)
            .map_err(Problem::internal)?;
        found.retain(|a| !a.is_withdrawn());
        found.sort_by(|a, b| {
            let key = |x: &Advisory| {
                x.published
                    .clone()
                    .or_else(|| x.modified.clone())
                    .unwrap_or_default()
            };
            key(b).cmp(&key(a)).then_with(|| a.id.cmp(&b.id))
        });
        found
    };
    if !query.ml
        && let Some(advisory) = by_id
        && !advisory.is_withdrawn()
        && !found.iter().any(|a| a.id == advisory.id)
        && query.package.as_deref().is_none_or(|package| {
            let wanted = mlvet_osv::normalize_package_name("PyPI", package);
            advisory.affected.iter().any(|a| {
                mlvet_osv::normalize_package_name(&a.package.ecosystem, &a.package.name) == wanted
            })
        })
    {
        found.push(advisory);
    }
    found.retain(|a| matches(a, query));
    let total = found.len();
    let page: Vec<Value> = found
        .iter()
        .skip((query.page - 1).saturating_mul(PAGE_SIZE))
        .take(PAGE_SIZE)
        .map(summary)
        .collect();
    Ok(json!({
        "advisories": page,
        "page": query.page,
        "per_page": PAGE_SIZE,
        "total": total,
    }))
}

/// Any advisory of the database by its id or by one of its aliases (CVE, GHSA, PYSEC, …):
/// an indexed lookup in the advisory database, whatever the package or ecosystem.
pub fn find(data_dir: &std::path::Path, id: &str) -> Result<Option<Advisory>, Problem> {
    let db = open(data_dir)?;
    db.advisory_by_id_or_alias(id).map_err(Problem::internal)
}

/// `q` as one advisory id or alias (`CVE-2019-10906`, `ghsa-…`): a single word with a dash
/// and a digit, the shape every advisory id has.
fn as_advisory_id(q: &str) -> Option<&str> {
    let q = q.trim();
    (!q.contains(char::is_whitespace)
        && q.contains('-')
        && q.chars().any(|c| c.is_ascii_digit())
        && q.len() <= 200)
        .then_some(q)
}

/// The full record for the detail view, with the derived fields.
pub fn detail(advisory: &Advisory) -> Value {
    let mut value = summary(advisory);
    value["osv"] = serde_json::to_value(advisory).unwrap_or(Value::Null);
    value["details"] = json!(advisory.details);
    value["references"] = json!(
        advisory
            .references
            .iter()
            .map(|r| json!({"type": r.kind, "url": r.url}))
            .collect::<Vec<_>>()
    );
    value["affected"] = json!(
        advisory
            .affected
            .iter()
            .map(|a| json!({
                "ecosystem": a.package.ecosystem,
                "package": a.package.name,
                "ranges": a.ranges.iter().map(|r| json!({
                    "type": r.kind,
                    "events": r.events.iter().map(|e| json!({
                        "introduced": e.introduced, "fixed": e.fixed,
                        "last_affected": e.last_affected, "limit": e.limit,
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "versions": a.versions,
            }))
            .collect::<Vec<_>>()
    );
    value
}
