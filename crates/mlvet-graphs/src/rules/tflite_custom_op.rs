use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "tflite-custom-op",
    category: "graph",
    summary: "A TFLite model declares a custom operator (or a Flex op running a TensorFlow kernel) that needs code from outside the model",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reads `Model.operator_codes` of a `.tflite` FlatBuffer and reports each code whose builtin code
(the larger of `builtin_code` and `deprecated_builtin_code`, as the runtime computes it) is
`CUSTOM`, naming its `custom_code`. The custom operators the standard `BuiltinOpResolver`
registers itself (`TFLite_Detection_PostProcess`, `Mfcc`, `AudioSpectrogram`) are not reported.
`Flex*` codes (select TensorFlow ops, from `SELECT_TF_OPS` conversion) run the TensorFlow kernel
named after the prefix; the dangerous ones are reported by `tflite-flex-dangerous-op`, the
others here.

## Why is this bad?
The interpreter refuses a model whose custom operators are not registered; users are told to link
or load the implementing library (a delegate, a `.so`, the Flex delegate with the full TensorFlow
kernel set). That native code runs with the app's rights and is outside the model mlvet can see.

## Example
An operator code `{builtin_code: CUSTOM, custom_code: "MyOp"}`.

## Remediation
Find the library implementing the operator and review it before registering it; prefer models
made of builtin operators.
"#,
};

/// A finding for one custom operator code.
pub fn finding(location: Location, custom_code: &str, index: usize) -> Finding {
    let flex = custom_code.strip_prefix("Flex");
    let message = match flex {
        Some(op) => format!(
            "custom operator `{custom_code}` runs the TensorFlow kernel `{op}` (Flex delegate)"
        ),
        None => format!(
            "custom operator `{custom_code}` needs an implementation from outside the model"
        ),
    };
    Finding::new(&RULE, location, message)
        .evidence("custom_code", custom_code)
        .evidence("operator code index", index.to_string())
        .remediation("Review the library implementing this operator before registering it.")
}
