use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "skops-untrusted-type",
    category: "format",
    summary: "A skops file references types outside skops' default trusted set",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Lists the types and functions in a `.skops` archive's `schema.json` that `skops.io.load` does not
trust by default (the set `skops.io.get_untrusted_types` would return): anything but the
builtin containers and scalars, NumPy and SciPy data types, and the scikit-learn estimators,
functions and helpers skops trusts, and that mlvet's pickle policy does not deny outright.

## Why is this bad?
Loading such a file requires passing these names in `trusted=`; whatever is trusted gets
imported and instantiated (`__setstate__`, `__dict__` updates, function calls). Third-party
classes are code mlvet cannot vouch for.

## Example
A pipeline containing a custom transformer `mycompany.features.Cleaner`.

## Remediation
Review each listed type; trust only those you know, by exact name, never by passing the whole
list `get_untrusted_types` returns without reading it.
"#,
};

pub fn finding(location: Location, names: &[String]) -> Finding {
    let mut finding = Finding::new(
        &RULE,
        location,
        format!(
            "skops schema references {} type(s) outside skops' default trusted set: {}",
            names.len(),
            names.join(", ")
        ),
    );
    for name in names {
        finding = finding.evidence("untrusted type", name.clone());
    }
    finding
}
