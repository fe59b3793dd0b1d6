use mlvet_core::{RuleMeta, Severity, Verdict};

use super::Hit;
use crate::analysis::{Call, Literal};

pub static RULE: RuleMeta = RuleMeta {
    id: "code-keras-unsafe-deserialization",
    category: "code",
    summary: "Python code loads a Keras model with `safe_mode=False` or calls `enable_unsafe_deserialization()`",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Finds Keras `load_model`, `load_weights`-free deserialisation entry points (`keras.models.load_model`,
`keras.saving.load_model`, `tf.keras.models.load_model`, `keras.saving.deserialize_keras_object`,
`keras.models.model_from_json`, `keras.layers.deserialize`) called with `safe_mode=False`, and calls
to `keras.config.enable_unsafe_deserialization()` (`keras.saving`/`keras.src` spellings too).

## Why is this bad?
Keras 3 refuses to deserialise `Lambda` layers (marshalled Python bytecode) while `safe_mode` is on
(CVE-2024-3660). `safe_mode=False`, or enabling unsafe deserialisation globally, lets a `.keras`
file run the code stored in it when it is loaded.

## Example
```python
model = keras.models.load_model("model.keras", safe_mode=False)  # reported
keras.config.enable_unsafe_deserialization()                      # reported
```

## Remediation
Keep `safe_mode=True` (the default) and rewrite `Lambda` layers as registered custom layers whose
code lives in your project. Upgrade Keras to 3.9 or later (CVE-2025-1550 bypassed `safe_mode`
through `config.json` module names before that).

## References
- [keras.saving.load_model documentation](https://keras.io/api/models/model_saving_apis/model_saving_and_loading/)
- [CVE-2024-3660](https://nvd.nist.gov/vuln/detail/CVE-2024-3660)
"#,
};

const LOADERS: &[&str] = &[
    "load_model",
    "deserialize_keras_object",
    "model_from_json",
    "model_from_config",
    "deserialize",
];

pub(crate) fn check(call: &Call, hits: &mut Vec<Hit>) {
    let keras = is_keras(&call.name);
    if keras && call.method() == "enable_unsafe_deserialization" {
        hits.push(
            Hit::at_call(
                &RULE,
                call,
                format!("`{}` turns Keras safe mode off for every later load in the process", call.written),
            )
            .remediation("Remove the call; keep safe_mode on and register custom layers instead of Lambda layers."),
        );
        return;
    }
    if !LOADERS.contains(&call.method()) {
        return;
    }
    // `load_model` is a common name: require Keras in the resolved name, or the keyword only
    // Keras loaders take together with a literal False.
    if !(keras || call.method() == "load_model" && !call.resolved) {
        return;
    }
    if call.keyword("safe_mode") == Some(&Literal::Bool(false)) {
        hits.push(
            Hit::at_call(
                &RULE,
                call,
                format!("`{}` with safe_mode=False runs the Lambda-layer bytecode stored in the model file", call.written),
            )
            .evidence("safe_mode", "False")
            .remediation("Keep safe_mode=True; rewrite Lambda layers as registered custom layers."),
        );
    }
}

fn is_keras(name: &str) -> bool {
    name.starts_with("keras.")
        || name.starts_with("tensorflow.keras.")
        || name.starts_with("tf_keras.")
}
