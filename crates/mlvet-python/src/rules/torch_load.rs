use mlvet_core::{Confidence, RuleMeta, Severity, Verdict};
use uv_pep440::Version;

use super::{Context, Hit, may_hide, named};
use crate::analysis::{Call, Literal};

pub static RULE: RuleMeta = RuleMeta {
    id: "code-torch-load",
    category: "code",
    summary: "Python code calls `torch.load` without `weights_only=True` (or with it, on a torch older than 2.6: CVE-2025-32434)",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Finds calls to `torch.load` and `torch.serialization.load` (through any import alias:
`import torch as t; t.load(...)`, `from torch import load`) and reports those that do not pass
`weights_only=True`: no argument at all, `weights_only=False`, or a value that is not a literal.
When the scan's own inventory (a lockfile, a manifest pin, installed metadata) shows a torch
older than 2.6, calls that do pass `weights_only=True` are reported too: CVE-2025-32434.

## Why is this bad?
`torch.load` unpickles the checkpoint. With `weights_only=False` the pickle may call any Python
callable: loading a checkpoint runs whatever its author put in it. torch 2.6 made
`weights_only=True` the default, so a bare `torch.load(path)` is only safe on torch ≥ 2.6 and only
while nobody sets `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`; code that must also run on older torch (or
that is copied into a project that pins one) loads full pickles. Before 2.6 even
`weights_only=True` could be bypassed to run code (CVE-2025-32434, GHSA-53q9-r3pm-6pq6).

## Example
```python
import torch
state = torch.load("pytorch_model.bin")                      # reported
state = torch.load("pytorch_model.bin", weights_only=False)  # reported
state = torch.load("pytorch_model.bin", weights_only=True)   # fine on torch >= 2.6
```

## Remediation
Pass `weights_only=True` and upgrade torch to 2.6 or later; better, store weights as safetensors
and load them with `safetensors.torch.load_file`. To load a trusted full checkpoint, scan it with
`mlvet scan` first and suppress the finding inline with the reason.

## References
- [torch.load documentation (weights_only)](https://docs.pytorch.org/docs/stable/generated/torch.load.html)
- [GHSA-53q9-r3pm-6pq6: torch.load with weights_only=True leads to remote code execution](https://github.com/pytorch/pytorch/security/advisories/GHSA-53q9-r3pm-6pq6)
- [bandit B614: pytorch_load](https://bandit.readthedocs.io/en/latest/plugins/b614_pytorch_load.html)
"#,
};

const NAMES: &[&str] = &["torch.load", "torch.serialization.load"];
const REMEDIATION: &str =
    "Pass weights_only=True (torch >= 2.6), or store the weights as safetensors.";

pub(crate) fn check(call: &Call, context: &Context, hits: &mut Vec<Hit>) {
    if !named(call, NAMES) {
        return;
    }
    let fixed = Version::new([2, 6]);
    let old_torch = context.torch.as_ref().filter(|v| **v < fixed);
    let new_torch = context.torch.as_ref().filter(|v| **v >= fixed);
    let hit = match call.keyword("weights_only") {
        Some(Literal::Bool(true)) => match old_torch {
            Some(version) => Hit::at_call(
                &RULE,
                call,
                format!(
                    "`{}` with weights_only=True on torch {version}: before 2.6 the weights-only unpickler can be made to run code (CVE-2025-32434)",
                    call.written
                ),
            )
            .evidence("torch", version.to_string())
            .evidence("advisory", "CVE-2025-32434 / GHSA-53q9-r3pm-6pq6")
            .remediation("Upgrade torch to 2.6.0 or later."),
            None => return,
        },
        Some(Literal::Bool(false)) => Hit::at_call(
            &RULE,
            call,
            format!("`{}` with weights_only=False unpickles arbitrary objects: the checkpoint can run code", call.written),
        )
        .evidence("weights_only", "False")
        .remediation(REMEDIATION),
        Some(other) => Hit::at_call(
            &RULE,
            call,
            format!("`{}` with weights_only={} (not a literal True): the checkpoint may be fully unpickled", call.written, other.display()),
        )
        .confidence(Confidence::Medium)
        .evidence("weights_only", other.display())
        .remediation(REMEDIATION),
        None => {
            let mut hit = Hit::at_call(
                &RULE,
                call,
                format!("`{}` without weights_only=True: on torch < 2.6 (or with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD) the checkpoint is fully unpickled and can run code", call.written),
            )
            .remediation(REMEDIATION);
            if let Some(version) = new_torch {
                hit = hit
                    .severity(Severity::Medium)
                    .evidence("torch", version.to_string())
                    .evidence("note", "torch >= 2.6 defaults to weights_only=True");
            } else if let Some(version) = old_torch {
                hit = hit.evidence("torch", version.to_string());
            }
            if may_hide(call) {
                hit = hit.confidence(Confidence::Medium);
            }
            hit
        }
    };
    hits.push(hit);
}
