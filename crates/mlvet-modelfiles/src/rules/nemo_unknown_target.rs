use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "nemo-unknown-target",
    category: "format",
    summary: "A NeMo model configuration imports a callable outside NeMo's, PyTorch's and the allow-list's namespaces",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports `_target_` (and NeMo `target`/`cls`) callables in a `.nemo` archive's
`model_config.yaml` that are neither NeMo's own (`nemo.`), PyTorch's (`torch.`), Lightning's,
OmegaConf's, nor allowed by the pickle policy, and are not on the deny-list either.

## Why is this bad?
Hydra imports the module named by the target when the model is restored: importing a module
runs its top-level code, and the callable runs with arguments from the file. A third-party or
unknown class is code mlvet cannot vouch for. Hydra's `_partial_: true` returns the callable
itself for later use, and `_args_` passes positional arguments: both are noted as evidence.

## Example
```yaml
preprocessor:
  _target_: my_company_audio.Featurizer
```

## Remediation
Check that the named package is one you expect and trust, pinned in your environment; allow it
with `--policy` (a `[[allow]]` entry for its module) once reviewed.

## References
- Hydra `instantiate` documentation: `_target_`, `_args_`, `_partial_`
- <https://hydra.cc/docs/advanced/instantiate_objects/overview/>
"#,
};

pub fn finding(location: Location, target: &str, key_path: &str) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("`{key_path}` makes Hydra import and call `{target}` (not a NeMo, PyTorch or allow-listed callable)"),
    )
    .evidence("callable", target)
    .evidence("key", key_path)
}
