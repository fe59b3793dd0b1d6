use std::sync::LazyLock;

use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};
use regex::Regex;

use crate::dvc::Metafile;
use crate::policy::{SourceKind, SourceRef};
use crate::text::{is_commit, is_local_path, line_containing, line_of};

pub static RULE: RuleMeta = RuleMeta {
    id: "artifact-ref-mutable",
    category: "model-source",
    summary: "A model or dataset is fetched by a moving name (branch, tag, alias, `latest`) instead of an immutable revision",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports references to models and data that can change under the same name:

- PEFT `adapter_config.json` whose `base_model_name_or_path` is a hub repository and whose
  `revision` is missing or not a full 40-hex commit (PEFT then loads the base model's `main`);
- MLflow model URIs `models:/name/latest`, `models:/name/<stage>` (`Production`, `Staging`, ...)
  and `models:/name@alias` in `MLproject` and configuration files (`models:/name/<integer>` is
  immutable and not reported);
- DVC imports (`.dvc` files, `dvc.lock`) whose `repo:` has no `rev_lock` commit, and `import-url`
  dependencies recorded without any checksum (`md5`, `etag`, `checksum`);
- on command lines (`huggingface-cli download`, `hf download`, `vllm serve` without a 40-hex
  `--revision`) the same rule id is reported by the pipeline analyses.

## Why is this bad?
A branch, tag, stage or alias moves: the artefact loaded tomorrow is not the one reviewed today.
Hub namespaces are reused after accounts are deleted (Unit 42, 2025): `org/name` then serves
someone else's model, while a commit hash cannot be reproduced by the new owner, so a pinned
download fails instead of silently switching.

## Example
```json
{"base_model_name_or_path": "meta-llama/Llama-2-7b-hf", "revision": null}
```

## Remediation
Pin the full commit (`revision` in the adapter config, `--revision <40-hex>`), an MLflow model
version number (`models:/name/7`), and `dvc import` with a recorded `rev_lock` (`dvc update
--rev <commit>`); record checksums for imported URLs.

## References
- [Unit 42: Model Namespace Reuse](https://unit42.paloaltonetworks.com/model-namespace-reuse/)
- [MLflow model registry URIs](https://mlflow.org/docs/latest/model-registry.html)
- [DVC import: `rev_lock`](https://dvc.org/doc/command-reference/import)
"#,
};

/// A finding of this rule, for analyses outside this crate (command lines).
pub fn finding(location: Location, message: impl Into<String>) -> Finding {
    Finding::new(&RULE, location, message)
}

/// `models:/name/<version|stage|latest>` and `models:/name@alias`.
static MLFLOW_URI: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"models:/([A-Za-z0-9_.\-]+)(?:/([A-Za-z0-9_.\-]+)|@([A-Za-z0-9_.\-]+))"#).ok()
});

/// MLflow registry URIs that move.
pub fn check_mlflow(display: &str, text: &str) -> Vec<Finding> {
    let Some(regex) = MLFLOW_URI.as_ref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for captures in regex.captures_iter(text).take(1000) {
        let Some(whole) = captures.get(0) else {
            continue;
        };
        let name = captures.get(1).map_or("", |m| m.as_str());
        let (kind, value) = match (captures.get(2), captures.get(3)) {
            (Some(version), _) if version.as_str().bytes().all(|b| b.is_ascii_digit()) => continue,
            (Some(version), _) if version.as_str().eq_ignore_ascii_case("latest") => {
                ("the latest version", version.as_str())
            }
            (Some(stage), _) => ("a stage", stage.as_str()),
            (None, Some(alias)) => ("an alias", alias.as_str()),
            _ => continue,
        };
        out.push(
            finding(
                Location::file(display).with_line(line_of(text, whole.start())),
                format!(
                    "MLflow model URI `{}` names {kind} (`{value}`) of `{name}`: it moves when \
                     someone registers or promotes another version",
                    whole.as_str()
                ),
            )
            .evidence("uri", whole.as_str())
            .remediation("reference an immutable model version: models:/<name>/<version number>"),
        );
    }
    out
}

/// PEFT `adapter_config.json`.
pub fn check_adapter(
    display: &str,
    text: &str,
    config: &serde_json::Value,
) -> (Vec<Finding>, Vec<SourceRef>) {
    let Some(base) = config
        .get("base_model_name_or_path")
        .and_then(serde_json::Value::as_str)
    else {
        return (Vec::new(), Vec::new());
    };
    if is_local_path(base) {
        return (Vec::new(), Vec::new());
    }
    let location = match line_containing(text, "base_model_name_or_path") {
        Some(line) => Location::file(display).with_line(line),
        None => Location::file(display),
    };
    let source = SourceRef {
        kind: SourceKind::HuggingFace,
        value: base.to_string(),
        location: location.clone(),
        context: "base_model_name_or_path".to_string(),
    };
    let revision = config.get("revision").and_then(serde_json::Value::as_str);
    if revision.is_some_and(is_commit) {
        return (Vec::new(), vec![source]);
    }
    let what = match revision {
        Some(r) => format!("revision `{r}`, which is not a commit"),
        None => "no revision, so PEFT loads the base model's `main` branch".to_string(),
    };
    let finding = finding(
        location,
        format!("adapter's base model `{base}` is referenced with {what}"),
    )
    .evidence("base model", base)
    .remediation(
        "set `revision` to the full 40-hex commit of the base model the adapter was trained on",
    );
    (vec![finding], vec![source])
}

/// DVC imports without a locked revision or checksum.
pub fn check_dvc(display: &str, text: &str, file: &Metafile) -> (Vec<Finding>, Vec<SourceRef>) {
    let mut findings = Vec::new();
    let mut sources = Vec::new();
    for dep in file.entries.iter().filter(|e| e.role == "deps") {
        let location = match line_containing(text, &dep.path) {
            Some(line) => Location::file(display).with_line(line),
            None => Location::file(display),
        };
        if let Some(repo) = &dep.repo {
            sources.push(SourceRef {
                kind: SourceKind::Host,
                value: repo.url.clone(),
                location: location.clone(),
                context: "dvc import repo".to_string(),
            });
            if !repo.rev_lock.as_deref().is_some_and(is_commit) {
                findings.push(
                    finding(
                        location,
                        format!(
                            "DVC import of `{}` from `{}` has no rev_lock commit{}: the next \
                             `dvc update`/`dvc pull` follows whatever the branch points to",
                            dep.path,
                            crate::text::strip_credentials(&repo.url),
                            repo.rev
                                .as_deref()
                                .map(|r| format!(" (rev `{r}`)"))
                                .unwrap_or_default()
                        ),
                    )
                    .evidence("repo", crate::text::strip_credentials(&repo.url)),
                );
            }
        } else if dep.path.contains("://") {
            sources.push(SourceRef {
                kind: SourceKind::Host,
                value: crate::text::strip_credentials(&dep.path),
                location: location.clone(),
                context: "dvc import-url".to_string(),
            });
            if dep.md5.is_none() && dep.other_checksum.is_none() {
                findings.push(finding(
                    location,
                    format!(
                        "DVC import-url `{}` has no recorded checksum (md5/etag/checksum): the \
                         content at the URL can change unnoticed",
                        crate::text::strip_credentials(&dep.path)
                    ),
                ));
            }
        }
    }
    (findings, sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlflow_uris() {
        let text = "a: models:/fraud/latest\nb: models:/fraud/3\nc: models:/fraud@champion\nd: models:/fraud/Production\n";
        let findings = check_mlflow("MLproject", text);
        let lines: Vec<_> = findings.iter().map(|f| f.location.line).collect();
        assert_eq!(lines, vec![Some(1), Some(3), Some(4)]);
    }

    #[test]
    fn adapters() {
        let text = r#"{"base_model_name_or_path": "org/base", "revision": null}"#;
        let value = serde_json::from_str(text).expect("json");
        assert_eq!(check_adapter("a.json", text, &value).0.len(), 1);
        let pinned = r#"{"base_model_name_or_path": "org/base", "revision": "0123456789abcdef0123456789abcdef01234567"}"#;
        let value = serde_json::from_str(pinned).expect("json");
        assert!(check_adapter("a.json", pinned, &value).0.is_empty());
        let local = r#"{"base_model_name_or_path": "/models/base"}"#;
        let value = serde_json::from_str(local).expect("json");
        assert!(check_adapter("a.json", local, &value).0.is_empty());
    }
}
