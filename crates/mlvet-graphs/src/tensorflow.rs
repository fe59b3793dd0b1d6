//! TensorFlow graph walker: `SavedModel` (`saved_model.pb`) and frozen `GraphDef` (`.pb`).
//!
//! Reads every `NodeDef` of every meta graph's `graph_def` and of every function in its
//! `library` (`FunctionDef.node_def`): name, op, inputs, the string attributes that name files
//! or streams, and the literal strings of `Const` nodes (so that a file op's path input can be
//! resolved to the literal it reads). Tensor contents other than small string constants are
//! stepped over. Field numbers follow `tensorflow/core/framework/*.proto` and
//! `tensorflow/core/protobuf/{saved_model,meta_graph}.proto`.

use crate::protobuf::{self, Field, Span, Value, WireError, fields, read_bytes, read_string};
use crate::source::Source;

/// Bounds of one walk.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Nodes across all graphs and functions.
    pub max_nodes: u64,
    /// Longest name or string kept (longer ones are cut).
    pub max_string: usize,
    /// Inputs kept per node (file ops read their first two).
    pub max_inputs: usize,
    /// Strings kept per `Const` node.
    pub max_const_strings: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_nodes: 20_000_000,
            max_string: 4096,
            max_inputs: 8,
            max_const_strings: 16,
        }
    }
}

/// Why a graph could not be walked completely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TfError {
    #[error("not a valid protobuf message: {0}")]
    Wire(#[from] WireError),
    #[error("limit reached: {0}")]
    Limit(String),
    #[error("not a TensorFlow {expected}: {why}")]
    NotTensorflow { expected: &'static str, why: String },
}

/// Which container the graph came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TfKind {
    SavedModel,
    GraphDef,
}

/// One `NodeDef`, reduced to what the rules need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TfNode {
    pub name: String,
    pub op: String,
    /// Inputs as written (`node`, `node:1`, `node:output:0`, `^control`).
    pub inputs: Vec<String>,
    /// String-valued attributes (`s`, and the strings of `list.s`), e.g. `output_stream`,
    /// `memory_region_name`, `token`, `debug_urls`, `descriptor_source`.
    pub string_attrs: Vec<(String, String)>,
    /// For `Const` nodes of dtype string: the literal strings of its `value` tensor.
    pub const_strings: Vec<String>,
}

/// The nodes of one graph or function body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// `graph` (a frozen graph), `meta graph 0` or `function NAME` (with its meta graph).
    pub name: String,
    pub nodes: Vec<TfNode>,
}

/// The nodes of a scope by name, for resolving inputs.
pub type NodeIndex<'a> = std::collections::HashMap<&'a str, &'a TfNode>;

impl Scope {
    /// Indexes the scope's nodes by name (the first node of a name wins, as in TensorFlow's
    /// importer, which rejects duplicates).
    pub fn index(&self) -> NodeIndex<'_> {
        let mut index = NodeIndex::with_capacity(self.nodes.len());
        for node in &self.nodes {
            index.entry(node.name.as_str()).or_insert(node);
        }
        index
    }

    /// The literal string an input evaluates to (see [`Scope::literal_in`]); indexes the scope
    /// on every call, so prefer `literal_in` for many lookups.
    pub fn literal(&self, input: &str) -> Option<&str> {
        let index = self.index();
        Scope::literal_in(&index, input)
    }

    /// The literal string an input (`name`, `name:1`, `name:output:0`) evaluates to, following
    /// `Identity` chains, when it is a `Const` of one string.
    pub fn literal_in<'a>(index: &NodeIndex<'a>, input: &str) -> Option<&'a str> {
        let mut current = input.to_string();
        for _ in 0..16 {
            if current.starts_with('^') {
                return None;
            }
            let name = current.split(':').next().unwrap_or(&current);
            let node: &'a TfNode = index.get(name)?;
            match node.op.as_str() {
                "Const" | "HostConst" => {
                    return match node.const_strings.as_slice() {
                        [one] => Some(one.as_str()),
                        _ => None,
                    };
                }
                "Identity" | "Snapshot" | "StopGradient" => current = node.inputs.first()?.clone(),
                _ => return None,
            }
        }
        None
    }
}

/// What the walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TfGraph {
    pub kind: TfKind,
    pub scopes: Vec<Scope>,
    pub node_count: u64,
    pub function_count: u64,
    pub meta_graph_count: u64,
    /// Meta graph tags (`serve`, `train`).
    pub tags: Vec<String>,
    pub tensorflow_version: Option<String>,
    /// `GraphDef.versions.producer`.
    pub producer: Option<u64>,
    /// Set when the walk stopped early; everything before that point was recorded.
    pub error: Option<TfError>,
}

impl TfGraph {
    fn new(kind: TfKind) -> Self {
        TfGraph {
            kind,
            scopes: Vec::new(),
            node_count: 0,
            function_count: 0,
            meta_graph_count: 0,
            tags: Vec::new(),
            tensorflow_version: None,
            producer: None,
            error: None,
        }
    }
}

/// Whether the whole input is a `GraphDef`: only `GraphDef` fields at the top level with their
/// wire types, every node parsed with a non-empty op. Frozen graphs have no magic number; this is
/// the validating parse that recognises one (together with a `.pb` name).
pub fn parse_graphdef<S: Source + ?Sized>(src: &mut S, limits: &Limits) -> TfGraph {
    let mut walker = Walker {
        src,
        limits: *limits,
        graph: TfGraph::new(TfKind::GraphDef),
    };
    let span = protobuf::whole(walker.src);
    if let Err(e) = walker.graph_def(span, "graph", true) {
        walker.graph.error = Some(e);
    }
    walker.graph
}

/// Walks a `SavedModel` (`saved_model.pb`): every meta graph's graph and function library.
pub fn parse_saved_model<S: Source + ?Sized>(src: &mut S, limits: &Limits) -> TfGraph {
    let mut walker = Walker {
        src,
        limits: *limits,
        graph: TfGraph::new(TfKind::SavedModel),
    };
    let span = protobuf::whole(walker.src);
    if let Err(e) = walker.saved_model(span) {
        walker.graph.error = Some(e);
    }
    walker.graph
}

struct Walker<'s, S: Source + ?Sized> {
    src: &'s mut S,
    limits: Limits,
    graph: TfGraph,
}

fn wire_type(field: &Field) -> u8 {
    match field.value {
        Value::Varint(_) => 0,
        Value::Fixed64(_) => 1,
        Value::Bytes(_) => 2,
        Value::Group => 3,
        Value::Fixed32(_) => 5,
    }
}

/// The fields numbered `wanted` of a message (others framed and stepped over); with `strict`,
/// any other field, or a wanted one with a wire type not in `allowed`, is an error.
fn collect<S: Source + ?Sized>(
    src: &mut S,
    span: Span,
    allowed: &[(u32, u8)],
    strict: Option<&'static str>,
) -> Result<Vec<Field>, TfError> {
    let mut kept = Vec::new();
    for field in fields(src, span) {
        let field = field?;
        let wire = wire_type(&field);
        if allowed.contains(&(field.number, wire)) {
            kept.push(field);
        } else if let Some(expected) = strict {
            return Err(TfError::NotTensorflow {
                expected,
                why: format!(
                    "field {} with wire type {wire} at byte {}",
                    field.number, field.offset
                ),
            });
        }
    }
    Ok(kept)
}

impl<S: Source + ?Sized> Walker<'_, S> {
    fn string(&mut self, span: Span) -> Result<String, TfError> {
        Ok(read_string(self.src, span, self.limits.max_string)?)
    }

    fn saved_model(&mut self, span: Span) -> Result<(), TfError> {
        let top = collect(self.src, span, &[(1, 0), (2, 2)], Some("SavedModel"))?;
        if !top.iter().any(|f| f.number == 2) {
            return Err(TfError::NotTensorflow {
                expected: "SavedModel",
                why: "no meta graph".into(),
            });
        }
        for field in top {
            if let (2, Some(span)) = (field.number, field.bytes()) {
                let index = self.graph.meta_graph_count;
                self.graph.meta_graph_count += 1;
                self.meta_graph(span, index)?;
            }
        }
        Ok(())
    }

    fn meta_graph(&mut self, span: Span, index: u64) -> Result<(), TfError> {
        // MetaGraphDef: meta_info_def = 1, graph_def = 2 (others: saver, collections,
        // signatures, assets, object graph; all length-delimited).
        let allowed: Vec<(u32, u8)> = (1..=8).map(|n| (n, 2)).collect();
        for field in collect(self.src, span, &allowed, Some("SavedModel"))? {
            match (field.number, field.bytes()) {
                (1, Some(span)) => self.meta_info(span)?,
                (2, Some(span)) => {
                    let name = format!("meta graph {index}");
                    self.graph_def(span, &name, false)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn meta_info(&mut self, span: Span) -> Result<(), TfError> {
        for field in collect(self.src, span, &[(4, 2), (5, 2)], None)? {
            match (field.number, field.bytes()) {
                (4, Some(s)) => {
                    let tag = self.string(s)?;
                    if !self.graph.tags.contains(&tag) && self.graph.tags.len() < 64 {
                        self.graph.tags.push(tag);
                    }
                }
                (5, Some(s)) => self.graph.tensorflow_version = Some(self.string(s)?),
                _ => {}
            }
        }
        Ok(())
    }

    fn graph_def(&mut self, span: Span, name: &str, strict: bool) -> Result<(), TfError> {
        // node = 1, library = 2, version = 3 (deprecated), versions = 4, debug_info = 5.
        let allowed = [(1, 2), (2, 2), (3, 0), (4, 2), (5, 2)];
        let strict = strict.then_some("GraphDef");
        let mut scope = Scope {
            name: name.to_string(),
            nodes: Vec::new(),
        };
        let mut libraries = Vec::new();
        for field in collect(self.src, span, &allowed, strict)? {
            match (field.number, field.bytes()) {
                (1, Some(span)) => {
                    let node = self.node_def(span, strict)?;
                    scope.nodes.push(node);
                }
                (2, Some(span)) => libraries.push(span),
                (4, Some(span)) => {
                    for f in collect(self.src, span, &[(1, 0)], None)? {
                        self.graph.producer = f.varint();
                    }
                }
                _ => {}
            }
        }
        self.graph.scopes.push(scope);
        for span in libraries {
            for field in collect(self.src, span, &[(1, 2)], None)? {
                if let Some(span) = field.bytes() {
                    self.function(span, name)?;
                }
            }
        }
        Ok(())
    }

    fn function(&mut self, span: Span, graph: &str) -> Result<(), TfError> {
        self.graph.function_count += 1;
        // signature = 1 (OpDef, name = 1), node_def = 3.
        let mut name = String::from("?");
        let mut nodes = Vec::new();
        for field in collect(self.src, span, &[(1, 2), (3, 2)], None)? {
            match (field.number, field.bytes()) {
                (1, Some(sig)) => {
                    for f in collect(self.src, sig, &[(1, 2)], None)? {
                        if let Some(s) = f.bytes() {
                            name = self.string(s)?;
                        }
                    }
                }
                (3, Some(span)) => nodes.push(self.node_def(span, None)?),
                _ => {}
            }
        }
        let scope_name = if graph == "graph" {
            format!("function {name}")
        } else {
            format!("{graph} ▸ function {name}")
        };
        self.graph.scopes.push(Scope {
            name: scope_name,
            nodes,
        });
        Ok(())
    }

    fn node_def(&mut self, span: Span, strict: Option<&'static str>) -> Result<TfNode, TfError> {
        self.graph.node_count += 1;
        if self.graph.node_count > self.limits.max_nodes {
            return Err(TfError::Limit(format!(
                "more than {} nodes",
                self.limits.max_nodes
            )));
        }
        let mut node = TfNode::default();
        let mut attrs = Vec::new();
        // name = 1, op = 2, input = 3, device = 4, attr = 5, debug info = 6, type = 7.
        let allowed = [(1, 2), (2, 2), (3, 2), (4, 2), (5, 2), (6, 2), (7, 2)];
        for field in collect(self.src, span, &allowed, strict)? {
            match (field.number, field.bytes()) {
                (1, Some(s)) => node.name = self.string(s)?,
                (2, Some(s)) => node.op = self.string(s)?,
                (3, Some(s)) if node.inputs.len() < self.limits.max_inputs => {
                    node.inputs.push(self.string(s)?);
                }
                (5, Some(s)) => attrs.push(s),
                _ => {}
            }
        }
        if let Some(expected) = strict
            && node.op.is_empty()
        {
            return Err(TfError::NotTensorflow {
                expected,
                why: format!("node `{}` without an op", node.name),
            });
        }
        for span in attrs {
            self.attr_entry(span, &mut node)?;
        }
        Ok(node)
    }

    /// One `map<string, AttrValue>` entry: key = 1, value = 2.
    fn attr_entry(&mut self, span: Span, node: &mut TfNode) -> Result<(), TfError> {
        let mut key = String::new();
        let mut value = None;
        for field in collect(self.src, span, &[(1, 2), (2, 2)], None)? {
            match (field.number, field.bytes()) {
                (1, Some(s)) => key = self.string(s)?,
                (2, Some(s)) => value = Some(s),
                _ => {}
            }
        }
        let Some(value) = value else { return Ok(()) };
        // AttrValue: list = 1 (ListValue, s = 2), s = 2, tensor = 8.
        for field in collect(self.src, value, &[(1, 2), (2, 2), (8, 2)], None)? {
            match (field.number, field.bytes()) {
                (2, Some(s)) if node.string_attrs.len() < 64 => {
                    let text = self.string(s)?;
                    node.string_attrs.push((key.clone(), text));
                }
                (1, Some(list)) => {
                    for f in collect(self.src, list, &[(2, 2)], None)? {
                        if let Some(s) = f.bytes()
                            && node.string_attrs.len() < 64
                        {
                            let text = self.string(s)?;
                            node.string_attrs.push((key.clone(), text));
                        }
                    }
                }
                (8, Some(tensor)) if key == "value" => self.const_tensor(tensor, node)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// The strings of a `DT_STRING` tensor (dtype = 1, string_val = 8), a few and short ones.
    fn const_tensor(&mut self, span: Span, node: &mut TfNode) -> Result<(), TfError> {
        const DT_STRING: u64 = 7;
        let found = collect(self.src, span, &[(1, 0), (8, 2)], None)?;
        if !found
            .iter()
            .any(|f| f.number == 1 && f.varint() == Some(DT_STRING))
        {
            return Ok(());
        }
        for field in found {
            if let (8, Some(s)) = (field.number, field.bytes()) {
                if node.const_strings.len() >= self.limits.max_const_strings {
                    break;
                }
                match read_bytes(self.src, s, self.limits.max_string)? {
                    Some(bytes) => node
                        .const_strings
                        .push(String::from_utf8_lossy(&bytes).into_owned()),
                    None => node.const_strings.push(String::from("<long string>")),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protobuf::encode::*;
    use crate::source::SliceSource;

    pub(crate) fn attr(key: &str, value: &[u8]) -> Vec<u8> {
        message(&[(1, key.as_bytes()), (2, value)])
    }

    pub(crate) fn const_string(name: &str, literal: &str) -> Vec<u8> {
        let mut tensor = Vec::new();
        field_varint(1, 7, &mut tensor);
        field_bytes(8, literal.as_bytes(), &mut tensor);
        let value = message(&[(8, &tensor)]);
        message(&[
            (1, name.as_bytes()),
            (2, b"Const"),
            (5, &attr("value", &value)),
        ])
    }

    pub(crate) fn op(name: &str, op: &str, inputs: &[&str]) -> Vec<u8> {
        let mut n = message(&[(1, name.as_bytes()), (2, op.as_bytes())]);
        for i in inputs {
            field_bytes(3, i.as_bytes(), &mut n);
        }
        n
    }

    #[test]
    fn graphdef_nodes_functions_and_literals() {
        let function = message(&[
            (1, &message(&[(1, b"__inference_f_12")])),
            (3, &op("pf", "EagerPyFunc", &["x"])),
        ]);
        let bytes = message(&[
            (1, &const_string("path", "/etc/passwd")),
            (1, &op("alias", "Identity", &["path"])),
            (1, &op("read", "ReadFile", &["alias:0"])),
            (2, &message(&[(1, &function)])),
        ]);
        let g = parse_graphdef(&mut SliceSource(&bytes), &Limits::default());
        assert_eq!(g.error, None);
        assert_eq!(g.node_count, 4);
        assert_eq!(g.function_count, 1);
        let main = &g.scopes[0];
        assert_eq!(main.literal("alias:0"), Some("/etc/passwd"));
        assert_eq!(main.literal("^path"), None);
        assert_eq!(g.scopes[1].name, "function __inference_f_12");
        assert_eq!(g.scopes[1].nodes[0].op, "EagerPyFunc");
    }

    #[test]
    fn saved_model_meta_graphs_are_walked_and_graphdefs_are_not_saved_models() {
        let graph = message(&[(1, &op("w", "WriteFile", &["a", "b"]))]);
        let meta_info = message(&[(4, b"serve"), (5, b"2.20.0")]);
        let meta = message(&[(1, &meta_info), (2, &graph)]);
        let mut bytes = Vec::new();
        field_varint(1, 1, &mut bytes);
        field_bytes(2, &meta, &mut bytes);
        let g = parse_saved_model(&mut SliceSource(&bytes), &Limits::default());
        assert_eq!(g.error, None);
        assert_eq!(g.tags, vec!["serve".to_string()]);
        assert_eq!(g.tensorflow_version.as_deref(), Some("2.20.0"));
        assert_eq!(g.scopes[0].nodes[0].op, "WriteFile");
        // The SavedModel is not a GraphDef (field 1 is a varint), and vice versa.
        assert!(
            parse_graphdef(&mut SliceSource(&bytes), &Limits::default())
                .error
                .is_some()
        );
        assert!(
            parse_saved_model(&mut SliceSource(&graph), &Limits::default())
                .error
                .is_some()
        );
        // Text is neither.
        assert!(
            parse_graphdef(&mut SliceSource(b"node { op: 'x' }"), &Limits::default())
                .error
                .is_some()
        );
    }
}
