//! `ci-untrusted-code-with-secrets`: privileged workflows that check out and run pull-request code.

use mlvet_core::{Confidence, Finding, RuleMeta, Severity, Verdict};

use crate::facts::Facts;
use crate::shell::Command;
use crate::workflow::{Job, Step, Workflow};

pub static RULE: RuleMeta = RuleMeta {
    id: "ci-untrusted-code-with-secrets",
    category: "ci",
    summary: "Privileged workflow (pull_request_target, issue_comment, workflow_run) checks out pull-request code and runs it",
    default_severity: Severity::Critical,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports GitHub Actions jobs that run in the base repository's privileged context — triggered by
`pull_request_target`, `issue_comment` or `workflow_run` (which follows pull-request runs unless its
`workflows` say otherwise, and cannot be told apart statically) — and that:
1. check out code the pull request controls: `actions/checkout` with a `ref` (or `repository`) from
   `github.event.pull_request.head.*`, `github.head_ref`, `refs/pull/…`,
   `github.event.workflow_run.head_*`, or `gh pr checkout` / `git fetch … pull/…` in a `run:` step;
2. and afterwards execute it: `pip install .`/`-e .`/`-r`, `uv sync`/`uv run`, `poetry install`,
   `python`, `pytest`, `tox`, `nox`, `make`, `accelerate launch`, `torchrun`, `deepspeed`, `bash
   scripts/…`, `./script`, `npm install`/`npm run`, `pre-commit`, or a local action (`uses: ./…`).

Critical when the job can read secrets (`secrets.*` in the job or workflow `env`, `secrets:
inherit`), obtain cloud credentials (`id-token: write`) or holds a token that may write (no
`permissions:` or a `write` scope); ML credentials (`HF_TOKEN`, `WANDB_API_KEY`, `MLFLOW_*`, cloud
keys…) are named in the message. High otherwise.

## Why is this bad?
These triggers run with the base repository's secrets and a read-write `GITHUB_TOKEN` even for a
pull request from a fork. Installing or testing the pull request's code runs the attacker's
`setup.py`, `conftest.py` or `Makefile` with those credentials: the "pwn request". For ML projects
that means Hub write tokens, experiment-tracker keys and cloud credentials for training data; the
Ultralytics compromise (Dec 2024) began in a `pull_request_target` workflow.

## Example
```yaml
on: pull_request_target
jobs:
  eval:
    steps:
      - uses: actions/checkout@v4
        with: { ref: "${{ github.event.pull_request.head.sha }}" }
      - run: pip install -e . && pytest
        env: { HF_TOKEN: "${{ secrets.HF_TOKEN }}" }
```

## Remediation
Run untrusted code under `pull_request` (no secrets, read-only token). If a privileged step is
needed, split the workflow: build and test under `pull_request`, then act on the uploaded results
in a `workflow_run` job that never executes them; never check out the pull request's head in a
privileged job.

## References
- https://securitylab.github.com/resources/github-actions-preventing-pwn-requests/
- https://docs.zizmor.sh/audits/#dangerous-triggers
- https://github.com/ultralytics/ultralytics/issues/18027
"#,
};

/// Triggers that run with the base repository's secrets for pull-request-controlled input.
pub const PRIVILEGED_TRIGGERS: &[&str] = &["pull_request_target", "issue_comment", "workflow_run"];

const PR_REFS: &[&str] = &[
    "github.event.pull_request.head",
    "github.head_ref",
    "refs/pull/",
    "github.event.workflow_run.head_",
    "github.event.issue.number",
    "github.event.comment",
    "pull_request.head.repo",
];

pub fn check(facts: &Facts<'_>) -> Vec<Finding> {
    let Some(workflow) = &facts.workflow else {
        return Vec::new();
    };
    let Some(trigger) = PRIVILEGED_TRIGGERS
        .iter()
        .find_map(|event| workflow.trigger(event))
    else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    for job in &workflow.jobs {
        let Some(checkout) = job.steps.iter().find(|s| checks_out_pr(s)) else {
            continue;
        };
        let Some((what, line)) = job
            .steps
            .iter()
            .filter(|s| s.index >= checkout.index)
            .find_map(|s| executes(s, s.index == checkout.index))
        else {
            continue;
        };
        let secrets = secrets_in_scope(workflow, job);
        let ml_secrets: Vec<&String> = secrets.iter().filter(|s| is_ml_secret(s)).collect();
        let permissions = effective_permissions(workflow, job);
        let id_token = permissions.id_token_write();
        let may_write = permissions.may_write();
        let privileged = !secrets.is_empty() || job.secrets_inherit || id_token || may_write;
        let severity = if privileged {
            Severity::Critical
        } else {
            Severity::High
        };
        let mut exposure = Vec::new();
        if !ml_secrets.is_empty() {
            exposure.push(format!(
                "ML/cloud secrets {}",
                ml_secrets
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let other = secrets.len() - ml_secrets.len();
        if other > 0 {
            exposure.push(format!("{other} other secret(s)"));
        }
        if job.secrets_inherit {
            exposure.push("all secrets (secrets: inherit)".to_string());
        }
        if id_token {
            exposure.push("id-token: write (cloud OIDC credentials)".to_string());
        }
        if may_write {
            exposure.push("a GITHUB_TOKEN that may write".to_string());
        }
        let exposure = if exposure.is_empty() {
            "a read-only token".to_string()
        } else {
            exposure.join(", ")
        };
        let mut finding = Finding::new(
            &RULE,
            facts.at(line),
            format!(
                "job `{}` runs on `{}`, checks out pull-request code (line {}) and then executes it ({what}) with {exposure} in scope",
                job.id, trigger.event, checkout.line
            ),
        )
        .severity(severity)
        .confidence(if trigger.event == "workflow_run" { Confidence::Medium } else { Confidence::High })
        .evidence("trigger", trigger.event.clone())
        .evidence("job", job.id.clone())
        .evidence("checkout-line", checkout.line.to_string())
        .evidence("executes", what)
        .remediation(
            "Run pull-request code under `pull_request` (no secrets, read-only token); keep \
             privileged jobs from checking out or executing the pull request's head.",
        );
        for secret in &secrets {
            finding = finding.evidence("secret", secret.clone());
        }
        findings.push(finding);
    }
    findings
}

fn effective_permissions<'w>(
    workflow: &'w Workflow,
    job: &'w Job,
) -> &'w crate::workflow::Permissions {
    match job.permissions {
        crate::workflow::Permissions::Unset => &workflow.permissions,
        _ => &job.permissions,
    }
}

/// Every secret the job can read: its own references and the workflow-level `env`.
pub fn secrets_in_scope(workflow: &Workflow, job: &Job) -> Vec<String> {
    let mut secrets: Vec<String> = job
        .secrets
        .iter()
        .chain(workflow.secrets.iter())
        .filter(|s| s.as_str() != "GITHUB_TOKEN")
        .cloned()
        .collect();
    secrets.sort();
    secrets.dedup();
    secrets
}

/// Credentials that reach models, datasets, experiment trackers or clouds.
pub fn is_ml_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    const PREFIXES: &[&str] = &[
        "HF_",
        "HUGGING",
        "WANDB",
        "MLFLOW",
        "COMET",
        "NEPTUNE",
        "OPENAI",
        "ANTHROPIC",
        "KAGGLE",
        "AWS_",
        "AZURE",
        "GCP_",
        "GOOGLE_",
        "GCLOUD",
        "REPLICATE",
        "COHERE",
        "MISTRAL",
        "GROQ",
        "TOGETHER",
        "DATABRICKS",
        "SAGEMAKER",
        "PYPI",
        "TWINE",
    ];
    PREFIXES.iter().any(|p| upper.starts_with(p))
        || upper.contains("HF_TOKEN")
        || upper.contains("HUGGINGFACE")
}

/// The step checks out code the pull request controls.
pub fn checks_out_pr(step: &Step) -> bool {
    if step
        .action()
        .is_some_and(|a| a.eq_ignore_ascii_case("actions/checkout"))
    {
        return ["ref", "repository"].iter().any(|input| {
            step.input(input)
                .is_some_and(|e| PR_REFS.iter().any(|r| e.value.contains(r)))
        });
    }
    let Some(script) = &step.script else {
        return false;
    };
    script.commands.iter().any(|c| {
        let args = c.args();
        (c.program() == "gh"
            && args.first().is_some_and(|a| a == "pr")
            && args.get(1).is_some_and(|a| a == "checkout"))
            || (c.program() == "git"
                && args
                    .first()
                    .is_some_and(|a| a == "fetch" || a == "checkout" || a == "pull")
                && args
                    .iter()
                    .any(|a| a.contains("pull/") || PR_REFS.iter().any(|r| a.contains(r))))
    })
}

/// What the step executes of the checked-out tree, if anything. `same_step` skips the checkout
/// command itself.
/// Returns what runs and its line.
pub fn executes(step: &Step, same_step: bool) -> Option<(String, u32)> {
    if let Some(uses) = &step.uses
        && !same_step
        && uses.starts_with("./")
    {
        return Some((format!("local action `{uses}`"), step.line));
    }
    let script = step.script.as_ref()?;
    script
        .commands
        .iter()
        .find(|c| runs_repository_code(c))
        .map(|c| (format!("`{}`", c.display()), c.line))
}

fn runs_repository_code(command: &Command) -> bool {
    let args = command.args();
    let first = args.first().map(String::as_str).unwrap_or("");
    // `python -m pip install …` is pip: it runs repository code only for local installs.
    if command.program().starts_with("python")
        && let Some(install) = crate::installer::install_of(command)
    {
        return install
            .targets()
            .iter()
            .any(|t| t.starts_with('.') || t.starts_with('/'))
            || install.has_flag(&["-e", "--editable", "-r", "--requirement"])
            || install.action == crate::installer::Action::ProjectSync;
    }
    match command.program() {
        "python" | "python3" | "py" | "pytest" | "tox" | "nox" | "make" | "cmake" | "torchrun"
        | "deepspeed" | "pre-commit" | "hatch" | "pdm" | "nbconvert" | "jupyter" | "papermill" => {
            true
        }
        p if p.starts_with("python3.") => true,
        "pip" | "pip3" => {
            first == "install"
                && args.iter().any(|a| {
                    a == "."
                        || a == "-e"
                        || a == "-r"
                        || a.starts_with("./")
                        || a.starts_with("-r")
                        || a.starts_with(".[")
                })
        }
        "uv" => {
            matches!(first, "sync" | "run" | "build")
                || (first == "pip"
                    && args
                        .iter()
                        .any(|a| a == "." || a == "-e" || a == "-r" || a.starts_with(".[")))
        }
        "poetry" | "pipenv" => matches!(first, "install" | "run" | "sync"),
        "accelerate" => first == "launch",
        "npm" | "yarn" | "pnpm" => {
            matches!(first, "install" | "ci" | "run" | "test" | "build" | "")
        }
        "bash" | "sh" => args
            .iter()
            .any(|a| !a.starts_with('-') && (a.ends_with(".sh") || a.contains('/'))),
        program => {
            command.argv.first().is_some_and(|p| p.starts_with("./"))
                || program.ends_with(".sh") && !program.is_empty()
        }
    }
}
