use mlvet_core::{Confidence, RuleMeta, Severity, Verdict};

use super::{Hit, hub};
use crate::analysis::{Call, Literal, SourceAnalysis};

pub static RULE: RuleMeta = RuleMeta {
    id: "code-unpinned-hub-download",
    category: "code",
    summary: "Python code downloads from the Hugging Face Hub without a `revision` that is a full commit",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Finds `from_pretrained` (transformers, diffusers, PEFT, sentence-transformers, timm...),
`hf_hub_download`, `snapshot_download`, `load_dataset`, `SentenceTransformer(...)` and
`pipeline(model="org/name")` calls in files that use a Hugging Face library, and reports those whose
`revision` is missing, a branch or tag, a short commit id, or not a literal. Calls on local paths
(`./model`, `/models/x`, `~/...`) and `datasets` builders that read local files (`csv`, `json`,
`parquet`, `imagefolder`...) are not downloads and are not reported.

## Why is this bad?
A repository id names whatever the default branch holds at download time. The owner (or whoever
takes over the account or a deleted name) can replace weights, configuration or code without the
name changing; branches and tags move, and the Hub resolves only full 40-hex commit ids
immutably (bandit B615 accepts 7-character short ids).

## Example
```python
tok = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")   # reported
tok = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased",
                                    revision="86b5e0934494bd15c9632b12f734a8a67f723594")  # not reported
```

## Remediation
Pin `revision=` to the full commit id you reviewed (the Hub shows it on the repository's history
page), or download once, verify hashes (`mlvet lock`), and load from the local folder.

## References
- [huggingface_hub download guide (revision)](https://huggingface.co/docs/huggingface_hub/en/guides/download)
- [bandit B615: huggingface_unsafe_download](https://bandit.readthedocs.io/en/latest/plugins/b615_huggingface_unsafe_download.html)
"#,
};

/// `datasets` builders that read local or remote files named by `data_files`, not a repository.
const PACKAGED_BUILDERS: &[&str] = &[
    "csv",
    "json",
    "parquet",
    "text",
    "arrow",
    "pandas",
    "imagefolder",
    "audiofolder",
    "videofolder",
    "webdataset",
    "sql",
    "generator",
    "xml",
    "pdffolder",
    "niftifolder",
    "spark",
    "cache",
    "hdf5",
    "lance",
];

/// The repository a hub call names: the first positional argument or its keyword spelling.
pub(crate) fn repository(call: &Call) -> Option<&Literal> {
    if call.name.starts_with("peft.") && call.method() == "from_pretrained" {
        // `PeftModel.from_pretrained(base_model, model_id)`: the adapter is the second argument.
        return call.argument("model_id", 1);
    }
    call.args.first().or_else(|| {
        [
            "pretrained_model_name_or_path",
            "repo_id",
            "path",
            "model_name_or_path",
            "model",
        ]
        .iter()
        .find_map(|k| call.keyword(k))
    })
}

/// Whether a repository argument names a hub repository (true for non-literals: fail closed).
pub(crate) fn names_hub_repository(
    call: &Call,
    repository: Option<&Literal>,
    datasets: bool,
) -> bool {
    match repository {
        Some(Literal::Str(value)) => {
            !(hub::is_local_path(value) || datasets && PACKAGED_BUILDERS.contains(&value.as_str()))
        }
        Some(Literal::Other | Literal::Name(_)) => true,
        Some(_) => false,
        None => call.star_args || call.star_kwargs,
    }
}

pub(crate) fn check(call: &Call, analysis: &SourceAnalysis, hits: &mut Vec<Hit>) {
    let datasets = hub::is_hub_call(call, analysis, "load_dataset");
    let hub_call = datasets
        || hub::is_hub_call(call, analysis, "from_pretrained")
        || hub::is_hub_call(call, analysis, "hf_hub_download")
        || hub::is_hub_call(call, analysis, "snapshot_download")
        || matches!(
            call.name.as_str(),
            "sentence_transformers.SentenceTransformer" | "sentence_transformers.CrossEncoder"
        );
    let pipeline = call.name == "transformers.pipeline";
    if !hub_call && !pipeline {
        return;
    }
    let repository = if pipeline {
        // `pipeline("task")` alone uses the task's default model: pinned by transformers' own
        // release, with its revision; only an explicit model id is a download to pin.
        match call.keyword("model") {
            Some(model @ Literal::Str(_)) => Some(model),
            _ => return,
        }
    } else {
        repository(call)
    };
    if !names_hub_repository(call, repository, datasets) {
        return;
    }
    let revision = call.keyword("revision");
    let Some(problem) = hub::revision_problem(revision) else {
        return;
    };
    let repo_text = repository
        .map(|r| r.display())
        .unwrap_or_else(|| "<unknown>".to_string());
    let mut hit = Hit::at_call(
        &RULE,
        call,
        format!(
            "`{}` downloads {repo_text} from the Hub unpinned: {problem}",
            call.written
        ),
    )
    .evidence("repository", repo_text)
    .remediation("Pin revision= to the full 40-hex commit you reviewed.");
    if let Some(revision) = revision {
        hit = hit.evidence("revision", revision.display());
    }
    let literal_repo = matches!(repository, Some(Literal::Str(_)));
    if !literal_repo || matches!(revision, Some(Literal::Name(_) | Literal::Other)) {
        hit = hit.confidence(Confidence::Medium);
    }
    if revision.is_none() && call.star_kwargs {
        hit = hit.confidence(Confidence::Low).severity(Severity::Low);
    }
    hits.push(hit);
}
