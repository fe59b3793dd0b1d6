//! A positioned YAML tree: just enough of YAML's data model (scalars, sequences, mappings) with the
//! 1-based line of every node, so that workflow and manifest rules can report lines.
//!
//! Built from `yaml-rust2`'s event stream without recursion. Bounded: input size (checked by the
//! caller), node count, nesting depth and alias expansion (a "billion laughs" document hits the node
//! budget instead of exhausting memory).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// At most this many nodes per stream, aliases expanded.
pub const MAX_NODES: usize = 200_000;
/// At most this deep.
pub const MAX_DEPTH: usize = 64;
/// At most this many documents per stream (Kubernetes files hold several).
pub const MAX_DOCUMENTS: usize = 1_000;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Every scalar as its text (YAML 1.2 core: `on` stays the string `on`).
    Scalar(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    /// 1-based line of the node's first character (for block scalars, `|` and `>`, of the first
    /// line of their content).
    pub line: u32,
    /// A block scalar (`|`, `>`).
    pub block: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    #[error("YAML syntax error at line {line}: {message}")]
    Syntax { line: u32, message: String },
    #[error("YAML document exceeds mlvet's limit: {0}")]
    Limit(&'static str),
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The key node of `key` in a mapping (its line is the line of `key:`).
    pub fn key(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, _)| k)
    }

    /// Every scalar under this node, in document order (keys included), bounded by the tree.
    pub fn scalars(&self) -> Vec<&Node> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            match &node.value {
                Value::Scalar(_) => out.push(node),
                Value::Seq(items) => stack.extend(items.iter().rev()),
                Value::Map(entries) => {
                    for (k, v) in entries.iter().rev() {
                        stack.push(v);
                        stack.push(k);
                    }
                }
            }
        }
        out
    }

    /// The line where a scalar's text starts.
    pub fn content_line(&self) -> u32 {
        self.line
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        line: u32,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
        line: u32,
        anchor: usize,
    },
}

/// Parses every document of a YAML stream.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut documents = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut budget = MAX_NODES;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| YamlError::Syntax {
            line: u32::try_from(e.marker().line()).unwrap_or(u32::MAX),
            message: e.info().to_string(),
        })?;
        let line = u32::try_from(mark.line()).unwrap_or(u32::MAX);
        let finished: Option<(Node, usize)> = match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => None,
            Event::Scalar(text, style, anchor, _tag) => {
                let block = matches!(style, TScalarStyle::Literal | TScalarStyle::Folded);
                Some((
                    Node {
                        value: Value::Scalar(text),
                        line,
                        block,
                    },
                    anchor,
                ))
            }
            Event::Alias(id) => {
                let node = anchors.get(&id).cloned().unwrap_or(Node {
                    value: Value::Scalar(String::new()),
                    line,
                    block: false,
                });
                let size = count_nodes(&node);
                if size > budget {
                    return Err(YamlError::Limit("too many nodes (alias expansion)"));
                }
                budget -= size;
                Some((node, 0))
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError::Limit("nested too deep"));
                }
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    line,
                    anchor,
                });
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError::Limit("nested too deep"));
                }
                stack.push(Frame::Map {
                    entries: Vec::new(),
                    pending_key: None,
                    line,
                    anchor,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    items,
                    line,
                    anchor,
                }) => Some((
                    Node {
                        value: Value::Seq(items),
                        line,
                        block: false,
                    },
                    anchor,
                )),
                _ => return Err(YamlError::Limit("unbalanced sequence")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    entries,
                    line,
                    anchor,
                    ..
                }) => Some((
                    Node {
                        value: Value::Map(entries),
                        line,
                        block: false,
                    },
                    anchor,
                )),
                _ => return Err(YamlError::Limit("unbalanced mapping")),
            },
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        if budget == 0 {
            return Err(YamlError::Limit("too many nodes"));
        }
        budget -= 1;
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => {
                if documents.len() >= MAX_DOCUMENTS {
                    return Err(YamlError::Limit("too many documents"));
                }
                documents.push(node);
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }
    Ok(documents)
}

fn count_nodes(node: &Node) -> usize {
    let mut count = 0usize;
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        count += 1;
        match &n.value {
            Value::Scalar(_) => {}
            Value::Seq(items) => stack.extend(items.iter()),
            Value::Map(entries) => {
                for (k, v) in entries {
                    stack.push(k);
                    stack.push(v);
                }
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_reported_per_node() {
        let docs =
            parse_documents("on:\n  pull_request:\njobs:\n  a:\n    run: |\n      echo hi\n")
                .expect("parses");
        let doc = &docs[0];
        assert_eq!(doc.key("jobs").map(|k| k.line), Some(3));
        let run = doc
            .get("jobs")
            .and_then(|j| j.get("a"))
            .and_then(|a| a.get("run"))
            .expect("run");
        assert_eq!(run.as_str(), Some("echo hi\n"));
        assert_eq!(run.content_line(), 6);
        assert_eq!(doc.key("on").and_then(Node::as_str), Some("on"));
    }

    #[test]
    fn alias_bombs_hit_the_node_budget() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h'] {
            text.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = name;
        }
        assert!(matches!(parse_documents(&text), Err(YamlError::Limit(_))));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(500);
        assert!(parse_documents(&text).is_err());
    }

    #[test]
    fn several_documents() {
        let docs = parse_documents("a: 1\n---\nb: 2\n").expect("parses");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].key("b").map(|k| k.line), Some(3));
    }
}
