//! `install-without-hashes`: Python installs that do not check artefact hashes.

use mlvet_core::{Confidence, Finding, RuleMeta, Severity, Verdict};

use crate::facts::{Facts, option_values, truthy};
use crate::installer::{self, Action, Installer};
use crate::requirements::{self, HashMode};

pub static RULE: RuleMeta = RuleMeta {
    id: "install-without-hashes",
    category: "pipeline",
    summary: "pip/uv install in a Dockerfile, shell script, CI step or notebook without hash checking",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Finds `pip install`, `python -m pip install`, `uv pip install`, `uv pip sync` and `uv sync` in
Dockerfile `RUN`s, shell scripts, GitHub Actions `run:` steps, composite actions, Kubernetes and
Docker Compose container commands and notebook `!`/`%pip` lines, and reports those that install
without checking artefact hashes.

An install is accepted when:
- it passes `--require-hashes` (or `PIP_REQUIRE_HASHES`/`UV_REQUIRE_HASHES` is set);
- every `-r` file it reads (for `uv pip sync`, every file argument) puts the installer in
  hash-checking mode. mlvet follows `-r` into the file (and its own `-r` includes) beside the
  file, at the repository root, or by name when the Dockerfile copied it elsewhere. pip's rule: a
  `--hash` on any line (or a `--require-hashes` line) turns hash checking on for the whole
  install, which then fails rather than installs anything unhashed. uv's rule: uv only verifies
  the hashes present, so the file needs a `--require-hashes` line or a `--hash` on every
  requirement (a compiled lock);
- it is `uv sync --locked` or `uv sync --frozen` (installs exactly `uv.lock`, which records a
  sha256 for every artefact);
- it only installs local files with `--no-deps` (a wheel built or copied in the same build, or the
  project itself): nothing is resolved from an index. **Decision:** a local `.whl` *with* its
  dependencies is reported, because those dependencies come from an index unhashed.

Installing the project itself (`pip install .`, `pip install -e .`) without `--no-deps` is reported
at low severity (its dependencies are resolved unhashed), as is `pip install --upgrade pip` and
`uv sync` without `--locked`/`--frozen` (it may re-resolve and rewrite the lock). A `-r` file mlvet
cannot read (missing, remote, templated) is reported with low confidence, never assumed hashed.

## Why is this bad?
Without hashes the installed bytes are whatever the index serves at build time: a compromised
release (LiteLLM 1.82.7/1.82.8 in 2026, Ultralytics 8.3.41 in 2024) or a package substituted through
dependency confusion is installed silently. PyPI's own incident reports recommend locking with
checksums. OpenSSF Scorecard counts `pip install -r requirements.txt` as unpinned even when the
file is hashed; mlvet reads the file instead.

## Example
```dockerfile
RUN pip install torch transformers          # reported
RUN pip install --require-hashes -r requirements.lock   # accepted
RUN uv sync --locked                         # accepted
```

## Remediation
Lock with hashes (`uv pip compile --generate-hashes`, `pip-compile --generate-hashes`, `uv lock`)
and install the lock: `pip install --require-hashes -r requirements.lock` or `uv sync --locked`.

## References
- https://pip.pypa.io/en/stable/topics/secure-installs/
- https://docs.astral.sh/uv/concepts/projects/sync/
- https://github.com/ultralytics/ultralytics/issues/18027
"#,
};

pub fn check(facts: &Facts<'_>) -> Vec<Finding> {
    let env = facts.all_env();
    let env_requires_hashes = env.iter().any(|e| {
        matches!(e.name.as_str(), "PIP_REQUIRE_HASHES" | "UV_REQUIRE_HASHES") && truthy(&e.value)
    });
    let env_locked = env
        .iter()
        .any(|e| matches!(e.name.as_str(), "UV_LOCKED" | "UV_FROZEN") && truthy(&e.value));
    let bases = facts.base_dirs();
    let mut findings = Vec::new();
    for (_, command) in facts.commands() {
        let Some(install) = installer::install_of(command) else {
            continue;
        };
        let location = facts.at(command.line);
        let shown = command.display();
        let requires_hashes = env_requires_hashes
            || command
                .assignments
                .iter()
                .any(|(n, v)| n.ends_with("_REQUIRE_HASHES") && truthy(v))
            || install.has_flag(&["--require-hashes"]);
        if install.action == Action::ProjectSync {
            if env_locked || install.has_flag(&["--locked", "--frozen"]) {
                continue;
            }
            findings.push(
                Finding::new(
                    &RULE,
                    location,
                    format!(
                        "`uv sync` without --locked or --frozen in {}: uv may re-resolve and rewrite uv.lock before installing",
                        facts.kind.command_site()
                    ),
                )
                .severity(Severity::Low)
                .evidence("command", shown)
                .remediation("Use `uv sync --locked` (fail when the lock is stale) or `uv sync --frozen`."),
            );
            continue;
        }
        if requires_hashes {
            continue;
        }
        let mut files = option_values(install.args, &["-r", "--requirement"]);
        let mut targets = install.targets();
        if install.action == Action::PipSync {
            // `uv pip sync FILE…`: the positional arguments are requirements files.
            files.append(&mut targets);
        }
        let local_only = !targets.is_empty() && targets.iter().all(|t| is_local(t));
        let editable_local = option_values(install.args, &["-e", "--editable"])
            .iter()
            .all(|t| is_local(t));
        let no_deps = install.has_flag(&["--no-deps"]);
        if files.is_empty() && no_deps && editable_local && (local_only || targets.is_empty()) {
            continue;
        }
        let mut confidence = Confidence::High;
        let mut read_note = None;
        if !files.is_empty() {
            match requirements::hash_mode_for(&files, &bases, install.installer == Installer::Uv) {
                HashMode::Hashed if targets.is_empty() || targets.iter().all(|t| is_local(t)) => {
                    continue;
                }
                HashMode::Hashed => {}
                HashMode::Unhashed => {}
                HashMode::Unknown(reason) => {
                    confidence = Confidence::Low;
                    read_note = Some(reason);
                }
            }
        }
        let bootstrap = !targets.is_empty()
            && targets
                .iter()
                .all(|t| matches!(*t, "pip" | "setuptools" | "wheel" | "uv"));
        let project_only =
            files.is_empty() && (targets.is_empty() || targets.iter().all(|t| is_local(t)));
        let (severity, what) = if bootstrap {
            (
                Severity::Low,
                "upgrades the installer itself without hashes",
            )
        } else if project_only {
            (
                Severity::Low,
                "installs local code whose dependencies are resolved from an index without hashes",
            )
        } else {
            (Severity::Medium, "installs packages without hash checking")
        };
        let installer_name = match install.installer {
            Installer::Pip => "pip",
            Installer::Uv => "uv pip",
        };
        let mut finding = Finding::new(
            &RULE,
            location,
            format!(
                "{installer_name} in {} {what}{}",
                facts.kind.command_site(),
                match &read_note {
                    Some(reason) =>
                        format!(" (the requirements file could not be checked: {reason})"),
                    None => String::new(),
                }
            ),
        )
        .severity(severity)
        .confidence(confidence)
        .evidence("command", shown)
        .remediation(
            "Install from a lock with hashes: `pip install --require-hashes -r requirements.lock` \
             (generate it with `uv pip compile --generate-hashes`) or `uv sync --locked`.",
        );
        for file in &files {
            finding = finding.evidence("requirements", *file);
        }
        findings.push(finding);
    }
    findings
}

/// A local path (a wheel, a project folder), not a name resolved from an index.
fn is_local(target: &str) -> bool {
    target == "."
        || target.starts_with("./")
        || target.starts_with("../")
        || target.starts_with('/')
        || target.starts_with("file:")
        || (target.ends_with(".whl") && !target.contains("://"))
        || target.starts_with(".[")
}
