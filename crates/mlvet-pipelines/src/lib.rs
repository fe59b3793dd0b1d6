//! Pipelines and containers for ML: the files that build, test, ship and serve models.
//!
//! - Parsers, each usable alone and bounded: [`dockerfile`] (instructions, continuations,
//!   here-documents, `ENV`/`ARG`, `RUN` shell and exec forms), [`shell`] (a word-splitting command
//!   extractor), [`workflow`] (GitHub Actions workflows and composite actions) and [`kubernetes`]
//!   (container `command`/`args`/`env` in any manifest) and [`compose`] (Docker Compose
//!   services), all over a positioned YAML tree
//!   ([`yaml`]) so every finding has a line.
//! - Rules ([`rules`]): `install-without-hashes`, `ci-untrusted-code-with-secrets`,
//!   `ci-pr-self-hosted-runner`, `ci-artifact-poisoning`, `remote-code-flag`,
//!   `container-unverified-fetch`, and the command-line parts of `index-confusion` and
//!   `artifact-ref-mutable`.
//! - [`check_shell_text`]: the command rules over any shell text with its position (notebook `!`
//!   and `%pip` lines, see [`notebook_shell_line`]).
//! - [`zizmor`]: the optional external GitHub Actions audit.
//!
//! Nothing here runs the files it reads, and nothing prints.

pub mod compose;
pub mod dockerfile;
pub mod facts;
pub mod installer;
pub mod kubernetes;
pub mod requirements;
pub mod rules;
pub mod shell;
pub mod workflow;
pub mod yaml;
pub mod zizmor;

use std::io::Read;
use std::path::Path;

use mlvet_core::{ArtifactKind, ArtifactReport, Finding, Location, RuleMeta};

pub use facts::SourceKind;

/// Pipeline files larger than this are not parsed (reported as not fully inspected).
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// Settings from the project configuration (`[pipelines]` in `mlvet.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Runner labels or groups (`*` globs) that are not reported by `ci-pr-self-hosted-runner`.
    pub allowed_runners: Vec<String>,
}

/// Every rule this crate documents.
pub fn rules() -> Vec<&'static RuleMeta> {
    rules::all()
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// The file is named like a pipeline file but cannot be parsed (its CI system or Kubernetes
    /// would refuse it too); reported as a scan error, never as a clean file.
    #[error("cannot parse as {kind}: {message}")]
    Parse { kind: &'static str, message: String },
}

/// Which pipeline file `path` is, by its name and (for Kubernetes manifests and extension-less
/// scripts) its first bytes. Binary content is never taken for a pipeline file, so a model saved
/// under a misleading name still reaches the model scanners.
pub fn detect(path: &Path, prefix: &[u8]) -> Option<SourceKind> {
    if prefix.contains(&0) {
        return None;
    }
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let text = String::from_utf8_lossy(prefix);
    if name == "dockerfile"
        || name == "containerfile"
        || name.ends_with(".dockerfile")
        || name.ends_with(".containerfile")
        || name.starts_with("dockerfile.")
        || name.starts_with("containerfile.")
    {
        return Some(SourceKind::Dockerfile);
    }
    let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
    if yaml {
        let components: Vec<String> = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let in_workflows = components
            .windows(3)
            .any(|w| w[0] == ".github" && w[1] == "workflows");
        if in_workflows {
            return Some(SourceKind::Workflow);
        }
        if name == "action.yml" || name == "action.yaml" {
            return Some(SourceKind::Action);
        }
        if compose::is_compose_name(&name) {
            return Some(SourceKind::Compose);
        }
        if kubernetes::looks_like_manifest(&text) {
            return Some(SourceKind::Kubernetes);
        }
        return None;
    }
    if name.ends_with(".sh") || name.ends_with(".bash") {
        return Some(SourceKind::Shell);
    }
    if !name.contains('.') {
        let first = text.lines().next().unwrap_or("");
        if first.starts_with("#!")
            && ["/sh", "/bash", "env sh", "env bash", "/dash", "/zsh"]
                .iter()
                .any(|s| first.contains(s))
        {
            return Some(SourceKind::Shell);
        }
    }
    None
}

/// Parses and checks one pipeline file. `Ok(None)` when the file turns out not to be one (a
/// templated YAML that is not valid YAML, for instance a Helm template).
pub fn scan_file(
    path: &Path,
    display: &str,
    kind: SourceKind,
    settings: &Settings,
) -> Result<Option<ArtifactReport>, PipelineError> {
    let file = mlvet_core::fs::open_regular(path)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let report = ArtifactReport::new(
            display.to_string(),
            kind.format().to_string(),
            size,
            false,
            Vec::new(),
        )
        .with_kind(ArtifactKind::Pipeline)
        .with_metadata(
            "note",
            format!("larger than {} MiB: not parsed", MAX_FILE_BYTES >> 20),
        );
        return Ok(Some(report));
    }
    let text = String::from_utf8_lossy(&bytes);
    let analysis = analyze(&text, Some(path), display, kind, settings);
    let Some(analysis) = analysis else {
        return Ok(None);
    };
    if let Some(message) = analysis.error {
        return Err(PipelineError::Parse {
            kind: kind.format(),
            message,
        });
    }
    let mut report = ArtifactReport::new(
        display.to_string(),
        kind.format().to_string(),
        size,
        analysis.fully_inspected,
        analysis.findings,
    )
    .with_kind(ArtifactKind::Pipeline);
    for (key, value) in analysis.metadata {
        report = report.with_metadata(key, value);
    }
    Ok(Some(report))
}

/// The findings of one file and what could be read.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub findings: Vec<Finding>,
    pub fully_inspected: bool,
    pub metadata: Vec<(String, String)>,
    /// Why the file could not be parsed at all.
    pub error: Option<String>,
}

/// Parses `text` as a pipeline file of `kind` and runs every rule. `None` for YAML that does not
/// parse and is templated (`{{ … }}`): not a manifest mlvet can read, and not claimed safe.
pub fn analyze(
    text: &str,
    path: Option<&Path>,
    display: &str,
    kind: SourceKind,
    settings: &Settings,
) -> Option<Analysis> {
    let mut facts = facts::Facts {
        display,
        path,
        kind,
        scripts: Vec::new(),
        env: Vec::new(),
        dockerfile: None,
        workflow: None,
        manifests: Vec::new(),
        settings,
    };
    let mut fully_inspected = true;
    let mut metadata = Vec::new();
    match kind {
        SourceKind::Dockerfile => {
            let dockerfile = dockerfile::Dockerfile::parse(text);
            fully_inspected &= !dockerfile.truncated;
            for (_, script) in dockerfile.run_scripts() {
                fully_inspected &= !script.truncated;
                facts.scripts.push(script);
            }
            for instruction in &dockerfile.instructions {
                match instruction.keyword.as_str() {
                    "ENV" | "ARG" => {
                        let how = if instruction.keyword == "ENV" {
                            "ENV"
                        } else {
                            "ARG"
                        };
                        for setting in dockerfile::Dockerfile::settings(instruction) {
                            facts.env.push(facts::EnvSetting {
                                name: setting.name,
                                value: setting.value.unwrap_or_default(),
                                line: instruction.line,
                                how,
                            });
                        }
                    }
                    // The container's own command line (`CMD vllm serve … --trust-remote-code`).
                    "CMD" | "ENTRYPOINT" => {
                        let script = match instruction.exec_form() {
                            Some(argv) => shell::parse(
                                &argv
                                    .iter()
                                    .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
                                    .collect::<Vec<_>>()
                                    .join(" "),
                                instruction.line,
                            ),
                            None => shell::parse(&instruction.shell_text, instruction.shell_line),
                        };
                        facts.scripts.push(script);
                    }
                    _ => {}
                }
            }
            let stages = dockerfile
                .instructions
                .iter()
                .filter(|i| i.keyword == "FROM")
                .count();
            metadata.push(("stages".to_string(), stages.to_string()));
            facts.dockerfile = Some(dockerfile);
        }
        SourceKind::Shell | SourceKind::Notebook => {
            let script = shell::parse(text, 1);
            fully_inspected &= !script.truncated;
            facts.scripts.push(script);
        }
        SourceKind::Workflow | SourceKind::Action => {
            match workflow::Workflow::parse(text, kind == SourceKind::Action) {
                Ok(parsed) => {
                    for entry in &parsed.env {
                        facts.env.push(env_entry(entry));
                    }
                    for job in &parsed.jobs {
                        for entry in &job.env {
                            facts.env.push(env_entry(entry));
                        }
                        for step in &job.steps {
                            for entry in &step.env {
                                facts.env.push(env_entry(entry));
                            }
                            if let Some(script) = &step.script {
                                fully_inspected &= !script.truncated;
                                facts.scripts.push(script.clone());
                            }
                        }
                    }
                    let triggers: Vec<&str> =
                        parsed.triggers.iter().map(|t| t.event.as_str()).collect();
                    if !triggers.is_empty() {
                        metadata.push(("triggers".to_string(), triggers.join(",")));
                    }
                    metadata.push(("jobs".to_string(), parsed.jobs.len().to_string()));
                    facts.workflow = Some(parsed);
                }
                Err(error) => {
                    return Some(unparsed(display, error.to_string()));
                }
            }
        }
        SourceKind::Kubernetes | SourceKind::Compose => match if kind == SourceKind::Compose {
            compose::parse(text)
        } else {
            kubernetes::parse(text)
        } {
            Ok(manifests) => {
                for manifest in &manifests {
                    for container in &manifest.containers {
                        for entry in &container.env {
                            facts.env.push(env_entry(entry));
                        }
                        if let Some(script) = &container.script {
                            facts.scripts.push(script.clone());
                        }
                    }
                }
                let kinds: Vec<&str> = manifests.iter().map(|m| m.kind.as_str()).collect();
                metadata.push(("kinds".to_string(), kinds.join(",")));
                facts.manifests = manifests;
            }
            Err(_) if text.contains("{{") => return None,
            Err(error) => return Some(unparsed(display, error.to_string())),
        },
    }
    Some(Analysis {
        findings: rules::check(&facts),
        fully_inspected,
        metadata,
        error: None,
    })
}

fn unparsed(_display: &str, error: String) -> Analysis {
    Analysis {
        findings: Vec::new(),
        fully_inspected: false,
        metadata: Vec::new(),
        error: Some(error),
    }
}

fn env_entry(entry: &workflow::Entry) -> facts::EnvSetting {
    facts::EnvSetting {
        name: entry.name.clone(),
        value: entry.value.clone(),
        line: entry.line,
        how: "env:",
    }
}

/// The shell command of a notebook code line: `!pip install x` → `pip install x`, `%pip install
/// x` → `pip install x` (also `%conda`, `%uv`), `%sx`/`%system cmd` → `cmd`. `None` for Python.
pub fn notebook_shell_line(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    if let Some(rest) = trimmed.strip_prefix("!!") {
        return Some(rest);
    }
    if let Some(rest) = trimmed.strip_prefix('!') {
        return Some(rest);
    }
    for magic in [
        "%sx ",
        "%system ",
        "%%bash",
        "%%sh",
        "%%script bash",
        "%%script sh",
    ] {
        if let Some(rest) = trimmed.strip_prefix(magic) {
            return Some(rest);
        }
    }
    for magic in ["%pip ", "%uv ", "%conda ", "%mamba "] {
        if trimmed.starts_with(magic) {
            return Some(&trimmed[1..]);
        }
    }
    None
}

/// The command-line rules (`install-without-hashes`, `index-confusion`, `remote-code-flag`,
/// `artifact-ref-mutable`, download-and-run of `container-unverified-fetch`) over shell `text`
/// whose first line is `first_line` of `display` — for callers holding shell lines of other
/// files (notebook `!` lines). `file` is the file on disk: `-r` requirements files are looked up
/// beside it and at its repository root.
pub fn check_shell_text(
    text: &str,
    display: &str,
    first_line: u32,
    file: Option<&Path>,
    settings: &Settings,
) -> Vec<Finding> {
    let script = shell::parse(text, first_line);
    let facts = facts::Facts {
        display,
        path: file,
        kind: SourceKind::Notebook,
        scripts: vec![script],
        env: Vec::new(),
        dockerfile: None,
        workflow: None,
        manifests: Vec::new(),
        settings,
    };
    rules::check(&facts)
}

/// The location a notebook finding should carry (for integrators mapping cells to lines).
pub fn location(display: &str, line: u32) -> Location {
    Location::file(display).with_line(line)
}
