//! `remote-code-flag` outside Python: `--trust-remote-code` on command lines and
//! `HF_DATASETS_TRUST_REMOTE_CODE` switched on in environments. (The Python call sites,
//! `trust_remote_code=True` and `torch.hub.load(..., trust_repo=True)`, are found by the Python
//! analysis under the same id.)

use mlvet_core::{Finding, RuleMeta, Severity, Verdict};

use crate::facts::{Facts, option_value, truthy};
use crate::shell::Command;

pub static RULE: RuleMeta = RuleMeta {
    id: "remote-code-flag",
    category: "pipeline",
    summary: "Remote model or dataset code allowed to run: --trust-remote-code, HF_DATASETS_TRUST_REMOTE_CODE, trust_repo=True",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports switches that let a model or dataset repository run its own Python code on the machine
that loads it:
- `--trust-remote-code` (and `--trust_remote_code`, `--trust-remote-code=true`) on command lines:
  `vllm serve`, `python -m sglang.launch_server`, `text-generation-launcher`, `optimum-cli export`,
  `lm_eval --model_args …,trust_remote_code=True`, in shell scripts, Dockerfile `RUN`/`CMD`/
  `ENTRYPOINT`, CI `run:` steps, Kubernetes container `command`/`args`, Docker Compose
  `command`/`entrypoint` and notebook `!` lines;
- `HF_DATASETS_TRUST_REMOTE_CODE` set to `1`/`true`/`yes` in a Dockerfile `ENV`/`ARG`, a workflow or
  job `env:`, a Kubernetes container `env`, a Compose `environment`, or an `export`;
- in Python code, `trust_remote_code=True` and `torch.hub.load(..., trust_repo=True)` (reported by
  the Python analysis under this id).

## Why is this bad?
With remote code allowed, loading `org/model` imports `modeling_*.py` (or a dataset loading script,
or a torch.hub `hubconf.py`) from the repository and runs it with the process's credentials. Whoever
controls the repository, or its name after an account is deleted (Unit 42's model namespace reuse,
2025), controls that code; unless the revision is pinned to a commit, every restart may fetch
different code.

## Example
```yaml
args: ["serve", "acme/model", "--trust-remote-code"]
```

## Remediation
Drop the flag when the architecture is supported natively. Otherwise pin the repository to a full
commit (`--revision <40-hex>`, and `--code-revision` for vLLM), review that code, and allow the
repository explicitly in the source policy.

## References
- https://huggingface.co/docs/transformers/models#custom-models
- https://unit42.paloaltonetworks.com/model-namespace-reuse/
- https://docs.vllm.ai/en/latest/configuration/engine_args.html
"#,
};

pub fn check(facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (_, command) in facts.commands() {
        let Some(flag) = remote_code_argument(command) else {
            continue;
        };
        let model = model_of(command);
        let mut finding = Finding::new(
            &RULE,
            facts.at(command.line),
            format!(
                "`{}` in {} lets {} run its own Python code when it is loaded",
                flag,
                facts.kind.command_site(),
                model
                    .map(|m| format!("`{m}`"))
                    .unwrap_or_else(|| "the model repository".to_string())
            ),
        )
        .evidence("command", command.display())
        .remediation(
            "Remove the flag if the architecture is supported natively; otherwise pin the model \
             to a reviewed 40-hex commit (`--revision`, `--code-revision`) and allow it in the \
             source policy.",
        );
        if let Some(model) = model {
            finding = finding.evidence("model", model);
        }
        findings.push(finding);
    }
    for setting in facts.all_env() {
        if setting.name == "HF_DATASETS_TRUST_REMOTE_CODE" && truthy(&setting.value) {
            findings.push(
                Finding::new(
                    &RULE,
                    facts.at(setting.line),
                    format!(
                        "HF_DATASETS_TRUST_REMOTE_CODE={} ({}) in {}: `datasets` below 4.0 then runs the loading script of every Hub dataset it loads",
                        setting.value.trim(),
                        setting.how,
                        facts.kind.describe()
                    ),
                )
                .evidence("variable", setting.name.clone())
                .evidence("value", setting.value.clone())
                .remediation(
                    "Unset it; load datasets stored as data files (Parquet, Arrow) or pin \
                     `datasets>=4` which no longer runs scripts.",
                ),
            );
        }
    }
    findings
}

/// The argument that allows remote code, as written.
fn remote_code_argument(command: &Command) -> Option<&str> {
    command.args().iter().map(String::as_str).find(|arg| {
        let lower = arg.to_ascii_lowercase();
        let normalized = lower.replace('_', "-");
        if normalized == "--trust-remote-code" {
            return true;
        }
        if let Some(value) = normalized.strip_prefix("--trust-remote-code=") {
            return truthy(value);
        }
        // `lm_eval --model_args pretrained=x,trust_remote_code=True`
        lower
            .split([',', ' '])
            .any(|part| part == "trust_remote_code=true")
    })
}

/// The model a serving command loads, when it names one.
fn model_of(command: &Command) -> Option<&str> {
    let args = command.args();
    if let Some(model) = option_value(
        args,
        &[
            "--model",
            "--model-id",
            "--model-path",
            "--model_name_or_path",
        ],
    ) {
        return Some(model);
    }
    if command.program() == "vllm" && args.first().is_some_and(|a| a == "serve") {
        return args
            .get(1)
            .map(String::as_str)
            .filter(|m| !m.starts_with('-'));
    }
    None
}
