use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

use crate::policy::{SourceKind, SourceRef};
use crate::text::{is_local_path, line_containing};

pub static RULE: RuleMeta = RuleMeta {
    id: "hf-cross-repo-code",
    category: "model-source",
    summary: "A model config loads Python code from another Hugging Face repository, which the model's revision pin does not pin",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reads `auto_map` in transformers configs (`config.json`, `tokenizer_config.json`,
`processor_config.json`, `preprocessor_config.json`, ...) and reports every value of the form
`org/repo--module.Class` (string or list form); reads diffusers `model_index.json` and configs for
`custom_pipeline` references (a hub repository, or a community pipeline name) and `_class_name`
lists that name a module in another repository. `hf-remote-code` reports that a folder's config
runs code at all; this rule reports the part a revision pin does not cover.

## Why is this bad?
`transformers` resolves `org/repo--module.Class` by downloading `module.py` from `org/repo` and
running it under `trust_remote_code=True`. The `code_revision` defaults to the model's `revision`
only when the code lives in the same repository, so pinning the model to a commit does **not**
pin this code: whoever controls `org/repo` (or re-registers its namespace after the account is
deleted) changes what runs on every load. diffusers community pipelines named by
`custom_pipeline` are loaded from the current main branch of a GitHub folder unless a revision is
given.

## Example
```json
{"auto_map": {"AutoModel": "someone-else/shared-code--modeling_shared.SharedModel"}}
```

## Remediation
Copy the reviewed code into the model repository (same-repo `auto_map`) and pin the model's
revision; or pass `code_revision=` with the reviewed commit of the other repository; or use a
class built into transformers/diffusers and drop `trust_remote_code`.

## References
- [transformers: custom models and `auto_map`](https://huggingface.co/docs/transformers/custom_models)
- [transformers `dynamic_module_utils.get_class_from_dynamic_module`](https://github.com/huggingface/transformers/blob/main/src/transformers/dynamic_module_utils.py)
- [diffusers: community pipelines and `custom_pipeline`](https://huggingface.co/docs/diffusers/using-diffusers/custom_pipeline_overview)
"#,
};

/// Most entries read from one map.
const MAX_ENTRIES: usize = 256;

/// Findings and hub references of one JSON config.
pub fn check(
    display: &str,
    text: &str,
    config: &serde_json::Value,
) -> (Vec<Finding>, Vec<SourceRef>) {
    let mut findings = Vec::new();
    let mut sources = Vec::new();
    let at = |needle: &str| {
        let location = Location::file(display);
        match line_containing(text, needle) {
            Some(line) => location.with_line(line),
            None => location,
        }
    };
    let mut entries: Vec<(String, &str)> = Vec::new();
    if let Some(map) = config
        .get("auto_map")
        .and_then(serde_json::Value::as_object)
    {
        for (key, value) in map.iter().take(MAX_ENTRIES) {
            match value {
                serde_json::Value::String(s) => entries.push((format!("auto_map.{key}"), s)),
                // AutoTokenizer: [slow, fast], either may be null.
                serde_json::Value::Array(items) => entries.extend(
                    items
                        .iter()
                        .take(4)
                        .filter_map(serde_json::Value::as_str)
                        .map(|s| (format!("auto_map.{key}"), s)),
                ),
                _ => {}
            }
        }
    }
    // transformers custom pipelines: `custom_pipelines.<task>.impl` resolves the same way.
    if let Some(map) = config
        .get("custom_pipelines")
        .and_then(serde_json::Value::as_object)
    {
        for (task, spec) in map.iter().take(MAX_ENTRIES) {
            if let Some(implementation) = spec.get("impl").and_then(serde_json::Value::as_str) {
                entries.push((format!("custom_pipelines.{task}.impl"), implementation));
            }
        }
    }
    for (key, reference) in entries {
        let Some((repository, target)) = reference.split_once("--") else {
            continue;
        };
        let repository: String = repository.chars().take(200).collect();
        let module = target.rsplit_once('.').map_or(target, |(m, _)| m);
        let location = at(reference);
        findings.push(
            Finding::new(
                &RULE,
                location.clone(),
                format!(
                    "`{key}` = `{reference}`: transformers downloads `{module}.py` \
                             from `{repository}` and runs it with trust_remote_code=True; the \
                             model's revision pin does not pin that repository's code"
                ),
            )
            .evidence("entry", key.clone())
            .evidence("repository", repository.clone())
            .evidence("module", format!("{module}.py"))
            .remediation(
                "copy the reviewed code into this repository or pass code_revision= \
                         with the reviewed commit of the other repository",
            ),
        );
        sources.push(SourceRef {
            kind: SourceKind::HuggingFace,
            value: repository,
            location,
            context: key.clone(),
        });
    }
    if let Some(pipeline) = config
        .get("custom_pipeline")
        .and_then(serde_json::Value::as_str)
    {
        let location = at("custom_pipeline");
        let pinned = config
            .get("custom_revision")
            .and_then(serde_json::Value::as_str)
            .is_some_and(crate::text::is_commit);
        if pipeline.contains('/') && !is_local_path(pipeline) {
            if !pinned {
                findings.push(
                    Finding::new(
                        &RULE,
                        location.clone(),
                        format!(
                            "`custom_pipeline` = `{pipeline}`: diffusers loads `pipeline.py` from \
                             the hub repository `{pipeline}`, unpinned"
                        ),
                    )
                    .evidence("repository", pipeline.to_string()),
                );
            }
            sources.push(SourceRef {
                kind: SourceKind::HuggingFace,
                value: pipeline.to_string(),
                location,
                context: "custom_pipeline".to_string(),
            });
        } else if !is_local_path(pipeline) && !pinned {
            findings.push(
                Finding::new(
                    &RULE,
                    location,
                    format!(
                        "`custom_pipeline` = `{pipeline}`: a diffusers community pipeline, loaded \
                         from the current main branch of diffusers' community folder unless a \
                         revision is given"
                    ),
                )
                .severity(Severity::Medium)
                .evidence("community pipeline", pipeline.to_string()),
            );
        }
    }
    // diffusers `_class_name: ["org/repo", "Pipeline"]`-style custom classes in another repo.
    if let Some(items) = config
        .get("_class_name")
        .and_then(serde_json::Value::as_array)
        && let Some(module) = items.first().and_then(serde_json::Value::as_str)
        && module.contains('/')
        && !is_local_path(module)
    {
        let location = at(module);
        findings.push(
            Finding::new(
                &RULE,
                location.clone(),
                format!(
                    "`_class_name` names a pipeline class in another repository, `{module}`: its \
                     code is fetched and run unpinned by this repository's revision"
                ),
            )
            .evidence("repository", module.to_string()),
        );
        sources.push(SourceRef {
            kind: SourceKind::HuggingFace,
            value: module.to_string(),
            location,
            context: "_class_name".to_string(),
        });
    }
    (findings, sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_repo_auto_map() {
        let text = r#"{"auto_map": {"AutoConfig": "configuration_x.XConfig",
          "AutoModel": "other/repo--modeling_x.XModel",
          "AutoTokenizer": ["other/tok--tok.Slow", null]}}"#;
        let value: serde_json::Value = serde_json::from_str(text).expect("json");
        let (findings, sources) = check("config.json", text, &value);
        assert_eq!(findings.len(), 2);
        assert_eq!(sources[0].value, "other/repo");
        assert_eq!(findings[0].location.line, Some(2));
    }

    #[test]
    fn same_repo_is_not_cross_repo() {
        let text = r#"{"auto_map": {"AutoModel": "modeling_x.XModel"}}"#;
        let value: serde_json::Value = serde_json::from_str(text).expect("json");
        assert!(check("config.json", text, &value).0.is_empty());
    }
}
