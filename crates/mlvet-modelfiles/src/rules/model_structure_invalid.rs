use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "model-structure-invalid",
    category: "format",
    summary: "A file claims a code-free model format (XGBoost, LightGBM, Flax msgpack, skops, NeMo, TorchServe) but does not validate",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
XGBoost JSON/UBJSON/binary (`binf`) models, LightGBM text models and Flax msgpack checkpoints cannot carry
code: mlvet reads their whole structure with bounded parsers and reports them `safe` only when
that structure is what the library writes (XGBoost: `learner`, `version`, one tree per declared
tree with consistent node arrays; LightGBM: the header, every `Tree=` block, `end of trees`;
Flax: a tree of maps, arrays and Flax's ext types whose sizes match their shapes). This rule
fires when a file looks like one of them (by content, or for msgpack by name) but fails that
validation, or when a manifest or configuration of a code-carrying format (skops `schema.json`,
NeMo `model_config.yaml`, TorchServe `MANIFEST.json`) cannot be read.

## Why is this bad?
A file that claims a safe format but is not well-formed was not fully inspected: it may be
corrupt, truncated, or crafted to look harmless to scanners while a different loader reads it
differently. mlvet never calls it `safe`.

## Example
An `.ubj` file starting like an XGBoost model whose tree array declares more items than the file
holds; a `.msgpack` file whose ndarray ext payload is shorter than its shape says.

## Remediation
Re-export the model with the library that made it, or obtain it again from its source.
"#,
};

pub fn finding(location: Location, format: &str, why: impl std::fmt::Display) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("not a well-formed {format} model: {why}"),
    )
    .evidence("format", format)
    .evidence("problem", why.to_string())
}
