use mlvet_core::{RuleMeta, Severity, Verdict};

use super::{Hit, named};
use crate::analysis::Call;

pub static RULE: RuleMeta = RuleMeta {
    id: "code-torch-hub-load",
    category: "code",
    summary: "Python code calls `torch.hub.load`, which downloads a GitHub repository and runs its `hubconf.py`",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Finds calls to `torch.hub.load` and `torch.hub.load_state_dict_from_url` (through any import
alias). For `torch.hub.load`, the message says whether the repository is pinned to a ref
(`owner/repo:ref`) and whether it is loaded from a local directory (`source="local"`, not reported).
`trust_repo=True` is reported in addition as `remote-code-flag`.

## Why is this bad?
`torch.hub.load("owner/repo", "model")` downloads the repository's default branch (or the ref
after `:`) and imports its `hubconf.py`: arbitrary code from that repository runs in your process,
then the entry point usually fetches weights with `torch.load`. Whoever can push to the repository
(or take over its name) controls what runs. `load_state_dict_from_url` downloads a checkpoint and
`torch.load`s it (full unpickling unless `weights_only=True`).

## Example
```python
model = torch.hub.load("pytorch/vision", "resnet50", weights="IMAGENET1K_V2")  # reported
model = torch.hub.load("./hub", "resnet50", source="local")                    # not reported
```

## Remediation
Vendor the model code into your project (or install the library that ships it, e.g.
`torchvision.models.resnet50`) and load safetensors weights. If hub loading is required, pin
`owner/repo:<commit>` and review `hubconf.py` at that commit.

## References
- [torch.hub documentation](https://docs.pytorch.org/docs/stable/hub.html)
"#,
};

pub(crate) fn check(call: &Call, hits: &mut Vec<Hit>) {
    if named(
        call,
        &[
            "torch.hub.load_state_dict_from_url",
            "torch.utils.model_zoo.load_url",
        ],
    ) {
        if call.keyword("weights_only").is_some_and(|w| w.is_true()) {
            return;
        }
        hits.push(
            Hit::at_call(
                &RULE,
                call,
                format!(
                    "`{}` downloads a checkpoint and unpickles it without weights_only=True",
                    call.written
                ),
            )
            .severity(Severity::Medium)
            .remediation("Pass weights_only=True, or download safetensors weights pinned by hash."),
        );
        return;
    }
    if !named(call, &["torch.hub.load"]) {
        return;
    }
    let source = call.argument("source", 2).and_then(|s| s.as_str());
    if source == Some("local") {
        return;
    }
    let repo = call.argument("repo_or_dir", 0);
    let repo_text = repo
        .map(|r| r.display())
        .unwrap_or_else(|| "<unknown>".to_string());
    let pinned = repo
        .and_then(|r| r.as_str())
        .and_then(|r| r.split_once(':'))
        .map(|(_, r#ref)| r#ref.to_string());
    let message = match &pinned {
        Some(r#ref) => format!(
            "`{}` downloads {repo_text} at `{}` and runs its hubconf.py",
            call.written, r#ref
        ),
        None => format!(
            "`{}` downloads {repo_text} (default branch, unpinned) and runs its hubconf.py",
            call.written
        ),
    };
    hits.push(
        Hit::at_call(&RULE, call, message)
            .evidence("repository", repo_text)
            .remediation("Vendor the model code or install the library that ships it; otherwise pin owner/repo:<commit> and review hubconf.py."),
    );
}
