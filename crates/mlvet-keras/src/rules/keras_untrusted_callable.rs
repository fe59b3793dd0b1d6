use mlvet_core::{Confidence, Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "keras-untrusted-callable",
    category: "keras",
    summary: "A Keras config names a callable outside Keras (`module` + `class_name`) that the loader imports",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Checks every serialised object of a Keras config (layers, nested models, wrappers,
`compile_config` losses/metrics/optimizers, initializers, regularizers, constraints, activation
functions...) for the callable it makes the loader resolve: `module` + `class_name`, or
`module` + the function name for `"class_name": "function"`. Keras classes (`keras.*`,
`keras_hub.*`, `tf.keras`...) are fine. A callable the pickle policy denies (`os.system`,
`subprocess.Popen`, `builtins.exec`...) or a Keras helper with side effects
(`keras.utils.get_file`, `keras.models.load_model`, `enable_unsafe_deserialization`) is
malicious; any other module outside Keras is suspicious, since the loader imports it.

## Why is this bad?
Keras before 3.9 imported whatever module a config named and called the attribute with the
config as arguments, even in `safe_mode` (CVE-2025-1550): `{"module": "os", "class_name":
"system"}` runs a shell command on `load_model`. Later versions restrict imports to Keras
modules, but Keras's own helpers are gadgets: `keras.utils.get_file` downloads attacker files
(CVE-2025-8747, Keras 3.0 to 3.10), and loaders re-entering `load_model` escape `safe_mode`.

## Example
```json
{"module": "subprocess", "class_name": "Popen", "config": {"args": ["sh", "-c", "..."]}}
```

## Remediation
Do not load the model. Upgrade Keras (3.11.3 or later) and keep `safe_mode=True`; legitimate
models only name Keras classes or custom objects you register yourself.

## References
- CVE-2025-1550 (Keras `Model.load_model` arbitrary code execution despite `safe_mode`)
- CVE-2025-8747 (`safe_mode` bypass through `keras.utils.get_file`)
- https://jfrog.com/blog/keras-safe_mode-bypass-vulnerability/
"#,
};

pub fn finding(location: Location, callable: &str, dangerous: Option<&str>) -> Finding {
    match dangerous {
        Some(reason) => Finding::new(
            &RULE,
            location,
            format!("config makes the Keras loader import and call `{callable}`"),
        )
        .verdict(Verdict::Malicious)
        .severity(Severity::Critical)
        .confidence(Confidence::High)
        .evidence("callable", callable)
        .evidence("why", reason)
        .remediation(
            "Do not load this model; it abuses Keras deserialization (CVE-2025-1550 class).",
        ),
        None => Finding::new(
            &RULE,
            location,
            format!("config makes the Keras loader import `{callable}` from outside Keras"),
        )
        .evidence("callable", callable)
        .remediation("Check that the module is a library you trust and have installed on purpose."),
    }
}
