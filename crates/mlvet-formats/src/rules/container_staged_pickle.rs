use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-staged-pickle",
    category: "container",
    summary: "A tensor storage record holds a pickle with dangerous references (staged payload)",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Looks at the first bytes of every tensor storage record of a PyTorch checkpoint (`<root>/data/<n>`)
without reading the record; when they start like a pickle, the record is simulated, and dangerous
references found in it are reported here.

## Why is this bad?
`torch.load` reads storage records as raw tensor bytes and never unpickles them, so nothing runs on
load. But a tensor whose bytes are a malicious pickle is a staged payload: any code that later calls
`pickle.loads(tensor.numpy().tobytes())` runs it, and other scanners never look there.

## Remediation
Find out why the weights contain a pickle; do not pass tensor bytes to an unpickler.
"#,
};

pub fn finding(location: Location, detail: &str) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("tensor storage holds a pickle that would {detail} if unpickled"),
    )
    .evidence("staged", detail)
}
