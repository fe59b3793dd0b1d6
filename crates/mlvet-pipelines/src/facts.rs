//! The one view every rule reads: the shell commands of a file (Dockerfile `RUN`s, script lines,
//! CI `run:` steps, container command lines, notebook `!` lines), the environment settings it
//! makes (`ENV`/`ARG`, `env:`, `export`, `NAME=value cmd`), and the parsed file itself when the
//! rule needs more (a workflow's triggers, a Dockerfile's `FROM`s).

use std::path::{Path, PathBuf};

use mlvet_core::{Confidence, Finding, Location, Severity, Verdict};

use crate::Settings;
use crate::dockerfile::Dockerfile;
use crate::kubernetes::Manifest;
use crate::shell::{Command, Script};
use crate::workflow::Workflow;

/// What kind of file the commands come from (decides wording and some rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    Dockerfile,
    Shell,
    Workflow,
    Action,
    Kubernetes,
    Compose,
    Notebook,
}

impl SourceKind {
    /// The report's `format` for files of this kind.
    pub fn format(self) -> &'static str {
        match self {
            SourceKind::Dockerfile => "dockerfile",
            SourceKind::Shell => "shell",
            SourceKind::Workflow => "github-workflow",
            SourceKind::Action => "github-action",
            SourceKind::Kubernetes => "kubernetes",
            SourceKind::Compose => "docker-compose",
            SourceKind::Notebook => "notebook",
        }
    }

    /// The file, as named in messages.
    pub fn describe(self) -> &'static str {
        match self {
            SourceKind::Dockerfile => "a Dockerfile",
            SourceKind::Shell => "a shell script",
            SourceKind::Workflow => "a workflow",
            SourceKind::Action => "a composite action",
            SourceKind::Kubernetes => "a Kubernetes manifest",
            SourceKind::Compose => "a Compose file",
            SourceKind::Notebook => "a notebook",
        }
    }

    /// How a command of this source is named in messages.
    pub fn command_site(self) -> &'static str {
        match self {
            SourceKind::Dockerfile => "a Dockerfile RUN",
            SourceKind::Shell => "a shell script",
            SourceKind::Workflow | SourceKind::Action => "a CI step",
            SourceKind::Kubernetes | SourceKind::Compose => "a container command",
            SourceKind::Notebook => "a notebook shell line",
        }
    }
}

/// An environment variable set by the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSetting {
    pub name: String,
    pub value: String,
    pub line: u32,
    /// `ENV`, `ARG`, `env:`, `export`, `prefix`.
    pub how: &'static str,
}

/// Everything the rules read about one file.
pub struct Facts<'a> {
    pub display: &'a str,
    /// The file on disk, when there is one (requirements files are looked up beside it).
    pub path: Option<&'a Path>,
    pub kind: SourceKind,
    pub scripts: Vec<Script>,
    pub env: Vec<EnvSetting>,
    pub dockerfile: Option<Dockerfile>,
    pub workflow: Option<Workflow>,
    pub manifests: Vec<Manifest>,
    pub settings: &'a Settings,
}

impl Facts<'_> {
    /// Every command of every script, in file order.
    pub fn commands(&self) -> impl Iterator<Item = (&Script, &Command)> {
        self.scripts
            .iter()
            .flat_map(|script| script.commands.iter().map(move |c| (script, c)))
    }

    /// Explicit settings and those made on command lines (`export`, `NAME=value cmd`).
    pub fn all_env(&self) -> Vec<EnvSetting> {
        let mut out = self.env.clone();
        for (_, command) in self.commands() {
            let how = if command.program() == "export" {
                "export"
            } else {
                "prefix"
            };
            for (name, value) in &command.assignments {
                out.push(EnvSetting {
                    name: name.clone(),
                    value: value.clone(),
                    line: command.line,
                    how,
                });
            }
        }
        out
    }

    /// A location in this file.
    pub fn at(&self, line: u32) -> Location {
        Location::file(self.display).with_line(line)
    }

    /// Folders a relative path named in this file (a `-r` requirements file) may be relative to:
    /// the file's folder and each folder above it up to the repository root (the folder holding
    /// `.git`, or the one holding `.github`), nearest first. Scripts usually run from one of them.
    pub fn base_dirs(&self) -> Vec<PathBuf> {
        let Some(path) = self.path else {
            return Vec::new();
        };
        let mut dirs = Vec::new();
        for ancestor in path.ancestors().skip(1).take(8) {
            if ancestor.file_name().is_some_and(|n| n == ".github") {
                continue;
            }
            if ancestor.as_os_str().is_empty() {
                dirs.push(PathBuf::from("."));
                break;
            }
            dirs.push(ancestor.to_path_buf());
            if ancestor.join(".git").exists() || ancestor.join(".github").is_dir() {
                break;
            }
        }
        dirs
    }
}

/// A finding of a rule whose documentation lives in another crate (`index-confusion`,
/// `artifact-ref-mutable`): the id is public API, the severity and verdict are set here.
pub fn external_finding(
    id: &'static str,
    severity: Severity,
    location: Location,
    message: impl Into<String>,
) -> Finding {
    Finding {
        rule: id,
        severity,
        confidence: Confidence::High,
        verdict: Verdict::Suspicious,
        message: message.into(),
        location,
        evidence: Vec::new(),
        remediation: None,
        package: None,
        advisory: None,
        suppression: None,
    }
}

/// Whether an environment value turns a switch on (`1`, `true`, `yes`, `on`).
pub fn truthy(value: &str) -> bool {
    matches!(
        value
            .trim()
            .trim_matches(['"', '\''])
            .to_ascii_lowercase()
            .as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// A 40-hex commit id.
pub fn is_commit(text: &str) -> bool {
    text.len() == 40 && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// A value only known when the pipeline runs (`$VAR`, `${VAR}`, `${{ … }}`, `$(…)`).
pub fn is_dynamic(text: &str) -> bool {
    text.contains('$') || text.contains('`')
}

/// The value of option `name` in `args`: `--name value` or `--name=value` (first occurrence).
pub fn option_value<'a>(args: &'a [String], names: &[&str]) -> Option<&'a str> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        for name in names {
            if arg == name {
                return iter.next().map(String::as_str);
            }
            if let Some(value) = arg.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                return Some(value);
            }
        }
    }
    None
}

/// Every value of option `names` in `args` (repeated options).
pub fn option_values<'a>(args: &'a [String], names: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        for name in names {
            if arg == name {
                if let Some(value) = iter.next() {
                    out.push(value.as_str());
                }
                break;
            }
            if let Some(value) = arg.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                out.push(value);
                break;
            }
            // Short options glued to their value: `-rrequirements.txt`.
            if name.len() == 2 && !name.starts_with("--") && arg.len() > 2 && arg.starts_with(name)
            {
                out.push(&arg[2..]);
                break;
            }
        }
    }
    out
}
