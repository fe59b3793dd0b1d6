use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "dependency-parse-error",
    category: "dependency",
    summary: "Part of a dependency manifest, lockfile, environment or SBOM could not be parsed",
    default_severity: Severity::Low,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports an entry (or a whole file) of a dependency source that mlvet could not understand: a
requirement line that is not valid PEP 508, a lockfile that is not valid TOML or JSON, a conda match
spec it cannot read, a METADATA file without `Name`. The finding gives the file and line; the rest
of the file is still inventoried.

## Why is this bad?
A dependency mlvet cannot read is a dependency it cannot check against advisories. If the entry is
a real package, a known-vulnerable version could be hiding behind the parse error. Malformed
entries can also be a sign of tampering or of a tool that will interpret the file differently from
the one that wrote it.

## Example
```text
torch==2.1.0 ; python_version <<< "3.12"
```

## Remediation
Fix the entry so that the tool that installs from the file and mlvet read it the same way
(`pip install --dry-run -r requirements.txt`, `poetry check --lock`, `uv lock --check`), or
regenerate the lockfile or SBOM with its tool.
"#,
};
