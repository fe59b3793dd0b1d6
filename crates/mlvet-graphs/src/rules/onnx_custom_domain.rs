use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "onnx-custom-domain",
    category: "graph",
    summary: "An ONNX node uses an operator from a custom domain: it runs only with native code (or Python) supplied outside the model",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Lists the operator domains of every node (main graph, subgraphs, functions, training graphs).
Standard domains (`""`/`ai.onnx`, `ai.onnx.ml`, `ai.onnx.training`,
`ai.onnx.preview.training`) and the domains of ONNX Runtime's built-in contrib kernels
(`com.microsoft`, `com.microsoft.nchwc`, `com.microsoft.experimental`, `com.ms.internal.nhwc`,
`org.pytorch.aten`) are expected. Operators of a model-local function (`ModelProto.functions`)
are expanded from that function and are not custom. Anything else is reported once per
operator, naming its domain, type, first node and use count.

`ai.onnx.contrib` (onnxruntime-extensions) is expected only for its native kernels (tokenizers,
string, image and audio operators). Other operators in that domain are the ones users register
from Python with `onnxruntime_extensions.onnx_op` (PyOp): loading the model runs whatever Python
function the loading process registered under that name, so they are reported.

## Why is this bad?
A custom operator has no implementation in ONNX or ONNX Runtime: the model only loads after
`SessionOptions.register_custom_ops_library(path)` (a native shared library) or a Python
registration. Models that require one are how attackers get users to load native code ("install
this library to run the model"), and the operator runs with the process's full rights. mlvet
cannot see that code; it says which operator needs it.

## Example
A node `op_type: "Exec" domain: "com.attacker"`.

## Remediation
Find out which library implements the domain, where it comes from, and review it before
registering it. Prefer models that use only standard operators.
"#,
};

/// A finding for one custom operator.
pub fn finding(
    location: Location,
    domain: &str,
    op_type: &str,
    first_node: &str,
    count: u64,
    python: bool,
) -> Finding {
    let what = if python {
        "an onnxruntime-extensions operator that is not a built-in kernel (a Python-registered PyOp)"
    } else {
        "a custom operator domain"
    };
    Finding::new(
        &RULE,
        location,
        format!(
            "operator `{domain}::{op_type}` ({what}) used by node `{first_node}` ({count} use(s))"
        ),
    )
    .evidence("domain", domain)
    .evidence("op_type", op_type)
    .evidence("node", first_node)
    .evidence("uses", count.to_string())
    .remediation("Review the library that implements this operator domain before registering it.")
}
