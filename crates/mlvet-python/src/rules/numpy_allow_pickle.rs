use mlvet_core::{Confidence, RuleMeta, Severity, Verdict};

use super::{Hit, named};
use crate::analysis::{Call, Literal};

pub static RULE: RuleMeta = RuleMeta {
    id: "code-numpy-allow-pickle",
    category: "code",
    summary: "Python code calls `numpy.load` with `allow_pickle=True`",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Finds `numpy.load(...)` (through any alias, e.g. `np.load`) with `allow_pickle=True` (by keyword or
as the third positional argument), or with a non-literal `allow_pickle` value.

## Why is this bad?
Object arrays in `.npy`/`.npz` files are stored as pickles. numpy refuses them by default since
1.16.3 (CVE-2019-6446); `allow_pickle=True` turns unpickling back on, so the array file can run
code when loaded.

## Example
```python
data = np.load("features.npy", allow_pickle=True)  # reported
data = np.load("features.npy")                     # not reported
```

## Remediation
Save numeric arrays without object dtype and drop `allow_pickle=True`; keep structured data in
JSON, Arrow or safetensors.

## References
- [numpy.load documentation (allow_pickle)](https://numpy.org/doc/stable/reference/generated/numpy.load.html)
- [CVE-2019-6446](https://nvd.nist.gov/vuln/detail/CVE-2019-6446)
"#,
};

pub(crate) fn check(call: &Call, hits: &mut Vec<Hit>) {
    if !named(call, &["numpy.load"]) {
        return;
    }
    let hit = match call.argument("allow_pickle", 2) {
        Some(Literal::Bool(true)) => Hit::at_call(
            &RULE,
            call,
            format!(
                "`{}` with allow_pickle=True unpickles object arrays: the file can run code",
                call.written
            ),
        ),
        Some(value @ (Literal::Name(_) | Literal::Other)) => Hit::at_call(
            &RULE,
            call,
            format!(
                "`{}` with allow_pickle={} (not a literal False)",
                call.written,
                value.display()
            ),
        )
        .confidence(Confidence::Medium)
        .severity(Severity::Medium),
        _ => return,
    };
    hits.push(hit.remediation("Drop allow_pickle=True; store arrays without object dtype."));
}
