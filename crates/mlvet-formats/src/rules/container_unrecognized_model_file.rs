use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-unrecognized-model-file",
    category: "container",
    summary: "A file named like a pickle-based model holds content mlvet does not recognise",
    default_severity: Severity::Low,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports a file whose name says pickle-based model (`.pkl`, `.pt`, `.joblib`, `.npy`...) but whose
content is none of the formats mlvet recognises by its magic bytes.

## Why is this bad?
The loader for that extension will still try to read it: `pickle.load`, `torch.load` and
`joblib.load` sniff content, not names. Unrecognised content cannot be vetted, so the file is
flagged for review rather than passed. For the ambiguous `.bin` (also used for raw weights and
text) the finding is informational.

## Remediation
Check what the file really is; delete it if it is not needed.
"#,
};

pub fn finding(location: Location, extension: &str, suspicious: bool) -> Finding {
    let finding = Finding::new(
        &RULE,
        location,
        format!("`.{extension}` file whose content is not a recognised model or container format"),
    )
    .evidence("extension", extension);
    if suspicious {
        finding
    } else {
        finding.severity(Severity::Info).verdict(Verdict::Safe)
    }
}
