use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "skops-dangerous-type",
    category: "format",
    summary: "A skops file references a dangerous callable (process, eval, operator gadget) that skops would call if trusted",
    default_severity: Severity::Critical,
    verdict: Verdict::Malicious,
    docs: r#"
## What it does
Walks `schema.json` of a `.skops` archive (every node's `__module__`, `__class__`, `__loader__`
and nested `content`) and classifies each type or function it names with mlvet's pickle policy.
Names the policy denies (`builtins.eval`, `os.system`, `subprocess.Popen`, `operator.attrgetter`
and similar gadgets) are reported here.

## Why is this bad?
skops refuses untrusted types by default, but users routinely pass `trusted=` the list that
`skops.io.get_untrusted_types` returns. A `FunctionNode` for `os.system` or a `MethodNode` whose
object resolves to `builtins.eval` then runs at load time: skops' own advisories describe such
bypasses in skops < 0.12.0 (CVE-2025-54412, CVE-2025-54413, CVE-2025-54886).

## Example
A schema node `{"__class__": "system", "__module__": "os", "__loader__": "FunctionNode"}`.

## Remediation
Never add such types to `trusted=`. Do not load the file.

## References
- CVE-2025-54412, CVE-2025-54413, CVE-2025-54886 (skops < 0.12.0)
- <https://nvd.nist.gov/vuln/detail/CVE-2025-54412>
- <https://skops.readthedocs.io/en/stable/persistence.html>
"#,
};

pub fn finding(location: Location, name: &str, loader: &str, reason: &str) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("skops schema references `{name}` ({loader}): {reason}"),
    )
    .evidence("callable", name)
    .evidence("loader", loader)
}
