//! `pyproject.toml`: PEP 621 `[project]` dependencies and optional dependencies, PEP 735
//! `[dependency-groups]`, PEP 518 `[build-system] requires` (build-time dependencies are installed
//! and run at install time, so they are inventoried too), and Poetry's
//! `[tool.poetry.dependencies]`, `dev-dependencies` and `group.<name>.dependencies`.

use toml::de::DeTable;

use crate::pep508;
use crate::sink::Sink;
use crate::text::LineIndex;
use crate::toml_doc::{self, Item};

pub(crate) fn parse(content: &str, sink: &mut Sink) {
    let lines = LineIndex::new(content);
    let document = toml_doc::parse(content, &lines, sink);
    let root = document.get_ref();
    if let Some(project) = toml_doc::sub_table(root, "project") {
        pep508_list(toml_doc::get(project, "dependencies"), &lines, sink);
        if let Some(optional) = toml_doc::sub_table(project, "optional-dependencies") {
            for (_, list) in optional.iter() {
                pep508_list(Some(list), &lines, sink);
            }
        }
    }
    if let Some(build) = toml_doc::sub_table(root, "build-system") {
        pep508_list(toml_doc::get(build, "requires"), &lines, sink);
    }
    if let Some(groups) = toml_doc::sub_table(root, "dependency-groups") {
        dependency_groups(groups, &lines, sink);
    }
    if let Some(poetry) =
        toml_doc::sub_table(root, "tool").and_then(|tool| toml_doc::sub_table(tool, "poetry"))
    {
        poetry_tables(poetry, &lines, sink);
    }
}

/// A list of PEP 508 strings; `{include-group = ...}` tables are skipped (the group they name is
/// read on its own).
fn pep508_list(list: Option<&Item<'_>>, lines: &LineIndex, sink: &mut Sink) {
    let Some(list) = list else { return };
    if list.get_ref().as_array().is_none() {
        sink.parse_error(
            Some(toml_doc::line_of(list, lines)),
            "expected an array of PEP 508 requirement strings",
        );
        return;
    }
    for item in toml_doc::array(list) {
        let line = toml_doc::line_of(item, lines);
        match item.get_ref().as_str() {
            Some(text) => push_pep508(text, line, sink),
            None if item
                .get_ref()
                .as_table()
                .is_some_and(|t| t.get("include-group").is_some()) => {}
            None => sink.parse_error(Some(line), "expected a PEP 508 requirement string"),
        }
    }
}

pub(crate) fn push_pep508(text: &str, line: u32, sink: &mut Sink) {
    match pep508::parse_requirement(text) {
        Ok(parsed) => {
            let mut dependency = sink.pypi(&parsed.name, Some(line));
            dependency.version = parsed.version;
            dependency.requirement = parsed.requirement;
            dependency.markers = parsed.markers;
            dependency.extras = parsed.extras;
            dependency.direct_url = parsed.direct_url;
            sink.push(dependency);
        }
        Err(error) => {
            sink.parse_error(Some(line), format!("invalid requirement `{text}`: {error}"))
        }
    }
}

fn dependency_groups(groups: &DeTable<'_>, lines: &LineIndex, sink: &mut Sink) {
    for (_, list) in groups.iter() {
        pep508_list(Some(list), lines, sink);
        for item in toml_doc::array(list) {
            let Some(included) = item
                .get_ref()
                .as_table()
                .and_then(|t| toml_doc::str_at(t, "include-group"))
            else {
                continue;
            };
            if groups.get(included).is_none()
                && !groups
                    .iter()
                    .any(|(k, _)| same_group(k.get_ref(), included))
            {
                sink.parse_error(
                    Some(toml_doc::line_of(item, lines)),
                    format!("`include-group = \"{included}\"` names a group that does not exist"),
                );
            }
        }
    }
}

/// Group names compare after PEP 503 normalisation (PEP 735).
fn same_group(a: &str, b: &str) -> bool {
    crate::names::normalize_pypi_name(a) == crate::names::normalize_pypi_name(b)
}

fn poetry_tables(poetry: &DeTable<'_>, lines: &LineIndex, sink: &mut Sink) {
    for key in ["dependencies", "dev-dependencies"] {
        if let Some(table) = toml_doc::sub_table(poetry, key) {
            poetry_dependencies(table, lines, sink);
        }
    }
    if let Some(groups) = toml_doc::sub_table(poetry, "group") {
        for (_, group) in groups.iter() {
            if let Some(table) =
                toml_doc::table(group).and_then(|g| toml_doc::sub_table(g, "dependencies"))
            {
                poetry_dependencies(table, lines, sink);
            }
        }
    }
}

fn poetry_dependencies(table: &DeTable<'_>, lines: &LineIndex, sink: &mut Sink) {
    for (name, spec) in table.iter() {
        let name_text: &str = name.get_ref();
        if name_text.eq_ignore_ascii_case("python") {
            continue;
        }
        let line = lines.line(name.span().start);
        match spec.get_ref() {
            toml::de::DeValue::Array(alternatives) => {
                // Multiple-constraint dependencies: one entry per alternative.
                for alternative in alternatives.iter() {
                    poetry_dependency(
                        name_text,
                        alternative,
                        toml_doc::line_of(alternative, lines),
                        sink,
                    );
                }
            }
            _ => poetry_dependency(name_text, spec, line, sink),
        }
    }
}

fn poetry_dependency(name: &str, spec: &Item<'_>, line: u32, sink: &mut Sink) {
    let mut dependency = sink.pypi(name, Some(line));
    let constraint = match spec.get_ref() {
        toml::de::DeValue::String(constraint) => Some(constraint.as_ref()),
        toml::de::DeValue::Table(table) => {
            dependency.extras = toml_doc::get(table, "extras")
                .map(|e| {
                    toml_doc::array(e)
                        .iter()
                        .filter_map(|x| x.get_ref().as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            dependency.markers = poetry_markers(table);
            dependency.direct_url = poetry_direct_url(table);
            toml_doc::str_at(table, "version")
        }
        _ => {
            sink.parse_error(
                Some(line),
                format!("unsupported Poetry dependency specification for `{name}`"),
            );
            return;
        }
    };
    match constraint.map(poetry_constraint_to_pep440) {
        Some(Ok(converted)) => {
            match pep508::classify_specifiers(&converted) {
                Ok((version, requirement)) => {
                    dependency.version = version;
                    dependency.requirement = requirement;
                }
                // `||` alternatives have no PEP 440 form: keep the constraint as written.
                Err(_) => dependency.requirement = Some(converted),
            }
        }
        Some(Err(message)) => {
            sink.parse_error(
                Some(line),
                format!("invalid Poetry constraint for `{name}`: {message}"),
            );
            dependency.requirement = constraint.map(str::to_string);
        }
        None if dependency.direct_url.is_none() => dependency.requirement = Some(String::new()),
        None => {}
    }
    sink.push(dependency);
}

/// Poetry's `markers` plus its `python` shorthand (`python = "^3.8"` → a python_version marker
/// as written).
fn poetry_markers(table: &DeTable<'_>) -> Option<String> {
    let markers = toml_doc::str_at(table, "markers").map(str::to_string);
    let python = toml_doc::str_at(table, "python").map(|p| format!("python_version \"{p}\""));
    match (markers, python) {
        (Some(m), Some(p)) => Some(format!("{m} and {p}")),
        (m, p) => m.or(p),
    }
}

fn poetry_direct_url(table: &DeTable<'_>) -> Option<String> {
    if let Some(git) = toml_doc::str_at(table, "git") {
        let reference = ["rev", "tag", "branch"]
            .iter()
            .find_map(|k| toml_doc::str_at(table, k));
        return Some(match reference {
            Some(r) => format!("git+{git}@{r}"),
            None => format!("git+{git}"),
        });
    }
    toml_doc::str_at(table, "url")
        .or_else(|| toml_doc::str_at(table, "path"))
        .map(str::to_string)
}

/// Converts a Poetry version constraint to a PEP 440 specifier set the way poetry-core does:
/// `^1.2.3` → `>=1.2.3,<2.0.0`, `^0.2.3` → `>=0.2.3,<0.3.0`, `~1.2` → `>=1.2,<1.3`, `1.2.*` →
/// `==1.2.*`, a bare `1.2.3` → `==1.2.3`, `*`/empty → any; comma- or space-separated parts are
/// ANDed; `||` alternatives are kept as written (no PEP 440 equivalent).
pub(crate) fn poetry_constraint_to_pep440(constraint: &str) -> Result<String, String> {
    let constraint = constraint.trim();
    if constraint.is_empty() || constraint == "*" {
        return Ok(String::new());
    }
    if constraint.contains('|') {
        return Ok(constraint.to_string());
    }
    let mut parts = Vec::new();
    for token in split_and_tokens(constraint) {
        parts.push(convert_single(&token)?);
    }
    Ok(parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(","))
}

/// Splits `>=1.2, <2` and `>= 1.2 < 2` into `[">=1.2", "<2"]` (an operator may be separated from
/// its version by spaces).
fn split_and_tokens(constraint: &str) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    for piece in constraint
        .split([',', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match tokens.last_mut() {
            Some(last)
                if last
                    .chars()
                    .all(|c| matches!(c, '<' | '>' | '=' | '!' | '~' | '^')) =>
            {
                last.push_str(piece)
            }
            _ => tokens.push(piece.to_string()),
        }
    }
    tokens
}

fn convert_single(token: &str) -> Result<String, String> {
    if token == "*" {
        return Ok(String::new());
    }
    if let Some(version) = token.strip_prefix('^') {
        let (release, _) = release_numbers(version)?;
        return Ok(format!(">={version},<{}", caret_upper(&release)));
    }
    if token.starts_with("~=") {
        return Ok(token.to_string());
    }
    if let Some(version) = token.strip_prefix('~') {
        let (release, _) = release_numbers(version)?;
        return Ok(format!(">={version},<{}", tilde_upper(&release)));
    }
    if token.starts_with(['<', '>', '=', '!']) {
        return Ok(token.to_string());
    }
    if token.contains('*') {
        let trimmed = token.trim_end_matches(".*").trim_end_matches('*');
        return Ok(if trimmed.is_empty() {
            String::new()
        } else {
            format!("=={trimmed}.*")
        });
    }
    release_numbers(token)?;
    Ok(format!("=={token}"))
}

/// The leading numeric release components of a version, and their count as written.
fn release_numbers(version: &str) -> Result<(Vec<u64>, usize), String> {
    let version = version.trim().trim_start_matches(['v', 'V']);
    let mut numbers = Vec::new();
    for part in version.split('.') {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            break;
        }
        numbers.push(digits.parse::<u64>().map_err(|e| e.to_string())?);
        if digits.len() != part.len() {
            break;
        }
    }
    if numbers.is_empty() {
        return Err(format!("`{version}` is not a version"));
    }
    let count = numbers.len();
    Ok((numbers, count))
}

/// `^` bumps the first non-zero component (or the last given one when all are zero).
fn caret_upper(release: &[u64]) -> String {
    let index = release
        .iter()
        .position(|n| *n != 0)
        .unwrap_or(release.len().saturating_sub(1));
    bump(release, index, release.len())
}

/// `~1.2.3` → `1.3.0`; `~1.2` → `1.3`; `~1` → `2`.
fn tilde_upper(release: &[u64]) -> String {
    let index = if release.len() >= 2 { 1 } else { 0 };
    bump(release, index, release.len())
}

/// Increments component `index`, zeroes the rest, keeping `width` components (at least index+1).
fn bump(release: &[u64], index: usize, width: usize) -> String {
    let width = width.max(index + 1);
    (0..width)
        .map(|i| match i.cmp(&index) {
            std::cmp::Ordering::Less => release.get(i).copied().unwrap_or(0),
            std::cmp::Ordering::Equal => release.get(i).copied().unwrap_or(0).saturating_add(1),
            std::cmp::Ordering::Greater => 0,
        })
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poetry_constraints() {
        let cases = [
            ("^1.2.3", ">=1.2.3,<2.0.0"),
            ("^1.2", ">=1.2,<2.0"),
            ("^1", ">=1,<2"),
            ("^0.2.3", ">=0.2.3,<0.3.0"),
            ("^0.0.3", ">=0.0.3,<0.0.4"),
            ("^0.0", ">=0.0,<0.1"),
            ("^0", ">=0,<1"),
            ("~1.2.3", ">=1.2.3,<1.3.0"),
            ("~1.2", ">=1.2,<1.3"),
            ("~1", ">=1,<2"),
            ("~=1.2", "~=1.2"),
            ("1.2.*", "==1.2.*"),
            ("*", ""),
            ("", ""),
            ("2.1.0", "==2.1.0"),
            (">=1.2, <2", ">=1.2,<2"),
            (">= 1.2 < 2.0", ">=1.2,<2.0"),
            ("==1.0 || ==2.0", "==1.0 || ==2.0"),
        ];
        for (poetry, pep440) in cases {
            assert_eq!(
                poetry_constraint_to_pep440(poetry).as_deref(),
                Ok(pep440),
                "{poetry}"
            );
        }
        assert!(poetry_constraint_to_pep440("^abc").is_err());
        assert!(poetry_constraint_to_pep440("banana").is_err());
    }
}
