use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "keras-embedded-torch-module",
    category: "keras",
    summary: "A Keras `TorchModuleWrapper` embeds a `torch.save` payload that loading unpickles",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Finds `TorchModuleWrapper` layers (Keras 3, torch backend): their config holds a whole
`torch.nn.Module` serialised with `torch.save` and base64-encoded. mlvet decodes it (bounded) and
scans it like any PyTorch file; findings inside point at the config entry.

## Why is this bad?
`TorchModuleWrapper.from_config` calls `torch.load(..., weights_only=False)`, i.e. a full
unpickle, whenever safe mode is disabled (`safe_mode=False`,
`keras.config.enable_unsafe_deserialization()`), and in Keras versions before the check was added
at all. A module pickle can run arbitrary code; even a benign one means the model only loads with
safe mode off.

## Remediation
Prefer native Keras layers or ship the torch module's code and weights (safetensors) separately.
Never disable safe mode for a model you did not produce.
"#,
};

pub fn finding(location: Location, layer: &str, bytes: usize) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("TorchModuleWrapper `{layer}` embeds a {bytes}-byte torch.save payload (torch.load with weights_only=False when safe mode is off)"),
    )
    .evidence("layer", layer)
    .evidence("payload_bytes", bytes.to_string())
}
