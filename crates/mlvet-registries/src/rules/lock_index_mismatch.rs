use std::collections::BTreeMap;

use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};
use mlvet_inventory::normalize_pypi_name;
use toml::Value;

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
    pub line: Option<u32>,
}

/// Most packages read from one lock.
const MAX_PACKAGES: usize = 200_000;

/// Packages of a `uv.lock` or `poetry.lock`.
pub fn parse_toml_lock(text: &str, poetry: bool) -> Result<Vec<Locked>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    let mut out = Vec::new();
    let packages = table.get("package").and_then(Value::as_array);
    for package in packages.into_iter().flatten().take(MAX_PACKAGES) {
        let Some(name) = package.get("name").and_then(Value::as_str) else {
            continue;
        };
        let source = if poetry {
            package
                .get("source")
                .and_then(|s| s.get("url"))
                .and_then(Value::as_str)
                .map(str::to_string)
        } else {
            package
                .get("source")
                .and_then(|s| s.get("registry"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        // uv: only registry packages are compared (editable/path/git sources are not indexes).
        if !poetry && package.get("source").and_then(|s| s.get("registry")).is_none() {
            continue;
        }
        out.push(Locked {
            name: normalize_pypi_name(name),
            source,
            line: line_containing(text, &format!("name = \"{name}\"")),
        });
    }
    Ok(out)
}

/// Packages of a `Pipfile.lock` and its `_meta.sources` (name → URL).
pub fn parse_pipfile_lock(text: &str) -> Result<(Vec<Locked>, BTreeMap<String, String>), String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut sources = BTreeMap::new();
    if let Some(list) = value
        .get("_meta")
        .and_then(|m| m.get("sources"))
        .and_then(serde_json::Value::as_array)
    {
        for source in list.iter().take(1000) {
            if let (Some(name), Some(url)) = (
                source.get("name").and_then(serde_json::Value::as_str),
                source.get("url").and_then(serde_json::Value::as_str),
            ) {
                sources.insert(name.to_string(), url.to_string());
            }
        }
    }
    let mut out = Vec::new();
    for section in ["default", "develop"] {
        let Some(packages) = value.get(section).and_then(serde_json::Value::as_object) else {
            continue;
        };
        for (name, spec) in packages.iter().take(MAX_PACKAGES) {
            out.push(Locked {
                name: normalize_pypi_name(name),
                source: spec
                    .get("index")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string),
                line: line_containing(text, &format!("\"{name}\": {{")),
            });
        }
    }
    Ok((out, sources))
}

fn mismatch(
    display: &str,
    locked: &Locked,
    bound_name: &str,
    expected: &str,
    actual: &str,
    tool: &str,
) -> Finding {
    let mut location = Location::file(display);
    if let Some(line) = locked.line {
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
pub fn check_uv(display: &str, locked: &[Locked], config: &IndexConfig) -> Vec<Finding> {
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
            out.push(mismatch(display, package, bound, expected, actual, "uv"));
        }
    }
    out
}

/// `poetry.lock` against `[tool.poetry]` beside it.
pub fn check_poetry(display: &str, locked: &[Locked], config: &IndexConfig) -> Vec<Finding> {
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
        let actual = package.source.as_deref().unwrap_or("PyPI (no [package.source])");
        if normalize_url(expected) != normalize_url(actual) {
            out.push(mismatch(display, package, bound, expected, actual, "Poetry"));
        }
    }
    out
}

/// `Pipfile.lock` against the `Pipfile` beside it.
pub fn check_pipenv(
    display: &str,
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
            out.push(mismatch(display, package, bound, &expected, &actual, "Pipenv"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let locked = parse_toml_lock(lock, false).expect("lock");
        let findings = check_uv("uv.lock", &locked, &config);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].location.line, Some(4));
        let good = lock.replace(
            "name = \"acme-core\"\nversion = \"1.0.0\"\nsource = { registry = \"https://public.example.invalid/simple\" }",
            "name = \"acme-core\"\nversion = \"1.0.0\"\nsource = { registry = \"https://INTERNAL.example.invalid/simple\" }",
        );
        let locked = parse_toml_lock(&good, false).expect("lock");
        assert!(check_uv("uv.lock", &locked, &config).is_empty());
    }
}
