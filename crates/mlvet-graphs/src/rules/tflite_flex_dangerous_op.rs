use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "tflite-flex-dangerous-op",
    category: "graph",
    summary: "A TFLite model runs a file, network or Python TensorFlow op through the Flex delegate (`FlexReadFile`, `FlexWriteFile`, `FlexPyFunc`...)",
    default_severity: Severity::High,
    verdict: Verdict::Malicious,
    docs: r#"
## What it does
Reports `Flex*` custom operator codes whose TensorFlow op is one `tensorflow-python-op` or
`tensorflow-file-access` describe: `FlexReadFile`, `FlexWriteFile`, `FlexMatchingFiles`,
`FlexPrintV2`, `FlexSaveV2`, `FlexPyFunc`, `FlexEagerPyFunc`...

## Why is this bad?
A model converted with `SELECT_TF_OPS` runs these TensorFlow kernels through the Flex delegate
(linked into the TensorFlow Lite Python wheel and into apps that add `tensorflow-lite-select-tf-ops`).
The paths they read and write are inputs of the graph, so mlvet cannot check them: a mobile or
edge model has no reason to read or write files by itself.

## Example
A model converted from a `tf.function` calling `tf.io.read_file`: operator code
`{builtin_code: CUSTOM, custom_code: "FlexReadFile"}`.

## Remediation
Do not run the model with the Flex delegate; re-convert it without file or Python ops.
"#,
};

/// A finding for one dangerous Flex op.
pub fn finding(location: Location, custom_code: &str, tf_op: &str, index: usize) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("Flex operator `{custom_code}` runs the TensorFlow op `{tf_op}` (file, network or Python access)"),
    )
    .evidence("custom_code", custom_code)
    .evidence("op", tf_op)
    .evidence("operator code index", index.to_string())
    .remediation("Do not run the model with the Flex delegate.")
}
