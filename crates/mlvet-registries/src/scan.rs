//! Sends every walked file to the analyses that read it, in parallel, and collects findings by
//! file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use mlvet_core::{Finding, ScanError};
use rayon::prelude::*;

use crate::classify::{FileKind, classify};
use crate::policy::{SourceKind, SourceRef};
use crate::rules::{
    artifact_ref_mutable, artifact_source_policy, data_hash_mismatch, hardcoded_ml_token,
    hf_cross_repo_code, index_confusion, lock_index_mismatch,
};
use crate::text::{MAX_TEXT_BYTES, line_containing, read_text, strip_credentials};
use crate::{Options, ProjectFile, dvc, ini, lfs, project, requirements, scan_error};

/// Everything the project pass found.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: BTreeMap<String, Vec<Finding>>,
    /// The artefact format of each file with findings.
    pub formats: BTreeMap<String, &'static str>,
    /// Files some part of which could not be verified.
    pub unverified: BTreeSet<String>,
    pub errors: Vec<ScanError>,
}

#[derive(Debug, Default)]
struct FileResult {
    display: String,
    format: &'static str,
    findings: Vec<Finding>,
    sources: Vec<SourceRef>,
    unverified: bool,
    errors: Vec<String>,
}

/// Runs every project analysis over `files`.
pub fn scan_files(files: &[ProjectFile], options: &Options) -> Outcome {
    let results: Vec<FileResult> = files.par_iter().filter_map(scan_one).collect();
    let mut outcome = Outcome::default();
    for mut result in results {
        result.sources.sort();
        result
            .sources
            .dedup_by(|a, b| a.kind == b.kind && a.value == b.value);
        result.findings.extend(artifact_source_policy::check(
            &options.sources,
            &result.sources,
        ));
        for message in result.errors {
            outcome.errors.push(scan_error(&result.display, message));
        }
        if result.unverified {
            outcome.unverified.insert(result.display.clone());
        }
        if result.findings.is_empty() {
            continue;
        }
        outcome
            .formats
            .insert(result.display.clone(), result.format);
        outcome
            .findings
            .entry(result.display)
            .or_default()
            .extend(result.findings);
    }
    outcome
}

fn under_store(path: &Path) -> bool {
    path.components()
        .any(|c| c.as_os_str() == ".git" || c.as_os_str() == ".dvc")
}

fn scan_one(file: &ProjectFile) -> Option<FileResult> {
    let kind = classify(&file.path);
    let mut result = FileResult {
        display: file.display.clone(),
        format: kind.map_or("lfs-pointer", FileKind::format),
        ..FileResult::default()
    };
    // A small file anywhere in the work tree may be a Git LFS pointer standing in for the data.
    if file.size <= lfs::MAX_POINTER_BYTES
        && !under_store(&file.path)
        && let Ok(bytes) = std::fs::read(&file.path)
        && let Some(pointer) = lfs::parse_pointer(&bytes)
    {
        result.format = "lfs-pointer";
        result
            .findings
            .extend(data_hash_mismatch::check_lfs_pointer(
                &file.display,
                &file.path,
                &pointer,
            ));
        return Some(result);
    }
    let kind = kind?;
    match kind {
        FileKind::LfsObject => {
            match data_hash_mismatch::check_lfs_object(&file.display, &file.path) {
                Ok(found) => result.findings.extend(found),
                Err(error) => result
                    .errors
                    .push(format!("cannot hash Git LFS object: {error}")),
            }
            return Some(result);
        }
        FileKind::DvcCacheObject => {
            match data_hash_mismatch::check_cache_object(&file.display, &file.path) {
                Ok(found) => result.findings.extend(found),
                Err(error) => result
                    .errors
                    .push(format!("cannot hash DVC cache object: {error}")),
            }
            return Some(result);
        }
        _ => {}
    }
    let text = match read_text(&file.path, MAX_TEXT_BYTES) {
        Ok(Some(text)) => text,
        // Binary or very large: not a text file these analyses read.
        Ok(None) => return None,
        Err(error) => {
            if kind != FileKind::Text {
                result.errors.push(format!("cannot read: {error}"));
            }
            return Some(result);
        }
    };
    result
        .findings
        .extend(hardcoded_ml_token::check(&file.display, &text));
    let display = file.display.as_str();
    match kind {
        FileKind::Requirements => {
            let options = requirements::parse(&text);
            result
                .findings
                .extend(index_confusion::check_requirements(display, &options));
            for index in &options.indexes {
                if index.option != "trusted-host" {
                    result.sources.push(index_source(
                        display,
                        &index.value,
                        index.line,
                        index.option,
                    ));
                }
            }
        }
        FileKind::PipConf => {
            let entries = ini::parse(&text, ini::Dialect::ConfigParser);
            result
                .findings
                .extend(index_confusion::check_pip_conf(display, &entries));
            for entry in &entries {
                let key = entry.key.replace('_', "-");
                if matches!(key.as_str(), "index-url" | "extra-index-url" | "find-links") {
                    for url in entry.value.split_whitespace() {
                        result
                            .sources
                            .push(index_source(display, url, entry.line, "pip.conf"));
                    }
                }
            }
        }
        FileKind::Pyproject | FileKind::UvToml | FileKind::Pipfile => {
            let parsed = match kind {
                FileKind::Pyproject => project::parse_pyproject(&text),
                FileKind::UvToml => project::parse_uv_toml(&text),
                _ => project::parse_pipfile(&text),
            };
            match parsed {
                Ok(config) => {
                    result
                        .findings
                        .extend(index_confusion::check_project(display, &text, &config));
                    result
                        .sources
                        .extend(config_sources(display, &text, &config));
                }
                // pyproject.toml and Pipfile are read by the dependency inventory too, which
                // reports their syntax errors.
                Err(error) if kind == FileKind::UvToml => {
                    result.errors.push(format!("not valid TOML: {error}"))
                }
                Err(_) => {}
            }
        }
        FileKind::UvLock | FileKind::PoetryLock => {
            let poetry = kind == FileKind::PoetryLock;
            let locked = lock_index_mismatch::parse_toml_lock(&text, poetry);
            let config = sibling_config(&file.path, poetry);
            result.findings.extend(if poetry {
                lock_index_mismatch::check_poetry(display, &text, &locked, &config)
            } else {
                lock_index_mismatch::check_uv(display, &text, &locked, &config)
            });
            let registries: BTreeSet<&str> =
                locked.iter().filter_map(|l| l.source.as_deref()).collect();
            for registry in registries {
                let line = line_containing(&text, registry).unwrap_or(1);
                result
                    .sources
                    .push(index_source(display, registry, line, "lockfile"));
            }
        }
        FileKind::PipfileLock => {
            let config = file
                .path
                .parent()
                .map(|dir| dir.join("Pipfile"))
                .and_then(|p| read_text(&p, MAX_TEXT_BYTES).ok().flatten())
                .and_then(|t| project::parse_pipfile(&t).ok())
                .unwrap_or_default();
            let bound = config
                .pipenv
                .as_ref()
                .is_some_and(|p| !p.bindings.is_empty());
            // The packages are only read when the Pipfile binds some to an index.
            let lock_sources = if bound {
                lock_index_mismatch::parse_pipfile_lock(&text)
                    .ok()
                    .map(|(locked, sources)| {
                        result.findings.extend(lock_index_mismatch::check_pipenv(
                            display, &text, &locked, &sources, &config,
                        ));
                        sources
                    })
            } else {
                lock_index_mismatch::parse_pipfile_lock_sources(&text).ok()
            };
            for url in lock_sources.unwrap_or_default().values() {
                let line = line_containing(&text, url).unwrap_or(1);
                result
                    .sources
                    .push(index_source(display, url, line, "Pipfile.lock"));
            }
        }
        FileKind::HfConfig | FileKind::ModelIndex => {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
                let (findings, sources) = hf_cross_repo_code::check(display, &text, &value);
                result.findings.extend(findings);
                result.sources.extend(sources);
            }
        }
        FileKind::AdapterConfig => {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
                let (findings, sources) =
                    artifact_ref_mutable::check_adapter(display, &text, &value);
                result.findings.extend(findings);
                result.sources.extend(sources);
            }
        }
        FileKind::DvcFile | FileKind::DvcLock => {
            let parsed = if kind == FileKind::DvcFile {
                dvc::parse_dvc_file(&text)
            } else {
                dvc::parse_dvc_lock(&text)
            };
            match parsed {
                Ok(metafile) => {
                    let check =
                        data_hash_mismatch::check_metafile(display, &file.path, &text, &metafile);
                    result.findings.extend(check.findings);
                    result.unverified |= check.unverified;
                    result.errors.extend(check.errors);
                    let (findings, sources) =
                        artifact_ref_mutable::check_dvc(display, &text, &metafile);
                    result.findings.extend(findings);
                    result.sources.extend(sources);
                }
                Err(error) => {
                    result.unverified = true;
                    result
                        .errors
                        .push(format!("cannot read DVC metafile: {error}"));
                }
            }
        }
        FileKind::DvcConfig => {
            for entry in ini::parse(&text, ini::Dialect::GitConfig) {
                if entry.section == "remote" && entry.key == "url" {
                    let name = entry.subsection.clone().unwrap_or_default();
                    result.sources.push(SourceRef {
                        kind: SourceKind::Host,
                        value: strip_credentials(&entry.value),
                        location: mlvet_core::Location::file(display).with_line(entry.line),
                        context: format!("DVC remote \"{name}\""),
                    });
                }
            }
        }
        FileKind::LfsConfig => {
            for entry in ini::parse(&text, ini::Dialect::GitConfig) {
                let is_url = (entry.section == "lfs" && entry.key == "url")
                    || (entry.section == "remote" && entry.key == "lfsurl");
                if is_url {
                    result.sources.push(SourceRef {
                        kind: SourceKind::Host,
                        value: strip_credentials(&entry.value),
                        location: mlvet_core::Location::file(display).with_line(entry.line),
                        context: format!(
                            "Git LFS server ({}{}.{})",
                            entry.section,
                            entry
                                .subsection
                                .as_ref()
                                .map(|s| format!(".{s}"))
                                .unwrap_or_default(),
                            entry.key
                        ),
                    });
                }
            }
        }
        FileKind::MlProject | FileKind::DvcYaml => {
            result
                .findings
                .extend(artifact_ref_mutable::check_mlflow(display, &text));
        }
        FileKind::Text if is_config_text(&file.path) => {
            result
                .findings
                .extend(artifact_ref_mutable::check_mlflow(display, &text));
            result.sources.extend(registry_endpoints(display, &text));
        }
        _ => {}
    }
    Some(result)
}

/// `MLFLOW_TRACKING_URI` / `MLFLOW_REGISTRY_URI` / `HF_ENDPOINT` set to a URL in a
/// configuration file: the model registry or hub every client of the project talks to.
fn registry_endpoints(display: &str, text: &str) -> Vec<SourceRef> {
    static ENDPOINT: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"\b(MLFLOW_TRACKING_URI|MLFLOW_REGISTRY_URI|HF_ENDPOINT)["']?\s*[:=]\s*["']?([a-z][a-z0-9+.\-]*://[^\s"']+)"#,
        )
        .ok()
    });
    let Some(regex) = ENDPOINT.as_ref() else {
        return Vec::new();
    };
    regex
        .captures_iter(text)
        .take(100)
        .filter_map(|c| {
            let (name, url) = (c.get(1)?, c.get(2)?);
            Some(SourceRef {
                kind: SourceKind::Host,
                value: strip_credentials(url.as_str()),
                location: mlvet_core::Location::file(display)
                    .with_line(crate::text::line_of(text, url.start())),
                context: name.as_str().to_string(),
            })
        })
        .collect()
}

/// Configuration-like text files where an MLflow model URI is a configuration value (code and
/// command lines are read by their own analyses).
fn is_config_text(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name == ".env"
        || name.starts_with(".env.")
        || name.rsplit_once('.').is_some_and(|(_, ext)| {
            matches!(
                ext,
                "yaml" | "yml" | "json" | "toml" | "cfg" | "ini" | "conf" | "env" | "properties"
            )
        })
}

fn index_source(display: &str, url: &str, line: u32, context: &str) -> SourceRef {
    SourceRef {
        kind: SourceKind::Index,
        value: strip_credentials(url.trim()),
        location: mlvet_core::Location::file(display).with_line(line),
        context: context.to_string(),
    }
}

/// Every index URL a project configuration declares.
fn config_sources(display: &str, text: &str, config: &project::IndexConfig) -> Vec<SourceRef> {
    let mut urls: Vec<(String, &'static str)> = Vec::new();
    if let Some(uv) = &config.uv {
        urls.extend(uv.index_url.iter().map(|u| (u.clone(), "uv index-url")));
        urls.extend(
            uv.extra_index_urls
                .iter()
                .map(|u| (u.clone(), "uv extra-index-url")),
        );
        urls.extend(
            uv.indexes
                .iter()
                .map(|i| (i.url.clone(), "[[tool.uv.index]]")),
        );
    }
    if let Some(poetry) = &config.poetry {
        urls.extend(
            poetry
                .sources
                .iter()
                .filter_map(|s| s.url.clone())
                .map(|u| (u, "[[tool.poetry.source]]")),
        );
    }
    if let Some(pdm) = &config.pdm {
        urls.extend(
            pdm.sources
                .iter()
                .map(|s| (s.url.clone(), "[[tool.pdm.source]]")),
        );
    }
    if let Some(pipenv) = &config.pipenv {
        urls.extend(
            pipenv
                .sources
                .iter()
                .map(|(_, u)| (u.clone(), "Pipfile [[source]]")),
        );
    }
    urls.into_iter()
        .map(|(url, context)| {
            let line = line_containing(text, &url).unwrap_or(1);
            index_source(display, &url, line, context)
        })
        .collect()
}

/// The project configuration beside a lockfile (`pyproject.toml`, and `uv.toml` for uv).
fn sibling_config(lock: &Path, poetry: bool) -> project::IndexConfig {
    let Some(dir) = lock.parent() else {
        return project::IndexConfig::default();
    };
    let read = |name: &str| read_text(&dir.join(name), MAX_TEXT_BYTES).ok().flatten();
    let mut config = read("pyproject.toml")
        .and_then(|t| project::parse_pyproject(&t).ok())
        .unwrap_or_default();
    if !poetry
        && let Some(uv) = read("uv.toml").and_then(|t| project::parse_uv_toml(&t).ok())
        && let Some(uv_config) = uv.uv
    {
        let merged = config.uv.get_or_insert_with(Default::default);
        merged.indexes.extend(uv_config.indexes);
        merged.bindings.extend(uv_config.bindings);
    }
    config
}
