use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "nemo-dangerous-target",
    category: "format",
    summary: "A NeMo model configuration names a dangerous callable that Hydra instantiates on restore",
    default_severity: Severity::Critical,
    verdict: Verdict::Malicious,
    docs: r#"
## What it does
Reads `model_config.yaml` inside a NeMo `.nemo` archive and classifies every callable it names
(`_target_` keys anywhere in the tree, NeMo's `target` and legacy `cls` keys) with the same
allow/deny policy as pickle references. A target the policy denies (`os.system`,
`subprocess.Popen`, `builtins.eval`/`exec`, `importlib.import_module`, ...) is reported here.

## Why is this bad?
`ModelPT.restore_from` loads the configuration with OmegaConf and builds the model with
`hydra.utils.instantiate`, which imports the dotted path in `_target_` and calls it with the
sibling keys (and `_args_`) as arguments. A `_target_: os.system` with `_args_: ["curl ... | sh"]`
runs a shell command the moment the model is restored, before any weights are read.
Hydra's instantiate was reported as a code-execution vector in NeMo model files
(CVE-2025-23304 in NVIDIA NeMo).

## Example
```yaml
encoder:
  _target_: os.system
  _args_: ["id > /tmp/pwned"]
```

## Remediation
Do not restore the model. If it came from a hub, report it. Legitimate NeMo configurations only
name NeMo's and PyTorch's own classes.

## References
- CVE-2025-23304 (NVIDIA NeMo: code execution through a malicious `.nemo` file)
- Hydra `instantiate` documentation: `_target_`, `_args_`, `_partial_`
- <https://nvd.nist.gov/vuln/detail/CVE-2025-23304>
- <https://hydra.cc/docs/advanced/instantiate_objects/overview/>
"#,
};

pub fn finding(location: Location, target: &str, key_path: &str, reason: &str) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("`{key_path}` makes Hydra call `{target}` when the model is restored: {reason}"),
    )
    .evidence("callable", target)
    .evidence("key", key_path)
}
