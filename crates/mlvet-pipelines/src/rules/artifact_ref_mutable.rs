//! `artifact-ref-mutable`, command-line part: `huggingface-cli download`, `hf download` and
//! `vllm serve` fetching a Hub repository by name without a 40-hex `--revision`. The rule's
//! documentation (`RuleMeta`) and its file-based parts live in the registries crate.

use mlvet_core::{Confidence, Finding, Severity};

use crate::facts::{Facts, external_finding, is_commit, is_dynamic, option_value};
use crate::shell::Command;

pub const ID: &str = "artifact-ref-mutable";

pub fn check(facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (_, command) in facts.commands() {
        let Some((tool, repo)) = hub_fetch(command) else {
            continue;
        };
        if is_local_path(repo) {
            continue;
        }
        let revision = option_value(command.args(), &["--revision"]);
        let (confidence, detail) = match revision {
            Some(rev) if is_commit(rev) => continue,
            Some(rev) if is_dynamic(rev) => (
                Confidence::Low,
                format!("--revision `{rev}` is only known when the pipeline runs"),
            ),
            Some(rev) => (
                Confidence::High,
                format!("--revision `{rev}` is a branch, tag or short id, which can move"),
            ),
            None => (
                Confidence::High,
                "no --revision: the repository's default branch, whatever it holds at run time"
                    .to_string(),
            ),
        };
        let confidence = if is_dynamic(repo) {
            Confidence::Low
        } else {
            confidence
        };
        findings.push(
            external_finding(
                ID,
                Severity::Medium,
                facts.at(command.line),
                format!(
                    "`{tool}` in {} fetches `{repo}` by name: {detail}",
                    facts.kind.command_site()
                ),
            )
            .confidence(confidence)
            .evidence("command", command.display())
            .evidence("repository", repo)
            .remediation(
                "Pin the repository to a full 40-hex commit with `--revision <sha>` (for vLLM \
                 also `--code-revision` and `--tokenizer-revision`).",
            ),
        );
    }
    findings
}

/// `(tool, repository)` of a Hub download or a vLLM server start.
fn hub_fetch(command: &Command) -> Option<(&'static str, &str)> {
    let args = command.args();
    let first_positional = |from: usize| {
        let mut iter = args.iter().skip(from);
        while let Some(arg) = iter.next() {
            if arg.starts_with('-') {
                if !arg.contains('=') && takes_value(arg) {
                    iter.next();
                }
                continue;
            }
            return Some(arg.as_str());
        }
        None
    };
    match command.program() {
        "huggingface-cli" if args.first().is_some_and(|a| a == "download") => {
            Some(("huggingface-cli download", first_positional(1)?))
        }
        "hf" if args.first().is_some_and(|a| a == "download") => {
            Some(("hf download", first_positional(1)?))
        }
        "vllm" if args.first().is_some_and(|a| a == "serve") => {
            let model = option_value(args, &["--model"]).or_else(|| first_positional(1))?;
            Some(("vllm serve", model))
        }
        program if program.starts_with("python") => {
            // `python -m vllm.entrypoints.openai.api_server --model org/name`
            let module = option_value(args, &["-m"])?;
            if module.starts_with("vllm.entrypoints") {
                Some(("vllm", option_value(args, &["--model"])?))
            } else {
                None
            }
        }
        _ => None,
    }
}

fn takes_value(option: &str) -> bool {
    !matches!(
        option,
        "--trust-remote-code"
            | "--quiet"
            | "-q"
            | "--force-download"
            | "--resume-download"
            | "--local-dir-use-symlinks"
            | "--enforce-eager"
            | "--disable-log-requests"
            | "--enable-prefix-caching"
            | "--no-enable-prefix-caching"
            | "--enable-lora"
            | "--dry-run"
            | "--help"
    )
}

fn is_local_path(repo: &str) -> bool {
    repo.starts_with('/')
        || repo.starts_with("./")
        || repo.starts_with("../")
        || repo.starts_with('~')
}
