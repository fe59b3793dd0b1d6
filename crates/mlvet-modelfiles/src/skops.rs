//! skops archives (`skops.io.dump`): a zip whose `schema.json` describes every object with
//! `__class__`, `__module__`, `__loader__` and nested `content`. This module walks that tree the
//! way `skops.io.get_untrusted_types` does (the trusted defaults of each node type, from the
//! skops sources; the data file lists them for the skops release named in its header) and
//! classifies every referenced name with mlvet's pickle policy.

use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

use mlvet_core::Location;
use mlvet_pickle::{Classification, Policy};

use crate::Analysis;
use crate::rules::{model_structure_invalid, skops_dangerous_type, skops_untrusted_type};
use crate::tree::{Node, parse_json};

/// The member every skops archive has.
pub const SCHEMA_MEMBER: &str = "schema.json";
/// Largest schema read (a large pipeline's schema is a few MiB).
pub const MAX_SCHEMA_BYTES: u64 = 64 * 1024 * 1024;

const TRUSTED_DATA: &str = include_str!("../data/skops_trusted.tsv");

struct Trusted {
    /// `TypeNode` (and dtype) defaults: primitives, containers, NumPy scalar types.
    types: HashSet<&'static str>,
    /// `FunctionNode` defaults: NumPy and SciPy ufuncs.
    functions: HashSet<&'static str>,
    /// `ObjectNode`/`ReduceNode` defaults: scikit-learn estimators and internal types.
    objects: HashSet<&'static str>,
    bit_generators: HashSet<&'static str>,
}

fn trusted() -> &'static Trusted {
    static TRUSTED: OnceLock<Trusted> = OnceLock::new();
    TRUSTED.get_or_init(|| {
        let mut t = Trusted {
            types: HashSet::new(),
            functions: HashSet::new(),
            objects: HashSet::new(),
            bit_generators: HashSet::new(),
        };
        for line in TRUSTED_DATA.lines().filter(|l| !l.starts_with('#')) {
            let Some((set, name)) = line.split_once('\t') else {
                continue;
            };
            match set {
                "type" => t.types.insert(name),
                "function" => t.functions.insert(name),
                "object" => t.objects.insert(name),
                "bitgen" => t.bit_generators.insert(name),
                _ => false,
            };
        }
        t
    })
}

/// What each node type trusts by default (`self._get_trusted(trusted, default)` in skops).
fn trusted_by_default(loader: &str, name: &str) -> bool {
    let t = trusted();
    match loader {
        "DictNode" => matches!(name, "builtins.dict" | "collections.OrderedDict"),
        "DefaultDictNode" => name == "collections.defaultdict",
        "ListNode" => name == "builtins.list",
        "SetNode" => name == "builtins.set",
        "TupleNode" => name == "builtins.tuple",
        "SliceNode" => name == "builtins.slice",
        "BytesNode" => name == "builtins.bytes",
        "BytearrayNode" => name == "builtins.bytearray",
        "JsonNode" => matches!(
            name,
            "builtins.int"
                | "builtins.float"
                | "builtins.str"
                | "builtins.bool"
                | "builtins.NoneType"
        ),
        "FunctionNode" => t.functions.contains(name),
        "TypeNode" => t.types.contains(name),
        "NdArrayNode" => name == "numpy.ndarray" || t.types.contains(name),
        "DTypeNode" => {
            t.types.contains(name) || name == "numpy.dtype" || name.starts_with("numpy.dtypes.")
        }
        "MaskedArrayNode" => name == "numpy.ma.core.MaskedArray",
        "RandomStateNode" => name == "numpy.random.mtrand.RandomState",
        "RandomGeneratorNode" => {
            name == "numpy.random._generator.Generator" || t.bit_generators.contains(name)
        }
        "SparseMatrixNode" => name.starts_with("scipy.sparse."),
        "ObjectNode" | "ReduceNode" | "LossNode" | "ConstructorFromReduceNode" => {
            t.objects.contains(name)
        }
        // PartialNode, MethodNode, OperatorFuncNode, TreeNode...: skops trusts nothing by default.
        _ => false,
    }
}

/// Node types `skops.io` knows; any other makes `load` fail before constructing anything, but a
/// file naming one is not what skops writes.
const KNOWN_LOADERS: [&str; 27] = [
    "DictNode",
    "DefaultDictNode",
    "ListNode",
    "SetNode",
    "TupleNode",
    "BytesNode",
    "BytearrayNode",
    "SliceNode",
    "FunctionNode",
    "PartialNode",
    "TypeNode",
    "ObjectNode",
    "MethodNode",
    "JsonNode",
    "OperatorFuncNode",
    "ConstructorFromReduceNode",
    "NdArrayNode",
    "MaskedArrayNode",
    "RandomStateNode",
    "RandomGeneratorNode",
    "DTypeNode",
    "SparseMatrixNode",
    "ReduceNode",
    "TreeNode",
    "LossNode",
    "_DictWithDeprecatedKeysNode",
    "ZoneInfoNode",
];

/// One type or function the schema makes skops import.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    pub name: String,
    pub loader: String,
    /// Trusted by skops by default.
    pub trusted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("schema.json: {0}")]
    Json(#[from] crate::tree::TreeError),
    #[error("schema.json: {0}")]
    Shape(String),
}

/// Walks a schema and returns every reference, plus the skops protocol version.
pub fn references(schema: &[u8]) -> Result<(Vec<Reference>, Option<i64>), SchemaError> {
    let root = parse_json(schema)?;
    if root.get("__loader__").is_none() {
        return Err(SchemaError::Shape("the root has no `__loader__`".into()));
    }
    let protocol = root.get("protocol").and_then(Node::as_i64);
    let mut out = Vec::new();
    walk(&root, &mut out)?;
    Ok((out, protocol))
}

fn walk(node: &Node, out: &mut Vec<Reference>) -> Result<(), SchemaError> {
    match node {
        Node::Object(fields) => {
            if let Some(loader) = node.get("__loader__") {
                let loader = loader
                    .as_str()
                    .ok_or_else(|| SchemaError::Shape("`__loader__` is not a string".into()))?;
                if !KNOWN_LOADERS.contains(&loader) {
                    return Err(SchemaError::Shape(format!("unknown node type `{loader}`")));
                }
                let module = node.get("__module__").and_then(Node::as_str).unwrap_or("");
                let class = node.get("__class__").and_then(Node::as_str).unwrap_or("");
                let name = format!("{module}.{class}");
                out.push(Reference {
                    trusted: trusted_by_default(loader, &name),
                    name: name.clone(),
                    loader: loader.to_string(),
                });
                if loader == "MethodNode" {
                    // skops reports the bound method itself: `<module>.<class>.<func>`.
                    let func = node
                        .get("content")
                        .and_then(|c| c.get("func"))
                        .and_then(Node::as_str)
                        .unwrap_or("");
                    out.push(Reference {
                        name: format!("{name}.{func}"),
                        loader: loader.to_string(),
                        trusted: false,
                    });
                }
            }
            for (_, value) in fields {
                walk(value, out)?;
            }
        }
        Node::Array { items, .. } => {
            for item in items {
                walk(item, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn classify(policy: &Policy, name: &str) -> Classification {
    let parts: Vec<&str> = name.split('.').collect();
    for i in 1..parts.len() {
        let found = policy.classify(&parts[..i].join("."), &parts[i..].join("."));
        if found.is_denied() {
            return found;
        }
    }
    Classification::Unknown
}

/// Analyses the `schema.json` of a skops archive at `location`.
pub fn analyze_schema(schema: &[u8], location: &Location, policy: &Policy) -> Analysis {
    let mut analysis = Analysis::complete();
    analysis.fact("framework", "scikit-learn");
    let (refs, protocol) = match references(schema) {
        Ok(found) => found,
        Err(e) => {
            analysis.incomplete(model_structure_invalid::finding(
                location.clone(),
                "skops",
                e,
            ));
            return analysis;
        }
    };
    if let Some(protocol) = protocol {
        analysis.fact("skops_protocol", protocol);
    }
    if let Some(top) = refs.first() {
        analysis.fact("architecture", &top.name);
    }
    let mut untrusted = BTreeSet::new();
    let mut reported = BTreeSet::new();
    for reference in &refs {
        if let Classification::Denied {
            severity, reason, ..
        } = classify(policy, &reference.name)
        {
            if reported.insert(reference.name.clone()) {
                analysis.findings.push(
                    skops_dangerous_type::finding(
                        location.clone(),
                        &reference.name,
                        &reference.loader,
                        &reason,
                    )
                    .severity(severity.max(mlvet_core::Severity::High)),
                );
            }
        } else if !reference.trusted {
            untrusted.insert(reference.name.clone());
        }
    }
    if !untrusted.is_empty() {
        let names: Vec<String> = untrusted.into_iter().collect();
        analysis
            .findings
            .push(skops_untrusted_type::finding(location.clone(), &names));
    }
    analysis
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlvet_core::Verdict;

    fn verdict(schema: &str) -> Verdict {
        let a = analyze_schema(
            schema.as_bytes(),
            &Location::file("m.skops"),
            &Policy::builtin(),
        );
        mlvet_core::ArtifactReport::new(
            "m".into(),
            "skops".into(),
            1,
            a.fully_inspected,
            a.findings,
        )
        .verdict
    }

    #[test]
    fn sklearn_estimators_are_trusted() {
        let schema = r#"{"__class__":"LogisticRegression","__module__":"sklearn.linear_model._logistic","__loader__":"ObjectNode","content":{"__class__":"dict","__module__":"builtins","__loader__":"DictNode","content":{"C":{"__class__":"float","__module__":"builtins","__loader__":"JsonNode","content":"1.0","is_json":true}}},"protocol":2,"_skops_version":"0.16.0"}"#;
        assert_eq!(verdict(schema), Verdict::Safe);
    }

    #[test]
    fn dangerous_functions_are_malicious_and_unknown_classes_suspicious() {
        let evil =
            r#"{"__class__":"system","__module__":"os","__loader__":"FunctionNode","protocol":2}"#;
        assert_eq!(verdict(evil), Verdict::Malicious);
        let custom = r#"{"__class__":"Cleaner","__module__":"mycompany.features","__loader__":"ObjectNode","content":{},"protocol":2}"#;
        assert_eq!(verdict(custom), Verdict::Suspicious);
        let op = r#"{"__class__":"attrgetter","__module__":"operator","__loader__":"OperatorFuncNode","attrs":{},"protocol":2}"#;
        assert_eq!(verdict(op), Verdict::Malicious);
    }

    #[test]
    fn unknown_node_types_are_not_skops() {
        assert_eq!(verdict(r#"{"__loader__":"EvalNode"}"#), Verdict::Suspicious);
        assert_eq!(verdict("[1,2"), Verdict::Suspicious);
    }
}
