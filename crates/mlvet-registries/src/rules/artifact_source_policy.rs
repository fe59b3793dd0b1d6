use mlvet_config::Sources;
use mlvet_core::{Finding, RuleMeta, Severity, Verdict};

use crate::policy::{Decision, SourceRef, decide};

pub static RULE: RuleMeta = RuleMeta {
    id: "artifact-source-policy",
    category: "model-source",
    summary: "A model, data or package source is outside the `[sources]` policy (info: inventory when no policy is set)",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Collects every place the project pulls models, data and packages from — Hugging Face repositories
(`auto_map` code repositories, PEFT base models, diffusers `custom_pipeline`), DVC remotes
(`.dvc/config`), DVC import repositories and URLs, Git LFS servers (`.lfsconfig` `lfs.url`,
`remote.<name>.lfsurl`), package indexes (requirements files, `pip.conf`, uv, Poetry, PDM,
Pipenv, and the registries recorded in `uv.lock` / `poetry.lock` / `Pipfile.lock`) — and checks
each against the `[sources]` allow/deny policy of `mlvet.toml` (see docs/configuration.md).

With a policy for that kind of source, a reference matching `deny`, or matching none of a
non-empty `allow`, is reported at `high`. Without one, each reference is listed at `info`
(verdict unaffected) so the report inventories where the project pulls from.

## Why is this bad?
Hugging Face namespaces are reused: when an account or organisation is deleted, anyone can
re-create `org/name` and serve their own model to every pipeline that pulls by name (Unit 42,
"Model Namespace Reuse", 2025). A committed `.lfsconfig` or DVC remote redirects every clone's
downloads to another server. An allow-list makes a new source a reviewed decision.

## Example
```toml
# mlvet.toml
[sources.huggingface]
allow = ["acme-ml/*"]
```
`"auto_map": {"AutoModel": "someone-else/code--modeling.Model"}` is then reported.

## Remediation
Mirror the artefact into an allowed organisation, bucket or index (and pin it), or add the source
to the policy after review.

## References
- [Unit 42: Model Namespace Reuse](https://unit42.paloaltonetworks.com/model-namespace-reuse/)
- [OWASP LLM03:2025 Supply Chain](https://genai.owasp.org/llmrisk/llm032025-supply-chain/)
- [Git LFS configuration (`lfs.url`)](https://github.com/git-lfs/git-lfs/blob/main/docs/man/git-lfs-config.adoc)
"#,
};

/// Findings for the references collected from one file.
pub fn check(sources: &Sources, references: &[SourceRef]) -> Vec<Finding> {
    let mut out = Vec::new();
    for reference in references {
        let kind = reference.kind.as_str();
        let base = |message: String| {
            Finding::new(&RULE, reference.location.clone(), message)
                .evidence("source", reference.value.clone())
                .evidence("kind", kind)
                .evidence("named by", reference.context.clone())
        };
        match decide(sources, reference) {
            Decision::Allowed => {}
            Decision::NoPolicy => out.push(
                base(format!(
                    "{} `{}` ({}); no [sources.{kind}] policy is configured",
                    noun(reference),
                    reference.value,
                    reference.context
                ))
                .severity(Severity::Info)
                .verdict(Verdict::Safe),
            ),
            Decision::Denied(pattern) => out.push(
                base(format!(
                    "{} `{}` ({}) matches the deny pattern `{pattern}` of [sources.{kind}]",
                    noun(reference),
                    reference.value,
                    reference.context
                ))
                .remediation("use an allowed source, or change the policy after review"),
            ),
            Decision::NotAllowed => out.push(
                base(format!(
                    "{} `{}` ({}) is not in the allow list of [sources.{kind}]",
                    noun(reference),
                    reference.value,
                    reference.context
                ))
                .remediation(
                    "mirror it into an allowed source, or add it to the policy after review",
                ),
            ),
        }
    }
    out
}

fn noun(reference: &SourceRef) -> &'static str {
    match reference.kind {
        crate::policy::SourceKind::HuggingFace => "Hugging Face repository",
        crate::policy::SourceKind::Host => "source",
        crate::policy::SourceKind::Index => "package index",
    }
}
