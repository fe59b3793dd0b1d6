//! Rule `dependency-no-database`: dependencies were found but there was no advisory database to
//! match them against.

use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "dependency-no-database",
    category: "dependency",
    summary: "Dependencies were inventoried but not checked: no advisory database is available",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports each manifest, lockfile, environment or SBOM whose packages could not be matched against
advisories because mlvet found no advisory database in its data directory.

## Why is this bad?
A scan that silently reports nothing when it could not look is worse than no scan: the packages may
well carry known vulnerabilities. mlvet marks such artefacts as not fully inspected (so their
verdict is at least `suspicious`) and prints a warning, instead of reporting "no vulnerabilities".
A zero-length database file, a SQLite file without mlvet's schema and a database holding no record
all count as no database. A database that exists but cannot be read (a damaged file, an unreadable
record, another schema version) is not this finding but a scan error: exit code 3.

## Remediation
Create the database with `mlvet db update` (downloads OSV advisories), or offline with
`mlvet db import PATH` from an OSV export. `MLVET_DATA_DIR` or `--data-dir` selects where it lives.
"#,
};

pub fn finding(display: &str, packages: usize) -> Finding {
    Finding::new(
        &RULE,
        Location::file(display),
        format!("{packages} dependencies were not checked for known vulnerabilities: no advisory database"),
    )
    .remediation("run `mlvet db update` (or `mlvet db import PATH` offline), then scan again")
}
