//! The allow-list-first policy: which `(module, name)` references a pickle may make.
//!
//! The data lives in `policy/default.toml` (its header documents the matching semantics); this
//! module parses it and classifies references. User policies use the same format and are layered
//! on top with [`Policy::extend`]: the most recently added layer is consulted first.

use std::collections::BTreeMap;

use mlvet_core::Severity;
use serde::Deserialize;

const DEFAULT_POLICY: &str = include_str!("../policy/default.toml");

/// The pseudo-module TorchScript archives name their scripted classes under.
const TORCHSCRIPT_NAMESPACE: &str = "__torch__";

/// What the policy says about one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    Allowed {
        reason: String,
    },
    Denied {
        severity: Severity,
        category: String,
        reason: String,
    },
    Unknown,
}

impl Classification {
    pub fn is_denied(&self) -> bool {
        matches!(self, Classification::Denied { .. })
    }
}

/// A policy file that could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("policy is not valid TOML: {0}")]
    Toml(String),
    #[error("policy entry for module `{module}`: {message}")]
    Invalid { module: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    allow: Vec<AllowEntry>,
    #[serde(default)]
    deny: Vec<DenyEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowEntry {
    module: String,
    names: Vec<String>,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DenyEntry {
    module: String,
    #[serde(default = "all_names")]
    names: Vec<String>,
    severity: String,
    category: String,
    reason: String,
}

fn all_names() -> Vec<String> {
    vec!["*".to_string()]
}

/// How a deny entry's name pattern matches the rest of a path after its module.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NamePattern {
    /// `*`: the module itself, its submodules and all attributes.
    Everything,
    /// `X`: attribute `X` and anything reached through it.
    Attribute(String),
    /// `X.*` or `_*`: anything whose rest starts with the given prefix (`X.` or `_`).
    Prefix(String),
}

impl NamePattern {
    fn parse(pattern: &str) -> Self {
        if pattern == "*" {
            NamePattern::Everything
        } else if let Some(prefix) = pattern.strip_suffix('*') {
            NamePattern::Prefix(prefix.to_string())
        } else {
            NamePattern::Attribute(pattern.to_string())
        }
    }

    /// `rest` is the part of the path after the entry's module (empty for the module itself).
    fn matches(&self, rest: &str) -> bool {
        match self {
            NamePattern::Everything => true,
            NamePattern::Attribute(name) => {
                rest == name
                    || (rest.starts_with(name.as_str())
                        && rest.as_bytes().get(name.len()) == Some(&b'.'))
            }
            NamePattern::Prefix(prefix) => !rest.is_empty() && rest.starts_with(prefix.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
struct DenyRule {
    pattern: NamePattern,
    severity: Severity,
    category: String,
    reason: String,
}

#[derive(Debug, Clone)]
enum AllowRule {
    /// Every plain name of the module.
    AnyName(String),
    Name(String, String),
}

/// One policy file.
#[derive(Debug, Clone, Default)]
struct Layer {
    /// module -> names (exact) or `*`
    allow: BTreeMap<String, Vec<AllowRule>>,
    deny: BTreeMap<String, Vec<DenyRule>>,
}

impl Layer {
    fn parse(text: &str) -> Result<Layer, PolicyError> {
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        let mut layer = Layer::default();
        for entry in file.allow {
            validate_module(&entry.module)?;
            require_reason(&entry.module, &entry.reason)?;
            if entry.names.is_empty() {
                return Err(invalid(&entry.module, "allow entry lists no names"));
            }
            let rules = layer.allow.entry(entry.module.clone()).or_default();
            for name in entry.names {
                validate_name(&entry.module, &name)?;
                rules.push(if name == "*" {
                    AllowRule::AnyName(entry.reason.clone())
                } else {
                    AllowRule::Name(name, entry.reason.clone())
                });
            }
        }
        for entry in file.deny {
            validate_module(&entry.module)?;
            require_reason(&entry.module, &entry.reason)?;
            let severity: Severity = entry.severity.parse().map_err(|_| {
                invalid(
                    &entry.module,
                    &format!("unknown severity `{}`", entry.severity),
                )
            })?;
            if entry.category.trim().is_empty() {
                return Err(invalid(&entry.module, "deny entry has no category"));
            }
            if entry.names.is_empty() {
                return Err(invalid(&entry.module, "deny entry lists no names"));
            }
            let rules = layer.deny.entry(entry.module.clone()).or_default();
            for name in entry.names {
                validate_name(&entry.module, &name)?;
                rules.push(DenyRule {
                    pattern: NamePattern::parse(&name),
                    severity,
                    category: entry.category.clone(),
                    reason: entry.reason.clone(),
                });
            }
        }
        Ok(layer)
    }

    /// The worst deny rule matching the dotted path `components`, trying every split into
    /// module + rest (parent-module inheritance).
    fn deny_path(&self, components: &[&str]) -> Option<&DenyRule> {
        let mut worst: Option<&DenyRule> = None;
        let mut module = String::new();
        for (split, component) in components.iter().enumerate() {
            if split > 0 {
                module.push('.');
            }
            module.push_str(component);
            let Some(rules) = self.deny.get(&module) else {
                continue;
            };
            let rest = components
                .get(split + 1..)
                .map(|r| r.join("."))
                .unwrap_or_default();
            for rule in rules.iter().filter(|rule| rule.pattern.matches(&rest)) {
                if worst.is_none_or(|w| rule.severity > w.severity) {
                    worst = Some(rule);
                }
            }
        }
        worst
    }

    fn allow_exact(&self, module: &str, name: &str) -> Option<&str> {
        let rules = self.allow.get(module)?;
        rules.iter().find_map(|rule| match rule {
            AllowRule::Name(allowed, reason) if allowed == name => Some(reason.as_str()),
            AllowRule::AnyName(reason) if !name.contains('.') && !name.is_empty() => {
                Some(reason.as_str())
            }
            _ => None,
        })
    }

    fn classify(&self, module: &str, name: &str) -> Option<Classification> {
        // An exact allow entry is more specific than any inherited deny (`torch.jit._pickle`
        // list builders inside the denied `torch.jit`); it never covers an attribute walk.
        if !name.contains('.')
            && let Some(reason) = self.allow_exact(module, name)
        {
            return Some(Classification::Allowed {
                reason: reason.to_string(),
            });
        }
        let components: Vec<&str> = module.split('.').chain(name.split('.')).collect();
        if let Some(rule) = self.deny_path(&components) {
            return Some(denied(rule, None));
        }
        // Attribute walks: `("pathlib", "os.system")` reaches `os.system` through a re-export, so
        // every inner path of at least two components is checked as a fully qualified name.
        if name.contains('.') {
            for start in 1..components.len().saturating_sub(1) {
                if let Some(rule) = components
                    .get(start..)
                    .and_then(|inner| self.deny_path(inner))
                {
                    let reached = components
                        .get(start..)
                        .map(|c| c.join("."))
                        .unwrap_or_default();
                    return Some(denied(rule, Some(&reached)));
                }
            }
        }
        self.allow_exact(module, name)
            .map(|reason| Classification::Allowed {
                reason: reason.to_string(),
            })
    }
}

fn denied(rule: &DenyRule, reached: Option<&str>) -> Classification {
    let reason = match reached {
        Some(path) => format!("attribute walk reaches `{path}`: {}", rule.reason),
        None => rule.reason.clone(),
    };
    Classification::Denied {
        severity: rule.severity,
        category: rule.category.clone(),
        reason,
    }
}

fn invalid(module: &str, message: &str) -> PolicyError {
    PolicyError::Invalid {
        module: module.to_string(),
        message: message.to_string(),
    }
}

fn validate_module(module: &str) -> Result<(), PolicyError> {
    if module.is_empty()
        || module.split('.').any(str::is_empty)
        || module.contains(char::is_whitespace)
    {
        return Err(invalid(module, "module must be a non-empty dotted name"));
    }
    Ok(())
}

fn validate_name(module: &str, name: &str) -> Result<(), PolicyError> {
    let pattern = name.strip_suffix('*').unwrap_or(name);
    let bad_star = pattern.contains('*');
    let bad_dots =
        !pattern.is_empty() && pattern.trim_end_matches('.').split('.').any(str::is_empty);
    if name.is_empty() || bad_star || bad_dots || name.contains(char::is_whitespace) {
        return Err(invalid(module, &format!("invalid name pattern `{name}`")));
    }
    Ok(())
}

fn require_reason(module: &str, reason: &str) -> Result<(), PolicyError> {
    if reason.trim().is_empty() {
        return Err(invalid(module, "entry has no reason"));
    }
    Ok(())
}

/// True for `__x__` attribute names (introspection: `__globals__`, `__call__`, `__subclasses__`...).
fn is_dunder(component: &str) -> bool {
    component.len() > 4 && component.starts_with("__") && component.ends_with("__")
}

/// The allow and deny lists, layered: built-in first, user extensions on top.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Consulted last to first: later layers (user extensions) win.
    layers: Vec<Layer>,
}

impl Policy {
    /// The policy shipped with mlvet (`policy/default.toml`).
    pub fn builtin() -> Policy {
        static BUILTIN: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                // The shipped file is validated by this crate's tests; should it ever fail to parse,
                // an empty policy classifies everything as unknown (fail closed: never safe).
                Policy::from_toml_str(DEFAULT_POLICY).unwrap_or_else(|_| Policy {
                    layers: vec![Layer::default()],
                })
            })
            .clone()
    }

    pub fn from_toml_str(s: &str) -> Result<Policy, PolicyError> {
        Ok(Policy {
            layers: vec![Layer::parse(s)?],
        })
    }

    /// Adds `other`'s entries on top of this policy: where both say something, `other` wins.
    pub fn extend(&mut self, other: Policy) {
        self.layers.extend(other.layers);
    }

    /// Classifies the reference `module.name` (after `_compat_pickle` renames; `name` may be a
    /// dotted attribute walk).
    pub fn classify(&self, module: &str, name: &str) -> Classification {
        for layer in self.layers.iter().rev() {
            if let Some(found) = layer.classify(module, name) {
                return found;
            }
        }
        if module == TORCHSCRIPT_NAMESPACE
            || module
                .strip_prefix(TORCHSCRIPT_NAMESPACE)
                .is_some_and(|rest| rest.starts_with('.'))
        {
            return Classification::Allowed {
                reason:
                    "TorchScript class type: torch.jit.load's C++ unpickler resolves it from the \
                         archive's own compiled code (reported as container-torchscript-code); \
                         Python's unpickler cannot import a `__torch__` module"
                        .to_string(),
            };
        }
        if name.split('.').any(is_dunder) {
            return Classification::Denied {
                severity: Severity::Critical,
                category: "introspection".to_string(),
                reason: "dunder attribute (`__builtins__`, `__globals__`, `__call__`, `__subclasses__`...) \
                         reaches interpreter internals and arbitrary callables"
                    .to_string(),
            };
        }
        Classification::Unknown
    }

    /// Every `(module, name pattern)` of every layer, for tests and documentation.
    pub fn entries(&self) -> Vec<PolicyEntry> {
        let mut out = Vec::new();
        for layer in &self.layers {
            for (module, rules) in &layer.allow {
                for rule in rules {
                    let (name, reason) = match rule {
                        AllowRule::AnyName(reason) => ("*".to_string(), reason.clone()),
                        AllowRule::Name(name, reason) => (name.clone(), reason.clone()),
                    };
                    out.push(PolicyEntry {
                        allow: true,
                        module: module.clone(),
                        name,
                        severity: None,
                        reason,
                    });
                }
            }
            for (module, rules) in &layer.deny {
                for rule in rules {
                    let name = match &rule.pattern {
                        NamePattern::Everything => "*".to_string(),
                        NamePattern::Attribute(name) => name.clone(),
                        NamePattern::Prefix(prefix) => format!("{prefix}*"),
                    };
                    out.push(PolicyEntry {
                        allow: false,
                        module: module.clone(),
                        name,
                        severity: Some(rule.severity),
                        reason: rule.reason.clone(),
                    });
                }
            }
        }
        out
    }
}

/// One entry of a policy, as listed by [`Policy::entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyEntry {
    pub allow: bool,
    pub module: String,
    /// The name or pattern (`*`, `X`, `X.*`, `_*`).
    pub name: String,
    pub severity: Option<Severity>,
    pub reason: String,
}

impl PolicyEntry {
    /// A concrete `(module, name)` this entry covers, to probe classification with.
    pub fn example(&self) -> (String, String) {
        let name = if self.name == "*" {
            if self.allow {
                "SomeClass".to_string()
            } else {
                String::new()
            }
        } else if let Some(prefix) = self.name.strip_suffix('*') {
            format!("{prefix}probe")
        } else {
            self.name.clone()
        };
        (self.module.clone(), name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn classify(module: &str, name: &str) -> Classification {
        Policy::builtin().classify(module, name)
    }

    #[test]
    fn builtin_policy_parses_and_is_not_empty() {
        let policy = Policy::from_toml_str(DEFAULT_POLICY).expect("default policy parses");
        let entries = policy.entries();
        assert!(entries.iter().filter(|e| e.allow).count() > 100);
        assert!(entries.iter().filter(|e| !e.allow).count() > 100);
    }

    #[test]
    fn every_deny_entry_classifies_as_denied_with_its_severity() {
        let policy = Policy::builtin();
        for entry in policy.entries().into_iter().filter(|e| !e.allow) {
            let (module, name) = entry.example();
            match policy.classify(&module, &name) {
                Classification::Denied {
                    severity,
                    reason,
                    category,
                } => {
                    // The worst matching entry wins, so the severity is at least the entry's.
                    assert!(
                        Some(severity) >= entry.severity,
                        "{module}.{name}: {severity}"
                    );
                    assert!(
                        !reason.trim().is_empty() && !category.is_empty(),
                        "{module}.{name}"
                    );
                }
                other => panic!("deny entry {module}:{name} classifies as {other:?}"),
            }
        }
    }

    #[test]
    fn every_allow_entry_classifies_as_allowed_and_no_entry_contradicts() {
        let policy = Policy::builtin();
        for entry in policy.entries().into_iter().filter(|e| e.allow) {
            let (module, name) = entry.example();
            match policy.classify(&module, &name) {
                Classification::Allowed { reason } => assert!(!reason.trim().is_empty()),
                other => panic!("allow entry {module}:{name} classifies as {other:?}"),
            }
        }
    }

    #[test]
    fn no_duplicate_entries() {
        let mut seen = BTreeSet::new();
        for entry in Policy::builtin().entries() {
            assert!(
                seen.insert((entry.allow, entry.module.clone(), entry.name.clone())),
                "duplicate {entry:?}"
            );
        }
    }

    #[test]
    fn parent_modules_are_inherited() {
        assert!(classify("os", "system").is_denied());
        assert!(classify("os.path", "join").is_denied());
        assert!(classify("asyncio.unix_events", "_UnixSubprocessTransport._start").is_denied());
        assert!(classify("torch.hub", "load").is_denied());
        assert!(classify("torch", "hub.load").is_denied());
        assert!(classify("torch", "load").is_denied());
        // A denied name covers what is reached through it...
        assert!(classify("builtins", "eval.__call__").is_denied());
        // ...but not its siblings.
        assert!(matches!(
            classify("builtins", "set"),
            Classification::Allowed { .. }
        ));
        assert!(matches!(
            classify("torch._utils", "_rebuild_tensor_v2"),
            Classification::Allowed { .. }
        ));
    }

    #[test]
    fn attribute_walks_through_reexports_are_denied() {
        let Classification::Denied {
            severity, reason, ..
        } = classify("pathlib", "os.system")
        else {
            panic!("pathlib.os.system must be denied")
        };
        assert_eq!(severity, Severity::Critical);
        assert!(reason.contains("os.system"));
        assert!(classify("torch", "serialization.load").is_denied());
        assert!(classify("collections", "OrderedDict.__init__.__globals__").is_denied());
        assert!(classify("pathlib", "Path.write_text").is_denied());
        // Dunder attributes reach interpreter internals (modelscan #330: numpy.__builtins__)...
        assert!(classify("numpy", "__builtins__").is_denied());
        assert!(classify("mypkg", "Model.__reduce__").is_denied());
        // ...unless explicitly allowed.
        assert!(matches!(
            classify("copyreg", "__newobj__"),
            Classification::Allowed { .. }
        ));
        assert!(matches!(
            classify("pathlib", "Path"),
            Classification::Allowed { .. }
        ));
    }

    #[test]
    fn callables_derived_from_source_are_denied() {
        for (module, name) in [
            ("typing", "_eval_type"),
            ("typing", "ForwardRef._evaluate"),
            ("dataclasses", "_create_fn"),
            ("dataclasses", "_FuncBuilder"),
            ("_pyio", "FileIO"),
            ("_pyio", "open"),
            ("torch._utils", "_import_dotted_name"),
            ("optparse", "Values.read_file"),
            ("warnings", "_getcategory"),
            (
                "torch.utils.data.datapipes.datapipe",
                "_DataPipeSerializationWrapper",
            ),
            ("pathlib._local", "Path.write_text"),
        ] {
            assert!(classify(module, name).is_denied(), "{module}.{name}");
        }
    }

    #[test]
    fn harmless_members_of_denied_modules_are_allowed_and_their_siblings_stay_denied() {
        for (module, name) in [
            ("functools", "partial"),
            ("http", "HTTPStatus"),
            ("ipaddress", "IPv4Address"),
            ("sklearn.datasets.base", "Bunch"),
            ("numpy.core._internal", "_reconstruct"),
            ("socket", "AddressFamily"),
            ("os", "stat_result"),
            ("pathlib._local", "PosixPath"),
        ] {
            assert!(
                matches!(classify(module, name), Classification::Allowed { .. }),
                "{module}.{name}"
            );
        }
        for (module, name) in [
            ("functools", "reduce"),
            ("http.client", "HTTPConnection"),
            ("http", "HTTPStatus.__init__.__globals__"),
            ("socket", "socket"),
            ("os", "system"),
            ("os", "stat_result.__reduce__"),
        ] {
            assert!(classify(module, name).is_denied(), "{module}.{name}");
        }
    }

    #[test]
    fn wildcard_allow_covers_plain_names_of_that_module_only() {
        assert!(matches!(
            classify("sklearn.linear_model._logistic", "LogisticRegression"),
            Classification::Allowed { .. }
        ));
        assert_eq!(
            classify("sklearn.linear_model._logistic.sub", "X"),
            Classification::Unknown
        );
        assert_eq!(
            classify("sklearn.linear_model._logistic", "X.y"),
            Classification::Unknown
        );
        assert_eq!(classify("mypackage", "MyModel"), Classification::Unknown);
    }

    #[test]
    fn severities_are_graded() {
        let Classification::Denied { severity, .. } = classify("requests", "get") else {
            panic!()
        };
        assert_eq!(severity, Severity::High);
        let Classification::Denied { severity, .. } = classify("imaplib", "IMAP4_stream") else {
            panic!()
        };
        assert_eq!(
            severity,
            Severity::Critical,
            "the worst matching entry wins"
        );
    }

    #[test]
    fn user_extensions_win() {
        let mut policy = Policy::builtin();
        let user = Policy::from_toml_str(
            r#"
            [[allow]]
            module = "mypackage.models"
            names = ["MyModel"]
            reason = "our own model class"

            [[deny]]
            module = "collections"
            names = ["OrderedDict"]
            severity = "high"
            category = "custom"
            reason = "we never ship OrderedDicts"
            "#,
        )
        .expect("valid user policy");
        policy.extend(user);
        assert!(matches!(
            policy.classify("mypackage.models", "MyModel"),
            Classification::Allowed { .. }
        ));
        assert!(policy.classify("collections", "OrderedDict").is_denied());
        assert!(policy.classify("os", "system").is_denied());
    }

    #[test]
    fn invalid_policies_are_rejected() {
        assert!(matches!(
            Policy::from_toml_str("[[allow]]\nmodule = 1"),
            Err(PolicyError::Toml(_))
        ));
        let no_reason = "[[allow]]\nmodule = \"a\"\nnames = [\"b\"]\nreason = \" \"\n";
        assert!(matches!(
            Policy::from_toml_str(no_reason),
            Err(PolicyError::Invalid { .. })
        ));
        let bad_severity =
            "[[deny]]\nmodule = \"a\"\nseverity = \"urgent\"\ncategory = \"x\"\nreason = \"r\"\n";
        assert!(matches!(
            Policy::from_toml_str(bad_severity),
            Err(PolicyError::Invalid { .. })
        ));
        let bad_name = "[[deny]]\nmodule = \"a\"\nnames = [\"a*b\"]\nseverity = \"high\"\ncategory = \"x\"\nreason = \"r\"\n";
        assert!(matches!(
            Policy::from_toml_str(bad_name),
            Err(PolicyError::Invalid { .. })
        ));
    }
}
