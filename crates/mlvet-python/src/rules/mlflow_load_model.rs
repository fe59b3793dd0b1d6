use mlvet_core::{RuleMeta, Severity, Verdict};

use super::Hit;
use crate::analysis::{Call, Literal};

pub static RULE: RuleMeta = RuleMeta {
    id: "code-mlflow-load-model",
    category: "code",
    summary: "Python code loads an MLflow model, which unpickles (cloudpickle, pickle, torch.load) for most flavors",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Finds `mlflow.<flavor>.load_model(...)` and `mlflow.pyfunc.spark_udf(...)` calls (through any
alias). Flavors whose artefacts are pickles (`pyfunc`, `sklearn`, `pytorch`, `langchain`,
`statsmodels`, `pmdarima`, `prophet`, `fastai`, `spacy`, `h2o`, `dspy`, `llama_index`...) are
graded high; flavors with code-free native formats (`onnx`, `xgboost`, `lightgbm`, `catboost`,
`keras`, `tensorflow`, `transformers`, `paddle`, `spark`) medium. The message says when the model
URI is a moving reference (`models:/name/Production`, `models:/name@alias`, `models:/name/latest`).

## Why is this bad?
A python_function model is a cloudpickled object; the sklearn flavor pickles the estimator; the
pytorch flavor saves with `torch.save` and loads with `torch.load`. Loading a model from a
registry or a run anyone on the team (or a compromised CI job) can write runs its code. Stage and
alias references move without the caller changing anything.

## Example
```python
model = mlflow.pyfunc.load_model("models:/churn/Production")  # reported (high, moving reference)
```

## Remediation
Load registered model *versions* (`models:/name/7`) from a registry whose write access is
restricted, scan the artefacts (`mlvet scan` on the downloaded model directory) and prefer
flavors with code-free formats (ONNX, safetensors through transformers).

## References
- [MLflow models: storage format and flavors](https://mlflow.org/docs/latest/ml/model/)
- [mlflow.pyfunc.load_model](https://mlflow.org/docs/latest/api_reference/python_api/mlflow.pyfunc.html)
"#,
};

const NATIVE_FORMAT_FLAVORS: &[&str] = &[
    "onnx",
    "xgboost",
    "lightgbm",
    "catboost",
    "keras",
    "tensorflow",
    "transformers",
    "paddle",
    "spark",
    "mleap",
    "sentence_transformers",
];

pub(crate) fn check(call: &Call, hits: &mut Vec<Hit>) {
    let mut parts = call.name.split('.');
    let (Some("mlflow"), Some(flavor), Some(function), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    if !(function == "load_model" || (flavor == "pyfunc" && function == "spark_udf")) {
        return;
    }
    let uri_index = usize::from(function == "spark_udf");
    let uri = call.argument("model_uri", uri_index);
    let moving = uri.and_then(Literal::as_str).and_then(moving_reference);
    let native = NATIVE_FORMAT_FLAVORS.contains(&flavor);
    let how = if native {
        "reads the flavor's native format (custom code and pickled extras may still load)"
    } else {
        "unpickles the model (cloudpickle/pickle/torch.load): the model can run code"
    };
    let mut message = format!("`{}` {how}", call.written);
    if let Some(moving) = moving {
        message.push_str(&format!("; {moving}"));
    }
    let mut hit = Hit::at_call(&RULE, call, message)
        .evidence("flavor", flavor)
        .remediation("Load pinned model versions from a write-restricted registry, scan the artefacts first, and prefer code-free flavors.");
    if let Some(uri) = uri {
        hit = hit.evidence("model_uri", uri.display());
    }
    if native {
        hit = hit.severity(Severity::Medium);
    }
    hits.push(hit);
}

/// Why a `models:/` URI names no fixed version, if it does not.
fn moving_reference(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("models:/")?;
    if let Some((_, alias)) = rest.split_once('@') {
        return Some(format!(
            "`{uri}` names alias `{alias}`, which can be moved to another version"
        ));
    }
    let reference = rest.rsplit('/').next()?;
    if reference.bytes().all(|b| b.is_ascii_digit()) && !reference.is_empty() {
        return None;
    }
    Some(format!(
        "`{uri}` names stage/latest `{reference}`, not a fixed version"
    ))
}
