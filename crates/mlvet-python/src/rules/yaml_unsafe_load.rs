use mlvet_core::{Confidence, RuleMeta, Severity, Verdict};

use super::{Hit, named};
use crate::analysis::{Call, Literal};

pub static RULE: RuleMeta = RuleMeta {
    id: "code-yaml-unsafe-load",
    category: "code",
    summary: "Python code parses YAML with a loader that constructs arbitrary Python objects",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Finds PyYAML `yaml.load` / `yaml.load_all` calls whose `Loader` (keyword or second positional
argument) is not `SafeLoader`, `CSafeLoader` or `BaseLoader`, including calls without a loader,
and every `yaml.unsafe_load` / `yaml.unsafe_load_all`. A loader given as a variable is reported
with medium confidence. `FullLoader` is reported at medium severity (it had code execution bugs
before PyYAML 5.4: CVE-2020-14343).

## Why is this bad?
`yaml.Loader`/`UnsafeLoader` build any Python object the document names
(`!!python/object/apply:os.system [...]`): a model config, a training recipe or a dataset card in
YAML runs code when loaded. PyYAML before 5.1 used the unsafe loader when none was given.

## Example
```python
cfg = yaml.load(open("config.yaml"), Loader=yaml.Loader)  # reported
cfg = yaml.safe_load(open("config.yaml"))                 # not reported
```

## Remediation
Use `yaml.safe_load` (or `Loader=yaml.SafeLoader`).

## References
- [PyYAML documentation: loading YAML](https://pyyaml.org/wiki/PyYAMLDocumentation)
- [bandit B506: yaml_load](https://bandit.readthedocs.io/en/latest/plugins/b506_yaml_load.html)
"#,
};

const SAFE_LOADERS: &[&str] = &["SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"];

pub(crate) fn check(call: &Call, hits: &mut Vec<Hit>) {
    if named(call, &["yaml.unsafe_load", "yaml.unsafe_load_all"]) {
        hits.push(
            Hit::at_call(
                &RULE,
                call,
                format!(
                    "`{}` constructs arbitrary Python objects: the YAML can run code",
                    call.written
                ),
            )
            .remediation("Use yaml.safe_load."),
        );
        return;
    }
    if !named(call, &["yaml.load", "yaml.load_all"]) {
        return;
    }
    let loader = call.argument("Loader", 1);
    let hit = match loader {
        None => Hit::at_call(
            &RULE,
            call,
            format!(
                "`{}` without a Loader: PyYAML < 5.1 constructs arbitrary Python objects",
                call.written
            ),
        )
        .severity(if call.star_kwargs {
            Severity::Low
        } else {
            Severity::Medium
        }),
        Some(Literal::Name(name)) => {
            let last = name.rsplit('.').next().unwrap_or(name);
            if SAFE_LOADERS.contains(&last) && (name.starts_with("yaml.") || name == last) {
                return;
            }
            let resolved_yaml = name.starts_with("yaml.");
            let hit = Hit::at_call(
                &RULE,
                call,
                format!(
                    "`{}` with Loader={name}: the YAML can construct Python objects and run code",
                    call.written
                ),
            )
            .evidence("loader", name.clone());
            match last {
                "FullLoader" | "CFullLoader" => hit.severity(Severity::Medium),
                "Loader" | "UnsafeLoader" | "CLoader" | "CUnsafeLoader" if resolved_yaml => hit,
                _ => hit.confidence(Confidence::Medium),
            }
        }
        Some(other) => Hit::at_call(
            &RULE,
            call,
            format!(
                "`{}` with a Loader that is not a known safe loader ({})",
                call.written,
                other.display()
            ),
        )
        .confidence(Confidence::Medium),
    };
    hits.push(hit.remediation("Use yaml.safe_load (or Loader=yaml.SafeLoader)."));
}
