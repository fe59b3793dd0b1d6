//! From parsed graphs to findings: what each format's facts mean for the artefact.

use std::collections::BTreeMap;
use std::path::Path;

use mlvet_core::{Finding, Location};

use crate::onnx::{self, OnnxModel};
use crate::ops::{self, OpKind, PathFrom};
use crate::paths::{escape_reason, tensorflow_escape_reason};
use crate::rules::{
    graph_malformed, onnx_custom_domain, onnx_external_data_escape, onnx_external_data_missing,
    tensorflow_file_access, tensorflow_python_op, tensorflow_text_graph, tflite_custom_op,
    tflite_flex_dangerous_op,
};
use crate::source::Source;
use crate::tensorflow::{self, TfGraph, TfKind};
use crate::tflite;

/// A graph format mlvet reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Onnx,
    SavedModel,
    GraphDef,
    Tflite,
    /// Protobuf text format (`.pbtxt`): scanned lexically only.
    TextGraph,
}

impl GraphFormat {
    /// Stable report name.
    pub fn name(self) -> &'static str {
        match self {
            GraphFormat::Onnx => "onnx",
            GraphFormat::SavedModel => "tensorflow-savedmodel",
            GraphFormat::GraphDef => "tensorflow-graphdef",
            GraphFormat::Tflite => "tflite",
            GraphFormat::TextGraph => "tensorflow-text",
        }
    }
}

/// What a file is, by its name and a validating parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identified {
    /// The content parses as this format.
    Valid(GraphFormat),
    /// The name claims this format but the content does not parse as it (nor as another graph
    /// format): reported as malformed, never safe.
    Claimed(GraphFormat),
}

/// The result of checking one graph file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphReport {
    pub format: &'static str,
    pub fully_inspected: bool,
    pub findings: Vec<Finding>,
    pub metadata: BTreeMap<String, String>,
}

/// Files TensorFlow writes next to `saved_model.pb` that are not graphs: `keras_metadata.pb`
/// (Keras layer configs, see the Keras checks) and `fingerprint.pb` (hashes).
const TF_SIDE_FILES: &[&str] = &["keras_metadata.pb", "fingerprint.pb"];

/// Decides whether `file_name` with content `src` is a graph file mlvet reads. Protobuf has no
/// magic number: ONNX is recognised by a strict parse of its top level (any name); TensorFlow
/// graphs need a `.pb` name (`saved_model.pb` first tries SavedModel) and a validating parse;
/// TFLite is recognised by its `TFL3` identifier (any name) or claimed by a `.tflite` name.
pub fn identify<S: Source + ?Sized>(file_name: &str, src: &mut S) -> Option<Identified> {
    let base = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file_name)
        .to_ascii_lowercase();
    let ext = base.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if tflite::has_identifier(src) {
        return Some(Identified::Valid(GraphFormat::Tflite));
    }
    if matches!(ext, "tflite" | "lite") {
        return Some(Identified::Claimed(GraphFormat::Tflite));
    }
    if ext == "pbtxt" {
        return looks_like_text_graph(src).then_some(Identified::Claimed(GraphFormat::TextGraph));
    }
    if ext == "pb" {
        if TF_SIDE_FILES.contains(&base.as_str()) {
            return None;
        }
        let order: [GraphFormat; 3] = if base == "saved_model.pb" {
            [
                GraphFormat::SavedModel,
                GraphFormat::GraphDef,
                GraphFormat::Onnx,
            ]
        } else {
            [
                GraphFormat::GraphDef,
                GraphFormat::SavedModel,
                GraphFormat::Onnx,
            ]
        };
        for format in order {
            if validates(format, src) {
                return Some(Identified::Valid(format));
            }
        }
        return Some(Identified::Claimed(order[0]));
    }
    if onnx::looks_like_onnx(src).is_ok() {
        return Some(Identified::Valid(GraphFormat::Onnx));
    }
    if ext == "onnx" {
        return Some(Identified::Claimed(GraphFormat::Onnx));
    }
    None
}

fn validates<S: Source + ?Sized>(format: GraphFormat, src: &mut S) -> bool {
    let limits = tensorflow::Limits::default();
    match format {
        GraphFormat::GraphDef => tensorflow::parse_graphdef(src, &limits).error.is_none(),
        GraphFormat::SavedModel => tensorflow::parse_saved_model(src, &limits).error.is_none(),
        GraphFormat::Onnx => onnx::looks_like_onnx(src).is_ok(),
        _ => false,
    }
}

/// A text graph names nodes or meta graphs near its start.
fn looks_like_text_graph<S: Source + ?Sized>(src: &mut S) -> bool {
    let head = src.bytes_at(0, 64 * 1024).unwrap_or(&[]);
    let text = String::from_utf8_lossy(head);
    text.contains("node {") || text.contains("meta_graphs {") || text.contains("node_def {")
}

/// Checks one graph file. `folder` is the model's folder on disk (external data is resolved
/// there); `None` for content without one (archive members, bytes).
pub fn check<S: Source + ?Sized>(
    identified: Identified,
    src: &mut S,
    location: &Location,
    folder: Option<&Path>,
) -> GraphReport {
    let (format, claimed_only) = match identified {
        Identified::Valid(f) => (f, false),
        Identified::Claimed(f) => (f, true),
    };
    let mut report = GraphReport {
        format: format.name(),
        fully_inspected: true,
        ..GraphReport::default()
    };
    match format {
        GraphFormat::Onnx => {
            if claimed_only && let Err(e) = onnx::looks_like_onnx(src) {
                report.incomplete(graph_malformed::finding(
                    location.clone(),
                    "ONNX",
                    e.to_string(),
                ));
                return report;
            }
            let model = onnx::parse(src, &onnx::Limits::default());
            check_onnx(&model, location, folder, &mut report);
        }
        GraphFormat::SavedModel | GraphFormat::GraphDef => {
            let limits = tensorflow::Limits::default();
            let graph = if format == GraphFormat::SavedModel {
                tensorflow::parse_saved_model(src, &limits)
            } else {
                tensorflow::parse_graphdef(src, &limits)
            };
            check_tensorflow(&graph, location, &mut report);
        }
        GraphFormat::Tflite => match tflite::parse(src, &tflite::Limits::default()) {
            Ok(model) => check_tflite(&model, location, &mut report),
            Err(e) => report.incomplete(graph_malformed::finding(
                location.clone(),
                "TFLite",
                e.to_string(),
            )),
        },
        GraphFormat::TextGraph => check_text_graph(src, location, &mut report),
    }
    report
}

impl GraphReport {
    fn incomplete(&mut self, finding: Finding) {
        self.fully_inspected = false;
        self.findings.push(finding);
    }

    fn meta(&mut self, key: &str, value: impl ToString) {
        self.metadata.insert(key.to_string(), value.to_string());
    }
}

// ---- ONNX ---------------------------------------------------------------------------------------

/// Domains whose operators ship with ONNX or ONNX Runtime itself.
const ONNX_KNOWN_DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.training",
    "ai.onnx.preview.training",
    "com.microsoft",
    "com.microsoft.nchwc",
    "com.microsoft.experimental",
    "com.ms.internal.nhwc",
    "org.pytorch.aten",
];

/// The native kernels of onnxruntime-extensions (domain `ai.onnx.contrib`); other operators in
/// that domain are Python-registered PyOps.
const ONNX_CONTRIB_NATIVE: &[&str] = &[
    "AudioDecoder",
    "AzureAudioToText",
    "AzureTextToText",
    "AzureTritonInvoker",
    "BasicTokenizer",
    "BertTokenizer",
    "BertTokenizerDecoder",
    "BlingFireSentenceBreaker",
    "BpeDecoder",
    "CLIPTokenizer",
    "ConvertRGBToGray",
    "DecodeImage",
    "DrawBoundingBoxes",
    "EncodeImage",
    "GaussianBlur",
    "GPT2Tokenizer",
    "HfBertTokenizer",
    "HfJsonTokenizer",
    "ImageDecoder",
    "Inverse",
    "MaskedFill",
    "RaggedTensorToDense",
    "RaggedTensorToSparse",
    "RobertaTokenizer",
    "SegmentExtraction",
    "SegmentSum",
    "SentencepieceDecoder",
    "SentencepieceTokenizer",
    "SpmTokenizer",
    "StftNorm",
    "StringConcat",
    "StringECMARegexReplace",
    "StringECMARegexSplitWithOffsets",
    "StringEqual",
    "StringJoin",
    "StringLength",
    "StringLower",
    "StringMapping",
    "StringRaggedTensorToDense",
    "StringRegexReplace",
    "StringRegexSplitWithOffsets",
    "StringSplit",
    "StringToHashBucket",
    "StringToHashBucketFast",
    "StringToVector",
    "StringUpper",
    "TrieDetokenizer",
    "TrieTokenizer",
    "VectorToString",
    "WordpieceTokenizer",
];

fn check_onnx(
    model: &OnnxModel,
    location: &Location,
    folder: Option<&Path>,
    report: &mut GraphReport,
) {
    report.meta("framework", "onnx");
    if let Some(v) = model.ir_version {
        report.meta("ir_version", v);
    }
    if let Some(p) = &model.producer_name {
        report.meta("producer", p);
    }
    if let Some(v) = &model.producer_version {
        report.meta("producer_version", v);
    }
    if let Some(n) = model.graph_name.as_ref().filter(|n| !n.is_empty()) {
        report.meta("name", n);
    }
    if let Some(v) = model.opsets.get("").or_else(|| model.opsets.get("ai.onnx")) {
        report.meta("opset", v);
    }
    if !model.opsets.is_empty() {
        let all: Vec<String> = model
            .opsets
            .iter()
            .map(|(d, v)| format!("{}={v}", if d.is_empty() { "ai.onnx" } else { d }))
            .collect();
        report.meta("opset_import", all.join(","));
    }
    report.meta("nodes", model.node_count);
    report.meta("tensors", model.initializer_count);
    if model.external_count > 0 {
        report.meta("external_data_tensors", model.external_count);
    }
    if let Some(e) = &model.error {
        report.incomplete(graph_malformed::finding(
            location.clone(),
            "ONNX",
            e.to_string(),
        ));
    }
    check_external_data(model, location, folder, report);
    for ((domain, op_type), usage) in &model.ops {
        if ONNX_KNOWN_DOMAINS.contains(&domain.as_str())
            || model
                .functions
                .iter()
                .any(|(d, n)| d == domain && n == op_type)
        {
            continue;
        }
        let python = domain == "ai.onnx.contrib";
        if python && ONNX_CONTRIB_NATIVE.contains(&op_type.as_str()) {
            continue;
        }
        report.findings.push(onnx_custom_domain::finding(
            location.clone(),
            domain,
            op_type,
            &usage.first_node,
            usage.count,
            python,
        ));
    }
}

/// One finding per distinct external location; the file system is asked once per location
/// (metadata only).
fn check_external_data(
    model: &OnnxModel,
    location: &Location,
    folder: Option<&Path>,
    report: &mut GraphReport,
) {
    let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
    let canonical_folder = folder.and_then(|f| std::fs::canonicalize(f).ok());
    for tensor in model.external.iter().filter(|t| t.marked_external) {
        let tensor_name = if tensor.tensor.is_empty() {
            "<unnamed>"
        } else {
            &tensor.tensor
        };
        let Some(path) = tensor.location.as_deref() else {
            report.findings.push(onnx_external_data_missing::finding(
                location.clone(),
                tensor_name,
                "",
                "has no `location` entry (onnx.load fails)",
            ));
            continue;
        };
        if seen.insert(path, ()).is_some() {
            continue;
        }
        if let Some(why) = escape_reason(path) {
            report.findings.push(onnx_external_data_escape::finding(
                location.clone(),
                tensor_name,
                path,
                why,
                &tensor.declared_in,
            ));
            continue;
        }
        let (Some(folder), Some(canonical_folder)) = (folder, canonical_folder.as_ref()) else {
            report.findings.push(onnx_external_data_missing::finding(
                location.clone(),
                tensor_name,
                path,
                "cannot be checked: the model was not scanned from a folder",
            ));
            continue;
        };
        let target = folder.join(path);
        let problem = match std::fs::symlink_metadata(&target) {
            Err(_) => Some("does not exist next to the model (onnx.load fails)".to_string()),
            Ok(_) => match std::fs::canonicalize(&target) {
                Err(_) => Some("cannot be resolved (a dangling link?)".to_string()),
                Ok(real) if !real.starts_with(canonical_folder) => {
                    report.findings.push(onnx_external_data_escape::finding(
                        location.clone(),
                        tensor_name,
                        path,
                        &format!("symbolic link to `{}`", real.display()),
                        &tensor.declared_in,
                    ));
                    None
                }
                Ok(real) => match std::fs::metadata(&real) {
                    Ok(meta) if !meta.is_file() => Some("is not a regular file".to_string()),
                    Ok(meta) => {
                        let need = tensor
                            .offset
                            .unwrap_or(0)
                            .saturating_add(tensor.length.unwrap_or(0));
                        (need > meta.len()).then(|| {
                            format!(
                                "is {} bytes, shorter than offset + length = {need} (onnx.load fails)",
                                meta.len()
                            )
                        })
                    }
                    Err(e) => Some(format!("cannot be read: {e}")),
                },
            },
        };
        if let Some(problem) = problem {
            report.findings.push(onnx_external_data_missing::finding(
                location.clone(),
                tensor_name,
                path,
                &problem,
            ));
        }
    }
}

// ---- TensorFlow ---------------------------------------------------------------------------------

fn check_tensorflow(graph: &TfGraph, location: &Location, report: &mut GraphReport) {
    let format = match graph.kind {
        TfKind::SavedModel => "TensorFlow SavedModel",
        TfKind::GraphDef => "TensorFlow GraphDef",
    };
    report.meta("framework", "tensorflow");
    if let Some(v) = &graph.tensorflow_version {
        report.meta("framework_version", v);
    }
    if !graph.tags.is_empty() {
        report.meta("tags", graph.tags.join(","));
    }
    if let Some(p) = graph.producer {
        report.meta("graph_producer", p);
    }
    report.meta("nodes", graph.node_count);
    report.meta("functions", graph.function_count);
    if graph.kind == TfKind::SavedModel {
        report.meta("meta_graphs", graph.meta_graph_count);
    }
    if let Some(e) = &graph.error {
        report.incomplete(graph_malformed::finding(
            location.clone(),
            format,
            e.to_string(),
        ));
    }
    for scope in &graph.scopes {
        let index = scope.index();
        for node in &scope.nodes {
            if let Some(finding) = check_tf_node(scope, &index, node, location) {
                report.findings.push(finding);
            }
        }
    }
}

fn check_tf_node(
    scope: &tensorflow::Scope,
    index: &tensorflow::NodeIndex<'_>,
    node: &tensorflow::TfNode,
    location: &Location,
) -> Option<Finding> {
    let kind = ops::classify(&node.op)?;
    let attr = |key: &'static str| {
        node.string_attrs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let (from, always) = match kind {
        OpKind::Python => {
            return Some(tensorflow_python_op::finding(
                location.clone(),
                &scope.name,
                &node.name,
                &node.op,
                attr("token").next(),
            ));
        }
        OpKind::Always(from) => (from, true),
        OpKind::IfLiteralEscapes(from) => (from, false),
    };
    let literals: Vec<&str> = match from {
        PathFrom::Inputs(positions) => positions
            .iter()
            .filter_map(|i| node.inputs.get(*i))
            .filter_map(|input| tensorflow::Scope::literal_in(index, input))
            .collect(),
        PathFrom::Attr(key) => {
            let values: Vec<&str> = attr(key)
                .filter(|v| ops::attr_touches_host(&node.op, v))
                .collect();
            if values.is_empty() {
                // `PrintV2` to stderr, a proto op with its descriptors built in: no host access.
                return None;
            }
            values
        }
        PathFrom::Nothing => Vec::new(),
    };
    let escaping = literals
        .iter()
        .find_map(|p| tensorflow_escape_reason(p).map(|why| (*p, why)));
    match (escaping, always) {
        (Some((path, why)), _) => Some(tensorflow_file_access::finding(
            location.clone(),
            &scope.name,
            &node.name,
            &node.op,
            Some(path),
            Some(why),
        )),
        (None, true) => Some(tensorflow_file_access::finding(
            location.clone(),
            &scope.name,
            &node.name,
            &node.op,
            literals.first().copied(),
            None,
        )),
        (None, false) => None,
    }
}

// ---- TFLite -------------------------------------------------------------------------------------

fn check_tflite(model: &tflite::TfliteModel, location: &Location, report: &mut GraphReport) {
    report.meta("framework", "tflite");
    report.meta("schema_version", model.version);
    if let Some(d) = model.description.as_ref().filter(|d| !d.is_empty()) {
        report.meta("description", d);
    }
    report.meta("subgraphs", model.subgraph_count);
    report.meta("operators", model.operator_count);
    report.meta("tensors", model.tensor_count);
    report.meta("operator_codes", model.operator_codes.len());
    for (index, code) in model.operator_codes.iter().enumerate() {
        if !code.is_custom() {
            continue;
        }
        let name = code.custom_code.as_deref().unwrap_or("");
        if ops::TFLITE_BUILTIN_CUSTOM_OPS.contains(&name) {
            continue;
        }
        let tf_op = name
            .strip_prefix("Flex")
            .filter(|op| ops::classify(op).is_some());
        report.findings.push(match tf_op {
            Some(op) => tflite_flex_dangerous_op::finding(location.clone(), name, op, index),
            None => tflite_custom_op::finding(location.clone(), name, index),
        });
    }
}

// ---- text graphs --------------------------------------------------------------------------------

/// Largest text graph scanned lexically.
const TEXT_GRAPH_MAX: u64 = 256 * 1024 * 1024;

fn check_text_graph<S: Source + ?Sized>(
    src: &mut S,
    location: &Location,
    report: &mut GraphReport,
) {
    report.meta("framework", "tensorflow");
    report.fully_inspected = false;
    let mut dangerous: Vec<String> = Vec::new();
    let mut python = false;
    let len = src.len().min(TEXT_GRAPH_MAX);
    let text = match src.read_vec(0, usize::try_from(len).unwrap_or(0)) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    };
    let mut rest = text.as_str();
    while let Some(at) = rest.find("op:") {
        rest = &rest[at + 3..];
        let trimmed = rest.trim_start();
        if let Some(quoted) = trimmed
            .strip_prefix('"')
            .or_else(|| trimmed.strip_prefix('\''))
        {
            let name: String = quoted
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if let Some(kind) = ops::classify(&name) {
                python |= kind == OpKind::Python;
                if !dangerous.contains(&name) && dangerous.len() < 64 {
                    dangerous.push(name);
                }
            }
        }
    }
    report.findings.push(tensorflow_text_graph::finding(
        location.clone(),
        &dangerous,
        python,
    ));
}
