//! pip requirements files (`requirements*.txt`, pip-compile `*.in`, constraints files).
//!
//! Follows pip's reading order: physical lines ending in `\` are joined (comment lines end a
//! continuation), comments start at a `#` that begins the line or follows whitespace, option lines
//! start with `-`. Environment variables (`${VAR}`) are kept as written, never expanded.
//!
//! Includes: `-r`/`--requirement` and `-c`/`--constraint` are resolved relative to the including
//! file, only inside the scanned root (after resolving `..` and symbolic links), each file at most
//! once (cycle-safe), at most [`MAX_INCLUDE_DEPTH`] deep.
//!
//! Constraints (documented choice, following pip: constraints never cause an install): entries of
//! a file reached through `-c` are *not* dependencies. Their exact pins are used to resolve the
//! version of a requirement that the requirement files leave open (`torch>=2` + constraint
//! `torch==2.1.0` → version `2.1.0`, requirement `>=2` kept), when the pin satisfies it. A
//! constraints file scanned on its own (found by the walker) is inventoried like any requirements
//! file: it then describes the environment it pins.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use mlvet_core::Finding;
use uv_pep440::{Version, VersionSpecifiers};

use crate::pep508::{self, ParsedRequirement};
use crate::sink::Sink;
use crate::{Dependency, MAX_INCLUDE_DEPTH, rules, text};

/// One logical line: the text after joining continuations and its first physical line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    pub line: u32,
    pub text: String,
}

/// Joins `\` continuations like pip does and strips comments; blank results are dropped.
pub(crate) fn logical_lines(content: &str) -> Vec<LogicalLine> {
    let mut out = Vec::new();
    let mut pending: Option<(u32, String)> = None;
    for (index, raw) in content.lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let is_comment = raw.trim_start().starts_with('#');
        if raw.ends_with('\\') && !is_comment {
            let (_, joined) = pending.get_or_insert_with(|| (number, String::new()));
            joined.push_str(raw.trim_matches('\\'));
            continue;
        }
        let (line, mut joined) = pending.take().unwrap_or((number, String::new()));
        joined.push_str(raw);
        let stripped = strip_comment(&joined).trim();
        if !stripped.is_empty() {
            out.push(LogicalLine {
                line,
                text: stripped.to_string(),
            });
        }
    }
    if let Some((line, joined)) = pending {
        let stripped = strip_comment(&joined).trim();
        if !stripped.is_empty() {
            out.push(LogicalLine {
                line,
                text: stripped.to_string(),
            });
        }
    }
    out
}

/// pip's comment rule: `#` at the start of the line or after whitespace starts a comment (so a
/// URL fragment `#egg=name` is kept).
fn strip_comment(line: &str) -> &str {
    let mut previous_is_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && previous_is_space {
            return line.get(..i).unwrap_or(line);
        }
        previous_is_space = c.is_whitespace();
    }
    line
}

/// Options pip accepts in requirements files that do not name a package.
const IGNORED_OPTIONS: &[&str] = &[
    "-i",
    "--index-url",
    "--extra-index-url",
    "--no-index",
    "-f",
    "--find-links",
    "--pre",
    "--prefer-binary",
    "--only-binary",
    "--no-binary",
    "--require-hashes",
    "--trusted-host",
    "--use-feature",
    "-Z",
    "--always-unzip",
    "--hash",
    "--global-option",
    "--install-option",
    "--config-settings",
    "--process-dependency-links",
];

/// What a logical line is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Requirement { text: String, editable: bool },
    Include { target: String, constraint: bool },
    Ignored,
    UnknownOption(String),
    MissingValue(String),
}

pub(crate) fn classify(text: &str) -> Entry {
    if !text.starts_with('-') {
        return Entry::Requirement {
            text: strip_requirement_options(text).to_string(),
            editable: false,
        };
    }
    let (option, value) = split_option(text);
    let value = value
        .map(|v| unquote(cut_option_markers(v)).to_string())
        .filter(|v| !v.is_empty());
    match option {
        "-r" | "--requirement" | "--requirements" | "-c" | "--constraint" | "--constraints" => {
            match value {
                Some(target) => Entry::Include {
                    target,
                    constraint: option.starts_with("-c") || option.starts_with("--constraint"),
                },
                None => Entry::MissingValue(option.to_string()),
            }
        }
        "-e" | "--editable" => match value {
            Some(target) => Entry::Requirement {
                text: strip_requirement_options(&target).to_string(),
                editable: true,
            },
            None => Entry::MissingValue(option.to_string()),
        },
        known if IGNORED_OPTIONS.contains(&known) => Entry::Ignored,
        unknown => Entry::UnknownOption(unknown.to_string()),
    }
}

/// `--name=value`, `--name value`, `-r value`, `-rvalue`.
fn split_option(text: &str) -> (&str, Option<&str>) {
    if let Some(long) = text.strip_prefix("--") {
        let end = long
            .find(|c: char| c == '=' || c.is_whitespace())
            .map_or(text.len(), |i| i + 2);
        let option = text.get(..end).unwrap_or(text);
        let rest = text.get(end..).unwrap_or("");
        let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
        return (option, (!rest.is_empty()).then_some(rest));
    }
    let option_end = text.char_indices().nth(2).map_or(text.len(), |(i, _)| i);
    let option = text.get(..option_end).unwrap_or(text);
    let rest = text.get(option_end..).unwrap_or("");
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
    (option, (!rest.is_empty()).then_some(rest))
}

/// Option values may carry markers after `;` (uv accepts them; pip ignores them for options).
fn cut_option_markers(value: &str) -> &str {
    value.split(';').next().unwrap_or(value).trim()
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// Cuts per-requirement options (`--hash=...`, `--config-settings ...`) off a requirement line.
fn strip_requirement_options(text: &str) -> &str {
    let bytes = text.as_bytes();
    for (i, window) in bytes.windows(3).enumerate() {
        if window.first().is_some_and(|b| b.is_ascii_whitespace())
            && window.get(1..3) == Some(b"--")
        {
            return text.get(..i).unwrap_or(text).trim();
        }
    }
    text.trim()
}

/// Whether a requirement names a URL or a path rather than a PEP 508 name (pip's heuristic).
fn is_unnamed(text: &str) -> bool {
    let named_url = {
        let head = text.split('@').next().unwrap_or("");
        text.contains('@')
            && !head.contains("://")
            && !head.contains('/')
            && !head.contains('\\')
            && head
                .trim()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
    };
    if named_url {
        return false;
    }
    let first = text.split([';', ' ']).next().unwrap_or(text);
    first.contains("://")
        || first.starts_with('.')
        || first.starts_with('/')
        || first.starts_with('~')
        || first.contains('/')
        || first.contains('\\')
        || first.starts_with("file:")
        || [".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz"]
            .iter()
            .any(|ext| first.to_ascii_lowercase().ends_with(ext))
}

/// An unnamed URL/path requirement: markers after `;` (pip wants whitespace before it for URLs;
/// uv's test-data also shows `path ; marker`), extras in `[...]` at the end of the path.
fn parse_unnamed(text: &str) -> ParsedRequirement {
    let (location, markers) = match text.find(" ;").or_else(|| text.find("; ")) {
        Some(i) => (
            text.get(..i).unwrap_or(text).trim(),
            text.get(i..)
                .map(|m| m.trim().trim_start_matches(';').trim()),
        ),
        None => (text.trim(), None),
    };
    let (location, extras) = match location.strip_suffix(']').and_then(|l| l.rsplit_once('[')) {
        Some((path, extras)) => (
            path,
            extras
                .split(',')
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty())
                .collect(),
        ),
        None => (location, Vec::new()),
    };
    let artifact = pep508::artifact_from_url(location);
    ParsedRequirement {
        name: artifact
            .as_ref()
            .map_or_else(|| location.to_string(), |a| a.name.clone()),
        extras,
        version: artifact.and_then(|a| a.version),
        requirement: None,
        markers: markers.filter(|m| !m.is_empty()).map(str::to_string),
        direct_url: Some(location.to_string()),
    }
}

/// Parses a requirement line into a record; unparsable lines still yield a record when a name can
/// be read (so nothing is silently dropped) plus the error.
fn requirement_entry(text: &str, editable: bool) -> (Option<ParsedRequirement>, Option<String>) {
    if editable || is_unnamed(text) {
        // `-e name @ url` is not pip syntax but is harmless to accept.
        if !is_unnamed(text)
            && let Ok(parsed) = pep508::parse_requirement(text)
        {
            return (Some(parsed), None);
        }
        return (Some(parse_unnamed(text)), None);
    }
    match pep508::parse_requirement(text) {
        Ok(parsed) => (Some(parsed), None),
        Err(error) => {
            let name: String = text
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            let rest = text.get(name.len()..).unwrap_or("").trim_start();
            // Only a name followed by something requirement-like is kept (`torch==`, `torch>=x`);
            // prose is not turned into a package.
            let requirement_like =
                rest.is_empty() || rest.starts_with(['=', '<', '>', '!', '~', '[', '(', ';', '@']);
            let fallback = (!name.is_empty() && requirement_like).then(|| {
                let rest = text.get(name.len()..).unwrap_or("").trim();
                ParsedRequirement {
                    name: name.clone(),
                    requirement: Some(rest.to_string()),
                    ..ParsedRequirement::default()
                }
            });
            (fallback, Some(error))
        }
    }
}

/// `-e .` / `..` (as `uv export` writes for the project itself) names no package: use the name of
/// the directory it points to, resolved from the requirements file's folder, when it exists.
fn local_directory_name(parsed: &ParsedRequirement, including: Option<&Path>) -> Option<String> {
    let location = parsed.direct_url.as_deref()?;
    let unnamed = parsed.name == location
        && Path::new(location)
            .components()
            .all(|c| matches!(c, Component::CurDir | Component::ParentDir));
    if !unnamed {
        return None;
    }
    let base = including?.parent()?;
    let directory = std::fs::canonicalize(base.join(location)).ok()?;
    directory
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
}

/// State shared across one file and its includes.
struct Walk<'a> {
    /// Canonical root, or `None` when includes are not followed.
    root: Option<PathBuf>,
    visited: BTreeSet<PathBuf>,
    /// Exact pins from constraints files: normalised name → (version, file, line).
    constraint_pins: BTreeMap<String, String>,
    sink: &'a mut Sink,
}

/// Where the file being read lives: its display path and, when following includes, its path.
struct FileCtx<'p> {
    display: String,
    path: Option<&'p Path>,
    depth: usize,
    constraint: bool,
}

pub(crate) fn parse_without_includes(content: &str, sink: &mut Sink) {
    let display = sink.display.clone();
    let mut walk = Walk {
        root: None,
        visited: BTreeSet::new(),
        constraint_pins: BTreeMap::new(),
        sink,
    };
    walk.read(
        content,
        &FileCtx {
            display,
            path: None,
            depth: 0,
            constraint: false,
        },
    );
}

pub(crate) fn parse_with_includes(
    content: &str,
    path: &Path,
    display: &str,
    root: &Path,
    sink: &mut Sink,
) {
    let root = canonical_root(root, path);
    let mut visited = BTreeSet::new();
    if let Ok(canonical) = std::fs::canonicalize(path) {
        visited.insert(canonical);
    }
    let mut walk = Walk {
        root,
        visited,
        constraint_pins: BTreeMap::new(),
        sink,
    };
    walk.read(
        content,
        &FileCtx {
            display: display.to_string(),
            path: Some(path),
            depth: 0,
            constraint: false,
        },
    );
    let pins = std::mem::take(&mut walk.constraint_pins);
    apply_constraint_pins(&mut walk.sink.dependencies, &pins);
}

/// The canonical include root. A bare file name's parent is the empty path (`requirements.txt`
/// scanned from its own folder), which names the current directory; when the root cannot be
/// resolved the including file's own folder bounds the includes.
fn canonical_root(root: &Path, including: &Path) -> Option<PathBuf> {
    let nonempty = |p: &Path| {
        if p.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            p.to_path_buf()
        }
    };
    std::fs::canonicalize(nonempty(root)).ok().or_else(|| {
        let folder = including.parent().unwrap_or_else(|| Path::new(""));
        std::fs::canonicalize(nonempty(folder)).ok()
    })
}

impl Walk<'_> {
    fn read(&mut self, content: &str, file: &FileCtx<'_>) {
        for LogicalLine { line, text } in logical_lines(content) {
            if !self.sink.has_room() {
                return;
            }
            match classify(&text) {
                Entry::Ignored => {}
                Entry::UnknownOption(option) => {
                    self.sink.parse_error_in(
                        &file.display,
                        Some(line),
                        format!("unknown requirements-file option `{option}`"),
                    );
                }
                Entry::MissingValue(option) => {
                    self.sink.parse_error_in(
                        &file.display,
                        Some(line),
                        format!("option `{option}` needs a value"),
                    );
                }
                Entry::Include { target, constraint } => {
                    self.include(&target, constraint || file.constraint, file, line)
                }
                Entry::Requirement { text, editable } => {
                    self.requirement(&text, editable, file, line)
                }
            }
        }
    }

    fn requirement(&mut self, text: &str, editable: bool, file: &FileCtx<'_>, line: u32) {
        let (parsed, error) = requirement_entry(text, editable);
        if let Some(error) = error {
            self.sink.parse_error_in(
                &file.display,
                Some(line),
                format!("invalid requirement `{text}`: {error}"),
            );
        }
        let Some(mut parsed) = parsed else { return };
        if let Some(name) = local_directory_name(&parsed, file.path) {
            parsed.name = name;
        }
        if file.constraint {
            if let Some(version) = parsed.version {
                self.constraint_pins
                    .insert(crate::names::normalize_pypi_name(&parsed.name), version);
            }
            return;
        }
        let mut dependency = self.sink.pypi(&parsed.name, Some(line));
        dependency.source.file = file.display.clone();
        dependency.version = parsed.version;
        dependency.requirement = parsed.requirement;
        dependency.markers = parsed.markers;
        dependency.extras = parsed.extras;
        dependency.direct_url = parsed.direct_url;
        self.sink.push(dependency);
    }

    fn include(&mut self, target: &str, constraint: bool, file: &FileCtx<'_>, line: u32) {
        let Some(including) = file.path else {
            // parse_str: includes are not followed by design (no file system access).
            return;
        };
        let Some(root) = self.root.clone() else {
            self.unresolved(
                file,
                line,
                target,
                format!(
                    "include `{target}` is not followed: the scanned folder cannot be resolved"
                ),
            );
            return;
        };
        let kind = if constraint {
            "constraints"
        } else {
            "requirements"
        };
        if target.contains("://") {
            self.unresolved(
                file,
                line,
                target,
                format!("remote {kind} include `{target}` is not fetched"),
            );
            return;
        }
        if file.depth + 1 > MAX_INCLUDE_DEPTH {
            self.unresolved(
                file,
                line,
                target,
                format!(
                    "{kind} include `{target}` is nested deeper than {MAX_INCLUDE_DEPTH} levels"
                ),
            );
            return;
        }
        let base = including.parent().unwrap_or_else(|| Path::new(""));
        let base = if base.as_os_str().is_empty() {
            Path::new(".")
        } else {
            base
        };
        let candidate = base.join(target);
        let canonical = match std::fs::canonicalize(&candidate) {
            Ok(canonical) => canonical,
            Err(err) => {
                self.unresolved(
                    file,
                    line,
                    target,
                    format!("{kind} include `{target}` cannot be found: {err}"),
                );
                return;
            }
        };
        if !canonical.starts_with(&root) {
            let location = self.sink.location(&file.display, Some(line));
            self.sink.fully_parsed = false;
            self.sink.findings.push(
                Finding::new(
                    &rules::dependency_include_outside_root::RULE,
                    location,
                    format!(
                        "{kind} include `{target}` resolves outside the scanned tree; not followed"
                    ),
                )
                .evidence("include", target),
            );
            return;
        }
        if !self.visited.insert(canonical.clone()) {
            return; // Already read: an include cycle or a diamond.
        }
        let display = join_display(&file.display, target);
        let content = match text::read_text(&canonical, &display) {
            Ok(content) => content,
            Err(err) => {
                self.unresolved(file, line, target, err.to_string());
                return;
            }
        };
        if content.lossy {
            self.sink.parse_error_in(
                &display,
                None,
                "file is not valid UTF-8; invalid bytes were replaced",
            );
        }
        let child = FileCtx {
            display,
            path: Some(&canonical),
            depth: file.depth + 1,
            constraint,
        };
        self.read(&content.text, &child);
    }

    fn unresolved(&mut self, file: &FileCtx<'_>, line: u32, target: &str, message: String) {
        self.sink.fully_parsed = false;
        let location = self.sink.location(&file.display, Some(line));
        self.sink.findings.push(
            Finding::new(
                &rules::dependency_include_unresolved::RULE,
                location,
                message,
            )
            .evidence("include", target),
        );
    }
}

/// The display path of an include: the including file's display directory joined with the target,
/// with `.` and `..` folded lexically where possible.
fn join_display(including_display: &str, target: &str) -> String {
    let base = Path::new(including_display)
        .parent()
        .unwrap_or_else(|| Path::new(""));
    let mut parts: Vec<String> = Vec::new();
    for component in base.join(target).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.last().is_some_and(|p| p != "..") {
                    parts.pop();
                } else {
                    parts.push("..".to_string());
                }
            }
            Component::RootDir => parts.push(String::new()),
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    if parts.len() == 1 && parts.first().is_some_and(String::is_empty) {
        return "/".to_string();
    }
    parts.join("/")
}

/// Gives unpinned requirements the version a constraints file pins, when it satisfies them.
fn apply_constraint_pins(dependencies: &mut [Dependency], pins: &BTreeMap<String, String>) {
    for dependency in dependencies
        .iter_mut()
        .filter(|d| d.version.is_none() && d.direct_url.is_none())
    {
        let Some(pin) = pins.get(&dependency.normalized_name) else {
            continue;
        };
        let Some(requirement) = dependency.requirement.as_deref() else {
            continue;
        };
        let satisfied = requirement.trim().is_empty()
            || match (
                VersionSpecifiers::from_str(requirement),
                Version::from_str(pin),
            ) {
                (Ok(specifiers), Ok(version)) => specifiers.contains(&version),
                _ => false,
            };
        if satisfied {
            dependency.version = Some(pin.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_and_comments() {
        let lines = logical_lines(
            "a \\\n  >=1.0 # c\n# full\n\nb==2 \\\n# comment ends it\nc @ https://x.invalid/c.zip#egg=c\n",
        );
        assert_eq!(
            lines,
            vec![
                LogicalLine {
                    line: 1,
                    text: "a   >=1.0".into()
                },
                LogicalLine {
                    line: 5,
                    text: "b==2".into()
                },
                LogicalLine {
                    line: 7,
                    text: "c @ https://x.invalid/c.zip#egg=c".into()
                },
            ]
        );
    }

    #[test]
    fn trailing_backslash_at_eof() {
        let lines = logical_lines("torch==2.0 \\");
        assert_eq!(
            lines,
            vec![LogicalLine {
                line: 1,
                text: "torch==2.0".into()
            }]
        );
    }

    #[test]
    fn options_are_classified() {
        assert_eq!(
            classify("-r base.txt"),
            Entry::Include {
                target: "base.txt".into(),
                constraint: false
            }
        );
        assert_eq!(
            classify("--requirement=base.txt"),
            Entry::Include {
                target: "base.txt".into(),
                constraint: false
            }
        );
        assert_eq!(
            classify("-rbase.txt"),
            Entry::Include {
                target: "base.txt".into(),
                constraint: false
            }
        );
        assert_eq!(
            classify("-c 'c.txt'"),
            Entry::Include {
                target: "c.txt".into(),
                constraint: true
            }
        );
        assert_eq!(
            classify("--constraint c.txt"),
            Entry::Include {
                target: "c.txt".into(),
                constraint: true
            }
        );
        assert_eq!(
            classify("--index-url https://x.invalid/simple ; python_version > '3'"),
            Entry::Ignored
        );
        assert_eq!(classify("--no-binary :all:"), Entry::Ignored);
        assert_eq!(
            classify("--frobnicate"),
            Entry::UnknownOption("--frobnicate".into())
        );
        assert_eq!(classify("-r"), Entry::MissingValue("-r".into()));
        assert_eq!(
            classify("numpy==1.26.4 --hash=sha256:aa --hash=sha256:bb"),
            Entry::Requirement {
                text: "numpy==1.26.4".into(),
                editable: false
            }
        );
        assert_eq!(
            classify("-e ./pkg[dev]"),
            Entry::Requirement {
                text: "./pkg[dev]".into(),
                editable: true
            }
        );
    }

    #[test]
    fn unnamed_requirements() {
        assert!(is_unnamed("./scripts/packages/black_editable"));
        assert!(is_unnamed(
            "git+https://example.invalid/org/repo.git#egg=repo"
        ));
        assert!(is_unnamed("torch-2.1.0-cp311-cp311-linux_x86_64.whl"));
        assert!(!is_unnamed(
            "torch @ https://example.invalid/torch-2.1.0-cp311-none-any.whl"
        ));
        assert!(!is_unnamed("torch>=2"));
        let parsed = parse_unnamed("./editable[d,dev] ; python_version >= \"3.9\"");
        assert_eq!(parsed.name, "editable");
        assert_eq!(parsed.extras, vec!["d".to_string(), "dev".to_string()]);
        assert_eq!(parsed.markers.as_deref(), Some("python_version >= \"3.9\""));
        assert_eq!(parsed.direct_url.as_deref(), Some("./editable"));
    }

    #[test]
    fn display_paths_of_includes() {
        assert_eq!(
            join_display("proj/requirements/dev.txt", "../base.txt"),
            "proj/base.txt"
        );
        assert_eq!(join_display("requirements.txt", "./sub/a.txt"), "sub/a.txt");
        assert_eq!(join_display("requirements.txt", "../x.txt"), "../x.txt");
    }
}
