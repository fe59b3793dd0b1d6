use mlvet_core::{Confidence, RuleMeta, Severity, Verdict};
use uv_pep440::Version;

use super::unpinned_hub_download::{names_hub_repository, repository};
use super::{Context, Hit, hub, keyword_true};
use crate::analysis::{Literal, SourceAnalysis};

pub static RULE: RuleMeta = RuleMeta {
    id: "dataset-script-exec",
    category: "code",
    summary: "`datasets.load_dataset` of a Hub dataset runs the repository's loading script with the project's `datasets` version",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Finds `load_dataset("<hub id>")` calls and grades them with the `datasets` version the scan's
inventory shows (lockfile, pin or installed metadata; the lowest when several):

- `datasets` < 2.20: any Hub dataset with a loading script runs it, flag or not → high;
- 2.20 ≤ `datasets` < 4.0: the script runs when the call passes `trust_remote_code=True` or the
  file sets `HF_DATASETS_TRUST_REMOTE_CODE` to a true value → high;
- `datasets` ≥ 4.0: loading scripts are no longer supported → not reported;
- version unknown: `trust_remote_code=True` / the variable → medium; a plain Hub id → low.

## Why is this bad?
A dataset repository may ship `<name>.py`, a loading script that `datasets` imports and runs to
build the dataset: arbitrary code from the repository's owner. `datasets` ran such scripts without
asking before 2.16, kept trusting them by default until 2.20, and removed them in 4.0.

## Example
```python
ds = load_dataset("some-org/some-dataset", trust_remote_code=True)  # reported with datasets 3.x
```

## Remediation
Upgrade `datasets` to 4.0 or later (and pin it in the lockfile), or load a dataset revision
without a script (Parquet files, `revision="refs/convert/parquet"`), pinned to a full commit.

## References
- [datasets 2.20.0 release: trust_remote_code no longer defaults to True](https://github.com/huggingface/datasets/releases/tag/2.20.0)
- [datasets 4.0.0 release: dataset scripts removed](https://github.com/huggingface/datasets/releases/tag/4.0.0)
"#,
};

const TRUST_VARIABLE: &str = "HF_DATASETS_TRUST_REMOTE_CODE";

/// Whether the file turns the datasets trust variable on (`os.environ[...] = "1"`,
/// `os.environ.setdefault(..., "1")`, `os.putenv(..., "1")`).
pub(crate) fn trust_variable_set(analysis: &SourceAnalysis) -> bool {
    let truthy = |value: &Literal| match value {
        Literal::Str(text) => matches!(
            text.to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        ),
        other => other.truthiness() == Some(true),
    };
    analysis
        .env_assignments
        .iter()
        .any(|env| env.variable == TRUST_VARIABLE && truthy(&env.value))
        || analysis.calls.iter().any(|call| {
            matches!(call.name.as_str(), "os.environ.setdefault" | "os.putenv")
                && call.args.first().and_then(Literal::as_str) == Some(TRUST_VARIABLE)
                && call.args.get(1).is_some_and(truthy)
        })
}

pub(crate) fn check(analysis: &SourceAnalysis, context: &Context, hits: &mut Vec<Hit>) {
    let variable = trust_variable_set(analysis);
    let scripts_removed = Version::new([4]);
    let default_untrusted = Version::new([2, 20]);
    for call in &analysis.calls {
        if !hub::is_hub_call(call, analysis, "load_dataset") {
            continue;
        }
        let repository = repository(call);
        if !names_hub_repository(call, repository, true) {
            continue;
        }
        let flag = keyword_true(call, "trust_remote_code");
        let trusted = flag || variable;
        let how = if flag {
            "trust_remote_code=True"
        } else if variable {
            "HF_DATASETS_TRUST_REMOTE_CODE set in this file"
        } else {
            "no flag"
        };
        let repo_text = repository
            .map(|r| r.display())
            .unwrap_or_else(|| "<unknown>".to_string());
        let hit = match &context.datasets {
            Some(version) if *version >= scripts_removed => continue,
            Some(version) if *version < default_untrusted => Hit::at_call(
                &RULE,
                call,
                format!("`{}` of {repo_text} with datasets {version} (< 2.20) runs the repository's loading script ({how})", call.written),
            )
            .evidence("datasets", version.to_string()),
            Some(version) if trusted => Hit::at_call(
                &RULE,
                call,
                format!("`{}` of {repo_text} with datasets {version} and {how} runs the repository's loading script", call.written),
            )
            .evidence("datasets", version.to_string()),
            Some(_) => continue,
            None if trusted => Hit::at_call(
                &RULE,
                call,
                format!("`{}` of {repo_text} with {how}: with datasets < 4.0 the repository's loading script runs (datasets version unknown)", call.written),
            )
            .severity(Severity::Medium)
            .confidence(Confidence::Medium),
            None => Hit::at_call(
                &RULE,
                call,
                format!("`{}` of {repo_text}: with datasets < 2.20 the repository's loading script runs (datasets version unknown)", call.written),
            )
            .severity(Severity::Low)
            .confidence(Confidence::Low),
        };
        hits.push(
            hit.evidence("repository", repo_text)
                .evidence("trust", how)
                .remediation("Upgrade datasets to 4.0 or later and pin it; load script-free revisions pinned to a commit."),
        );
    }
}
