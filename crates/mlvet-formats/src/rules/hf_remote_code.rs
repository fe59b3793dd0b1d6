use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "hf-remote-code",
    category: "model-folder",
    summary: "A Hugging Face config maps model classes to Python code that runs with trust_remote_code=True",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reads `config.json` (and `tokenizer_config.json`, `preprocessor_config.json`,
`processor_config.json`) in model folders and reports every `auto_map` entry and every
`custom_pipelines` entry, naming the `module.Class` and the `*.py` file it loads. An entry of the form
`org/repo--module.Class` loads the code from **another repository**: it is reported by
`hf-cross-repo-code` instead (high: the model's revision pin does not pin that code).

## Why is this bad?
With `trust_remote_code=True`, `AutoModel.from_pretrained` (and the tokenizer, processor and pipeline
factories) imports the named module from the repository and runs it: arbitrary Python, with the
user's privileges, on every load. Code taken from another repository is worse: it is not pinned by
the revision of the model you reviewed, and whoever controls the other repository changes what runs.

## Example
`"auto_map": {"AutoModel": "modeling_custom.CustomModel"}` runs `modeling_custom.py`;
`"auto_map": {"AutoModel": "other-org/code--modeling.Model"}` runs code from `other-org/code`.

## Remediation
Load without `trust_remote_code` (use a model class built into transformers), or review the named
`*.py` files and pin `revision=` to the commit you reviewed (and `code_revision=` for code from
another repository).

## References
- transformers documentation, "Customizing models" / "Using a model with custom code"
- <https://github.com/huggingface/transformers/blob/main/docs/source/en/custom_models.md>
"#,
};

pub fn finding(location: Location, message: String, other_repository: bool) -> Finding {
    let finding = Finding::new(&RULE, location, message);
    if other_repository {
        finding.severity(Severity::High)
    } else {
        finding
    }
}
