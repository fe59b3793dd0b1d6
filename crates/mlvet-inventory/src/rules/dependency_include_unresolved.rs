use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "dependency-include-unresolved",
    category: "dependency",
    summary: "A requirements include (-r/-c) could not be followed: missing, remote, or nested too deep",
    default_severity: Severity::Low,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports a `-r`/`-c` include that mlvet did not read: the file does not exist, the include is a URL
(mlvet never fetches it), it is nested deeper than the include limit, or it cannot be read.

## Why is this bad?
Every requirement in the missing file is a dependency mlvet could not check, so the inventory of the
including file is incomplete. A remote include also means the installed set can change without any
change to the repository.

## Example
```text
-r https://example.invalid/requirements.txt
```

## Remediation
Vendor the included file into the repository (and pin it), or scan the directory that holds it.
"#,
};
