use mlvet_core::{AdvisoryRef, Finding, PackageRef, RuleMeta, Severity, Verdict};

use super::{display_package, location_of};

pub static RULE: RuleMeta = RuleMeta {
    id: "dependency-malicious-package",
    category: "dependency",
    summary: "A dependency is a known malicious package (an OSV `MAL-` record)",
    default_severity: Severity::Critical,
    verdict: Verdict::Malicious,
    docs: r#"## What it does
Reports a dependency that an OSV malicious-packages record (`MAL-…` id, or an advisory merged with
one through `aliases`) lists as malware: typosquats and dependency-confusion packages, and
compromised releases of real ones. Pinned versions are matched exactly; an unpinned requirement is
reported when some version it allows is listed.

## Why is this bad?
Installing the package runs the attacker's code (`setup.py`, `.pth` files, import-time code) on the
machine that installs it: a developer laptop, a CI runner, a training cluster. Unlike a
vulnerability, nothing has to call into the package for harm to happen.

## Example
```text
reqeusts==2.28.1   # MAL-2022-…: Malicious code in reqeusts (PyPI)
```

## Remediation
Do not upgrade: remove it, rebuild the environment (virtualenv, container image, runner) from a
clean state, and rotate every credential the machine held (cloud keys, `HF_TOKEN`, PyPI and GitHub
tokens, SSH keys): installing the package already ran its code. Fix the name if it was a typo,
and bind internal names to their index so that a public upload cannot shadow them.

## References
- [OpenSSF malicious packages (OSV `MAL-` records)](https://github.com/ossf/malicious-packages)
"#,
};

pub fn finding(package: PackageRef, advisory: AdvisoryRef) -> Finding {
    let aliases = if advisory.aliases.is_empty() {
        String::new()
    } else {
        format!(" ({})", advisory.aliases.join(", "))
    };
    let summary = advisory
        .summary
        .as_deref()
        .map(|s| format!(": {}", s.trim().trim_end_matches('.')))
        .unwrap_or_default();
    let message = format!(
        "{} is a known malicious package, listed by {}{aliases}{summary}",
        display_package(&package),
        advisory.id
    );
    // Not "upgrade": a malicious release ran its code at install time, so a newer version
    // does not undo anything.
    let remediation = format!(
        "remove it ({}), rebuild the environment from a clean state, and rotate every credential \
         the machine held (cloud keys, HF_TOKEN, PyPI/GitHub tokens, SSH keys): installing it ran \
         the attacker's code",
        package.name
    );
    Finding::new(&RULE, location_of(&package), message)
        .remediation(remediation)
        .package(package)
        .advisory(advisory)
}
