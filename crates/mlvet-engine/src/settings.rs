//! The effective settings of one scan: the project configuration (discovered, `--config`, or none
//! with `--no-config`) merged with the command line. Flags win over the configuration; lists
//! (`--exclude`, `--vex`) add to it. Precedence is documented in `docs/configuration.md`.

use std::path::{Path, PathBuf};

use mlvet_config::{Config, PathGlobs, vex::VexDocument};
use mlvet_core::{RuleMeta, Severity};

/// A mistake in what the user asked for: a configuration or VEX file that is invalid or missing,
/// conflicting settings. Front ends report it as a usage error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

/// Which configuration file a scan reads.
#[derive(Debug, Clone, Default)]
pub enum ConfigChoice {
    /// Discover `mlvet.toml` / `[tool.mlvet]` from the working directory upwards.
    #[default]
    Discover,
    /// This file.
    File(PathBuf),
    /// None: built-in defaults and the explicit settings only.
    None,
}

/// What a front end asks for, before the configuration is merged in. No front-end types: the
/// CLI fills it from its flags, the service from its request and its own configuration.
#[derive(Debug, Clone, Default)]
pub struct SettingsInput {
    pub config: ConfigChoice,
    /// `Some(threshold)` when the caller chose one (`Some(None)`: never fail).
    pub fail_on: Option<Option<Severity>>,
    pub python_version: Option<String>,
    pub platform: Option<String>,
    /// Gitignore-style patterns, relative to the working directory.
    pub exclude: Vec<String>,
    pub vex: Vec<PathBuf>,
}

/// Everything a scan needs to know beyond its inputs.
pub struct ScanSettings {
    pub fail_on: Option<Severity>,
    pub python_version: Option<String>,
    pub platform: String,
    /// The configuration file that was read, as shown in messages.
    pub config_source: Option<String>,
    /// Its pickle policy additions (the `--policy` file goes on top of them).
    pub config_policy: Option<mlvet_pickle::Policy>,
    pub ignores: Vec<mlvet_config::Ignore>,
    pub vex: Vec<VexDocument>,
    /// `[pipelines]` settings (runner allow-list).
    pub pipelines: mlvet_pipelines::Settings,
    /// Run zizmor on workflows when it is on PATH (`[pipelines] zizmor`, `MLVET_ZIZMOR=off`).
    pub zizmor: bool,
    /// The configuration's `[sources]` policy (registries and data analyses).
    pub sources: mlvet_config::Sources,
    config_excludes: PathGlobs,
    flag_excludes: PathGlobs,
}

impl ScanSettings {
    /// Whether the walker must skip `path` (never open it).
    pub fn excluded(&self, path: &Path, is_dir: bool) -> bool {
        self.config_excludes.matches(path, is_dir) || self.flag_excludes.matches(path, is_dir)
    }

    /// The ignores and where they were declared, for [`mlvet_config::suppress::apply`].
    pub fn ignore_set(&self) -> mlvet_config::suppress::IgnoreSet<'_> {
        mlvet_config::suppress::IgnoreSet {
            source: self.config_source.clone().unwrap_or_default(),
            ignores: &self.ignores,
        }
    }
}

impl ScanSettings {
    /// Built-in defaults: no configuration, no ignores, fail on `high` (the service's one-off
    /// scans and uploads).
    pub fn defaults() -> Self {
        ScanSettings {
            fail_on: Some(Severity::High),
            python_version: None,
            platform: "linux".to_string(),
            config_source: None,
            config_policy: None,
            ignores: Vec::new(),
            vex: Vec::new(),
            pipelines: mlvet_pipelines::Settings::default(),
            // The service scans uploads: it never runs an external tool on them.
            zizmor: false,
            sources: mlvet_config::Sources::default(),
            config_excludes: PathGlobs::none(),
            flag_excludes: PathGlobs::none(),
        }
    }
}

/// Loads the configuration `input` selects and merges the explicit settings over it.
/// `known_rules` are the rules an `ignore.rule` may name. Every problem with the configuration
/// or a VEX document is a [`SettingsError`].
pub fn resolve(
    input: &SettingsInput,
    known_rules: &[&RuleMeta],
) -> Result<ScanSettings, SettingsError> {
    let usage = SettingsError;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let config_path = match &input.config {
        ConfigChoice::None => None,
        ConfigChoice::File(path) => Some(path.clone()),
        ConfigChoice::Discover => mlvet_config::discover(&cwd).map_err(|e| usage(e.to_string()))?,
    };
    let config = match &config_path {
        Some(path) => Config::load(path).map_err(|e| usage(e.to_string()))?,
        None => Config::empty(cwd.join("mlvet.toml")),
    };
    let config_source = config_path.as_ref().map(|path| shown(path, &cwd));

    for ignore in &config.ignores {
        if let Some(rule) = ignore.rule()
            && !known_rules.iter().any(|known| known.id == rule)
        {
            return Err(usage(format!(
                "{}:{}: `ignore.rule`: unknown rule `{rule}` (`mlvet rules` lists them)",
                config_source.as_deref().unwrap_or_default(),
                ignore.line
            )));
        }
    }

    let fail_on = match (input.fail_on, config.fail_on) {
        (Some(flag), _) => flag,
        (None, Some(configured)) => configured.threshold(),
        (None, None) => Some(Severity::High),
    };
    let python_version = input
        .python_version
        .clone()
        .or_else(|| config.python_version.clone());
    let platform = input.platform.clone().or_else(|| config.platform.clone());
    if platform.is_some() && python_version.is_none() {
        return Err(usage(
            "a target platform needs a target Python: pass --python-version (or set \
             `python-version` in the configuration)"
                .to_string(),
        ));
    }

    let config_excludes = PathGlobs::new(&config.root, &config.exclude).map_err(usage)?;
    let flag_excludes = PathGlobs::new(&cwd, &input.exclude)
        .map_err(|message| usage(format!("--exclude: {message}")))?;

    let mut vex = Vec::new();
    for path in config.vex.iter().chain(input.vex.iter()) {
        vex.push(mlvet_config::vex::load(path).map_err(|e| usage(e.to_string()))?);
    }

    Ok(ScanSettings {
        fail_on,
        python_version,
        platform: platform.unwrap_or_else(|| "linux".to_string()),
        config_source,
        config_policy: config.policy,
        ignores: config.ignores,
        vex,
        pipelines: mlvet_pipelines::Settings {
            allowed_runners: config.allowed_runners,
        },
        zizmor: config.zizmor.unwrap_or(true)
            && std::env::var_os("MLVET_ZIZMOR").is_none_or(|v| v != "off"),
        sources: config.sources,
        config_excludes,
        flag_excludes,
    })
}

/// `path` relative to the current directory when it lies below it, as given otherwise.
fn shown(path: &Path, cwd: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    absolute
        .strip_prefix(cwd)
        .unwrap_or(path)
        .display()
        .to_string()
}
