use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-uninspectable-member",
    category: "container",
    summary: "Part of a container could not be inspected (encrypted, unknown compression, unreadable)",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports a container member that mlvet could not read: a password-protected or encrypted member, a
compression method mlvet does not decode, a member whose data cannot be decompressed.

## Why is this bad?
What cannot be read cannot be vetted. A loader given the password, or a different reader, may
still unpickle the member. An artefact with such a member is never reported as safe.

## Remediation
Obtain an unencrypted copy from a trusted source, or extract it with the password and scan the
extracted files.
"#,
};

pub fn finding(location: Location, reason: impl Into<String>) -> Finding {
    let reason = reason.into();
    Finding::new(
        &RULE,
        location,
        format!("member could not be inspected: {reason}"),
    )
    .evidence("reason", reason)
    .remediation("Scan an unencrypted copy obtained from a trusted source.")
}
