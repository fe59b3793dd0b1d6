//! Bounded parsers for model formats beyond pickle, and the rules that judge them.
//!
//! Code-free formats are recognised by content and validated structurally; a file that validates
//! is `safe`, one that claims the format but does not validate is not fully inspected:
//!
//! | format name | what | parser |
//! |---|---|---|
//! | `xgboost-json` | XGBoost `save_model("*.json")` | [`xgboost`] over a bounded JSON tree ([`tree`]) |
//! | `xgboost-ubjson` | XGBoost `save_model("*.ubj")` (the default binary format since 2.1) | [`xgboost`] over [`ubjson`] |
//! | `xgboost-binary` | XGBoost's deprecated binary format (`binf` header) | [`xgboost_binary`] |
//! | `lightgbm` | LightGBM `save_model` text model | [`lightgbm`] |
//! | `flax-msgpack` | `flax.serialization.to_bytes` checkpoints (`.msgpack`) | [`msgpack`] |
//!
//! Formats that ship code or name callables are analysed from their manifests:
//!
//! | format name | what is read | parser |
//! |---|---|---|
//! | `nemo` | `model_config.yaml` of a `.nemo` tar: Hydra `_target_`s | [`nemo`] |
//! | `torchserve-mar` | `MAR-INF/MANIFEST.json` and the member list of a `.mar` zip | [`mar`] |
//! | `skops` | `schema.json` of a `.skops` zip: every referenced type | [`skops`] |
//!
//! Parsers are pure functions over bytes: they never print, never execute anything, and bound
//! depth, counts and lengths (checked against the bytes that remain).

pub mod lightgbm;
pub mod mar;
pub mod msgpack;
pub mod nemo;
pub mod rules;
pub mod skops;
pub mod tree;
pub mod ubjson;
pub mod xgboost;
pub mod xgboost_binary;

use std::collections::BTreeMap;

use mlvet_core::{Finding, RuleMeta};

/// A code-free model format recognised by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    XgboostJson,
    XgboostUbjson,
    XgboostBinary,
    LightGbm,
}

impl Kind {
    /// Stable format name, as used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::XgboostJson => "xgboost-json",
            Kind::XgboostUbjson => "xgboost-ubjson",
            Kind::XgboostBinary => "xgboost-binary",
            Kind::LightGbm => "lightgbm",
        }
    }
}

/// Recognises a code-free model format from the first bytes of a file (at least 64 bytes when
/// available). Only claims what the library's own writer produces.
pub fn sniff(prefix: &[u8]) -> Option<Kind> {
    if xgboost::looks_like_json(prefix) {
        return Some(Kind::XgboostJson);
    }
    if xgboost::looks_like_ubjson(prefix) {
        return Some(Kind::XgboostUbjson);
    }
    if prefix.starts_with(b"binf") {
        return Some(Kind::XgboostBinary);
    }
    if lightgbm::looks_like_model(prefix) {
        return Some(Kind::LightGbm);
    }
    None
}

/// What an analysis concluded about one file or member.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    pub findings: Vec<Finding>,
    /// False when some part could not be validated (never `safe` then).
    pub fully_inspected: bool,
    /// Facts for model cards: `framework`, `framework_version`, `objective`, `trees`...
    pub metadata: BTreeMap<String, String>,
}

impl Analysis {
    pub fn complete() -> Self {
        Analysis {
            fully_inspected: true,
            ..Analysis::default()
        }
    }

    pub fn fact(&mut self, key: &str, value: impl ToString) {
        self.metadata.insert(key.to_string(), value.to_string());
    }

    pub fn incomplete(&mut self, finding: Finding) {
        self.fully_inspected = false;
        self.findings.push(finding);
    }
}

/// Analyses a whole file of a recognised code-free format.
pub fn analyze(kind: Kind, bytes: &[u8], location: &mlvet_core::Location) -> Analysis {
    match kind {
        Kind::XgboostJson | Kind::XgboostUbjson | Kind::XgboostBinary => {
            xgboost::analyze(kind, bytes, location)
        }
        Kind::LightGbm => lightgbm::analyze(bytes, location),
    }
}

/// Every rule this crate can emit.
pub fn rules() -> Vec<&'static RuleMeta> {
    rules::all()
}
