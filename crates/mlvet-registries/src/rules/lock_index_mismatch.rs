use std::collections::BTreeMap;

use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};
use mlvet_inventory::normalize_pypi_name;

use crate::project::IndexConfig;
use crate::text::{line_containing, normalize_url, strip_credentials};

pub static RULE: RuleMeta = RuleMeta {
    id: "lock-index-mismatch",
    category: "registry",
    summary: "A lockfile resolved a package from a different index than the project binds it to",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Compares where each package was actually resolved from, as the lockfile records it, with the
index the project binds that package to:

- `uv.lock` `source = { registry = "…" }` against `[tool.uv.sources] name = { index = "…" }` and
  the `[[tool.uv.index]]` URLs (`pyproject.toml` / `uv.toml` beside the lock);
- `poetry.lock` `[package.source]` (`url`, `reference`) against `source = "…"` on the dependency
  and `[[tool.poetry.source]]`; a bound package locked without a source came from PyPI;
- `Pipfile.lock` per-package `index` against `index = "…"` in the `Pipfile`.

URLs are compared without credentials, case-insensitively in scheme and host, and without a
trailing `/`.

## Why is this bad?
The lockfile is what gets installed. A private package locked from another index is a dependency
confusion that has already happened (or a mirror nobody reviewed): the next `uv sync` /
`poetry install` / `pipenv sync` installs the other index's artefact, with its code, everywhere.

## Example
```toml
# pyproject.toml: acme-core = { index = "internal" }
# uv.lock
[[package]]
name = "acme-core"
source = { registry = "https://public.example.invalid/simple" }
```

## Remediation
Delete the lock entry, check which artefact was installed where (compare hashes with the private
index), re-lock (`uv lock`, `poetry lock`, `pipenv lock`) with the binding in place, and treat
machines that installed the other artefact as exposed.

## References
- [uv: pinning a package to an index](https://docs.astral.sh/uv/concepts/indexes/#pinning-a-package-to-an-index)
- [Poetry: package sources](https://python-poetry.org/docs/repositories/#package-sources)
"#,
};

/// One locked package and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// Normalised name.
    pub name: String,
    /// Registry URL (uv, Poetry) or index name (Pipenv); `None` = the default (PyPI).
    pub source: Option<String>,
    /// The text that starts its entry in the lockfile (its line is looked up only for a
    /// finding: locks with 100,000 packages stay linear).
    pub needle: String,
}

/// Most packages read from one lock.
const MAX_PACKAGES: usize = 200_000;

/// Packages of a `uv.lock` or `poetry.lock`, read line by line in the layout both tools write
/// (`[[package]]` blocks with `name = "…"`; uv's `source = { registry = "…" }`, Poetry's
/// `[package.source]` `url = "…"`). No document tree is built: a lock of 100,000 packages costs
/// its names, not 3-15 times its size (the dependency inventory parses the same file fully).
/// uv packages without a registry source (the project itself, paths, git) are left out.
pub fn parse_toml_lock(text: &str, poetry: bool) -> Vec<Locked> {
    let mut out = Vec::new();
    let mut current: Option<Locked> = None;
    let mut in_source_table = false;
    let finish = |current: &mut Option<Locked>, out: &mut Vec<Locked>| {
        if let Some(package) = current.take()
            && !package.name.is_empty()
            && (poetry || package.source.is_some())
            && out.len() < MAX_PACKAGES
        {
            out.push(package);
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            if trimmed == "[[package]]" {
                finish(&mut current, &mut out);
                current = Some(Locked {
                    name: String::new(),
                    source: None,
                    needle: String::new(),
                });
                in_source_table = false;
            } else if trimmed == "[package.source]" {
                in_source_table = true;
            } else if trimmed.starts_with("[package.") || trimmed.starts_with("[[package.") {
                in_source_table = false;
            } else {
                finish(&mut current, &mut out);
                in_source_table = false;
            }
            continue;
        }
        let Some(package) = current.as_mut() else {
            continue;
        };
        if !in_source_table
            && package.name.is_empty()
            && let Some(name) = string_value(trimmed, "name")
        {
            package.name = normalize_pypi_name(name);
            package.needle = trimmed.to_string();
        } else if poetry && in_source_table {
            if let Some(url) = string_value(trimmed, "url") {
                package.source = Some(url.to_string());
            }
        } else if !poetry
            && !in_source_table
            && trimmed.starts_with("source")
            && let Some(start) = trimmed.find("registry = \"")
        {
            let rest = &trimmed[start + "registry = \"".len()..];
            if let Some(end) = rest.find('"') {
                package.source = Some(rest[..end].to_string());
            }
        }
    }
    finish(&mut current, &mut out);
    out
}

/// `key = "value"` → `value` (no escapes: names and URLs do not need them).
fn string_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line
        .strip_prefix(key)?
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let rest = rest.strip_prefix('"')?;
    rest.find('"').map(|end| &rest[..end])
}

/// `Pipfile.lock`, typed so that serde skips everything but the index of each package (no
/// document tree).
#[derive(serde::Deserialize)]
struct PipfileLock {
    #[serde(rename = "_meta", default)]
    meta: Option<PipfileMeta>,
    #[serde(default)]
    default: BTreeMap<String, PipfilePackage>,
    #[serde(default)]
    develop: BTreeMap<String, PipfilePackage>,
}

#[derive(serde::Deserialize)]
struct PipfileMeta {
    #[serde(default)]
    sources: Vec<PipfileSource>,
}

#[derive(serde::Deserialize)]
struct PipfileSource {
    name: Option<String>,
    url: Option<String>,
}

#[derive(serde::Deserialize)]
struct PipfilePackage {
    index: Option<String>,
}

/// `Pipfile.lock` with only `_meta`: serde skips the package tables without allocating.
#[derive(serde::Deserialize)]
struct PipfileLockMeta {
    #[serde(rename = "_meta", default)]
    meta: Option<PipfileMeta>,
}

fn meta_sources(meta: Option<PipfileMeta>) -> BTreeMap<String, String> {
    meta.map(|meta| {
        meta.sources
            .into_iter()
            .filter_map(|s| Some((s.name?, s.url?)))
            .collect()
    })
    .unwrap_or_default()
}

/// Only the `_meta.sources` of a `Pipfile.lock` (name → URL): for projects that bind no package
/// to an index, nothing else is needed.
pub fn parse_pipfile_lock_sources(text: &str) -> Result<BTreeMap<String, String>, String> {
    let lock: PipfileLockMeta = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(meta_sources(lock.meta))
}

/// Packages of a `Pipfile.lock` and its `_meta.sources` (name → URL).
pub fn parse_pipfile_lock(text: &str) -> Result<(Vec<Locked>, BTreeMap<String, String>), String> {
    let lock: PipfileLock = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let sources = meta_sources(lock.meta);
    let out = lock
        .default
        .into_iter()
        .chain(lock.develop)
        .take(MAX_PACKAGES)
        .map(|(name, spec)| Locked {
            name: normalize_pypi_name(&name),
            source: spec.index,
            needle: format!("\"{name}\": {{"),
        })
        .collect();
    Ok((out, sources))
}

fn mismatch(
    display: &str,
    text: &str,
    locked: &Locked,
    bound_name: &str,
    expected: &str,
    actual: &str,
    tool: &str,
) -> Finding {
    let mut location = Location::file(display);
    if let Some(line) = line_containing(text, &locked.needle) {
        location = location.with_line(line);
    }
    Finding::new(
        &RULE,
        location,
        format!(
            "`{}` is bound to index `{bound_name}` ({}) but {tool} locked it from `{}`",
            locked.name,
            strip_credentials(expected),
            strip_credentials(actual)
        ),
    )
    .evidence("package", locked.name.clone())
    .evidence("bound index", strip_credentials(expected))
    .evidence("locked from", strip_credentials(actual))
    .remediation(
        "re-lock with the binding in place, and check which artefact machines installed from \
         the other index",
    )
}

/// `uv.lock` against the uv configuration beside it.
pub fn check_uv(
    display: &str,
    text: &str,
    locked: &[Locked],
    config: &IndexConfig,
) -> Vec<Finding> {
    let Some(uv) = &config.uv else {
        return Vec::new();
    };
    let urls: BTreeMap<&str, &str> = uv
        .indexes
        .iter()
        .filter_map(|i| Some((i.name.as_deref()?, i.url.as_str())))
        .collect();
    let mut out = Vec::new();
    for package in locked {
        let Some(bound) = uv.bindings.get(&package.name) else {
            continue;
        };
        let Some(expected) = urls.get(bound.as_str()) else {
            continue;
        };
        let actual = package.source.as_deref().unwrap_or("the default index");
        if normalize_url(expected) != normalize_url(actual) {
            out.push(mismatch(
                display, text, package, bound, expected, actual, "uv",
            ));
        }
    }
    out
}

/// `poetry.lock` against `[tool.poetry]` beside it.
pub fn check_poetry(
    display: &str,
    text: &str,
    locked: &[Locked],
    config: &IndexConfig,
) -> Vec<Finding> {
    let Some(poetry) = &config.poetry else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for package in locked {
        let Some(bound) = poetry.bindings.get(&package.name) else {
            continue;
        };
        let Some(expected) = poetry
            .sources
            .iter()
            .find(|s| &s.name == bound)
            .and_then(|s| s.url.as_deref())
        else {
            continue;
        };
        let actual = package
            .source
            .as_deref()
            .unwrap_or("PyPI (no [package.source])");
        if normalize_url(expected) != normalize_url(actual) {
            out.push(mismatch(
                display, text, package, bound, expected, actual, "Poetry",
            ));
        }
    }
    out
}

/// `Pipfile.lock` against the `Pipfile` beside it.
pub fn check_pipenv(
    display: &str,
    text: &str,
    locked: &[Locked],
    lock_sources: &BTreeMap<String, String>,
    config: &IndexConfig,
) -> Vec<Finding> {
    let Some(pipenv) = &config.pipenv else {
        return Vec::new();
    };
    let url_of = |name: &str| -> String {
        pipenv
            .sources
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, u)| u.clone())
            .or_else(|| lock_sources.get(name).cloned())
            .unwrap_or_else(|| name.to_string())
    };
    let mut out = Vec::new();
    for package in locked {
        let Some(bound) = pipenv.bindings.get(&package.name) else {
            continue;
        };
        let actual_name = package.source.clone().unwrap_or_else(|| {
            pipenv
                .sources
                .first()
                .map(|(n, _)| n.clone())
                .unwrap_or_default()
        });
        let expected = url_of(bound);
        let actual = url_of(&actual_name);
        if normalize_url(&expected) != normalize_url(&actual) {
            out.push(mismatch(
                display, text, package, bound, &expected, &actual, "Pipenv",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poetry_lock_sources_are_read_per_package() {
        let lock = r#"
[[package]]
name = "acme-core"
version = "1.0"

[package.source]
type = "legacy"
url = "https://pkgs.acme.invalid/simple"
reference = "internal"

[[package]]
name = "Six"
version = "1.16.0"
files = [
    {file = "six-1.16.0.tar.gz", hash = "sha256:00"},
]

[metadata]
lock-version = "2.0"
"#;
        let locked = parse_toml_lock(lock, true);
        assert_eq!(locked.len(), 2);
        assert_eq!(
            locked[0].source.as_deref(),
            Some("https://pkgs.acme.invalid/simple")
        );
        assert_eq!(locked[1].name, "six");
        assert_eq!(locked[1].source, None);
    }

    #[test]
    fn uv_lock_mismatch() {
        let pyproject = r#"
[[tool.uv.index]]
name = "internal"
url = "https://internal.example.invalid/simple/"
explicit = true
[tool.uv.sources]
acme-core = { index = "internal" }
"#;
        let lock = r#"
version = 1
[[package]]
name = "acme-core"
version = "1.0.0"
source = { registry = "https://public.example.invalid/simple" }
[[package]]
name = "numpy"
version = "1.0.0"
source = { registry = "https://public.example.invalid/simple" }
"#;
        let config = crate::project::parse_pyproject(pyproject).expect("pyproject");
        let locked = parse_toml_lock(lock, false);
        let findings = check_uv("uv.lock", lock, &locked, &config);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].location.line, Some(4));
        let good = lock.replace(
            "name = \"acme-core\"\nversion = \"1.0.0\"\nsource = { registry = \"https://public.example.invalid/simple\" }",
            "name = \"acme-core\"\nversion = \"1.0.0\"\nsource = { registry = \"https://INTERNAL.example.invalid/simple\" }",
        );
        let locked = parse_toml_lock(&good, false);
        assert!(check_uv("uv.lock", &good, &locked, &config).is_empty());
    }
}
