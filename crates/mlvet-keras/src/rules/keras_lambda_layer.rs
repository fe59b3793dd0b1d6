use mlvet_core::{Confidence, Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "keras-lambda-layer",
    category: "keras",
    summary: "A Keras config carries marshalled Python bytecode (a Lambda layer or `__lambda__` function)",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Finds Python bytecode serialised in a Keras model config: the `function` of a `Lambda` layer
(`{"class_name": "__lambda__", "config": {"code": ...}}` in Keras 3, a base64 string or
`[code, defaults, closure]` with `function_type: "lambda"` in Keras 2 / tf.keras configs) and any
other `__lambda__` object (output shapes, masks). The base64 `marshal` data is decoded, never
executed, and the names and string constants of the code object are listed as evidence. When
those name a dangerous callable (`os.system`, `__import__`, `eval`, `subprocess.Popen`... as
classified by the pickle policy) the finding is malicious.

## Why is this bad?
Loading the model rebuilds the function from bytecode (`marshal.loads` + `types.FunctionType`)
and runs it on the first call, i.e. while the model is built. Keras 3 refuses this in
`safe_mode` (the default) for `.keras` files, but legacy HDF5 models were loaded without the
check: tf.keras before 2.13 (CVE-2024-3660) and Keras 3 before 3.11.3 (CVE-2025-9905) run the
bytecode of a `.h5` Lambda layer even with `safe_mode=True`, and any caller that passes
`safe_mode=False` runs it everywhere.

## Example
```json
{"class_name": "Lambda", "config": {"function": {"class_name": "__lambda__",
  "config": {"code": "4wEAAAAAAAAA..."}}}}
```

## Remediation
Replace Lambda layers with registered custom layers whose code you ship and review. Load
untrusted models only with `safe_mode=True` and a current Keras; never disable safe mode for a
file you did not produce.

## References
- CVE-2024-3660 (tf.keras arbitrary code injection through Lambda layers)
- CVE-2025-9905 (Keras `safe_mode` ignored for legacy `.h5` Lambda layers)
- https://github.com/keras-team/keras/security/advisories
"#,
};

pub fn finding(
    location: Location,
    layer: &str,
    dangerous: Option<&str>,
    evidence: &[(&str, String)],
) -> Finding {
    let message = match dangerous {
        Some(callable) => format!(
            "Lambda `{layer}` carries Python bytecode that calls `{callable}` when the model is loaded"
        ),
        None => {
            format!("Lambda `{layer}` carries Python bytecode that runs when the model is loaded")
        }
    };
    let mut finding = Finding::new(&RULE, location, message);
    if dangerous.is_some() {
        finding = finding
            .verdict(Verdict::Malicious)
            .severity(Severity::Critical)
            .confidence(Confidence::High);
    }
    for (label, value) in evidence {
        finding = finding.evidence(*label, value.clone());
    }
    finding.remediation("Do not load this model with safe_mode disabled or with a legacy loader; rebuild the layer as reviewed code.")
}
