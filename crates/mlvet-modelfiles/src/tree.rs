//! A bounded document tree shared by the JSON and UBJSON readers: objects and strings are kept,
//! long runs of numbers are counted, never stored (an XGBoost model is mostly arrays of numbers).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Scalars of an array kept beyond this many are only counted.
pub const SCALARS_KEPT: usize = 16;
/// Containers nested deeper than this are refused (XGBoost models nest about 6 levels).
pub const MAX_DEPTH: usize = 64;
/// Nodes kept in memory (objects, arrays, strings and the first scalars of each array).
pub const MAX_NODES: usize = 4_000_000;

/// One value of a JSON-like document.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// `len` items in the document; `items` holds every container and string, and the first
    /// [`SCALARS_KEPT`] scalars.
    Array {
        len: u64,
        items: Vec<Node>,
    },
    Object(Vec<(String, Node)>),
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Node::Int(i) => Some(*i),
            // XGBoost's JSON writes integer parameters as strings ("num_feature": "4").
            Node::Str(s) => s.trim().parse().ok(),
            Node::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }

    pub fn array_len(&self) -> Option<u64> {
        match self {
            Node::Array { len, .. } => Some(*len),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Node] {
        match self {
            Node::Array { items, .. } => items,
            _ => &[],
        }
    }

    pub fn is_scalar(&self) -> bool {
        !matches!(self, Node::Str(_) | Node::Array { .. } | Node::Object(_))
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("{0}")]
    Syntax(String),
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("more than {MAX_NODES} values")]
    TooManyNodes,
}

/// Counts kept nodes and tracks depth while a document is read.
#[derive(Debug, Default)]
pub struct Budget {
    nodes: Cell<usize>,
    depth: Cell<usize>,
}

impl Budget {
    pub fn keep(&self) -> Result<(), TreeError> {
        let n = self.nodes.get() + 1;
        if n > MAX_NODES {
            return Err(TreeError::TooManyNodes);
        }
        self.nodes.set(n);
        Ok(())
    }

    pub fn enter(&self) -> Result<(), TreeError> {
        let d = self.depth.get() + 1;
        if d > MAX_DEPTH {
            return Err(TreeError::TooDeep);
        }
        self.depth.set(d);
        Ok(())
    }

    pub fn leave(&self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }
}

/// Reads a JSON document into a [`Node`] tree, bounded by [`Budget`] (serde_json adds its own
/// recursion limit of 128).
pub fn parse_json(bytes: &[u8]) -> Result<Node, TreeError> {
    let budget = Budget::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let node = Seed(&budget)
        .deserialize(&mut de)
        .map_err(|e| classify_json_error(&e))?;
    de.end().map_err(|e| TreeError::Syntax(e.to_string()))?;
    Ok(node)
}

fn classify_json_error(e: &serde_json::Error) -> TreeError {
    let text = e.to_string();
    if text.contains(&TreeError::TooDeep.to_string()) {
        TreeError::TooDeep
    } else if text.contains(&TreeError::TooManyNodes.to_string()) {
        TreeError::TooManyNodes
    } else {
        TreeError::Syntax(text)
    }
}

struct Seed<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Node;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor(self.0))
    }
}

struct NodeVisitor<'b>(&'b Budget);

impl<'de> Visitor<'de> for NodeVisitor<'_> {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(i64::try_from(v).map_or(Node::Float(v as f64), Node::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        self.0.keep().map_err(E::custom)?;
        Ok(Node::Str(v.to_string()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        self.0.enter().map_err(de::Error::custom)?;
        self.0.keep().map_err(de::Error::custom)?;
        let mut len = 0u64;
        let mut items = Vec::new();
        let mut scalars = 0usize;
        while let Some(item) = seq.next_element_seed(Seed(self.0))? {
            len += 1;
            if item.is_scalar() {
                scalars += 1;
                if scalars > SCALARS_KEPT {
                    continue;
                }
                self.0.keep().map_err(de::Error::custom)?;
            }
            items.push(item);
        }
        self.0.leave();
        Ok(Node::Array { len, items })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        self.0.enter().map_err(de::Error::custom)?;
        self.0.keep().map_err(de::Error::custom)?;
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Seed(self.0))?;
            fields.push((key, value));
        }
        self.0.leave();
        Ok(Node::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_number_arrays_are_counted_not_kept() {
        let doc = format!("{{\"a\":[{}]}}", vec!["1.5"; 1000].join(","));
        let node = parse_json(doc.as_bytes()).expect("valid");
        let a = node.get("a").expect("a");
        assert_eq!(a.array_len(), Some(1000));
        assert_eq!(a.items().len(), SCALARS_KEPT);
    }

    #[test]
    fn depth_is_bounded() {
        let doc = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(parse_json(doc.as_bytes()), Err(TreeError::TooDeep));
    }

    #[test]
    fn trailing_garbage_is_refused() {
        assert!(parse_json(b"{} x").is_err());
    }
}
