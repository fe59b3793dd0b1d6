use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

use crate::project::IndexConfig;
use crate::requirements;
use crate::text::{line_containing, strip_credentials};

pub static RULE: RuleMeta = RuleMeta {
    id: "index-confusion",
    category: "registry",
    summary: "Package index configuration lets a public index shadow a private package (dependency confusion)",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reads the index configuration of every installer a project may use and reports the settings under
which a package published on a public index can replace a package of the same name from a private
one:

- pip (requirements files, `pip.conf` / `pip.ini`, `pip install` command lines): any
  `--extra-index-url`. pip pools `--index-url` and every `--extra-index-url` and installs the
  **highest version found on any of them**: there is no priority between indexes.
- uv (`[tool.uv]` in `pyproject.toml`, `uv.toml`): `index-strategy = "unsafe-first-match"` or
  `"unsafe-best-match"` (pip-like pooling); `extra-index-url` together with `index-url` (uv consults
  the extra indexes **before** `index-url`, and takes the first index that has the name); a
  `default = true` index that other non-explicit indexes are consulted before.
- Poetry: a `supplemental` (or legacy `secondary`) source that no dependency is bound to with
  `source = "…"`: supplemental sources are only asked for names the primary sources (PyPI) lack,
  so an internal name that appears on PyPI installs from PyPI.
- PDM: a `[[tool.pdm.source]]` without `include_packages`, unless
  `[tool.pdm.resolution] respect-source-order = true`: PDM merges all sources and picks the best
  version.
- Pipenv: `[pipenv] install_search_all_sources = true` with more than one `[[source]]`.

The message names the installer whose behaviour applies. Command-line and Dockerfile/CI forms
(`pip install --extra-index-url`, `ENV PIP_EXTRA_INDEX_URL`) use the same rule id.

## Why is this bad?
In December 2022 PyTorch-nightly depended on `torchtriton`, hosted on PyTorch's own index and
installed with `--extra-index-url`. Someone uploaded a higher-versioned `torchtriton` to the public
index; pip preferred it, and the package exfiltrated SSH keys, `.gitconfig`, environment variables
and home-directory files from every Linux machine that installed a nightly for five days.

## Example
```text
# requirements.txt
--extra-index-url https://pkgs.example.invalid/simple
acme-feature-store==1.4.0
```

## Remediation
Give each private package exactly one index: uv `[[tool.uv.index]] explicit = true` plus
`[tool.uv.sources] name = { index = "internal" }`; Poetry `priority = "explicit"` plus
`source = "internal"`; PDM `include_packages`; Pipenv `index = "internal"` per package; with
pip, a single `--index-url` pointing at a proxy that serves both, and hash-checking mode
(`--require-hashes`) from a trusted resolution. Register your internal names on the public index
as placeholders.

## References
- [PyTorch: Compromised PyTorch-nightly dependency chain (Dec 2022)](https://pytorch.org/blog/compromised-nightly-dependency/)
- [uv: package indexes and index strategies](https://docs.astral.sh/uv/concepts/indexes/)
- [pip: secure installs (hash-checking mode)](https://pip.pypa.io/en/stable/topics/secure-installs/)
"#,
};

/// The installer whose index semantics a finding describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Installer {
    Pip,
    Uv,
    Poetry,
    Pdm,
    Pipenv,
}

impl Installer {
    pub fn as_str(self) -> &'static str {
        match self {
            Installer::Pip => "pip",
            Installer::Uv => "uv",
            Installer::Poetry => "Poetry",
            Installer::Pdm => "PDM",
            Installer::Pipenv => "Pipenv",
        }
    }
}

/// One confusion-prone configuration, before it is placed in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexConfusion {
    pub installer: Installer,
    pub message: String,
    pub severity: Severity,
    /// `(label, value)` pairs for the finding's evidence (URLs without credentials).
    pub evidence: Vec<(String, String)>,
}

impl IndexConfusion {
    /// The finding at `location`.
    pub fn finding(&self, location: Location) -> Finding {
        let mut finding = Finding::new(&RULE, location, self.message.clone())
            .severity(self.severity)
            .evidence("installer", self.installer.as_str())
            .remediation(remediation(self.installer));
        for (label, value) in &self.evidence {
            finding = finding.evidence(label.clone(), value.clone());
        }
        finding
    }
}

fn remediation(installer: Installer) -> &'static str {
    match installer {
        Installer::Pip => {
            "use one --index-url (a proxy serving public and private packages) instead of \
             --extra-index-url, and install in hash-checking mode (--require-hashes) from a \
             trusted lock"
        }
        Installer::Uv => {
            "declare the private index with `explicit = true` and bind each private package to it \
             in [tool.uv.sources]; keep the default index-strategy (first-index)"
        }
        Installer::Poetry => {
            "make the private source `priority = \"explicit\"` and bind each private package to \
             it with `source = \"…\"`"
        }
        Installer::Pdm => {
            "restrict the private source with `include_packages` (or set \
             [tool.pdm.resolution] respect-source-order = true)"
        }
        Installer::Pipenv => {
            "remove install_search_all_sources and bind each private package with \
             `index = \"…\"`"
        }
    }
}

const PIP_POOLING: &str = "pip pools --index-url and every --extra-index-url and installs the \
                           highest version found on any of them, so a public upload of a private \
                           package's name with a higher version wins";

/// Checks the arguments of one `pip install` / `uv pip install` command line (or the values of
/// `PIP_INDEX_URL` / `PIP_EXTRA_INDEX_URL` / `UV_INDEX_STRATEGY` passed as the equivalent
/// options) for confusion-prone index options. `args` are the words after `install`.
pub fn check_pip_index_args(args: &[&str], installer: Installer) -> Option<IndexConfusion> {
    let options = requirements::parse(&args.join(" "));
    let strategy =
        args.iter()
            .enumerate()
            .find_map(|(i, a)| match a.strip_prefix("--index-strategy") {
                Some(rest) if rest.starts_with('=') => Some(rest[1..].to_string()),
                Some("") => args.get(i + 1).map(|s| s.to_string()),
                _ => None,
            });
    let hashed = options.require_hashes || args.iter().any(|a| a.starts_with("--require-hashes"));
    match installer {
        Installer::Uv => {
            if let Some(strategy) = strategy.filter(|s| s.starts_with("unsafe-")) {
                return Some(uv_strategy(&strategy));
            }
            let extra: Vec<_> = options.extra_indexes().collect();
            let primary = options.primary_index()?;
            let first = extra.first()?;
            Some(uv_extra_before_primary(&primary.value, &first.value))
        }
        _ => {
            let extra = options.extra_indexes().next()?;
            Some(pip_extra(
                &extra.value,
                options.primary_index().map(|p| p.value.as_str()),
                hashed,
            ))
        }
    }
}

fn pip_extra(extra: &str, primary: Option<&str>, hashed: bool) -> IndexConfusion {
    let mut evidence = vec![("extra-index-url".to_string(), strip_credentials(extra))];
    if let Some(primary) = primary {
        evidence.push(("index-url".to_string(), strip_credentials(primary)));
    }
    let (severity, tail) = if hashed {
        (
            Severity::Medium,
            " (hash-checking mode is on: the hashes only protect if they came from a trusted resolution)",
        )
    } else {
        (Severity::High, "")
    };
    IndexConfusion {
        installer: Installer::Pip,
        message: format!(
            "extra index `{}`: {PIP_POOLING}{tail}",
            strip_credentials(extra)
        ),
        severity,
        evidence,
    }
}

fn uv_strategy(strategy: &str) -> IndexConfusion {
    IndexConfusion {
        installer: Installer::Uv,
        message: format!(
            "index-strategy = \"{strategy}\": uv then considers every index for every package \
             (pip-like), so a public upload can replace a private package; uv's default, \
             first-index, takes only the first index that has the name"
        ),
        severity: Severity::High,
        evidence: vec![("index-strategy".to_string(), strategy.to_string())],
    }
}

fn uv_extra_before_primary(primary: &str, extra: &str) -> IndexConfusion {
    IndexConfusion {
        installer: Installer::Uv,
        message: format!(
            "uv consults extra index `{}` before index-url `{}` and takes the first index that \
             has a name: a package on the extra index shadows the one on index-url",
            strip_credentials(extra),
            strip_credentials(primary)
        ),
        severity: Severity::High,
        evidence: vec![
            ("extra-index-url".to_string(), strip_credentials(extra)),
            ("index-url".to_string(), strip_credentials(primary)),
        ],
    }
}

/// Findings for a requirements file.
pub fn check_requirements(display: &str, options: &requirements::Options) -> Vec<Finding> {
    let primary = options.primary_index().map(|p| p.value.as_str());
    options
        .extra_indexes()
        .map(|extra| {
            let mut confusion = pip_extra(&extra.value, primary, options.hash_mode());
            confusion.message.push_str(
                "; `uv pip install -r` reads the same file and consults the extra index first",
            );
            confusion.finding(Location::file(display).with_line(extra.line))
        })
        .collect()
}

/// Findings for `pip.conf` / `pip.ini`.
pub fn check_pip_conf(display: &str, entries: &[crate::ini::Entry]) -> Vec<Finding> {
    let primary = entries
        .iter()
        .find(|e| e.key == "index-url" || e.key == "index_url")
        .map(|e| e.value.as_str());
    let mut out = Vec::new();
    for entry in entries {
        if !matches!(entry.key.as_str(), "extra-index-url" | "extra_index_url") {
            continue;
        }
        for url in entry.value.split_whitespace() {
            out.push(
                pip_extra(url, primary, false)
                    .finding(Location::file(display).with_line(entry.line))
                    .evidence("section", entry.section.clone()),
            );
        }
    }
    out
}

/// Findings for `pyproject.toml`, `uv.toml` and `Pipfile` index configuration.
pub fn check_project(display: &str, text: &str, config: &IndexConfig) -> Vec<Finding> {
    let at = |needle: &str| {
        let location = Location::file(display);
        match line_containing(text, needle) {
            Some(line) => location.with_line(line),
            None => location,
        }
    };
    let mut out = Vec::new();
    if let Some(uv) = &config.uv {
        if let Some(strategy) = uv
            .index_strategy
            .as_deref()
            .filter(|s| s.starts_with("unsafe-"))
        {
            out.push(uv_strategy(strategy).finding(at("index-strategy")));
        }
        if let (Some(primary), Some(extra)) = (&uv.index_url, uv.extra_index_urls.first()) {
            out.push(uv_extra_before_primary(primary, extra).finding(at("extra-index-url")));
        }
        if let Some(default) = uv.indexes.iter().find(|i| i.default) {
            let before: Vec<&str> = uv
                .indexes
                .iter()
                .filter(|i| !i.default && !i.explicit)
                .map(|i| i.name.as_deref().unwrap_or(i.url.as_str()))
                .collect();
            if !before.is_empty() {
                let name = default.name.as_deref().unwrap_or(default.url.as_str());
                out.push(
                    IndexConfusion {
                        installer: Installer::Uv,
                        message: format!(
                            "index `{name}` is the default (consulted last); uv takes every \
                             package that {} also serves from there first: unbound private \
                             packages of `{name}` can be shadowed",
                            before.join(", ")
                        ),
                        severity: Severity::Medium,
                        evidence: vec![(
                            "default index".to_string(),
                            strip_credentials(&default.url),
                        )],
                    }
                    .finding(at("default = true")),
                );
            }
        }
    }
    if let Some(poetry) = &config.poetry {
        for source in &poetry.sources {
            if !matches!(source.priority.as_str(), "supplemental" | "secondary") {
                continue;
            }
            if poetry.bindings.values().any(|bound| bound == &source.name) {
                continue;
            }
            out.push(
                IndexConfusion {
                    installer: Installer::Poetry,
                    message: format!(
                        "source `{}` has priority `{}` and no dependency is bound to it: Poetry \
                         asks it only for names the primary sources (PyPI) lack, so an internal \
                         name published on PyPI installs from PyPI",
                        source.name, source.priority
                    ),
                    severity: Severity::High,
                    evidence: source
                        .url
                        .iter()
                        .map(|u| ("source url".to_string(), strip_credentials(u)))
                        .collect(),
                }
                .finding(at(&format!("\"{}\"", source.name))),
            );
        }
    }
    if let Some(pdm) = &config.pdm
        && !pdm.respect_source_order
    {
        for source in &pdm.sources {
            if source.name == "pypi" || source.kind == "find_links" {
                continue;
            }
            if !source.include_packages.is_empty() {
                continue;
            }
            out.push(
                IndexConfusion {
                    installer: Installer::Pdm,
                    message: format!(
                        "source `{}` has no include_packages: PDM merges every source and picks \
                         the best version, so a public upload can replace its packages",
                        source.name
                    ),
                    severity: Severity::High,
                    evidence: vec![("source url".to_string(), strip_credentials(&source.url))],
                }
                .finding(at(&source.url)),
            );
        }
    }
    if let Some(pipenv) = &config.pipenv
        && pipenv.search_all_sources
        && pipenv.sources.len() > 1
    {
        out.push(
            IndexConfusion {
                installer: Installer::Pipenv,
                message: format!(
                    "install_search_all_sources = true: Pipenv searches all {} sources for every \
                     package, so an index binding no longer protects a private name",
                    pipenv.sources.len()
                ),
                severity: Severity::High,
                evidence: Vec::new(),
            }
            .finding(at("install_search_all_sources")),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_command_lines() {
        let found = check_pip_index_args(
            &[
                "--extra-index-url",
                "https://pkgs.example.invalid/simple",
                "acme",
            ],
            Installer::Pip,
        )
        .expect("finding");
        assert_eq!(found.installer, Installer::Pip);
        assert!(found.message.contains("highest version"));
        assert!(
            check_pip_index_args(&["-i", "https://x.invalid/simple", "acme"], Installer::Pip)
                .is_none()
        );
    }

    #[test]
    fn uv_command_lines() {
        // Only an extra index: uv consults it before the default, first-index: safe.
        assert!(
            check_pip_index_args(
                &["--extra-index-url", "https://p.invalid/simple"],
                Installer::Uv
            )
            .is_none()
        );
        let found = check_pip_index_args(
            &[
                "-i",
                "https://internal.invalid/simple",
                "--extra-index-url",
                "https://public.invalid/simple",
            ],
            Installer::Uv,
        )
        .expect("finding");
        assert!(found.message.contains("before index-url"));
        assert!(
            check_pip_index_args(&["--index-strategy", "unsafe-best-match"], Installer::Uv)
                .is_some()
        );
    }
}
