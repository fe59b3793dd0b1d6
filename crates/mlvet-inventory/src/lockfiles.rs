//! Python lockfiles: `poetry.lock`, `Pipfile.lock`, `pdm.lock`, `uv.lock`, `pylock.toml` (PEP 751).
//! Every locked package is recorded with its exact version and the line of its `name`.

use toml::de::DeTable;

use crate::json;
use crate::sink::Sink;
use crate::text::LineCursor;
use crate::toml_doc;

/// The fields shared by the TOML lockfiles' package tables.
struct Locked<'a> {
    name: &'a str,
    version: Option<&'a str>,
    markers: Option<&'a str>,
    direct_url: Option<String>,
    line: u32,
}

fn push_locked(locked: Locked<'_>, sink: &mut Sink) {
    let mut dependency = sink.pypi(locked.name, Some(locked.line));
    dependency.version = locked.version.map(str::to_string);
    dependency.markers = locked
        .markers
        .filter(|m| !m.trim().is_empty())
        .map(str::to_string);
    dependency.direct_url = locked.direct_url;
    if dependency.version.is_none() && dependency.direct_url.is_none() {
        dependency.requirement = Some(String::new());
    }
    sink.push(dependency);
}

/// Iterates `[[key]]` package tables, reporting entries without a name. The document is parsed
/// one `[[key]]` table at a time (see [`toml_doc::for_each_piece`]): peak memory is one table's
/// tree, not the whole lockfile's.
fn each_package(
    content: &str,
    key: &str,
    sink: &mut Sink,
    mut each: impl FnMut(&DeTable<'_>, u32, &mut Sink),
) {
    let mut lines = LineCursor::new(content);
    toml_doc::for_each_piece(content, key, |base, piece| {
        let document = toml_doc::parse_piece(piece, base, &mut lines, sink);
        for entry in toml_doc::array_of_tables(document.get_ref(), key) {
            let start = toml_doc::table(entry)
                .and_then(|t| toml_doc::get(t, "name"))
                .unwrap_or(entry)
                .span()
                .start;
            let line = lines.line(base + start);
            match toml_doc::table(entry) {
                Some(table) if toml_doc::str_at(table, "name").is_some() => each(table, line, sink),
                _ => sink.parse_error(Some(line), format!("`[[{key}]]` entry without a `name`")),
            }
            if !sink.has_room() {
                return false;
            }
        }
        true
    });
}

pub(crate) fn parse_poetry_lock(content: &str, sink: &mut Sink) {
    each_package(content, "package", sink, |package, line, sink| {
        let source = toml_doc::sub_table(package, "source");
        let name = toml_doc::str_at(package, "name").unwrap_or_default();
        if let Some(dependencies) = toml_doc::sub_table(package, "dependencies") {
            for (dependency, _) in dependencies.iter() {
                sink.pypi_edge(name, dependency.get_ref().as_ref(), Some(line));
            }
        }
        push_locked(
            Locked {
                name: toml_doc::str_at(package, "name").unwrap_or_default(),
                version: toml_doc::str_at(package, "version"),
                markers: toml_doc::str_at(package, "markers"),
                direct_url: source.and_then(poetry_source_url),
                line,
            },
            sink,
        );
    });
}

/// Poetry `[package.source]`: `git`/`url`/`file`/`directory` are direct references; `legacy`
/// (an alternative index) is not.
fn poetry_source_url(source: &DeTable<'_>) -> Option<String> {
    let kind = toml_doc::str_at(source, "type")?;
    let url = toml_doc::str_at(source, "url")?;
    match kind {
        "git" => {
            let commit = toml_doc::str_at(source, "resolved_reference")
                .or_else(|| toml_doc::str_at(source, "reference"));
            Some(match commit {
                Some(commit) => format!("git+{url}@{commit}"),
                None => format!("git+{url}"),
            })
        }
        "url" | "file" | "directory" => Some(url.to_string()),
        _ => None,
    }
}

pub(crate) fn parse_pdm_lock(content: &str, sink: &mut Sink) {
    each_package(content, "package", sink, |package, line, sink| {
        let direct_url = if let Some(git) = toml_doc::str_at(package, "git") {
            let commit =
                toml_doc::str_at(package, "revision").or_else(|| toml_doc::str_at(package, "ref"));
            Some(commit.map_or_else(|| format!("git+{git}"), |c| format!("git+{git}@{c}")))
        } else {
            toml_doc::str_at(package, "url")
                .or_else(|| toml_doc::str_at(package, "path"))
                .map(str::to_string)
        };
        push_locked(
            Locked {
                name: toml_doc::str_at(package, "name").unwrap_or_default(),
                version: toml_doc::str_at(package, "version"),
                markers: toml_doc::str_at(package, "marker"),
                direct_url,
                line,
            },
            sink,
        );
    });
}

/// uv.lock. Packages whose `source` is `editable` or `virtual` are the project itself or members
/// of its workspace (local code, not something installed from elsewhere): they are not
/// dependency records, but what they require (`dependencies`, each extra of
/// `optional-dependencies`, each group of `dev-dependencies`) is the project's own requirements.
pub(crate) fn parse_uv_lock(content: &str, sink: &mut Sink) {
    each_package(content, "package", sink, |package, line, sink| {
        let source = toml_doc::sub_table(package, "source");
        if source.is_some_and(|s| s.get("editable").is_some() || s.get("virtual").is_some()) {
            record_project_requirements(package, sink);
            return;
        }
        let direct_url = source.and_then(|source| {
            if let Some(git) = toml_doc::str_at(source, "git") {
                return Some(if git.starts_with("git+") {
                    git.to_string()
                } else {
                    format!("git+{git}")
                });
            }
            ["url", "directory", "path"]
                .iter()
                .find_map(|k| toml_doc::str_at(source, k))
                .map(str::to_string)
        });
        record_edges_by_name(package, sink, line);
        push_locked(
            Locked {
                name: toml_doc::str_at(package, "name").unwrap_or_default(),
                version: toml_doc::str_at(package, "version"),
                markers: None,
                direct_url,
                line,
            },
            sink,
        );
    });
}

/// PEP 751 `pylock.toml`: `[[packages]]` with `version` (optional for VCS/directory), `marker`,
/// and `vcs` / `directory` / `archive` sources. Editable directories (the project itself) are not
/// dependency records; their `dependencies`, where recorded, are the project's own requirements.
pub(crate) fn parse_pylock(content: &str, sink: &mut Sink) {
    each_package(content, "packages", sink, |package, line, sink| {
        // An editable directory is the project itself (or a workspace member), as in uv.lock.
        let editable = toml_doc::sub_table(package, "directory")
            .and_then(|d| toml_doc::get(d, "editable"))
            .and_then(|e| e.get_ref().as_bool())
            .unwrap_or(false);
        if editable {
            record_project_requirements(package, sink);
            return;
        }
        record_edges_by_name(package, sink, line);
        let direct_url = if let Some(vcs) = toml_doc::sub_table(package, "vcs") {
            let url = toml_doc::str_at(vcs, "url")
                .or_else(|| toml_doc::str_at(vcs, "path"))
                .unwrap_or_default();
            let kind = toml_doc::str_at(vcs, "type").unwrap_or("git");
            let commit = toml_doc::str_at(vcs, "commit-id");
            Some(commit.map_or_else(|| format!("{kind}+{url}"), |c| format!("{kind}+{url}@{c}")))
        } else if let Some(directory) = toml_doc::sub_table(package, "directory") {
            toml_doc::str_at(directory, "path").map(str::to_string)
        } else {
            toml_doc::sub_table(package, "archive")
                .and_then(|a| toml_doc::str_at(a, "url").or_else(|| toml_doc::str_at(a, "path")))
                .map(str::to_string)
        };
        push_locked(
            Locked {
                name: toml_doc::str_at(package, "name").unwrap_or_default(),
                version: toml_doc::str_at(package, "version"),
                markers: toml_doc::str_at(package, "marker"),
                direct_url,
                line,
            },
            sink,
        );
    });
}

/// The requirements of the project's own entry (uv.lock, pylock.toml): `dependencies`, and
/// uv's `optional-dependencies` / `dev-dependencies` tables of named lists.
fn record_project_requirements(package: &DeTable<'_>, sink: &mut Sink) {
    let mut lists: Vec<&toml_doc::Item<'_>> = Vec::new();
    lists.extend(toml_doc::get(package, "dependencies"));
    for key in ["optional-dependencies", "dev-dependencies"] {
        if let Some(groups) = toml_doc::sub_table(package, key) {
            lists.extend(groups.values());
        }
    }
    for entry in lists.into_iter().flat_map(toml_doc::array) {
        if let Some(name) = toml_doc::table(entry).and_then(|t| toml_doc::str_at(t, "name")) {
            sink.project_requirement(name);
        }
    }
}

/// `dependencies = [{ name = "numpy" }, ...]` (uv.lock, pylock.toml): one edge per named entry.
fn record_edges_by_name(package: &DeTable<'_>, sink: &mut Sink, line: u32) {
    let from = toml_doc::str_at(package, "name").unwrap_or_default();
    let Some(dependencies) = toml_doc::get(package, "dependencies") else {
        return;
    };
    for entry in toml_doc::array(dependencies) {
        if let Some(to) = toml_doc::table(entry).and_then(|t| toml_doc::str_at(t, "name")) {
            sink.pypi_edge(from, to, Some(line));
        }
    }
}

/// Pipfile.lock (JSON): `default` and `develop` sections, `"version": "==X"`. Streamed: one
/// package entry is built at a time, whatever the size of the lockfile.
pub(crate) fn parse_pipfile_lock(content: &str, sink: &mut Sink) {
    let mut lines = LineCursor::new(content);
    let streamed = json::stream(
        content,
        |section| match section {
            "default" | "develop" => json::Take::Members,
            _ => json::Take::Skip,
        },
        |_, piece| {
            if let json::Streamed::Member(name, entry) = piece {
                pipfile_entry(&name, &entry, &mut lines, sink);
            }
        },
    );
    match streamed {
        Ok(true) => {}
        Ok(false) => sink.parse_error(Some(1), "Pipfile.lock is not a JSON object"),
        Err(error) => sink.parse_error(
            Some(lines.line(error.offset)),
            format!("invalid JSON: {}", error.message),
        ),
    }
}

fn pipfile_entry(name: &str, entry: &json::Node, lines: &mut LineCursor<'_>, sink: &mut Sink) {
    let line = lines.line(entry.offset);
    let mut dependency = sink.pypi(name, Some(line));
    let written = entry.str_at("version").unwrap_or("").trim();
    dependency.markers = entry.str_at("markers").map(str::to_string);
    dependency.extras = entry.get("extras").map_or_else(Vec::new, |e| {
        e.as_array()
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    });
    dependency.direct_url = if let Some(git) = entry.str_at("git") {
        Some(
            entry
                .str_at("ref")
                .map_or_else(|| format!("git+{git}"), |r| format!("git+{git}@{r}")),
        )
    } else {
        entry
            .str_at("file")
            .or_else(|| entry.str_at("path"))
            .map(str::to_string)
    };
    if !written.is_empty() {
        match crate::pep508::classify_specifiers(written) {
            Ok((version, requirement)) => {
                dependency.version = version;
                dependency.requirement = requirement;
            }
            Err(error) => {
                sink.parse_error(
                    Some(line),
                    format!("invalid version `{written}` for `{name}`: {error}"),
                );
                dependency.requirement = Some(written.to_string());
            }
        }
    } else if dependency.direct_url.is_none() {
        dependency.requirement = Some(String::new());
    }
    sink.push(dependency);
}

#[cfg(test)]
mod edge_tests {
    use crate::{DependencyEdge, ManifestKind, parse_str};

    fn edges(kind: ManifestKind, content: &str) -> Vec<(String, String)> {
        parse_str(content, "lock", kind)
            .edges
            .into_iter()
            .map(|DependencyEdge { from, to }| (from, to))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn uv_lock_dependencies_become_edges() {
        let lock = r#"
version = 1
[[package]]
name = "Torch"
version = "2.1.0"
source = { registry = "https://index.invalid/simple" }
dependencies = [
    { name = "filelock" },
    { name = "typing_extensions", marker = "python_version < '3.12'" },
]

[[package]]
name = "filelock"
version = "3.13.1"
source = { registry = "https://index.invalid/simple" }
"#;
        assert_eq!(
            edges(ManifestKind::UvLock, lock),
            pairs(&[("torch", "filelock"), ("torch", "typing-extensions")])
        );
    }

    #[test]
    fn poetry_lock_dependency_tables_become_edges() {
        let lock = r#"
[[package]]
name = "transformers"
version = "4.30.0"

[package.dependencies]
huggingface-hub = ">=0.14.1,<1.0"
numpy = ">=1.17"

[[package]]
name = "numpy"
version = "1.26.0"
"#;
        let inventory = parse_str(lock, "poetry.lock", ManifestKind::PoetryLock);
        assert_eq!(inventory.dependencies.len(), 2);
        assert_eq!(
            edges(ManifestKind::PoetryLock, lock),
            pairs(&[
                ("transformers", "huggingface-hub"),
                ("transformers", "numpy")
            ])
        );
    }

    #[test]
    fn pylock_dependencies_become_edges() {
        let lock = r#"
lock-version = "1.0"
created-by = "test"
[[packages]]
name = "torch"
version = "2.1.0"
dependencies = [{ name = "sympy" }, { not-a-name = 1 }]
"#;
        assert_eq!(
            edges(ManifestKind::Pylock, lock),
            pairs(&[("torch", "sympy")])
        );
    }

    #[test]
    fn the_project_entrys_requirements_are_direct_without_the_project_being_a_package() {
        let lock = r#"
version = 1
[[package]]
name = "my-app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "Flask" }, { name = "Jinja2" }]

[package.optional-dependencies]
serve = [{ name = "gunicorn" }]

[package.dev-dependencies]
dev = [{ name = "pytest" }]

[[package]]
name = "flask"
version = "3.0.0"
source = { registry = "https://index.invalid/simple" }
dependencies = [{ name = "jinja2" }, { name = "werkzeug" }]

[[package]]
name = "jinja2"
version = "3.1.2"
source = { registry = "https://index.invalid/simple" }

[[package]]
name = "werkzeug"
version = "3.0.0"
source = { registry = "https://index.invalid/simple" }
"#;
        let inventory = parse_str(lock, "uv.lock", ManifestKind::UvLock);
        assert_eq!(
            inventory.direct,
            ["flask", "gunicorn", "jinja2", "pytest"].map(String::from)
        );
        // Jinja2 stays a dependency of flask too; the project is no package and has no edges.
        assert_eq!(
            edges(ManifestKind::UvLock, lock),
            pairs(&[("flask", "jinja2"), ("flask", "werkzeug")])
        );
        let names: Vec<&str> = inventory
            .dependencies
            .iter()
            .map(|d| d.normalized_name.as_str())
            .collect();
        assert_eq!(names, ["flask", "jinja2", "werkzeug"]);
    }

    #[test]
    fn pylock_editable_entry_dependencies_are_direct() {
        let lock = r#"
lock-version = "1.0"
created-by = "test"
[[packages]]
name = "my-app"
directory = { path = ".", editable = true }
dependencies = [{ name = "torch" }]

[[packages]]
name = "torch"
version = "2.1.0"
"#;
        let inventory = parse_str(lock, "pylock.toml", ManifestKind::Pylock);
        assert_eq!(inventory.direct, ["torch".to_string()]);
        assert_eq!(inventory.dependencies.len(), 1);
    }

    #[test]
    fn files_without_a_graph_have_no_edges() {
        assert!(
            parse_str("torch==2.1.0\n", "r.txt", ManifestKind::Requirements)
                .direct
                .is_empty()
        );
        assert!(edges(ManifestKind::Requirements, "torch==2.1.0\n").is_empty());
    }
}
