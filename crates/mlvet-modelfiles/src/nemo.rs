//! NeMo `.nemo` archives: `model_config.yaml` is built into a model with Hydra
//! (`hydra.utils.instantiate`) and NeMo's own `from_config_dict`, which import and call every
//! `_target_` (and NeMo's `target`, legacy `cls`) in the tree. This module reads the YAML with a
//! node budget (aliases are expanded as they are visited, so billion-laughs documents stop at the
//! budget) and classifies each callable.

use std::cell::Cell;
use std::fmt;

use mlvet_core::Location;
use mlvet_pickle::{Classification, Policy};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::Analysis;
use crate::rules::{model_structure_invalid, nemo_dangerous_target, nemo_unknown_target};

/// Largest configuration read (NeMo configs are a few KiB to a few hundred KiB).
pub const MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;
/// YAML nodes visited, aliases included (bounds alias expansion).
pub const MAX_NODES: usize = 1_000_000;

/// The member names NeMo's `SaveRestoreConnector` writes.
pub const CONFIG_MEMBER: &str = "model_config.yaml";
pub const WEIGHTS_MEMBER: &str = "model_weights.ckpt";

/// Namespaces whose callables NeMo models legitimately instantiate.
const TRUSTED_PREFIXES: [&str; 6] = [
    "nemo.",
    "torch.",
    "lightning.",
    "pytorch_lightning.",
    "omegaconf.",
    "megatron.core.",
];

/// Callables that instantiate or call something named elsewhere: a target naming them hides the
/// real callable one level down.
const INDIRECTION: [&str; 6] = [
    "hydra.utils.instantiate",
    "hydra.utils.call",
    "hydra.utils.get_method",
    "hydra.utils.get_class",
    "hydra.utils.get_object",
    "hydra._internal.utils._locate",
];

/// A YAML tree (scalars as text).
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Scalar(String),
    Seq(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("YAML: {0}")]
    Yaml(String),
    #[error("more than {MAX_NODES} YAML nodes (alias expansion or an oversized document)")]
    TooManyNodes,
}

struct Seed<'b>(&'b Cell<usize>);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Yaml;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Yaml, D::Error> {
        let n = self.0.get() + 1;
        if n > MAX_NODES {
            return Err(de::Error::custom(ConfigError::TooManyNodes));
        }
        self.0.set(n);
        d.deserialize_any(YamlVisitor(self.0))
    }
}

struct YamlVisitor<'b>(&'b Cell<usize>);

impl<'de> Visitor<'de> for YamlVisitor<'_> {
    type Value = Yaml;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML node")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Yaml, D::Error> {
        Seed(self.0).deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Yaml, E> {
        Ok(Yaml::Scalar(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Yaml, E> {
        Ok(Yaml::Scalar(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Yaml, E> {
        Ok(Yaml::Scalar(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Yaml, E> {
        Ok(Yaml::Scalar(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Yaml, E> {
        Ok(Yaml::Scalar(v.to_string()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Yaml, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Seed(self.0))? {
            items.push(item);
        }
        Ok(Yaml::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Yaml, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key_seed(Seed(self.0))? {
            let key = match key {
                Yaml::Scalar(s) => s,
                Yaml::Null => "null".to_string(),
                _ => "<complex key>".to_string(),
            };
            let value = map.next_value_seed(Seed(self.0))?;
            fields.push((key, value));
        }
        Ok(Yaml::Map(fields))
    }
}

/// Parses one YAML document with the node budget (yaml_serde adds a nesting limit of 128).
pub fn parse_yaml(bytes: &[u8]) -> Result<Yaml, ConfigError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ConfigError::Yaml("not UTF-8".into()))?;
    let budget = Cell::new(0usize);
    let de = serde_yaml::Deserializer::from_str(text);
    Seed(&budget).deserialize(de).map_err(|e| {
        let text = e.to_string();
        if text.contains("YAML nodes") {
            ConfigError::TooManyNodes
        } else {
            ConfigError::Yaml(text)
        }
    })
}

/// One callable the configuration makes Hydra or NeMo import and call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Dotted key path, e.g. `encoder._target_`.
    pub key_path: String,
    pub callable: String,
    /// `_args_` present next to it (positional arguments).
    pub has_args: bool,
    /// `_partial_: true` (the callable is returned for later calls).
    pub partial: bool,
}

/// Every target in the tree, in document order.
pub fn targets(root: &Yaml) -> Vec<Target> {
    let mut out = Vec::new();
    collect(root, "", &mut out);
    out
}

fn looks_like_dotted_path(s: &str) -> bool {
    s.contains('.')
        && s.split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

fn collect(node: &Yaml, path: &str, out: &mut Vec<Target>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match node {
        Yaml::Map(fields) => {
            let has_args = fields.iter().any(|(k, _)| k == "_args_");
            let partial = fields.iter().any(|(k, v)| {
                k == "_partial_" && matches!(v, Yaml::Scalar(s) if s.eq_ignore_ascii_case("true"))
            });
            let has_params = fields.iter().any(|(k, _)| k == "params");
            for (key, value) in fields {
                let is_target = match key.as_str() {
                    "_target_" => true,
                    // NeMo's `from_config_dict`: `target` names the class; legacy `cls` + `params`.
                    "target" => matches!(value, Yaml::Scalar(s) if looks_like_dotted_path(s)),
                    "cls" => {
                        has_params && matches!(value, Yaml::Scalar(s) if looks_like_dotted_path(s))
                    }
                    _ => false,
                };
                if is_target && let Yaml::Scalar(callable) = value {
                    out.push(Target {
                        key_path: join(key),
                        callable: callable.trim().to_string(),
                        has_args,
                        partial,
                    });
                }
                collect(value, &join(key), out);
            }
        }
        Yaml::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                collect(item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// What the policy says about a dotted target: every split into `module` + attribute path is
/// tried (Hydra imports the longest importable prefix), denied wins.
pub fn classify(policy: &Policy, callable: &str) -> Classification {
    if INDIRECTION.contains(&callable) {
        return Classification::Denied {
            severity: mlvet_core::Severity::High,
            category: "nested-loader".into(),
            reason: "instantiates or calls a callable named elsewhere (indirection hides the real target)".into(),
        };
    }
    let parts: Vec<&str> = callable.split('.').collect();
    let mut allowed = None;
    for i in 1..parts.len() {
        let module = parts[..i].join(".");
        let name = parts[i..].join(".");
        match policy.classify(&module, &name) {
            denied @ Classification::Denied { .. } => return denied,
            allow @ Classification::Allowed { .. } => {
                allowed.get_or_insert(allow);
            }
            Classification::Unknown => {}
        }
    }
    if let Some(allow) = allowed {
        return allow;
    }
    if TRUSTED_PREFIXES.iter().any(|p| callable.starts_with(p)) {
        return Classification::Allowed {
            reason: "NeMo, PyTorch, Lightning or OmegaConf class".into(),
        };
    }
    Classification::Unknown
}

/// Analyses `model_config.yaml` of a NeMo archive at `location`.
pub fn analyze_config(bytes: &[u8], location: &Location, policy: &Policy) -> Analysis {
    let mut analysis = Analysis::complete();
    analysis.fact("framework", "nemo");
    let root = match parse_yaml(bytes) {
        Ok(root) => root,
        Err(e) => {
            analysis.incomplete(model_structure_invalid::finding(
                location.clone(),
                "nemo",
                e,
            ));
            return analysis;
        }
    };
    if !matches!(root, Yaml::Map(_)) {
        analysis.incomplete(model_structure_invalid::finding(
            location.clone(),
            "nemo",
            "model_config.yaml is not a mapping",
        ));
        return analysis;
    }
    let found = targets(&root);
    if let Some(model) = found
        .iter()
        .find(|t| t.key_path == "target" || t.key_path == "_target_")
    {
        analysis.fact("architecture", &model.callable);
    }
    analysis.fact("targets", found.len());
    for target in found {
        let extra = |mut f: mlvet_core::Finding| {
            if target.has_args {
                f = f.evidence("_args_", "positional arguments passed");
            }
            if target.partial {
                f = f.evidence("_partial_", "true (callable returned for later calls)");
            }
            f
        };
        match classify(policy, &target.callable) {
            Classification::Denied {
                severity, reason, ..
            } => analysis.findings.push(extra(
                nemo_dangerous_target::finding(
                    location.clone(),
                    &target.callable,
                    &target.key_path,
                    &reason,
                )
                .severity(severity.max(mlvet_core::Severity::High)),
            )),
            Classification::Unknown => analysis.findings.push(extra(nemo_unknown_target::finding(
                location.clone(),
                &target.callable,
                &target.key_path,
            ))),
            Classification::Allowed { .. } => {}
        }
    }
    analysis
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlvet_core::Verdict;

    const BENIGN: &str = "target: nemo.collections.asr.models.ctc_models.EncDecCTCModel\nsample_rate: 16000\npreprocessor:\n  _target_: nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor\n  window_size: 0.025\noptim:\n  name: adam\n  lr: 0.001\n";

    fn verdict(yaml: &str) -> Verdict {
        let a = analyze_config(
            yaml.as_bytes(),
            &Location::file("m.nemo"),
            &Policy::builtin(),
        );
        mlvet_core::ArtifactReport::new("m".into(), "nemo".into(), 1, a.fully_inspected, a.findings)
            .verdict
    }

    #[test]
    fn nemo_own_targets_are_safe() {
        assert_eq!(verdict(BENIGN), Verdict::Safe);
    }

    #[test]
    fn dangerous_targets_anywhere_are_malicious() {
        let yaml = format!(
            "{BENIGN}decoder:\n  layers:\n    - _target_: os.system\n      _args_: ['id']\n"
        );
        assert_eq!(verdict(&yaml), Verdict::Malicious);
        assert_eq!(
            verdict("a:\n  _target_: builtins.eval\n"),
            Verdict::Malicious
        );
        assert_eq!(
            verdict("a:\n  _target_: subprocess.Popen\n"),
            Verdict::Malicious
        );
        assert_eq!(
            verdict("a:\n  _target_: hydra.utils.call\n"),
            Verdict::Malicious
        );
    }

    #[test]
    fn third_party_targets_are_suspicious() {
        assert_eq!(
            verdict("a:\n  _target_: evil_pkg.Loader\n"),
            Verdict::Suspicious
        );
    }

    #[test]
    fn alias_bombs_stop_at_the_budget() {
        let mut yaml = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = "a".to_string();
        for level in 0..8 {
            let name = format!("l{level}");
            yaml.push_str(&format!(
                "{name}: &{name} [{}]\n",
                vec![format!("*{prev}"); 10].join(", ")
            ));
            prev = name;
        }
        // Either our node budget or yaml_serde's own repetition limit stops it; never a full expansion.
        assert!(parse_yaml(yaml.as_bytes()).is_err());
    }
}
