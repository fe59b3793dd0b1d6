//! Index configuration of a Python project, from `pyproject.toml` (`[tool.uv]`,
//! `[tool.poetry]`, `[tool.pdm]`), `uv.toml` and `Pipfile`: which indexes exist, in which order
//! and priority, and which packages are bound to which index.

use std::collections::BTreeMap;

use mlvet_inventory::normalize_pypi_name;
use toml::{Table, Value};

/// A `[[tool.uv.index]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UvIndex {
    pub name: Option<String>,
    pub url: String,
    pub default: bool,
    pub explicit: bool,
}

/// `[tool.uv]` or `uv.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UvConfig {
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    pub indexes: Vec<UvIndex>,
    pub index_strategy: Option<String>,
    /// `[tool.uv.sources] pkg = { index = "name" }`, by normalised package name.
    pub bindings: BTreeMap<String, String>,
}

/// A `[[tool.poetry.source]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoetrySource {
    pub name: String,
    pub url: Option<String>,
    /// `primary`, `supplemental`, `explicit`, or the legacy `default` / `secondary`.
    pub priority: String,
}

/// `[tool.poetry]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoetryConfig {
    pub sources: Vec<PoetrySource>,
    /// `pkg = { source = "name" }` in any dependency table, by normalised name.
    pub bindings: BTreeMap<String, String>,
}

/// A `[[tool.pdm.source]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PdmSource {
    pub name: String,
    pub url: String,
    pub kind: String,
    pub include_packages: Vec<String>,
}

/// `[tool.pdm]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PdmConfig {
    pub sources: Vec<PdmSource>,
    pub respect_source_order: bool,
}

/// `Pipfile`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipenvConfig {
    /// `[[source]]` (name, url).
    pub sources: Vec<(String, String)>,
    pub search_all_sources: bool,
    /// `pkg = { index = "name" }`, by normalised name.
    pub bindings: BTreeMap<String, String>,
}

/// Everything one file says about indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexConfig {
    pub uv: Option<UvConfig>,
    pub poetry: Option<PoetryConfig>,
    pub pdm: Option<PdmConfig>,
    pub pipenv: Option<PipenvConfig>,
}

/// Most entries read from one list.
const MAX_ITEMS: usize = 10_000;

/// Parses `pyproject.toml`.
pub fn parse_pyproject(text: &str) -> Result<IndexConfig, String> {
    let table: Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    let tool = table.get("tool").and_then(Value::as_table);
    Ok(IndexConfig {
        uv: tool
            .and_then(|t| t.get("uv"))
            .and_then(Value::as_table)
            .map(uv_config),
        poetry: tool
            .and_then(|t| t.get("poetry"))
            .and_then(Value::as_table)
            .map(poetry_config),
        pdm: tool
            .and_then(|t| t.get("pdm"))
            .and_then(Value::as_table)
            .map(pdm_config),
        pipenv: None,
    })
}

/// Parses `uv.toml` (the `[tool.uv]` keys at the top level).
pub fn parse_uv_toml(text: &str) -> Result<IndexConfig, String> {
    let table: Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    Ok(IndexConfig {
        uv: Some(uv_config(&table)),
        ..IndexConfig::default()
    })
}

/// Parses a `Pipfile`.
pub fn parse_pipfile(text: &str) -> Result<IndexConfig, String> {
    let table: Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    let mut config = PipenvConfig::default();
    for source in array_of_tables(table.get("source")) {
        if let (Some(name), Some(url)) = (str_of(source, "name"), str_of(source, "url")) {
            config.sources.push((name, url));
        }
    }
    config.search_all_sources = table
        .get("pipenv")
        .and_then(|p| p.get("install_search_all_sources"))
        .is_some_and(truthy);
    for section in ["packages", "dev-packages"] {
        if let Some(packages) = table.get(section).and_then(Value::as_table) {
            for (name, spec) in packages.iter().take(MAX_ITEMS) {
                if let Some(index) = spec.get("index").and_then(Value::as_str) {
                    config
                        .bindings
                        .insert(normalize_pypi_name(name), index.to_string());
                }
            }
        }
    }
    Ok(IndexConfig {
        pipenv: Some(config),
        ..IndexConfig::default()
    })
}

fn uv_config(uv: &Table) -> UvConfig {
    let mut config = UvConfig {
        index_url: str_of(uv, "index-url"),
        index_strategy: str_of(uv, "index-strategy"),
        ..UvConfig::default()
    };
    match uv.get("extra-index-url") {
        Some(Value::String(url)) => config.extra_index_urls.push(url.clone()),
        Some(Value::Array(urls)) => config.extra_index_urls.extend(
            urls.iter()
                .take(MAX_ITEMS)
                .filter_map(Value::as_str)
                .map(str::to_string),
        ),
        _ => {}
    }
    for index in array_of_tables(uv.get("index")) {
        let Some(url) = str_of(index, "url") else {
            continue;
        };
        config.indexes.push(UvIndex {
            name: str_of(index, "name"),
            url,
            default: index.get("default").is_some_and(truthy),
            explicit: index.get("explicit").is_some_and(truthy),
        });
    }
    if let Some(sources) = uv.get("sources").and_then(Value::as_table) {
        for (name, spec) in sources.iter().take(MAX_ITEMS) {
            // A source may be one table or a list of tables with markers.
            let specs: Vec<&Value> = match spec {
                Value::Array(items) => items.iter().take(16).collect(),
                other => vec![other],
            };
            if let Some(index) = specs
                .iter()
                .find_map(|s| s.get("index").and_then(Value::as_str))
            {
                config
                    .bindings
                    .insert(normalize_pypi_name(name), index.to_string());
            }
        }
    }
    config
}

fn poetry_config(poetry: &Table) -> PoetryConfig {
    let mut config = PoetryConfig::default();
    for source in array_of_tables(poetry.get("source")) {
        let Some(name) = str_of(source, "name") else {
            continue;
        };
        let priority = match str_of(source, "priority") {
            Some(p) => p.to_ascii_lowercase(),
            None if source.get("secondary").is_some_and(truthy) => "secondary".to_string(),
            None if source.get("default").is_some_and(truthy) => "default".to_string(),
            None => "primary".to_string(),
        };
        config.sources.push(PoetrySource {
            name,
            url: str_of(source, "url"),
            priority,
        });
    }
    let mut tables: Vec<&Table> = Vec::new();
    for key in ["dependencies", "dev-dependencies"] {
        if let Some(t) = poetry.get(key).and_then(Value::as_table) {
            tables.push(t);
        }
    }
    if let Some(groups) = poetry.get("group").and_then(Value::as_table) {
        for group in groups.values().take(MAX_ITEMS) {
            if let Some(t) = group.get("dependencies").and_then(Value::as_table) {
                tables.push(t);
            }
        }
    }
    for table in tables {
        for (name, spec) in table.iter().take(MAX_ITEMS) {
            let specs: Vec<&Value> = match spec {
                Value::Array(items) => items.iter().take(16).collect(),
                other => vec![other],
            };
            if let Some(source) = specs
                .iter()
                .find_map(|s| s.get("source").and_then(Value::as_str))
            {
                config
                    .bindings
                    .insert(normalize_pypi_name(name), source.to_string());
            }
        }
    }
    config
}

fn pdm_config(pdm: &Table) -> PdmConfig {
    let mut config = PdmConfig {
        respect_source_order: pdm
            .get("resolution")
            .and_then(|r| r.get("respect-source-order"))
            .is_some_and(truthy),
        ..PdmConfig::default()
    };
    for source in array_of_tables(pdm.get("source")) {
        let (Some(name), Some(url)) = (str_of(source, "name"), str_of(source, "url")) else {
            continue;
        };
        let include_packages = source
            .get("include_packages")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .take(MAX_ITEMS)
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        config.sources.push(PdmSource {
            name,
            url,
            kind: str_of(source, "type").unwrap_or_else(|| "index".to_string()),
            include_packages,
        });
    }
    config
}

fn array_of_tables(value: Option<&Value>) -> impl Iterator<Item = &Table> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(MAX_ITEMS)
        .filter_map(Value::as_table)
}

fn str_of(table: &Table, key: &str) -> Option<String> {
    table.get(key).and_then(Value::as_str).map(str::to_string)
}

/// TOML `true`, or the strings pipenv/poetry also accept.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Boolean(b) => *b,
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        Value::Integer(i) => *i != 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uv_tables() {
        let text = r#"
[tool.uv]
index-strategy = "unsafe-best-match"
[[tool.uv.index]]
name = "internal"
url = "https://pkgs.example.invalid/simple"
explicit = true
[tool.uv.sources]
acme-core = { index = "internal" }
"#;
        let config = parse_pyproject(text).expect("parse");
        let uv = config.uv.expect("uv");
        assert_eq!(uv.index_strategy.as_deref(), Some("unsafe-best-match"));
        assert!(uv.indexes[0].explicit);
        assert_eq!(
            uv.bindings.get("acme-core").map(String::as_str),
            Some("internal")
        );
    }

    #[test]
    fn poetry_and_pdm() {
        let text = r#"
[tool.poetry.dependencies]
acme_core = { version = "^1", source = "internal" }
[[tool.poetry.source]]
name = "internal"
url = "https://pkgs.example.invalid/simple"
priority = "supplemental"
[[tool.pdm.source]]
name = "internal"
url = "https://pkgs.example.invalid/simple"
"#;
        let config = parse_pyproject(text).expect("parse");
        let poetry = config.poetry.expect("poetry");
        assert_eq!(poetry.sources[0].priority, "supplemental");
        assert_eq!(
            poetry.bindings.get("acme-core").map(String::as_str),
            Some("internal")
        );
        assert!(
            config.pdm.expect("pdm").sources[0]
                .include_packages
                .is_empty()
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,300}") {
            let _ = parse_pyproject(&text);
            let _ = parse_uv_toml(&text);
            let _ = parse_pipfile(&text);
        }
    }
}
