use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-zip-anomaly",
    category: "container",
    summary: "A zip archive is malformed in a way that strict readers reject but model loaders accept",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Parses the zip central directory and every local file header independently and compares them:
CRC-32 mismatches, general-purpose flag bits (encryption, patched data, strong encryption) set on
members that are in fact plain, local/central name mismatches, overlapping entries, data prepended
before the archive, several end-of-central-directory records, local headers the central directory
does not list. mlvet reads such members anyway, the way PyTorch's miniz-based reader does, and scans
them.

## Why is this bad?
Each of these tricks made a deployed scanner refuse or skip an archive that `torch.load` still
loads (CVE-2025-1944, CVE-2025-1945, CVE-2025-10156): the scanner reported an error, the pipeline
treated it as clean, and the pickle inside ran. Legitimate tools (`torch.save`, `numpy.savez`,
`zipfile`) never produce them.

## Example
A torch checkpoint whose `archive/data.pkl` has the encryption flag set although it is stored in
plain text: Python's `zipfile` raises "password required", PyTorch loads it.

## Remediation
Do not load the file. Re-create the archive from a trusted source with a standard tool.
"#,
};

/// A finding for one anomaly. Evasion-grade anomalies are high; plain corruption is medium.
pub fn finding(location: Location, what: &str, evasion: bool) -> Finding {
    let severity = if evasion {
        Severity::High
    } else {
        Severity::Medium
    };
    Finding::new(&RULE, location, format!("zip anomaly: {what}"))
        .severity(severity)
        .evidence("anomaly", what)
        .remediation("Do not load the file; re-create the archive from a trusted source.")
}
