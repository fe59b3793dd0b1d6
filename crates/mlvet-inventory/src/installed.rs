//! Installed distributions: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` and single-file
//! `*.egg-info`. Only the `Name` and `Version` headers are read: `Requires-Dist` lists what the
//! package needs, and those are installed (and inventoried) as distributions of their own.

use std::io::Read;
use std::path::Path;

use crate::json;
use crate::sink::Sink;

/// Largest `direct_url.json` read (it holds one URL and a few fields).
const MAX_DIRECT_URL_SIZE: u64 = 1024 * 1024;

pub(crate) fn parse_metadata(content: &str, sink: &mut Sink) {
    let mut name: Option<(String, u32)> = None;
    let mut version: Option<String> = None;
    for (index, line) in content.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break; // The headers end at the first blank line; the description follows.
        }
        if line.starts_with([' ', '\t']) {
            continue; // A folded continuation of the previous header.
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        match key.trim().to_ascii_lowercase().as_str() {
            "name" if name.is_none() => name = Some((value.trim().to_string(), number)),
            "version" if version.is_none() => version = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let Some((name, line)) = name.filter(|(n, _)| !n.is_empty()) else {
        sink.parse_error(Some(1), "package metadata without a `Name` header");
        return;
    };
    let mut dependency = sink.pypi(&name, Some(line));
    match version.filter(|v| !v.is_empty()) {
        Some(version) => dependency.version = Some(version),
        None => {
            sink.parse_error(
                Some(line),
                format!("package metadata for `{name}` without a `Version` header"),
            );
            dependency.requirement = Some(String::new());
        }
    }
    sink.push(dependency);
}

/// PEP 610: a `direct_url.json` next to `METADATA` records a URL, VCS or local-directory install.
pub(crate) fn attach_direct_url(metadata: &Path, sink: &mut Sink) {
    let Some(directory) = metadata.parent() else {
        return;
    };
    // A FIFO planted as `direct_url.json` must not block the scan: regular files only.
    let Ok(file) = mlvet_core::fs::open_regular(&directory.join("direct_url.json")) else {
        return;
    };
    let mut text = String::new();
    if file
        .take(MAX_DIRECT_URL_SIZE)
        .read_to_string(&mut text)
        .is_err()
    {
        return;
    }
    let Some(url) = direct_url_from_json(&text) else {
        return;
    };
    for dependency in &mut sink.dependencies {
        dependency.direct_url = Some(url.clone());
    }
}

fn direct_url_from_json(text: &str) -> Option<String> {
    let record = json::parse(text).ok()?;
    let url = record.str_at("url")?;
    if let Some(vcs) = record.get("vcs_info") {
        let kind = vcs.str_at("vcs").unwrap_or("git");
        return Some(match vcs.str_at("commit_id") {
            Some(commit) => format!("{kind}+{url}@{commit}"),
            None => format!("{kind}+{url}"),
        });
    }
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_url_json() {
        let vcs = r#"{"url": "https://example.invalid/org/repo.git", "vcs_info": {"vcs": "git", "commit_id": "abc123"}}"#;
        assert_eq!(
            direct_url_from_json(vcs).as_deref(),
            Some("git+https://example.invalid/org/repo.git@abc123")
        );
        let dir = r#"{"url": "file:///home/me/proj", "dir_info": {"editable": true}}"#;
        assert_eq!(
            direct_url_from_json(dir).as_deref(),
            Some("file:///home/me/proj")
        );
        assert_eq!(direct_url_from_json("{}"), None);
    }
}
