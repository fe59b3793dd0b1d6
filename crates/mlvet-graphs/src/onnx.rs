//! ONNX `ModelProto` walker: the facts a security review needs, never tensor data.
//!
//! Walks the model's graph, every node, every initializer and sparse initializer (only their
//! names, `data_location` and `external_data` entries: `raw_data` and the typed arrays are
//! stepped over by length), attributes holding tensors and subgraphs (`If`/`Loop`/`Scan` bodies,
//! `graphs` lists) recursively up to [`Limits::max_graph_depth`], training-info graphs and the
//! model-local `functions`. Field numbers follow `onnx/onnx.proto` (IR version 11).

use std::collections::BTreeMap;

use crate::protobuf::{self, Field, Span, WireError, fields, read_string};
use crate::source::Source;

/// Bounds of one walk.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Graphs nested inside node attributes (protobuf's own recursion limit is 100 messages).
    pub max_graph_depth: usize,
    /// Nodes across the model, subgraphs and functions included.
    pub max_nodes: u64,
    /// Longest name or string kept (longer ones are cut).
    pub max_string: usize,
    /// External-data tensors recorded (all are counted).
    pub max_external: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_graph_depth: 32,
            max_nodes: 20_000_000,
            max_string: 4096,
            max_external: 100_000,
        }
    }
}

/// Why a model could not be walked completely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnnxError {
    #[error("not a valid protobuf message: {0}")]
    Wire(#[from] WireError),
    #[error("limit reached: {0}")]
    Limit(String),
    #[error("not an ONNX model: {0}")]
    NotOnnx(String),
}

/// A tensor whose bytes live in another file (`data_location: EXTERNAL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalTensor {
    /// The tensor's name (`""` when it has none).
    pub tensor: String,
    /// The `location` entry: a path relative to the model's folder, by the spec.
    pub location: Option<String>,
    pub offset: Option<u64>,
    pub length: Option<u64>,
    /// Where the tensor is declared (`graph`, `graph ▸ node loop_1 ▸ body`, `function f`...).
    pub declared_in: String,
    /// Whether `data_location` says `EXTERNAL` (external entries without it are ignored by the
    /// loader, but still recorded).
    pub marked_external: bool,
}

/// How often an operator is used, and its first node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpUse {
    pub count: u64,
    /// Name of the first node using it, or its position when unnamed.
    pub first_node: String,
    pub declared_in: String,
}

/// What the walk found in one model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnnxModel {
    pub ir_version: Option<u64>,
    pub producer_name: Option<String>,
    pub producer_version: Option<String>,
    pub domain: Option<String>,
    pub model_version: Option<u64>,
    /// `opset_import`: domain → version.
    pub opsets: BTreeMap<String, u64>,
    pub graph_name: Option<String>,
    /// Nodes in every graph, subgraph and function.
    pub node_count: u64,
    pub initializer_count: u64,
    pub subgraph_count: u64,
    /// Operators used, by (domain, op_type); the default domain is `""`.
    pub ops: BTreeMap<(String, String), OpUse>,
    /// Model-local functions, by (domain, name): nodes calling them are not custom operators.
    pub functions: Vec<(String, String)>,
    pub external: Vec<ExternalTensor>,
    /// External tensors counted (may exceed `external.len()`).
    pub external_count: u64,
    pub metadata_props: Vec<(String, String)>,
    /// Set when the walk stopped early; everything before that point was recorded.
    pub error: Option<OnnxError>,
}

/// `ModelProto` field numbers and the wire type each must have (0 varint, 2 length-delimited).
const MODEL_FIELDS: &[(u32, u8)] = &[
    (1, 0),  // ir_version
    (2, 2),  // producer_name
    (3, 2),  // producer_version
    (4, 2),  // domain
    (5, 0),  // model_version
    (6, 2),  // doc_string
    (7, 2),  // graph
    (8, 2),  // opset_import
    (14, 2), // metadata_props
    (20, 2), // training_info
    (25, 2), // functions
    (26, 2), // configuration
];

/// Highest IR version accepted by the content check (IR 11 is current; leave room).
const IR_VERSION_MAX: u64 = 64;

/// Whether the input is an ONNX `ModelProto`, by a strict look at its top-level fields only
/// (graph bodies are stepped over): every field a known `ModelProto` field with its wire type,
/// an `ir_version` in range, a `graph` present. Protobuf has no magic number; this is what tells
/// an ONNX file from any other bytes.
pub fn looks_like_onnx<S: Source + ?Sized>(src: &mut S) -> Result<(), OnnxError> {
    if src.is_empty() {
        return Err(OnnxError::NotOnnx("empty".into()));
    }
    let span = protobuf::whole(src);
    let mut ir_version = None;
    let mut graph = false;
    for (count, field) in fields(src, span).enumerate() {
        let field = field?;
        if count > 1_000_000 {
            return Err(OnnxError::NotOnnx("too many top-level fields".into()));
        }
        let wire = match field.value {
            protobuf::Value::Varint(_) => 0,
            protobuf::Value::Bytes(_) => 2,
            _ => 9,
        };
        if !MODEL_FIELDS.contains(&(field.number, wire)) {
            return Err(OnnxError::NotOnnx(format!(
                "field {} (wire type {wire}) is not a ModelProto field",
                field.number
            )));
        }
        match field.number {
            1 => ir_version = field.varint(),
            7 => graph = true,
            _ => {}
        }
    }
    match ir_version {
        Some(v) if (1..=IR_VERSION_MAX).contains(&v) => {}
        Some(v) => return Err(OnnxError::NotOnnx(format!("ir_version {v} out of range"))),
        None => return Err(OnnxError::NotOnnx("no ir_version".into())),
    }
    if !graph {
        return Err(OnnxError::NotOnnx("no graph".into()));
    }
    Ok(())
}

/// Walks a whole `ModelProto`. Never fails: a problem is recorded in [`OnnxModel::error`], with
/// everything found before it.
pub fn parse<S: Source + ?Sized>(src: &mut S, limits: &Limits) -> OnnxModel {
    let mut walker = Walker {
        src,
        limits: *limits,
        model: OnnxModel::default(),
    };
    let span = protobuf::whole(walker.src);
    if let Err(e) = walker.model_proto(span) {
        walker.model.error = Some(e);
    }
    walker.model
}

struct Walker<'s, S: Source + ?Sized> {
    src: &'s mut S,
    limits: Limits,
    model: OnnxModel,
}

/// Collects the fields numbered `wanted` of a message first (spans only), so that the walker can
/// then read and descend with the source free. Other fields (tensor data, doc strings) are
/// framed and stepped over without being kept: memory follows what is interesting, not the
/// size of the message.
fn collect<S: Source + ?Sized>(
    src: &mut S,
    span: Span,
    wanted: &[u32],
) -> Result<Vec<Field>, WireError> {
    let mut kept = Vec::new();
    for field in fields(src, span) {
        let field = field?;
        if wanted.contains(&field.number) {
            kept.push(field);
        }
    }
    Ok(kept)
}

impl<S: Source + ?Sized> Walker<'_, S> {
    fn string(&mut self, span: Span) -> Result<String, OnnxError> {
        Ok(read_string(self.src, span, self.limits.max_string)?)
    }

    fn model_proto(&mut self, span: Span) -> Result<(), OnnxError> {
        let mut graphs = Vec::new();
        let mut functions = Vec::new();
        let mut training = Vec::new();
        for field in collect(self.src, span, &[1, 2, 3, 4, 5, 7, 8, 14, 20, 25])? {
            match (field.number, field.value) {
                (1, protobuf::Value::Varint(v)) => self.model.ir_version = Some(v),
                (2, protobuf::Value::Bytes(s)) => self.model.producer_name = Some(self.string(s)?),
                (3, protobuf::Value::Bytes(s)) => {
                    self.model.producer_version = Some(self.string(s)?);
                }
                (4, protobuf::Value::Bytes(s)) => self.model.domain = Some(self.string(s)?),
                (5, protobuf::Value::Varint(v)) => self.model.model_version = Some(v),
                (7, protobuf::Value::Bytes(s)) => graphs.push(s),
                (8, protobuf::Value::Bytes(s)) => {
                    let (domain, version) = self.opset(s)?;
                    self.model.opsets.insert(domain, version);
                }
                (14, protobuf::Value::Bytes(s)) => {
                    let entry = self.string_entry(s)?;
                    self.model.metadata_props.push(entry);
                }
                (20, protobuf::Value::Bytes(s)) => training.push(s),
                (25, protobuf::Value::Bytes(s)) => functions.push(s),
                _ => {}
            }
        }
        // Functions first: nodes calling them are then known not to be custom operators.
        for span in functions {
            self.function(span)?;
        }
        for span in graphs {
            self.graph(span, "graph".to_string(), 0, true)?;
        }
        for span in training {
            for field in collect(self.src, span, &[1, 2])? {
                // TrainingInfoProto: initialization = 1, algorithm = 2 (graphs).
                if let (1 | 2, Some(s)) = (field.number, field.bytes()) {
                    let name = if field.number == 1 {
                        "training initialization"
                    } else {
                        "training algorithm"
                    };
                    self.graph(s, name.to_string(), 1, false)?;
                }
            }
        }
        Ok(())
    }

    fn opset(&mut self, span: Span) -> Result<(String, u64), OnnxError> {
        let mut domain = String::new();
        let mut version = 0;
        for field in collect(self.src, span, &[1, 2])? {
            match (field.number, field.value) {
                (1, protobuf::Value::Bytes(s)) => domain = self.string(s)?,
                (2, protobuf::Value::Varint(v)) => version = v,
                _ => {}
            }
        }
        Ok((domain, version))
    }

    fn string_entry(&mut self, span: Span) -> Result<(String, String), OnnxError> {
        let mut key = String::new();
        let mut value = String::new();
        for field in collect(self.src, span, &[1, 2])? {
            match (field.number, field.value) {
                (1, protobuf::Value::Bytes(s)) => key = self.string(s)?,
                (2, protobuf::Value::Bytes(s)) => value = self.string(s)?,
                _ => {}
            }
        }
        Ok((key, value))
    }

    fn graph(
        &mut self,
        span: Span,
        path: String,
        depth: usize,
        main: bool,
    ) -> Result<(), OnnxError> {
        if depth > self.limits.max_graph_depth {
            return Err(OnnxError::Limit(format!(
                "subgraphs nested deeper than {} levels at {path}",
                self.limits.max_graph_depth
            )));
        }
        if !main {
            self.model.subgraph_count += 1;
        }
        let mut index = 0u64;
        for field in collect(self.src, span, &[1, 2, 5, 15])? {
            match (field.number, field.value) {
                (1, protobuf::Value::Bytes(s)) => {
                    self.node(s, &path, index, depth)?;
                    index += 1;
                }
                (2, protobuf::Value::Bytes(s)) if main && self.model.graph_name.is_none() => {
                    self.model.graph_name = Some(self.string(s)?);
                }
                (5, protobuf::Value::Bytes(s)) => {
                    self.model.initializer_count += 1;
                    self.tensor(s, &path)?;
                }
                (15, protobuf::Value::Bytes(s)) => {
                    self.model.initializer_count += 1;
                    self.sparse_tensor(s, &path)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn function(&mut self, span: Span) -> Result<(), OnnxError> {
        let mut name = String::new();
        let mut domain = String::new();
        let mut nodes = Vec::new();
        for field in collect(self.src, span, &[1, 7, 10])? {
            match (field.number, field.value) {
                (1, protobuf::Value::Bytes(s)) => name = self.string(s)?,
                (10, protobuf::Value::Bytes(s)) => domain = self.string(s)?,
                (7, protobuf::Value::Bytes(s)) => nodes.push(s),
                _ => {}
            }
        }
        let path = format!("function {domain}::{name}");
        for (index, span) in nodes.into_iter().enumerate() {
            self.node(span, &path, index as u64, 1)?;
        }
        self.model.functions.push((domain, name));
        Ok(())
    }

    fn node(&mut self, span: Span, path: &str, index: u64, depth: usize) -> Result<(), OnnxError> {
        self.model.node_count += 1;
        if self.model.node_count > self.limits.max_nodes {
            return Err(OnnxError::Limit(format!(
                "more than {} nodes",
                self.limits.max_nodes
            )));
        }
        let mut name = String::new();
        let mut op_type = String::new();
        let mut domain = String::new();
        let mut attributes = Vec::new();
        for field in collect(self.src, span, &[3, 4, 5, 7])? {
            match (field.number, field.value) {
                (3, protobuf::Value::Bytes(s)) => name = self.string(s)?,
                (4, protobuf::Value::Bytes(s)) => op_type = self.string(s)?,
                (7, protobuf::Value::Bytes(s)) => domain = self.string(s)?,
                (5, protobuf::Value::Bytes(s)) => attributes.push(s),
                _ => {}
            }
        }
        let label = if name.is_empty() {
            format!("#{index} ({op_type})")
        } else {
            name
        };
        let entry = self
            .model
            .ops
            .entry((domain, op_type))
            .or_insert_with(|| OpUse {
                count: 0,
                first_node: label.clone(),
                declared_in: path.to_string(),
            });
        entry.count += 1;
        for span in attributes {
            self.attribute(span, path, &label, depth)?;
        }
        Ok(())
    }

    fn attribute(
        &mut self,
        span: Span,
        path: &str,
        node: &str,
        depth: usize,
    ) -> Result<(), OnnxError> {
        let mut name = String::new();
        let mut graphs = Vec::new();
        let mut tensors = Vec::new();
        let mut sparse = Vec::new();
        for field in collect(self.src, span, &[1, 5, 6, 10, 11, 22, 23])? {
            match (field.number, field.value) {
                (1, protobuf::Value::Bytes(s)) => name = self.string(s)?,
                // g, graphs
                (6 | 11, protobuf::Value::Bytes(s)) => graphs.push(s),
                // t, tensors
                (5 | 10, protobuf::Value::Bytes(s)) => tensors.push(s),
                // sparse_tensor, sparse_tensors
                (22 | 23, protobuf::Value::Bytes(s)) => sparse.push(s),
                _ => {}
            }
        }
        let here = format!("{path} ▸ node {node} ▸ {name}");
        for span in tensors {
            self.tensor(span, &here)?;
        }
        for span in sparse {
            self.sparse_tensor(span, &here)?;
        }
        for span in graphs {
            self.graph(span, here.clone(), depth + 1, false)?;
        }
        Ok(())
    }

    fn sparse_tensor(&mut self, span: Span, path: &str) -> Result<(), OnnxError> {
        for field in collect(self.src, span, &[1, 2])? {
            // values = 1, indices = 2 (TensorProto).
            if let (1 | 2, Some(s)) = (field.number, field.bytes()) {
                self.tensor(s, path)?;
            }
        }
        Ok(())
    }

    /// A tensor's name and external-data entries; its data fields are stepped over.
    fn tensor(&mut self, span: Span, path: &str) -> Result<(), OnnxError> {
        let mut name = String::new();
        let mut entries = Vec::new();
        let mut marked_external = false;
        for field in collect(self.src, span, &[8, 13, 14])? {
            match (field.number, field.value) {
                (8, protobuf::Value::Bytes(s)) => name = self.string(s)?,
                (13, protobuf::Value::Bytes(s)) => entries.push(s),
                (14, protobuf::Value::Varint(v)) => marked_external = v == 1,
                _ => {}
            }
        }
        if entries.is_empty() && !marked_external {
            return Ok(());
        }
        let mut tensor = ExternalTensor {
            tensor: name,
            location: None,
            offset: None,
            length: None,
            declared_in: path.to_string(),
            marked_external,
        };
        for span in entries {
            let (key, value) = self.string_entry(span)?;
            // The loader keeps the last value of a repeated key (setattr in a loop).
            match key.as_str() {
                "location" => tensor.location = Some(value),
                "offset" => tensor.offset = value.trim().parse().ok(),
                "length" => tensor.length = value.trim().parse().ok(),
                _ => {}
            }
        }
        self.model.external_count += 1;
        if self.model.external.len() < self.limits.max_external {
            self.model.external.push(tensor);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protobuf::encode::*;
    use crate::source::SliceSource;

    fn entry(key: &str, value: &str) -> Vec<u8> {
        message(&[(1, key.as_bytes()), (2, value.as_bytes())])
    }

    fn external_tensor(name: &str, location: &str) -> Vec<u8> {
        let mut t = message(&[(8, name.as_bytes()), (13, &entry("location", location))]);
        t.extend(message(&[(13, &entry("offset", "4096"))]));
        field_varint(14, 1, &mut t);
        field_bytes(9, &[0u8; 64], &mut t); // raw_data, stepped over
        t
    }

    fn node(name: &str, op: &str, domain: &str, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut n = message(&[
            (1, b"x"),
            (2, b"y"),
            (3, name.as_bytes()),
            (4, op.as_bytes()),
            (7, domain.as_bytes()),
        ]);
        for a in attrs {
            field_bytes(5, a, &mut n);
        }
        n
    }

    fn model(graph: &[u8], extra: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        field_varint(1, 9, &mut m);
        field_bytes(2, b"pytorch", &mut m);
        field_bytes(7, graph, &mut m);
        let mut opset = message(&[(1, b"")]);
        field_varint(2, 17, &mut opset);
        field_bytes(8, &opset, &mut m);
        m.extend_from_slice(extra);
        m
    }

    #[test]
    fn walks_nodes_subgraphs_functions_and_external_data() {
        let inner_graph = {
            let mut g = node("deep", "Relu", "", &[]);
            g = message(&[
                (1, &g),
                (5, &external_tensor("w_inner", "../../etc/passwd")),
            ]);
            g
        };
        let attr = {
            let mut a = message(&[(1, b"then_branch")]);
            field_bytes(6, &inner_graph, &mut a);
            a
        };
        let mut graph = message(&[
            (1, &node("if_0", "If", "", &[attr])),
            (1, &node("custom_0", "Evil", "com.attacker", &[])),
            (2, b"main"),
            (5, &external_tensor("w", "weights.bin")),
        ]);
        graph.extend(message(&[(
            15,
            &message(&[(1, &external_tensor("sp", "/etc/shadow"))]),
        )]));
        let function = message(&[
            (1, b"MyFn"),
            (10, b"local.fn"),
            (7, &node("f0", "Exp", "", &[])),
        ]);
        let bytes = model(&graph, &message(&[(25, &function)]));
        let mut src = SliceSource(&bytes);
        looks_like_onnx(&mut src).expect("onnx");
        let m = parse(&mut src, &Limits::default());
        assert_eq!(m.error, None);
        assert_eq!(m.ir_version, Some(9));
        assert_eq!(m.producer_name.as_deref(), Some("pytorch"));
        assert_eq!(m.opsets.get(""), Some(&17));
        assert_eq!(m.graph_name.as_deref(), Some("main"));
        assert_eq!(m.node_count, 4);
        assert_eq!(m.subgraph_count, 1);
        let locations: Vec<_> = m.external.iter().map(|e| e.location.clone()).collect();
        assert!(locations.contains(&Some("../../etc/passwd".into())));
        assert!(locations.contains(&Some("/etc/shadow".into())));
        let inner = m
            .external
            .iter()
            .find(|e| e.tensor == "w_inner")
            .expect("inner");
        assert_eq!(inner.offset, Some(4096));
        assert!(inner.declared_in.contains("if_0"), "{}", inner.declared_in);
        assert!(m.ops.contains_key(&("com.attacker".into(), "Evil".into())));
        assert_eq!(m.functions, vec![("local.fn".into(), "MyFn".into())]);
    }

    #[test]
    fn nesting_is_bounded() {
        let mut graph = node("leaf", "Relu", "", &[]);
        graph = message(&[(1, &graph)]);
        for _ in 0..40 {
            let mut attr = message(&[(1, b"body")]);
            field_bytes(6, &graph, &mut attr);
            graph = message(&[(1, &node("loop", "Loop", "", &[attr]))]);
        }
        let bytes = model(&graph, &[]);
        let m = parse(&mut SliceSource(&bytes), &Limits::default());
        assert!(
            matches!(m.error, Some(OnnxError::Limit(_))),
            "{:?}",
            m.error
        );
    }

    #[test]
    fn other_protobufs_are_not_onnx() {
        // A TensorFlow GraphDef: field 1 is a NodeDef message.
        let graphdef = message(&[(1, &message(&[(1, b"a"), (2, b"Const")]))]);
        assert!(looks_like_onnx(&mut SliceSource(&graphdef)).is_err());
        // A model without a graph.
        let mut no_graph = Vec::new();
        field_varint(1, 8, &mut no_graph);
        assert!(looks_like_onnx(&mut SliceSource(&no_graph)).is_err());
        assert!(looks_like_onnx(&mut SliceSource(b"")).is_err());
        assert!(looks_like_onnx(&mut SliceSource(b"hello world")).is_err());
    }
}
