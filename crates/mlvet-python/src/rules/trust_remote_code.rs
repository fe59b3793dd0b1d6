use mlvet_core::{RuleMeta, Severity, Verdict};

use super::{Hit, hub, keyword_true};
use crate::analysis::{Call, SourceAnalysis};

pub static RULE: RuleMeta = RuleMeta {
    id: "code-trust-remote-code",
    category: "code",
    summary: "Python code passes `trust_remote_code=True`: the model repository's Python runs on load",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Finds every call with `trust_remote_code=True`: `AutoModel*/AutoTokenizer/AutoConfig/AutoProcessor
.from_pretrained`, `pipeline(...)`, `SentenceTransformer(...)`, `vllm.LLM(...)` and any other
loader that takes the flag (calls to `datasets.load_dataset` are graded by `dataset-script-exec`,
which knows the installed `datasets` version). A call that also pins `revision` to a full 40-hex
commit is graded medium: the code that runs is the code at that commit.

## Why is this bad?
With the flag, transformers (and the libraries built on it) imports the `*.py` files the
repository's `config.json` `auto_map` names and runs them, with your privileges, on every load.
Anyone who can push to the repository, or re-register a deleted name, decides what runs;
without a pinned `revision` the next push changes it silently.

## Example
```python
model = AutoModelForCausalLM.from_pretrained("org/model", trust_remote_code=True)  # reported (high)
model = AutoModelForCausalLM.from_pretrained(
    "org/model", trust_remote_code=True,
    revision="0123456789abcdef0123456789abcdef01234567")                            # reported (medium)
```

## Remediation
Prefer a model class that transformers ships (most architectures are upstream now). Otherwise
review the repository's Python at one commit, pin `revision=` (and `code_revision=`) to that
commit, and suppress the finding inline with the review reference.

## References
- [transformers: using custom models (trust_remote_code)](https://huggingface.co/docs/transformers/en/custom_models)
- [Hugging Face Hub security: malicious code in repositories](https://huggingface.co/docs/hub/en/security)
"#,
};

pub(crate) fn check(call: &Call, analysis: &SourceAnalysis, hits: &mut Vec<Hit>) {
    if !keyword_true(call, "trust_remote_code") || hub::is_hub_call(call, analysis, "load_dataset")
    {
        return;
    }
    let repository = call
        .argument("pretrained_model_name_or_path", 0)
        .or_else(|| call.keyword("model"));
    let pinned = call
        .keyword("revision")
        .and_then(|r| r.as_str())
        .is_some_and(hub::is_full_commit);
    let mut hit = Hit::at_call(
        &RULE,
        call,
        if pinned {
            format!("`{}` with trust_remote_code=True runs the repository's Python (pinned to a commit)", call.written)
        } else {
            format!("`{}` with trust_remote_code=True runs the repository's Python, unpinned: whoever controls the repository controls what runs", call.written)
        },
    )
    .remediation("Use a model class transformers ships; otherwise review the code and pin revision= to that commit.");
    if let Some(repository) = repository {
        hit = hit.evidence("repository", repository.display());
    }
    if pinned {
        hit = hit.severity(Severity::Medium);
    }
    hits.push(hit);
}
