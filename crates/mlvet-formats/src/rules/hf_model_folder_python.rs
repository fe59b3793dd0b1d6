use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "hf-model-folder-python",
    category: "model-folder",
    summary: "A Python file shipped inside a model folder (runs with trust_remote_code=True)",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports `*.py` files that sit in a model folder: a folder with a `config.json` that declares
`model_type` or `architectures`, or one that holds model weights (`*.safetensors`, `*.bin`, `*.pt`,
`*.ckpt`, `*.gguf`, `*.onnx`, `*.h5`, `*.msgpack`...), and the subfolders of a Hugging Face cache
snapshot.

To stay quiet on source trees, a folder with weights but no transformers `config.json` is only
considered when it holds no Python packaging (`setup.py`, `pyproject.toml`, `__init__.py`): a
repository checkout with a test checkpoint is not a model folder. Files referenced by `auto_map`
are also reported by `hf-remote-code`.

## Why is this bad?
transformers imports Python files from the model repository when a model is loaded with
`trust_remote_code=True`; other tools (`torch.hub`, custom loaders) import them too. Python in a
model folder is code you run when you load the model.

## Remediation
Review the file. Load the model without `trust_remote_code` if a built-in class supports it.
"#,
};

pub fn finding(location: Location, message: String) -> Finding {
    Finding::new(&RULE, location, message)
}
