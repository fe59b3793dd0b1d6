use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "tensorflow-text-graph",
    category: "graph",
    summary: "A TensorFlow text-format graph (`.pbtxt`) is not fully parsed; dangerous op names found in it are reported",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
mlvet does not implement protobuf's text format. For a `.pbtxt` file it looks for `op: "..."`
entries lexically, reports the ops that `tensorflow-python-op` and `tensorflow-file-access`
describe (the Python-calling ops as malicious), and marks the file as not fully inspected, so it
is never reported safe.

## Why is this bad?
`tf.saved_model.load` and `tf.io.gfile`-based tooling accept `saved_model.pbtxt` and text
`GraphDef`s; the same ops run from them as from binary graphs, and paths cannot be resolved
without a full parse.

## Remediation
Convert the graph to binary (`saved_model.pb`) with TensorFlow in a sandbox and scan that, or
review the text by hand.
"#,
};

/// The finding for a text graph, with the dangerous ops found lexically.
pub fn finding(location: Location, dangerous: &[String], python: bool) -> Finding {
    let message = if dangerous.is_empty() {
        "text-format TensorFlow graph: not parsed, not verified".to_string()
    } else {
        format!(
            "text-format TensorFlow graph (not fully parsed) names dangerous ops: {}",
            dangerous.join(", ")
        )
    };
    let mut finding = Finding::new(&RULE, location, message);
    for op in dangerous {
        finding = finding.evidence("op", op);
    }
    if python {
        finding = finding.verdict(Verdict::Malicious).severity(Severity::High);
    }
    finding.remediation("Convert to a binary graph in a sandbox and scan it, or review it by hand.")
}
