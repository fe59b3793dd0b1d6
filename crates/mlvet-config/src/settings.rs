//! Parsing and validating `mlvet.toml` and the `[tool.mlvet]` table of `pyproject.toml`.
//!
//! Unknown keys are errors, with their line: a typo such as `fail_on` must never silently leave a
//! gate at its default.

use std::path::{Path, PathBuf};

use mlvet_core::Severity;
use serde::Deserialize;
use toml::Spanned;

use crate::date::Date;
use crate::error::{ConfigError, line_column};
use crate::globs::PathGlobs;

/// Configuration files larger than this are refused (a real one is a few KB).
pub const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;
/// More entries than this in one list are refused.
pub const MAX_ENTRIES: usize = 10_000;

/// Which kind of file the configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// `mlvet.toml`: the settings are the top-level table.
    MlvetToml,
    /// `pyproject.toml`: the settings are `[tool.mlvet]`.
    Pyproject,
}

/// The `fail-on` threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// Fail when a finding reaches this severity.
    At(Severity),
    /// Findings never fail the run (scan errors still do).
    Never,
}

impl FailOn {
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::At(severity) => Some(severity),
            FailOn::Never => None,
        }
    }
}

/// What an ignore entry selects (before `path`/`package` narrowing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreTarget {
    /// Every finding of this rule id.
    Rule(String),
    /// Vulnerability findings whose advisory id or any alias is this id (case-insensitive).
    Advisory(String),
    /// Both: findings of the rule that also match the advisory.
    RuleAndAdvisory { rule: String, advisory: String },
}

/// One `[[ignore]]` entry.
#[derive(Debug, Clone)]
pub struct Ignore {
    pub target: IgnoreTarget,
    /// Only findings located under these gitignore-style patterns (anchored at the config's folder).
    pub path: Option<(String, PathGlobs)>,
    /// Only findings about this package (PEP 503-normalised comparison).
    pub package: Option<String>,
    pub reason: String,
    /// The last day the ignore applies (inclusive).
    pub expires: Option<Date>,
    /// Line of the entry in its file, for warnings.
    pub line: usize,
}

impl Ignore {
    /// A short description for warnings: `rule pickle-unknown-global` / `advisory CVE-...`.
    pub fn describe(&self) -> String {
        let mut text = match &self.target {
            IgnoreTarget::Rule(rule) => format!("rule {rule}"),
            IgnoreTarget::Advisory(id) => format!("advisory {id}"),
            IgnoreTarget::RuleAndAdvisory { rule, advisory } => {
                format!("rule {rule}, advisory {advisory}")
            }
        };
        if let Some(package) = &self.package {
            text.push_str(&format!(", package {package}"));
        }
        if let Some((pattern, _)) = &self.path {
            text.push_str(&format!(", path {pattern}"));
        }
        text
    }

    /// The rule id this ignore names, if any (the CLI checks it against the registry).
    pub fn rule(&self) -> Option<&str> {
        match &self.target {
            IgnoreTarget::Rule(rule) | IgnoreTarget::RuleAndAdvisory { rule, .. } => Some(rule),
            IgnoreTarget::Advisory(_) => None,
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The folder relative paths and globs in it are resolved against.
    pub root: PathBuf,
    pub fail_on: Option<FailOn>,
    /// gitignore-style patterns of files and folders never read.
    pub exclude: Vec<String>,
    /// Pickle policy additions, as a policy layer (the pickle policy TOML format).
    pub policy: Option<mlvet_pickle::Policy>,
    pub python_version: Option<String>,
    pub platform: Option<String>,
    pub ignores: Vec<Ignore>,
    /// OpenVEX documents, resolved against `root`.
    pub vex: Vec<PathBuf>,
    /// `[pipelines] allowed-runners`: runner labels or groups (`*` globs) that pull-request jobs
    /// may use without a `ci-pr-self-hosted-runner` finding.
    pub allowed_runners: Vec<String>,
    /// `[pipelines] zizmor`: run zizmor on workflows when it is on PATH (default true).
    pub zizmor: Option<bool>,
    /// `[sources]`: where models, data and packages may come from.
    pub sources: Sources,
}

/// One `[sources.<kind>]` table: glob patterns (`*` matches any run of characters) that a
/// source must match (`allow`, when not empty) and must not match (`deny`, always wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceRules {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

impl SourceRules {
    /// Whether this table says anything.
    pub fn is_set(&self) -> bool {
        !self.allow.is_empty() || !self.deny.is_empty()
    }
}

/// `[sources]`: the allow/deny policy of `artifact-source-policy`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// Hugging Face repositories, `org/name` (`org/*` for a whole organisation).
    pub huggingface: SourceRules,
    /// Hosts (or URL prefixes) of direct downloads, DVC remotes, Git LFS servers, MLflow servers.
    pub hosts: SourceRules,
    /// Package index URLs (pip, uv, Poetry, PDM, Pipenv).
    pub indexes: SourceRules,
}

impl Sources {
    /// Whether any policy is configured.
    pub fn is_set(&self) -> bool {
        self.huggingface.is_set() || self.hosts.is_set() || self.indexes.is_set()
    }
}

impl Config {
    /// The configuration of a file with no settings (every field unset).
    pub fn empty(path: PathBuf) -> Config {
        let root = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Config {
            path,
            root,
            fail_on: None,
            exclude: Vec::new(),
            policy: None,
            python_version: None,
            platform: None,
            ignores: Vec::new(),
            vex: Vec::new(),
            allowed_runners: Vec::new(),
            zizmor: None,
            sources: Sources::default(),
        }
    }

    /// Reads and validates the configuration file at `path`; `kind` by file name
    /// (`pyproject.toml` reads `[tool.mlvet]`, anything else is an `mlvet.toml`).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let kind = if path.file_name().is_some_and(|n| n == "pyproject.toml") {
            ConfigKind::Pyproject
        } else {
            ConfigKind::MlvetToml
        };
        let text = read_bounded(path)?;
        parse(&text, path, kind)
    }
}

/// Reads a text file of at most [`MAX_CONFIG_BYTES`] without blocking on special files.
pub(crate) fn read_bounded(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let read_error = |message: String| ConfigError::Read {
        path: path.to_path_buf(),
        message,
    };
    let file = mlvet_core::fs::open_regular(path).map_err(|e| read_error(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(e.to_string()))?;
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(read_error(format!(
            "larger than {} MiB",
            MAX_CONFIG_BYTES / (1024 * 1024)
        )));
    }
    String::from_utf8(bytes).map_err(|_| read_error("not UTF-8 text".to_string()))
}

#[derive(Debug, Deserialize)]
struct Pyproject {
    tool: Option<Tool>,
}

#[derive(Debug, Deserialize)]
struct Tool {
    mlvet: Option<Spanned<RawConfig>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    fail_on: Option<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    policy: Option<RawPolicy>,
    python_version: Option<Spanned<String>>,
    platform: Option<Spanned<String>>,
    #[serde(default)]
    ignore: Vec<Spanned<RawIgnore>>,
    #[serde(default)]
    vex: Vec<Spanned<String>>,
    pipelines: Option<RawPipelines>,
    sources: Option<RawSources>,
    /// `[serve]`: the settings of `mlvet serve`, read and validated by mlvet-server.
    #[allow(dead_code)]
    serve: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPipelines {
    #[serde(default)]
    allowed_runners: Vec<Spanned<String>>,
    zizmor: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSources {
    huggingface: Option<RawSourceRules>,
    hosts: Option<RawSourceRules>,
    indexes: Option<RawSourceRules>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSourceRules {
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    #[serde(default)]
    deny: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    allow: Vec<Spanned<PolicyItem>>,
    #[serde(default)]
    deny: Vec<Spanned<PolicyItem>>,
}

/// `"module.Name"` shorthand, or an entry in the pickle policy format.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PolicyItem {
    Dotted(String),
    Entry(toml::Table),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIgnore {
    rule: Option<String>,
    advisory: Option<String>,
    path: Option<String>,
    package: Option<String>,
    reason: Option<String>,
    expires: Option<toml::value::Datetime>,
}

/// Parses configuration `text` read from `path`.
pub fn parse(text: &str, path: &Path, kind: ConfigKind) -> Result<Config, ConfigError> {
    let syntax = |err: toml::de::Error| {
        let (line, column) = err
            .span()
            .map_or((1, 1), |span| line_column(text, span.start));
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: err.message().trim().to_string(),
        }
    };
    let raw = match kind {
        ConfigKind::MlvetToml => toml::from_str::<RawConfig>(text).map_err(syntax)?,
        ConfigKind::Pyproject => {
            let pyproject: Pyproject = toml::from_str(text).map_err(syntax)?;
            match pyproject.tool.and_then(|tool| tool.mlvet) {
                Some(table) => table.into_inner(),
                None => return Ok(Config::empty(path.to_path_buf())),
            }
        }
    };
    Validator { text, path }.validate(raw)
}

struct Validator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Validator<'_> {
    fn invalid(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: line_column(self.text, span.start).0,
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn validate(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let mut config = Config::empty(self.path.to_path_buf());
        if let Some(value) = raw.fail_on {
            config.fail_on = Some(self.fail_on(&value)?);
        }
        for (key, list) in [("exclude", &raw.exclude), ("vex", &raw.vex)] {
            if list.len() > MAX_ENTRIES {
                let span = list.first().map_or(0..0, Spanned::span);
                return Err(self.invalid(span, key, format!("more than {MAX_ENTRIES} entries")));
            }
        }
        if raw.ignore.len() > MAX_ENTRIES {
            let span = raw.ignore.first().map_or(0..0, Spanned::span);
            return Err(self.invalid(span, "ignore", format!("more than {MAX_ENTRIES} entries")));
        }
        for pattern in &raw.exclude {
            PathGlobs::new(&config.root, std::slice::from_ref(pattern.get_ref()))
                .map_err(|message| self.invalid(pattern.span(), "exclude", message))?;
            config.exclude.push(pattern.get_ref().clone());
        }
        if let Some(policy) = raw.policy {
            config.policy = Some(self.policy(policy)?);
        }
        if let Some(version) = raw.python_version {
            let text = version.get_ref().trim();
            if !is_python_version(text) {
                return Err(self.invalid(
                    version.span(),
                    "python-version",
                    format!("`{text}` is not a Python version such as 3.11"),
                ));
            }
            config.python_version = Some(text.to_string());
        }
        if let Some(platform) = raw.platform {
            let text = platform.get_ref().trim();
            if !matches!(text, "linux" | "darwin" | "win32") {
                return Err(self.invalid(
                    platform.span(),
                    "platform",
                    format!("`{text}` is not one of linux, darwin, win32"),
                ));
            }
            config.platform = Some(text.to_string());
        }
        for entry in raw.ignore {
            let ignore = self.ignore(&config.root, entry)?;
            config.ignores.push(ignore);
        }
        for file in raw.vex {
            if file.get_ref().trim().is_empty() {
                return Err(self.invalid(file.span(), "vex", "empty path"));
            }
            config.vex.push(config.root.join(file.get_ref()));
        }
        if let Some(pipelines) = raw.pipelines {
            if pipelines.allowed_runners.len() > MAX_ENTRIES {
                let span = pipelines
                    .allowed_runners
                    .first()
                    .map_or(0..0, Spanned::span);
                return Err(self.invalid(
                    span,
                    "pipelines.allowed-runners",
                    format!("more than {MAX_ENTRIES} entries"),
                ));
            }
            for runner in pipelines.allowed_runners {
                let text = runner.get_ref().trim();
                if text.is_empty() {
                    return Err(self.invalid(
                        runner.span(),
                        "pipelines.allowed-runners",
                        "empty label",
                    ));
                }
                config.allowed_runners.push(text.to_string());
            }
            config.zizmor = pipelines.zizmor;
        }
        if let Some(sources) = raw.sources {
            config.sources = Sources {
                huggingface: self.source_rules(sources.huggingface, "sources.huggingface")?,
                hosts: self.source_rules(sources.hosts, "sources.hosts")?,
                indexes: self.source_rules(sources.indexes, "sources.indexes")?,
            };
        }
        Ok(config)
    }

    fn source_rules(
        &self,
        raw: Option<RawSourceRules>,
        key: &str,
    ) -> Result<SourceRules, ConfigError> {
        let Some(raw) = raw else {
            return Ok(SourceRules::default());
        };
        let mut rules = SourceRules::default();
        for (list, suffix, out) in [
            (raw.allow, "allow", &mut rules.allow),
            (raw.deny, "deny", &mut rules.deny),
        ] {
            let key = format!("{key}.{suffix}");
            if list.len() > MAX_ENTRIES {
                let span = list.first().map_or(0..0, Spanned::span);
                return Err(self.invalid(span, &key, format!("more than {MAX_ENTRIES} entries")));
            }
            for pattern in list {
                let text = pattern.get_ref().trim();
                if text.is_empty() {
                    return Err(self.invalid(pattern.span(), &key, "empty pattern"));
                }
                out.push(text.to_string());
            }
        }
        Ok(rules)
    }

    fn fail_on(&self, value: &Spanned<String>) -> Result<FailOn, ConfigError> {
        let text = value.get_ref().trim();
        if text.eq_ignore_ascii_case("never") {
            return Ok(FailOn::Never);
        }
        match text.parse::<Severity>() {
            Ok(severity) if severity != Severity::Info => Ok(FailOn::At(severity)),
            _ => Err(self.invalid(
                value.span(),
                "fail-on",
                format!("`{text}` is not one of critical, high, medium, low, never"),
            )),
        }
    }

    /// Turns `[policy]` into one pickle policy layer, validating each entry with the pickle
    /// policy's own parser so that the two formats never drift apart.
    fn policy(&self, raw: RawPolicy) -> Result<mlvet_pickle::Policy, ConfigError> {
        let source = self.path.display().to_string();
        let mut allow = Vec::new();
        let mut deny = Vec::new();
        for (list, key, out) in [
            (raw.allow, "policy.allow", &mut allow),
            (raw.deny, "policy.deny", &mut deny),
        ] {
            if list.len() > MAX_ENTRIES {
                return Err(self.invalid(0..0, key, format!("more than {MAX_ENTRIES} entries")));
            }
            for item in list {
                let span = item.span();
                let table = match item.into_inner() {
                    PolicyItem::Entry(table) => table,
                    PolicyItem::Dotted(dotted) => {
                        dotted_entry(&dotted, key == "policy.deny", &source)
                            .map_err(|message| self.invalid(span.clone(), key, message))?
                    }
                };
                // Each entry alone through the pickle policy parser: errors keep their line.
                let single = policy_document(key == "policy.deny", vec![table.clone()]);
                mlvet_pickle::Policy::from_toml_str(&single)
                    .map_err(|e| self.invalid(span.clone(), key, e.to_string()))?;
                out.push(table);
            }
        }
        let mut root = toml::Table::new();
        for (key, entries) in [("allow", allow), ("deny", deny)] {
            root.insert(
                key.to_string(),
                toml::Value::Array(entries.into_iter().map(toml::Value::Table).collect()),
            );
        }
        let document = toml::to_string(&root).unwrap_or_default();
        mlvet_pickle::Policy::from_toml_str(&document)
            .map_err(|e| self.invalid(0..0, "policy", e.to_string()))
    }

    fn ignore(&self, root: &Path, entry: Spanned<RawIgnore>) -> Result<Ignore, ConfigError> {
        let span = entry.span();
        let line = line_column(self.text, span.start).0;
        let raw = entry.into_inner();
        let non_empty = |value: Option<String>, key: &str| -> Result<Option<String>, ConfigError> {
            match value {
                Some(v) if v.trim().is_empty() => Err(self.invalid(span.clone(), key, "is empty")),
                Some(v) => Ok(Some(v.trim().to_string())),
                None => Ok(None),
            }
        };
        let rule = non_empty(raw.rule, "ignore.rule")?;
        let advisory = non_empty(raw.advisory, "ignore.advisory")?;
        let target = match (rule, advisory) {
            (Some(rule), None) => IgnoreTarget::Rule(rule),
            (None, Some(advisory)) => IgnoreTarget::Advisory(advisory),
            (Some(rule), Some(advisory)) => IgnoreTarget::RuleAndAdvisory { rule, advisory },
            (None, None) => {
                return Err(self.invalid(
                    span,
                    "ignore",
                    "an ignore needs `rule` or `advisory` (to skip files, use `exclude`)",
                ));
            }
        };
        let Some(reason) = non_empty(raw.reason, "ignore.reason")? else {
            return Err(self.invalid(
                span,
                "ignore.reason",
                "every ignore needs a `reason`: say why the finding does not apply",
            ));
        };
        let path = match non_empty(raw.path, "ignore.path")? {
            Some(pattern) => {
                let globs = PathGlobs::new(root, std::slice::from_ref(&pattern))
                    .map_err(|message| self.invalid(span.clone(), "ignore.path", message))?;
                Some((pattern, globs))
            }
            None => None,
        };
        let package = non_empty(raw.package, "ignore.package")?;
        let expires = match raw.expires {
            Some(datetime) => Some(self.expiry(&datetime, span.clone())?),
            None => None,
        };
        Ok(Ignore {
            target,
            path,
            package,
            reason,
            expires,
            line,
        })
    }

    fn expiry(
        &self,
        value: &toml::value::Datetime,
        span: std::ops::Range<usize>,
    ) -> Result<Date, ConfigError> {
        let date = match (value.date, value.time) {
            (Some(date), None) => Date::new(i32::from(date.year), date.month, date.day),
            _ => None,
        };
        date.ok_or_else(|| {
            self.invalid(
                span,
                "ignore.expires",
                format!("`{value}` is not a date such as 2026-12-31 (write it unquoted)"),
            )
        })
    }
}

/// `X.Y` or `X.Y.Z` with small numbers.
fn is_python_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The pickle-policy entry a `"module.Name"` shorthand stands for. Allow: `a.b.Name` allows
/// `Name` of module `a.b` (`a.b.*`: every name of `a.b`). Deny: `a.b.name` denies that name and
/// everything reached through it, at critical severity.
fn dotted_entry(dotted: &str, deny: bool, source: &str) -> Result<toml::Table, String> {
    let dotted = dotted.trim();
    let Some((module, name)) = dotted.rsplit_once('.') else {
        return Err(format!(
            "`{dotted}` is not `module.name` (use `{dotted}.*` for every name of a module)"
        ));
    };
    let mut table = toml::Table::new();
    table.insert("module".into(), toml::Value::String(module.to_string()));
    table.insert(
        "names".into(),
        toml::Value::Array(vec![toml::Value::String(name.to_string())]),
    );
    if deny {
        table.insert("severity".into(), toml::Value::String("critical".into()));
        table.insert(
            "category".into(),
            toml::Value::String("project-policy".into()),
        );
        table.insert(
            "reason".into(),
            toml::Value::String(format!("denied by the project configuration {source}")),
        );
    } else {
        table.insert(
            "reason".into(),
            toml::Value::String(format!("allowed by the project configuration {source}")),
        );
    }
    Ok(table)
}

/// A pickle policy TOML document with `entries` under `[[allow]]` or `[[deny]]`.
fn policy_document(deny: bool, entries: Vec<toml::Table>) -> String {
    let mut root = toml::Table::new();
    root.insert(
        if deny { "deny" } else { "allow" }.to_string(),
        toml::Value::Array(entries.into_iter().map(toml::Value::Table).collect()),
    );
    // Serialising a table of strings and arrays cannot fail; an empty document adds nothing.
    toml::to_string(&root).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlvet_pickle::Classification;

    fn parse_toml(text: &str) -> Result<Config, ConfigError> {
        parse(text, Path::new("/p/mlvet.toml"), ConfigKind::MlvetToml)
    }

    #[test]
    fn a_full_configuration_parses() {
        let config = parse_toml(
            r#"
fail-on = "medium"
exclude = ["data/", "*.ckpt"]
python-version = "3.11"
platform = "darwin"
vex = ["security/mlvet.openvex.json"]

[policy]
allow = ["mycompany.models.Ranker", { module = "mycompany.io", names = ["Reader"], reason = "audited" }]
deny = ["mycompany.admin"]

[[ignore]]
advisory = "CVE-2022-45907"
package = "torch"
reason = "we never call torch.jit.annotations"
expires = 2099-12-31

[[ignore]]
rule = "pickle-unknown-global"
path = "fixtures/**"
reason = "test fixtures"
"#,
        )
        .expect("valid configuration");
        assert_eq!(config.fail_on, Some(FailOn::At(Severity::Medium)));
        assert_eq!(config.exclude, vec!["data/", "*.ckpt"]);
        assert_eq!(config.python_version.as_deref(), Some("3.11"));
        assert_eq!(config.platform.as_deref(), Some("darwin"));
        assert_eq!(
            config.vex,
            vec![PathBuf::from("/p/security/mlvet.openvex.json")]
        );
        assert_eq!(config.ignores.len(), 2);
        assert_eq!(config.ignores[0].line, 12, "the `[[ignore]]` header");
        assert_eq!(config.ignores[0].expires, Date::new(2099, 12, 31));
        assert_eq!(config.ignores[1].rule(), Some("pickle-unknown-global"));
        let policy = config.policy.expect("policy");
        assert!(matches!(
            policy.classify("mycompany.models", "Ranker"),
            Classification::Allowed { .. }
        ));
        assert!(matches!(
            policy.classify("mycompany.io", "Reader"),
            Classification::Allowed { .. }
        ));
        assert!(policy.classify("mycompany.admin", "run").is_denied());
        assert!(policy.classify("mycompany", "admin").is_denied());
    }

    #[test]
    fn the_serve_table_belongs_to_mlvet_serve() {
        // `[serve]` is read and validated by `mlvet serve`; `mlvet scan` accepts the file.
        let config =
            parse_toml("fail-on = \"medium\"\n[serve]\nlisten = \"127.0.0.1:9000\"\nworkers = 4\n")
                .expect("a [serve] table is allowed");
        assert!(config.fail_on.is_some());
    }

    #[test]
    fn unknown_keys_are_errors_with_their_line() {
        let err = parse_toml("fail-on = \"high\"\nfail_on = \"never\"\n").expect_err("typo");
        let text = err.to_string();
        assert!(text.starts_with("/p/mlvet.toml:2:"), "{text}");
        assert!(text.contains("fail_on"), "{text}");

        let err = parse_toml("[[ignore]]\nrule = \"x\"\nreason = \"r\"\nexpire = 2020-01-01\n")
            .expect_err("typo");
        assert!(err.to_string().contains(":4:"), "{err}");
        assert!(err.to_string().contains("expire"), "{err}");
    }

    #[test]
    fn an_ignore_without_reason_is_an_error() {
        let err =
            parse_toml("\n[[ignore]]\nrule = \"pickle-unknown-global\"\n").expect_err("no reason");
        assert_eq!(
            err,
            ConfigError::Invalid {
                path: PathBuf::from("/p/mlvet.toml"),
                line: 2,
                key: "ignore.reason".into(),
                message: "every ignore needs a `reason`: say why the finding does not apply".into(),
            }
        );
        let err = parse_toml("[[ignore]]\nrule = \"x\"\nreason = \"  \"\n").expect_err("blank");
        assert!(err.to_string().contains("ignore.reason"), "{err}");
    }

    #[test]
    fn pipeline_settings_are_read() {
        let config = parse_toml(
            "[pipelines]\nallowed-runners = [\"gpu-ephemeral-*\", \"org-8core\"]\nzizmor = false\n",
        )
        .expect("valid");
        assert_eq!(config.allowed_runners, vec!["gpu-ephemeral-*", "org-8core"]);
        assert_eq!(config.zizmor, Some(false));
        assert!(parse_toml("[pipelines]\nrunners = []\n").is_err());
    }

    #[test]
    fn bad_values_are_errors() {
        for (text, key) in [
            ("fail-on = \"severe\"", "fail-on"),
            ("fail-on = \"info\"", "fail-on"),
            ("python-version = \"three\"", "python-version"),
            ("platform = \"beos\"", "platform"),
            ("[[ignore]]\nreason = \"r\"", "ignore"),
            (
                "[[ignore]]\nrule = \"r\"\nreason = \"r\"\nexpires = 2026-02-30",
                "",
            ),
            (
                "[[ignore]]\nrule = \"r\"\nreason = \"r\"\nexpires = 2026-01-01T00:00:00Z",
                "ignore.expires",
            ),
            ("[policy]\nallow = [\"nodots\"]", "policy.allow"),
            (
                "[pipelines]\nallowed-runners = [\" \"]",
                "pipelines.allowed-runners",
            ),
            (
                "[policy]\nallow = [{ module = \"m\", names = [\"X\"] }]",
                "policy.allow",
            ),
            (
                "[policy]\ndeny = [{ module = \"m\", severity = \"huge\", category = \"c\", reason = \"r\" }]",
                "policy.deny",
            ),
            ("vex = [\"\"]", "vex"),
            ("exclude = \"data/\"", ""),
        ] {
            let err = parse_toml(text).expect_err(text);
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn pyproject_reads_tool_mlvet_only() {
        let text = "[project]\nname = \"x\"\n\n[tool.ruff]\nline-length = 100\n\n[tool.mlvet]\nfail-on = \"low\"\n";
        let config =
            parse(text, Path::new("/p/pyproject.toml"), ConfigKind::Pyproject).expect("valid");
        assert_eq!(config.fail_on, Some(FailOn::At(Severity::Low)));
        let err = parse(
            "[tool.mlvet]\nfail-on = \"low\"\nbogus = 1\n",
            Path::new("/p/pyproject.toml"),
            ConfigKind::Pyproject,
        )
        .expect_err("unknown key");
        assert!(err.to_string().starts_with("/p/pyproject.toml:3:"), "{err}");
        let none = parse(
            "[project]\nname = \"x\"\n",
            Path::new("/p/pyproject.toml"),
            ConfigKind::Pyproject,
        )
        .expect("no table");
        assert_eq!(none.fail_on, None);
    }
}
