//! `ci-artifact-poisoning`: artefacts of an untrusted run, or model caches, used in privileged
//! workflows.

use mlvet_core::{Confidence, Finding, RuleMeta, Severity, Verdict};

use crate::facts::Facts;
use crate::shell::Command;
use crate::workflow::{Step, Workflow};

pub static RULE: RuleMeta = RuleMeta {
    id: "ci-artifact-poisoning",
    category: "ci",
    summary: "workflow_run job loads or publishes models from the triggering run's artifacts; model caches restored in privileged workflows",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports two shapes of poisoned inputs in privileged GitHub Actions workflows:
1. a `workflow_run` job that downloads the triggering run's artifacts (`actions/download-artifact`
   with `run-id: ${{ github.event.workflow_run.id }}`, `dawidd6/action-download-artifact`,
   `gh run download`) and then loads models from them (`torch.load`, `pickle`, `joblib.load`,
   `load_model`, `from_pretrained`, or a command given a model file) or publishes them
   (`huggingface-cli upload`, `hf upload`, `push_to_hub`, `mlflow … log_model`, `twine upload`,
   `gh release upload`, a PyPI publish action);
2. `actions/cache` (or `actions/cache/restore`) restoring a model cache (`~/.cache/huggingface`,
   `HF_HOME`, `~/.cache/torch`, `TORCH_HOME`, `*.safetensors`, `*.pt`, `*.ckpt`…) in a workflow
   triggered by `pull_request_target`, `issue_comment` or `workflow_run`, or one that publishes
   models or packages.

## Why is this bad?
The triggering run of a `workflow_run` may be a fork's pull request: its artifacts are attacker
files. Loading a pickle-based checkpoint from them executes code in the privileged job; publishing
them ships the attacker's model under your name. Caches are shared across workflows of a
repository, so a pull-request run can write a cache entry that a release workflow later restores —
the path of the Ultralytics compromise (Dec 2024).

## Remediation
Treat artifacts of the triggering run as untrusted data: never unpickle them, verify them against
hashes produced by a trusted job, and publish only what a trusted job built. Do not restore model
caches in release or privileged workflows; download pinned revisions and verify them instead.

## References
- https://securitylab.github.com/resources/github-actions-preventing-pwn-requests/
- https://docs.zizmor.sh/audits/#cache-poisoning
- https://github.com/ultralytics/ultralytics/issues/18027
"#,
};

const LOADERS: &[&str] = &[
    "torch.load",
    "pickle.load",
    "joblib.load",
    "load_model",
    "from_pretrained",
    "cloudpickle",
    "dill.load",
    "np.load",
    "numpy.load",
    "keras.models",
    "mlflow.pyfunc.load_model",
];

const MODEL_FILES: &[&str] = &[
    ".pt",
    ".pth",
    ".bin",
    ".ckpt",
    ".pkl",
    ".pickle",
    ".joblib",
    ".h5",
    ".keras",
    ".safetensors",
    ".gguf",
    ".onnx",
    ".npy",
    ".npz",
    ".mar",
];

const CACHE_PATHS: &[&str] = &[
    ".cache/huggingface",
    "hf_home",
    ".cache/torch",
    "torch_home",
    "huggingface",
    "transformers_cache",
    ".safetensors",
    ".pt",
    ".pth",
    ".ckpt",
    ".bin",
    ".gguf",
];

pub fn check(facts: &Facts<'_>) -> Vec<Finding> {
    let Some(workflow) = &facts.workflow else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    if workflow.has_trigger("workflow_run") {
        findings.extend(poisoned_artifacts(facts, workflow));
    }
    findings.extend(model_caches(facts, workflow));
    findings
}

fn downloads_run_artifacts(step: &Step) -> bool {
    match step.action() {
        Some(action) if action.eq_ignore_ascii_case("dawidd6/action-download-artifact") => true,
        Some(action) if action.eq_ignore_ascii_case("actions/download-artifact") => step
            .input("run-id")
            .is_some_and(|e| e.value.contains("github.event.workflow_run")),
        _ => step.script.as_ref().is_some_and(|script| {
            script.commands.iter().any(|c| {
                c.program() == "gh"
                    && c.args().first().is_some_and(|a| a == "run")
                    && c.args().get(1).is_some_and(|a| a == "download")
            })
        }),
    }
}

fn uses_artifact(step: &Step) -> Option<String> {
    if let Some(action) = step.action() {
        let lower = action.to_ascii_lowercase();
        if lower.starts_with("pypa/gh-action-pypi-publish")
            || lower.contains("huggingface")
            || lower.starts_with("softprops/action-gh-release")
        {
            return Some(format!("publishes with `{action}`"));
        }
    }
    let (text, _) = step.run.as_ref()?;
    if let Some(loader) = LOADERS.iter().find(|l| text.contains(*l)) {
        return Some(format!("loads a model with `{loader}`"));
    }
    let script = step.script.as_ref()?;
    script.commands.iter().find_map(publish_or_load)
}

fn publish_or_load(command: &Command) -> Option<String> {
    let args = command.args();
    let first = args.first().map(String::as_str).unwrap_or("");
    let publishes = match command.program() {
        "huggingface-cli" | "hf" => matches!(first, "upload" | "upload-large-folder"),
        "twine" => first == "upload",
        "gh" => first == "release" && args.get(1).is_some_and(|a| a == "upload"),
        "mlflow" => true,
        _ => args
            .iter()
            .any(|a| a.contains("push_to_hub") || a.contains("log_model")),
    };
    if publishes {
        return Some(format!("publishes with `{}`", command.display()));
    }
    let loads_file = args.iter().any(|a| {
        MODEL_FILES
            .iter()
            .any(|ext| a.to_ascii_lowercase().ends_with(ext))
    });
    let interpreter = command.program().starts_with("python") || command.program() == "torchrun";
    (interpreter && loads_file).then(|| format!("loads a model file with `{}`", command.display()))
}

fn poisoned_artifacts(facts: &Facts<'_>, workflow: &Workflow) -> Vec<Finding> {
    let mut findings = Vec::new();
    for job in &workflow.jobs {
        let Some(download) = job.steps.iter().find(|s| downloads_run_artifacts(s)) else {
            continue;
        };
        let Some((step, what)) = job
            .steps
            .iter()
            .filter(|s| s.index > download.index || (s.index == download.index && s.uses.is_none()))
            .find_map(|s| uses_artifact(s).map(|w| (s, w)))
        else {
            continue;
        };
        findings.push(
            Finding::new(
                &RULE,
                facts.at(step.line),
                format!(
                    "job `{}` of a workflow_run workflow downloads the triggering run's artifacts (line {}) and then {what}",
                    job.id, download.line
                ),
            )
            .evidence("job", job.id.clone())
            .evidence("download-line", download.line.to_string())
            .evidence("use", what)
            .remediation(
                "Treat the triggering run's artifacts as untrusted: never unpickle or publish \
                 them; verify them against hashes from a trusted job.",
            ),
        );
    }
    findings
}

fn publishes(workflow: &Workflow) -> bool {
    workflow.jobs.iter().any(|job| {
        job.permissions.id_token_write()
            || job
                .steps
                .iter()
                .any(|s| uses_artifact(s).is_some_and(|w| w.starts_with("publishes")))
    }) || workflow.permissions.id_token_write()
}

fn model_caches(facts: &Facts<'_>, workflow: &Workflow) -> Vec<Finding> {
    let privileged = ["pull_request_target", "issue_comment", "workflow_run"]
        .iter()
        .find(|t| workflow.has_trigger(t))
        .map(|t| format!("a `{t}` workflow"));
    let context = match privileged {
        Some(context) => context,
        None if publishes(workflow) => "a workflow that publishes models or packages".to_string(),
        None => return Vec::new(),
    };
    let mut findings = Vec::new();
    for job in &workflow.jobs {
        for step in &job.steps {
            let Some(action) = step.action() else {
                continue;
            };
            let lower = action.to_ascii_lowercase();
            if !(lower == "actions/cache" || lower == "actions/cache/restore") {
                continue;
            }
            let Some(path) = step.input("path") else {
                continue;
            };
            let value = path.value.to_ascii_lowercase();
            let Some(hit) = CACHE_PATHS.iter().find(|p| value.contains(*p)) else {
                continue;
            };
            findings.push(
                Finding::new(
                    &RULE,
                    facts.at(step.line),
                    format!(
                        "job `{}` restores a model cache (`{}`) in {context}: cache entries written by other runs, including pull requests, become the models this job loads",
                        job.id,
                        path.value.trim()
                    ),
                )
                .confidence(Confidence::Medium)
                .evidence("job", job.id.clone())
                .evidence("path", path.value.trim().to_string())
                .evidence("matched", *hit)
                .remediation(
                    "Do not cache model files in privileged or release workflows; download pinned \
                     revisions and verify their hashes.",
                ),
            );
        }
    }
    findings
}
