use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "dependency-include-outside-root",
    category: "dependency",
    summary: "A requirements file includes (-r/-c) a file outside the scanned tree; it was not followed",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports a `-r`/`--requirement` or `-c`/`--constraint` line whose target resolves (after `..` and
symbolic links) outside the directory being scanned. mlvet does not read it.

## Why is this bad?
Following includes anywhere on disk would let a crafted requirements file make the scanner read
arbitrary files (`-r /etc/shadow` style traversal), and whatever that file pins is not part of the
project under review. The dependencies it would add are therefore not inventoried, so the result is
incomplete.

## Example
```text
-r ../../shared/requirements-base.txt
```

## Remediation
Scan a directory that contains every included file (for example the repository root), or inline
the included requirements.
"#,
};
