//! `ci-pr-self-hosted-runner`: pull-request jobs on runners that are not GitHub-hosted.

use mlvet_core::{Confidence, Finding, RuleMeta, Severity, Verdict};

use crate::facts::Facts;
use crate::workflow::Label;

pub static RULE: RuleMeta = RuleMeta {
    id: "ci-pr-self-hosted-runner",
    category: "ci",
    summary: "Pull-request-triggered job runs on a self-hosted or custom-labelled runner (critical on GPU runners)",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports jobs of workflows triggered by `pull_request`, `pull_request_target`,
`pull_request_review` or `pull_request_review_comment` whose `runs-on` names a runner that is not
GitHub-hosted: the explicit `self-hosted` label, any custom label (GPU fleets are usually addressed
by custom labels only, such as `linux.g5.4xlarge.nvidia.gpu`, which zizmor's `self-hosted-runner`
audit does not see), or a runner `group`. Labels from `${{ matrix.* }}` are resolved from the
job's matrix. GitHub-hosted labels (`ubuntu-*`, `macos-*`, `windows-*` images, with `-arm`,
`-large`, `-xlarge`, `-intel`, `-N-cores` variants) are not reported.

Critical when a label names a GPU or accelerator (`gpu`, `cuda`, `nvidia`, `rocm`, `tpu`, `a100`,
`h100`, `l4`, `t4`, `v100`, `mi300`, AWS `g5`/`p4d`-style instance families…). Medium, whatever
the runner, when the job's `if:` keeps fork pull requests out
(`github.event.pull_request.head.repo.full_name == github.repository`,
`!github.event.pull_request.head.repo.fork`).

Larger GitHub-hosted runners and organisation runner groups cannot be told apart from self-hosted
ones statically: allow them in `mlvet.toml`:

```toml
[pipelines]
allowed-runners = ["org-ubuntu-8core", "gpu-ephemeral-*"]
```

## Why is this bad?
On a public repository anyone can open a pull request; a self-hosted runner executes it on your
machine. Non-ephemeral runners keep state between jobs, so one pull request can plant a backdoor
that later steals release credentials, as demonstrated against PyTorch's GPU runners (John
Stawinski, 2024). GPU hosts are also the most valuable to persist on (model weights, data, cloud
roles).

## Remediation
Run pull-request jobs on GitHub-hosted runners; gate GPU tests behind a label applied by a
maintainer, a `workflow_dispatch`, or an environment with required reviewers; use ephemeral,
isolated runners and require approval for all outside collaborators.

## References
- https://docs.github.com/en/actions/hosting-your-own-runners/managing-self-hosted-runners/about-self-hosted-runners#self-hosted-runner-security
- https://johnstawinski.com/2024/01/11/playing-with-fire-how-we-executed-a-critical-supply-chain-attack-on-pytorch/
- https://docs.zizmor.sh/audits/#self-hosted-runner
"#,
};

const PR_TRIGGERS: &[&str] = &[
    "pull_request",
    "pull_request_target",
    "pull_request_review",
    "pull_request_review_comment",
];

pub fn check(facts: &Facts<'_>) -> Vec<Finding> {
    let Some(workflow) = &facts.workflow else {
        return Vec::new();
    };
    let Some(trigger) = PR_TRIGGERS.iter().find_map(|t| workflow.trigger(t)) else {
        return Vec::new();
    };
    let allowed = &facts.settings.allowed_runners;
    let mut findings = Vec::new();
    for job in &workflow.jobs {
        let mut labels: Vec<&Label> = job
            .runs_on
            .iter()
            .filter(|l| {
                !is_github_hosted(&l.text) && !allowed.iter().any(|p| glob_match(p, &l.text))
            })
            .collect();
        if let Some(group) = &job.runner_group
            && !allowed.iter().any(|p| glob_match(p, &group.text))
        {
            labels.push(group);
        }
        if labels.is_empty() {
            continue;
        }
        let gpu: Vec<&str> = labels
            .iter()
            .filter(|l| is_gpu_label(&l.text))
            .map(|l| l.text.as_str())
            .collect();
        let names: Vec<&str> = labels.iter().map(|l| l.text.as_str()).collect();
        let severity = if gpu.is_empty() {
            Severity::High
        } else {
            Severity::Critical
        };
        // A condition that keeps fork pull requests off the runner lowers the risk to what
        // collaborators with write access can already do.
        let forks_excluded = job.if_condition.as_deref().is_some_and(excludes_forks);
        let severity = if forks_excluded {
            Severity::Medium
        } else {
            severity
        };
        let what = if gpu.is_empty() {
            "a self-hosted or custom runner"
        } else {
            "a GPU/accelerator runner"
        };
        let line = labels.first().map_or(job.line, |l| l.line);
        let mut finding = Finding::new(
            &RULE,
            facts.at(line),
            format!(
                "job `{}` of a `{}` workflow runs pull-request code on {what} ({})",
                job.id,
                trigger.event,
                names.join(", ")
            ),
        )
        .severity(severity)
        .confidence(if labels.iter().any(|l| l.text == "self-hosted") {
            Confidence::High
        } else {
            Confidence::Medium
        })
        .evidence("trigger", trigger.event.clone())
        .evidence("job", job.id.clone())
        .remediation(
            "Run pull-request jobs on GitHub-hosted runners, or gate the self-hosted job behind \
             maintainer approval (a label, workflow_dispatch, an environment with reviewers); \
             list known-safe runners in `[pipelines] allowed-runners`.",
        );
        for label in &labels {
            finding = finding.evidence("runner", label.text.clone());
        }
        if let Some(condition) = &job.if_condition {
            finding = finding.evidence("if", condition.clone());
        }
        if forks_excluded {
            finding = finding.evidence("note", "the job's `if:` excludes pull requests from forks");
        }
        findings.push(finding);
    }
    findings
}

/// An `if:` that only lets pull requests from the repository itself through.
fn excludes_forks(condition: &str) -> bool {
    let compact: String = condition.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains("pull_request.head.repo.full_name==github.repository")
        || compact.contains("github.repository==github.event.pull_request.head.repo.full_name")
        || compact.contains("pull_request.head.repo.fork==false")
        || compact.contains("!github.event.pull_request.head.repo.fork")
}

/// A GitHub-hosted runner image label.
pub fn is_github_hosted(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    if lower == "ubuntu-slim" {
        return true;
    }
    let mut parts = lower.split('-');
    let (Some(family), Some(version)) = (parts.next(), parts.next()) else {
        return false;
    };
    if !matches!(family, "ubuntu" | "macos" | "windows") {
        return false;
    }
    let version_ok = version == "latest"
        || (!version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.'));
    version_ok
        && parts.all(|p| {
            matches!(
                p,
                "arm" | "arm64" | "large" | "xlarge" | "intel" | "cores" | "latest"
            ) || (!p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        })
}

/// A label that names a GPU or accelerator.
pub fn is_gpu_label(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    if [
        "gpu",
        "cuda",
        "nvidia",
        "rocm",
        "tpu",
        "amdgpu",
        "habana",
        "gaudi",
        "neuron",
        "inferentia",
        "trainium",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        return true;
    }
    lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|token| {
            matches!(
                token,
                "a10"
                    | "a10g"
                    | "a100"
                    | "a40"
                    | "a6000"
                    | "h100"
                    | "h200"
                    | "b200"
                    | "gb200"
                    | "l4"
                    | "l40"
                    | "l40s"
                    | "t4"
                    | "v100"
                    | "p100"
                    | "k80"
                    | "g4dn"
                    | "g5"
                    | "g6"
                    | "g6e"
                    | "p3"
                    | "p4d"
                    | "p4de"
                    | "p5"
                    | "p5e"
                    | "g5g"
            ) || token.starts_with("rtx")
                || (token.len() == 5
                    && token.starts_with("mi")
                    && token[2..].chars().all(|c| c.is_ascii_digit()))
        })
}

/// `*` matches any run of characters; everything else literally (case-insensitive).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let text = text.to_ascii_lowercase();
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosted_and_gpu_labels() {
        for hosted in [
            "ubuntu-latest",
            "ubuntu-24.04",
            "ubuntu-24.04-arm",
            "macos-15-xlarge",
            "windows-2022",
            "macos-13",
            "ubuntu-latest-8-cores",
        ] {
            assert!(is_github_hosted(hosted), "{hosted}");
        }
        for custom in [
            "self-hosted",
            "linux.g5.4xlarge.nvidia.gpu",
            "gpu",
            "ubuntu-gpu",
            "4-core-ubuntu",
        ] {
            assert!(!is_github_hosted(custom), "{custom}");
        }
        assert!(is_gpu_label("linux.g5.4xlarge.nvidia.gpu"));
        assert!(is_gpu_label("a100-runner"));
        assert!(is_gpu_label("linux-mi300-rocm"));
        assert!(!is_gpu_label("self-hosted"));
        assert!(!is_gpu_label("linux-x64"));
        assert!(glob_match("gpu-ephemeral-*", "GPU-ephemeral-8"));
        assert!(!glob_match("gpu-*", "cpu-1"));
        assert!(excludes_forks(
            "${{ github.event.pull_request.head.repo.full_name == github.repository }}"
        ));
        assert!(!excludes_forks("github.event_name == 'pull_request'"));
    }
}
