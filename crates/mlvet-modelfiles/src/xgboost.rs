//! XGBoost models: JSON and UBJSON (`Booster.save_model`), validated against the schema XGBoost
//! writes (`learner`, `version`, the booster and one tree object per declared tree); the
//! deprecated binary format is validated by [`crate::xgboost_binary`].

use mlvet_core::Location;

use crate::rules::model_structure_invalid;
use crate::tree::{Node, TreeError};
use crate::{Analysis, Kind};

/// The top-level keys XGBoost writes, in its order (`learner` first).
const TOP_KEYS: [&str; 2] = ["learner", "version"];

fn skip_ws(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

/// `{"learner":` or `{"version":` (whitespace allowed, as in pretty-printed models).
pub fn looks_like_json(prefix: &[u8]) -> bool {
    let Some(rest) = skip_ws(prefix).strip_prefix(b"{") else {
        return false;
    };
    let rest = skip_ws(rest);
    TOP_KEYS.iter().any(|key| {
        rest.strip_prefix(b"\"")
            .and_then(|r| r.strip_prefix(key.as_bytes()))
            .is_some_and(|r| r.starts_with(b"\""))
    })
}

/// `{` followed by a UBJSON key: an integer length marker, the length, and `learner`/`version`.
pub fn looks_like_ubjson(prefix: &[u8]) -> bool {
    let Some(rest) = prefix.strip_prefix(b"{") else {
        return false;
    };
    let (len, rest) = match rest.split_first() {
        Some((b'i' | b'U', r)) => (r.first().map(|b| u64::from(*b)), r.get(1..)),
        Some((b'I', r)) => (
            r.get(..2)
                .map(|b| u64::from(u16::from_be_bytes([b[0], b[1]]))),
            r.get(2..),
        ),
        Some((b'l', r)) => (
            r.get(..4)
                .map(|b| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
            r.get(4..),
        ),
        Some((b'L', r)) => (
            r.get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes),
            r.get(8..),
        ),
        _ => return false,
    };
    let (Some(len), Some(rest)) = (len, rest) else {
        return false;
    };
    TOP_KEYS
        .iter()
        .any(|key| key.len() as u64 == len && rest.starts_with(key.as_bytes()))
}

/// A schema violation: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error(transparent)]
    Document(#[from] TreeError),
    #[error("`{0}` is missing or has the wrong type")]
    Missing(String),
    #[error("{0}")]
    Inconsistent(String),
}

/// Facts read from a validated model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelFacts {
    pub version: String,
    pub booster: String,
    pub objective: String,
    pub num_feature: Option<i64>,
    pub num_class: Option<i64>,
    pub trees: u64,
}

fn field<'a>(node: &'a Node, path: &str) -> Result<&'a Node, SchemaError> {
    let mut current = node;
    for key in path.split('.') {
        current = current
            .get(key)
            .ok_or_else(|| SchemaError::Missing(path.to_string()))?;
    }
    Ok(current)
}

fn object<'a>(node: &'a Node, path: &str) -> Result<&'a Node, SchemaError> {
    let found = field(node, path)?;
    match found {
        Node::Object(_) => Ok(found),
        _ => Err(SchemaError::Missing(path.to_string())),
    }
}

fn int(node: &Node, path: &str) -> Result<i64, SchemaError> {
    field(node, path)?
        .as_i64()
        .ok_or_else(|| SchemaError::Missing(path.to_string()))
}

/// Validates a parsed document against the XGBoost model schema (JSON and UBJSON share it).
pub fn validate(doc: &Node) -> Result<ModelFacts, SchemaError> {
    let version = field(doc, "version")?;
    let parts: Vec<i64> = version.items().iter().filter_map(Node::as_i64).collect();
    if parts.len() < 2
        || parts.len() != version.items().len()
        || version.array_len() != Some(parts.len() as u64)
    {
        return Err(SchemaError::Missing("version".into()));
    }
    let learner = object(doc, "learner")?;
    let param = object(learner, "learner_model_param")?;
    let objective = field(learner, "objective.name")?
        .as_str()
        .ok_or_else(|| SchemaError::Missing("learner.objective.name".into()))?;
    let booster = object(learner, "gradient_booster")?;
    let booster_name = field(booster, "name")?
        .as_str()
        .ok_or_else(|| SchemaError::Missing("learner.gradient_booster.name".into()))?;
    let trees = match booster_name {
        "gbtree" => validate_gbtree(object(booster, "model")?)?,
        "dart" => validate_gbtree(object(booster, "gbtree.model")?)?,
        "gblinear" => {
            field(booster, "model.weights")?
                .array_len()
                .ok_or_else(|| SchemaError::Missing("model.weights".into()))?;
            0
        }
        other => {
            return Err(SchemaError::Inconsistent(format!(
                "unknown booster `{other}`"
            )));
        }
    };
    Ok(ModelFacts {
        version: parts
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join("."),
        booster: booster_name.to_string(),
        objective: objective.to_string(),
        num_feature: param.get("num_feature").and_then(Node::as_i64),
        num_class: param.get("num_class").and_then(Node::as_i64),
        trees,
    })
}

/// Per-node arrays every tree has, whatever the XGBoost version.
const NODE_ARRAYS: [&str; 7] = [
    "left_children",
    "right_children",
    "parents",
    "split_indices",
    "split_conditions",
    "default_left",
    "base_weights",
];

fn validate_gbtree(model: &Node) -> Result<u64, SchemaError> {
    let declared = int(model, "gbtree_model_param.num_trees")?;
    let trees = field(model, "trees")?;
    let count = trees
        .array_len()
        .ok_or_else(|| SchemaError::Missing("trees".into()))?;
    if u64::try_from(declared).ok() != Some(count) || trees.items().len() as u64 != count {
        return Err(SchemaError::Inconsistent(format!(
            "{declared} trees declared, {count} present"
        )));
    }
    if let Some(info) = model.get("tree_info").and_then(Node::array_len)
        && info != count
    {
        return Err(SchemaError::Inconsistent(format!(
            "tree_info has {info} entries for {count} trees"
        )));
    }
    for (index, tree) in trees.items().iter().enumerate() {
        let nodes = int(tree, "tree_param.num_nodes")
            .map_err(|_| SchemaError::Missing(format!("trees[{index}].tree_param.num_nodes")))?;
        for name in NODE_ARRAYS {
            let len = tree
                .get(name)
                .and_then(Node::array_len)
                .ok_or_else(|| SchemaError::Missing(format!("trees[{index}].{name}")))?;
            if i64::try_from(len).ok() != Some(nodes) {
                return Err(SchemaError::Inconsistent(format!(
                    "trees[{index}].{name} has {len} entries for {nodes} nodes"
                )));
            }
        }
    }
    Ok(count)
}

/// Parses and validates one model file of the given kind.
pub fn parse(kind: Kind, bytes: &[u8]) -> Result<ModelFacts, SchemaError> {
    let doc = match kind {
        Kind::XgboostUbjson => crate::ubjson::parse(bytes)?,
        _ => crate::tree::parse_json(bytes)?,
    };
    validate(&doc)
}

pub fn analyze(kind: Kind, bytes: &[u8], location: &Location) -> Analysis {
    let mut analysis = Analysis::complete();
    analysis.fact("framework", "xgboost");
    if kind == Kind::XgboostBinary {
        match crate::xgboost_binary::parse(bytes) {
            Ok(facts) => {
                analysis.fact("framework_version", &facts.version);
                analysis.fact("booster", &facts.booster);
                analysis.fact("objective", &facts.objective);
                analysis.fact("trees", facts.trees);
                analysis.fact("features", facts.num_feature);
                analysis.fact("classes", facts.num_class);
            }
            Err(e) => analysis.incomplete(model_structure_invalid::finding(
                location.clone(),
                kind.name(),
                e,
            )),
        }
        return analysis;
    }
    match parse(kind, bytes) {
        Ok(facts) => {
            analysis.fact("framework_version", &facts.version);
            analysis.fact("booster", &facts.booster);
            analysis.fact("objective", &facts.objective);
            analysis.fact("trees", facts.trees);
            if let Some(n) = facts.num_feature {
                analysis.fact("features", n);
            }
            if let Some(n) = facts.num_class {
                analysis.fact("classes", n);
            }
        }
        Err(e) => analysis.incomplete(model_structure_invalid::finding(
            location.clone(),
            kind.name(),
            e,
        )),
    }
    analysis
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(trees: usize, declared: usize) -> String {
        let tree = r#"{"tree_param":{"num_nodes":"3","num_feature":"4","size_leaf_vector":"1"},"left_children":[1,-1,-1],"right_children":[2,-1,-1],"parents":[2147483647,0,0],"split_indices":[0,0,0],"split_conditions":[0.5,-0.1,0.1],"default_left":[0,0,0],"base_weights":[0,0,0],"id":0}"#;
        let trees = vec![tree; trees].join(",");
        format!(
            r#"{{"learner":{{"attributes":{{}},"gradient_booster":{{"model":{{"gbtree_model_param":{{"num_parallel_tree":"1","num_trees":"{declared}"}},"tree_info":[{}],"trees":[{trees}]}},"name":"gbtree"}},"learner_model_param":{{"base_score":"5E-1","num_class":"0","num_feature":"4"}},"objective":{{"name":"binary:logistic"}}}},"version":[3,2,0]}}"#,
            vec!["0"; declared].join(",")
        )
    }

    #[test]
    fn a_consistent_model_validates() {
        let doc = model(2, 2);
        assert!(looks_like_json(doc.as_bytes()));
        let facts = parse(Kind::XgboostJson, doc.as_bytes()).expect("valid");
        assert_eq!(facts.trees, 2);
        assert_eq!(facts.version, "3.2.0");
        assert_eq!(facts.objective, "binary:logistic");
        assert_eq!(facts.num_feature, Some(4));
    }

    #[test]
    fn a_tree_count_mismatch_is_refused() {
        let doc = model(1, 2);
        assert!(matches!(
            parse(Kind::XgboostJson, doc.as_bytes()),
            Err(SchemaError::Inconsistent(_))
        ));
    }

    #[test]
    fn sniffing_needs_the_top_level_key() {
        assert!(looks_like_json(b"  {\n  \"learner\": {"));
        assert!(!looks_like_json(b"{\"learners\": 1}"));
        assert!(looks_like_ubjson(
            b"{L\x00\x00\x00\x00\x00\x00\x00\x07learner{"
        ));
        assert!(looks_like_ubjson(b"{i\x07version["));
        assert!(!looks_like_ubjson(b"{i\x05model"));
    }
}
