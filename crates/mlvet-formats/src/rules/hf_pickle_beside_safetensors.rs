use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "hf-pickle-beside-safetensors",
    category: "model-folder",
    summary: "Pickle-based weights next to safetensors weights of the same model: load the safetensors",
    default_severity: Severity::Info,
    verdict: Verdict::Safe,
    docs: r#"
## What it does
Reports pickle-based weights (`pytorch_model.bin`, `*.pt`, `*.pth`, `*.ckpt`, `*.pkl`) in a folder
that also holds `*.safetensors` weights.

## Why is this bad?
The two files should hold the same tensors; only the pickle can run code when loaded. Some loaders
and older library versions prefer the pickle when both are present.

## Remediation
Load with `use_safetensors=True` (transformers, diffusers) and delete or do not download the pickle
(`allow_patterns=["*.safetensors", "*.json"]`).
"#,
};

pub fn finding(location: Location, safetensors: &str) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("pickle-based weights next to safetensors weights ({safetensors}): load those with use_safetensors=True"),
    )
    .evidence("safetensors", safetensors)
    .remediation("Load with use_safetensors=True and do not download the pickle weights.")
}
