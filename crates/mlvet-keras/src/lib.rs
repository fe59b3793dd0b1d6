//! Keras model config analysis for mlvet: pure functions over the config JSON a `.keras` zip
//! (`config.json`) or a legacy HDF5 model (`model_config` / `training_config` attributes) holds.
//!
//! The config is walked recursively, the way `keras.saving.deserialize_keras_object` walks it:
//! every object with `class_name` / `module` / `registered_name` / `config` is a callable the
//! loader resolves (layers, nested models, wrappers' inner layers, `compile_config` losses,
//! metrics and optimizers, initializers, regularizers, constraints, activation functions...).
//! What is reported:
//! - marshalled Python bytecode (`Lambda` layers, `__lambda__` functions), decoded (never run)
//!   to name what it calls ([`rules::keras_lambda_layer`]);
//! - callables outside Keras, dangerous ones per the pickle policy
//!   ([`rules::keras_untrusted_callable`]);
//! - custom objects the user must supply ([`rules::keras_custom_object`]);
//! - `TorchModuleWrapper` payloads, returned as [`Embedded`] bytes for the caller to scan
//!   ([`rules::keras_embedded_torch_module`]);
//! - attempts to switch safe mode off ([`rules::keras_unsafe_deserialization`]).
//!
//! Findings point at the config entry: the config's location plus its JSON pointer as the
//! innermost member (`model.keras ▸ config.json ▸ /config/layers/2`).

pub mod marshal;
pub mod rules;

use std::collections::BTreeMap;

use mlvet_core::{Finding, Location, RuleMeta};
use mlvet_pickle::{Classification, Policy};
use serde_json::{Map, Value};

pub use marshal::{CodeSummary, MarshalError, summarize_code};

/// Where a config comes from; it decides what the loader enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// `config.json` of a `.keras` zip (Keras 3 `saving_lib`, safe mode on by default).
    KerasZip,
    /// The `model_config` attribute of a legacy HDF5 model.
    LegacyH5,
    /// The `training_config` attribute of a legacy HDF5 model (losses, metrics, optimizer).
    LegacyH5Training,
}

/// Bounds on one config.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest config parsed.
    pub max_config_bytes: usize,
    /// JSON values visited.
    pub max_nodes: usize,
    /// Largest base64 payload decoded (Lambda bytecode, torch modules).
    pub max_payload_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_config_bytes: 64 * 1024 * 1024,
            max_nodes: 2_000_000,
            max_payload_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Bytes embedded in a config that the caller should scan as a file of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedded {
    pub location: Location,
    pub bytes: Vec<u8>,
}

/// The result of analysing one config.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub findings: Vec<Finding>,
    pub embedded: Vec<Embedded>,
    /// False when part of the config could not be inspected (a finding says why).
    pub fully_inspected: bool,
    /// Facts for model cards: `architecture`, `name`, `layers`, `keras_version`...
    pub metadata: BTreeMap<String, String>,
}

/// Analyses a Keras config (JSON bytes) found at `location`.
pub fn analyze_config(
    json: &[u8],
    location: &Location,
    origin: ConfigOrigin,
    policy: &Policy,
    limits: &Limits,
) -> Analysis {
    let mut analysis = Analysis {
        fully_inspected: true,
        ..Analysis::default()
    };
    if json.len() > limits.max_config_bytes {
        analysis.fully_inspected = false;
        analysis
            .findings
            .push(rules::keras_config_malformed::finding(
                location.clone(),
                format!(
                    "config of {} bytes exceeds {}",
                    json.len(),
                    limits.max_config_bytes
                ),
            ));
        return analysis;
    }
    let value: Value = match serde_json::from_slice(json) {
        Ok(v) => v,
        Err(e) => {
            analysis.fully_inspected = false;
            analysis
                .findings
                .push(rules::keras_config_malformed::finding(
                    location.clone(),
                    format!("invalid JSON: {e}"),
                ));
            return analysis;
        }
    };
    if origin != ConfigOrigin::LegacyH5Training {
        if let Some(class) = value.get("class_name").and_then(Value::as_str) {
            analysis
                .metadata
                .insert("architecture".into(), class.to_string());
        }
        if let Some(name) = value
            .get("config")
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
        {
            analysis.metadata.insert("name".into(), name.to_string());
        }
        if let Some(layers) = value
            .get("config")
            .and_then(|c| c.get("layers"))
            .and_then(Value::as_array)
        {
            analysis
                .metadata
                .insert("layers".into(), layers.len().to_string());
        }
    }
    let mut walker = Walker {
        base: location,
        origin,
        policy,
        limits,
        nodes: 0,
        out: &mut analysis,
    };
    walker.value(&value, "", "");
    analysis
}

/// Analyses `metadata.json` of a `.keras` zip: the facts it states (never trusted for safety).
pub fn read_metadata(json: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if json.len() > 1024 * 1024 {
        return out;
    }
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(json) {
        for (key, fact) in [
            ("keras_version", "framework_version"),
            ("date_saved", "date_saved"),
        ] {
            if let Some(v) = map.get(key).and_then(Value::as_str) {
                out.insert(fact.to_string(), v.chars().take(64).collect());
            }
        }
    }
    out
}

/// Every rule this crate can emit.
pub fn rules() -> Vec<&'static RuleMeta> {
    rules::all()
}

struct Walker<'a> {
    base: &'a Location,
    origin: ConfigOrigin,
    policy: &'a Policy,
    limits: &'a Limits,
    nodes: usize,
    out: &'a mut Analysis,
}

/// Top-level Python packages whose classes Keras configs legitimately name.
const KERAS_PACKAGES: &[&str] = &[
    "keras",
    "keras_hub",
    "keras_nlp",
    "keras_cv",
    "keras_rs",
    "tf_keras",
    "tensorflow.keras",
    "tensorflow.python.keras",
    "tf.keras",
];

/// Keras helpers with side effects outside building a model: the gadgets of safe-mode bypasses.
const KERAS_GADGETS: &[(&str, &str)] = &[
    (
        "get_file",
        "downloads (and can extract) a file from a URL: CVE-2025-8747",
    ),
    (
        "load_model",
        "loads another model, outside the caller's safe_mode",
    ),
    ("load_weights", "reads files named by the config"),
    (
        "enable_unsafe_deserialization",
        "disables Keras safe mode for the whole process",
    ),
    (
        "func_load",
        "rebuilds a Python function from marshalled bytecode",
    ),
    ("load_img", "reads files named by the config"),
    (
        "TFSMLayer",
        "loads an external TensorFlow SavedModel named by the config",
    ),
];

/// Special `class_name`s Keras uses for plain values.
const VALUE_CLASSES: &[&str] = &[
    "__tensor__",
    "__numpy__",
    "__bytes__",
    "__typespec__",
    "__ellipsis__",
    "__slice__",
    "__lambda__",
];

fn is_keras_module(module: &str) -> bool {
    KERAS_PACKAGES.iter().any(|p| {
        module == *p || (module.starts_with(p) && module.as_bytes().get(p.len()) == Some(&b'.'))
    })
}

impl Walker<'_> {
    fn at(&self, pointer: &str) -> Location {
        let config = if pointer.is_empty() { "/" } else { pointer };
        self.base.member(config.to_string())
    }

    fn value(&mut self, value: &Value, pointer: &str, layer: &str) {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            if self.nodes == self.limits.max_nodes + 1 {
                self.out.fully_inspected = false;
                self.out
                    .findings
                    .push(rules::keras_config_malformed::finding(
                        self.base.clone(),
                        format!("more than {} JSON values", self.limits.max_nodes),
                    ));
            }
            return;
        }
        match value {
            Value::Object(map) => self.object(map, pointer, layer),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.value(item, &format!("{pointer}/{i}"), layer);
                }
            }
            Value::String(s) if s.contains("enable_unsafe_deserialization") => {
                let loc = self.at(pointer);
                self.out
                    .findings
                    .push(rules::keras_unsafe_deserialization::finding(
                        loc,
                        "`enable_unsafe_deserialization` named in the config",
                    ));
            }
            _ => {}
        }
    }

    fn object(&mut self, map: &Map<String, Value>, pointer: &str, layer: &str) {
        let class_name = map.get("class_name").and_then(Value::as_str);
        let config = map.get("config");
        let layer_name = config
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .unwrap_or(layer)
            .to_string();
        if let Some(class) = class_name {
            self.callable(map, class, pointer);
            match class {
                "__lambda__" => self.lambda_code(config, pointer, &layer_name),
                "Lambda" => self.lambda_layer(config, pointer, &layer_name),
                "TorchModuleWrapper" => self.torch_module(config, pointer, &layer_name),
                _ => {}
            }
        }
        if map.get("safe_mode") == Some(&Value::Bool(false)) {
            let loc = self.at(pointer);
            self.out
                .findings
                .push(rules::keras_unsafe_deserialization::finding(
                    loc,
                    "`\"safe_mode\": false` inside the config",
                ));
        }
        for (key, child) in map {
            if class_name == Some("TorchModuleWrapper") && key == "config" {
                // The payload string was scanned as a file; the rest is plain layer config.
                if let Value::Object(cfg) = child {
                    for (k, v) in cfg {
                        if k != "module" {
                            self.value(v, &format!("{pointer}/config/{}", escape(k)), &layer_name);
                        }
                    }
                }
                continue;
            }
            self.value(child, &format!("{pointer}/{}", escape(key)), &layer_name);
        }
    }

    /// The callable `module` + `class_name` (or + the function name) makes the loader resolve.
    fn callable(&mut self, map: &Map<String, Value>, class: &str, pointer: &str) {
        if VALUE_CLASSES.contains(&class) {
            return;
        }
        let module = map
            .get("module")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty());
        let registered = map.get("registered_name").and_then(Value::as_str);
        let name = if class == "function" {
            match map.get("config").and_then(Value::as_str) {
                Some(function) => function,
                None => return,
            }
        } else {
            class
        };
        let loc = self.at(pointer);
        if let Some(registered) = registered
            && registered.contains('>')
        {
            self.out
                .findings
                .push(rules::keras_custom_object::finding(loc.clone(), registered));
        }
        let Some(module) = module else {
            if let Some(reason) = dotted_danger(self.policy, name) {
                let finding = rules::keras_untrusted_callable::finding(loc, name, Some(&reason));
                self.out.findings.push(finding);
            }
            return;
        };
        let full = format!("{module}.{name}");
        if is_keras_module(module) {
            if let Some((_, why)) = KERAS_GADGETS.iter().find(|(gadget, _)| *gadget == name) {
                self.out
                    .findings
                    .push(rules::keras_untrusted_callable::finding(
                        loc,
                        &full,
                        Some(&format!("Keras helper that {why}")),
                    ));
            }
            return;
        }
        let dangerous = match self.policy.classify(module, name) {
            Classification::Denied {
                category, reason, ..
            } => Some(format!("{category}: {reason}")),
            _ => None,
        };
        self.out
            .findings
            .push(rules::keras_untrusted_callable::finding(
                loc,
                &full,
                dangerous.as_deref(),
            ));
    }

    fn loader_note(&self) -> String {
        match self.origin {
            ConfigOrigin::KerasZip => "Keras 3 refuses Lambda bytecode in safe_mode (the default) for .keras files; it runs when safe_mode=False or unsafe deserialization is enabled".into(),
            _ => "legacy HDF5 loading runs Lambda bytecode without the safe_mode check in tf.keras < 2.13 (CVE-2024-3660) and Keras 3 < 3.11.3 (CVE-2025-9905)".into(),
        }
    }

    /// A Keras 2 / tf.keras Lambda whose function is not a `__lambda__` object: a base64 string
    /// or `[code, defaults, closure]` with `function_type` `lambda` (or `raw`).
    fn lambda_layer(&mut self, config: Option<&Value>, pointer: &str, layer: &str) {
        let Some(config) = config else { return };
        let function = config.get("function");
        let function_type = config.get("function_type").and_then(Value::as_str);
        let code = match function {
            Some(Value::String(s)) if function_type != Some("function") => Some(s.as_str()),
            Some(Value::Array(items)) => items.first().and_then(Value::as_str),
            _ => None,
        };
        if let Some(code) = code {
            self.report_code(code, &format!("{pointer}/config/function"), layer);
        }
        for key in ["output_shape", "mask"] {
            let is_code = matches!(
                config
                    .get(format!("{key}_type").as_str())
                    .and_then(Value::as_str),
                Some("lambda" | "raw")
            );
            if is_code {
                let code = match config.get(key) {
                    Some(Value::String(s)) => Some(s.as_str()),
                    Some(Value::Array(items)) => items.first().and_then(Value::as_str),
                    _ => None,
                };
                if let Some(code) = code {
                    self.report_code(code, &format!("{pointer}/config/{key}"), layer);
                }
            }
        }
    }

    /// A Keras 3 `{"class_name": "__lambda__", "config": {"code": ...}}`.
    fn lambda_code(&mut self, config: Option<&Value>, pointer: &str, layer: &str) {
        match config.and_then(|c| c.get("code")).and_then(Value::as_str) {
            Some(code) => self.report_code(code, pointer, layer),
            None => {
                let loc = self.at(pointer);
                self.out.findings.push(rules::keras_lambda_layer::finding(
                    loc,
                    layer,
                    None,
                    &[("bytecode", "`__lambda__` without a code string".into())],
                ));
            }
        }
    }

    fn report_code(&mut self, code: &str, pointer: &str, layer: &str) {
        let loc = self.at(pointer);
        let mut evidence = vec![("loader", self.loader_note())];
        let mut dangerous = None;
        match base64_decode(code, self.limits.max_payload_bytes) {
            None => evidence.push(("bytecode", "not valid base64".to_string())),
            Some(raw) => match summarize_code(&raw) {
                Ok(summary) => {
                    dangerous = dangerous_in_code(self.policy, &summary);
                    evidence.push(("code_name", summary.name.clone()));
                    evidence.push(("names", summary.names.join(", ")));
                    let strings: Vec<String> = summary
                        .strings
                        .iter()
                        .take(32)
                        .map(|s| format!("{:?}", truncate(s, 80)))
                        .collect();
                    evidence.push(("strings", strings.join(", ")));
                }
                Err(e) => evidence.push((
                    "bytecode",
                    format!("{} bytes of marshal data not understood: {e}", raw.len()),
                )),
            },
        }
        let finding =
            rules::keras_lambda_layer::finding(loc, layer, dangerous.as_deref(), &evidence);
        self.out.findings.push(finding);
    }

    fn torch_module(&mut self, config: Option<&Value>, pointer: &str, layer: &str) {
        let Some(payload) = config.and_then(|c| c.get("module")) else {
            return;
        };
        let member = format!("{pointer}/config/module");
        let loc = self.at(&member);
        let decoded = match payload {
            Value::String(s) => base64_decode(s, self.limits.max_payload_bytes),
            _ => None,
        };
        match decoded {
            Some(bytes) => {
                self.out
                    .findings
                    .push(rules::keras_embedded_torch_module::finding(
                        loc.clone(),
                        layer,
                        bytes.len(),
                    ));
                self.out.embedded.push(Embedded {
                    location: loc,
                    bytes,
                });
            }
            None => {
                self.out.fully_inspected = false;
                self.out
                    .findings
                    .push(rules::keras_embedded_torch_module::finding(
                        loc.clone(),
                        layer,
                        0,
                    ));
                self.out.findings.push(rules::keras_config_malformed::finding(
                    loc,
                    "TorchModuleWrapper payload is not a decodable base64 string within the size limit",
                ));
            }
        }
    }
}

/// A dotted name (`os.system`) the policy denies, for objects without a `module`.
fn dotted_danger(policy: &Policy, name: &str) -> Option<String> {
    let (module, attr) = name.rsplit_once('.')?;
    match policy.classify(module, attr) {
        Classification::Denied {
            category, reason, ..
        } => Some(format!("{category}: {reason}")),
        _ => None,
    }
}

/// The first dangerous callable the code names: a denied builtin (`eval`, `__import__`...), or
/// a denied `module.name` pair formed from its names and string constants (`os` + `system`).
fn dangerous_in_code(policy: &Policy, summary: &CodeSummary) -> Option<String> {
    let modules = summary.names.iter().chain(summary.strings.iter()).take(256);
    for module in modules {
        if module.is_empty()
            || !module
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        {
            continue;
        }
        for name in summary.names.iter().take(256) {
            // Dunder names (`__import__`) are builtins the bytecode calls, not attributes.
            let dunder = name.starts_with("__") && name.ends_with("__");
            if !dunder && name != module && policy.classify(module, name).is_denied() {
                return Some(format!("{module}.{name}"));
            }
        }
    }
    summary
        .names
        .iter()
        .find(|name| policy.classify("builtins", name).is_denied())
        .map(|name| format!("builtins.{name}"))
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// JSON pointer escaping of one key.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Standard base64 (whitespace ignored, padding optional); `None` when invalid or too large.
pub fn base64_decode(text: &str, max: usize) -> Option<Vec<u8>> {
    if text.len() / 4 * 3 > max.saturating_add(3) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0u32;
    let mut padding = false;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        if padding {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
