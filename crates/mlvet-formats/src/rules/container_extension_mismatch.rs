use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-extension-mismatch",
    category: "container",
    summary: "The file's content format does not match what its extension claims",
    default_severity: Severity::Low,
    verdict: Verdict::Safe,
    docs: r#"
## What it does
Compares the format found by content sniffing with the format the file name announces. mlvet always
scans by content; this rule only reports the disagreement.

## Why is this bad?
Scanners that choose their parser by extension are bypassed by renaming (CVE-2025-10155: a bare
pickle named `.bin`; pickles named `.safetensors` or `.npy`). A pickle disguised as a format that
cannot carry code (safetensors, npy, json, onnx...) is a strong sign of intent and is graded
suspicious. Harmless renamings (a torch zip named `.pkl`, a pickle named `.bin`) are informational.

## Remediation
Rename the file after its real format, or find out why it is disguised.
"#,
};

pub fn finding(location: Location, extension: &str, actual: &str, disguise: bool) -> Finding {
    let finding = Finding::new(
        &RULE,
        location,
        format!("`.{extension}` file whose content is {actual}"),
    )
    .evidence("extension", extension)
    .evidence("content", actual);
    if disguise {
        finding
            .severity(Severity::Medium)
            .verdict(Verdict::Suspicious)
    } else {
        finding.severity(Severity::Info)
    }
}
