use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-tar-special-member",
    category: "container",
    summary: "A tar member is a link, a device, a FIFO, or of a type `tarfile` reads as a regular file",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports every tar member that is not a plain file or directory, so that no member vanishes from a
scan unseen:
- **hard and symbolic links**: Python's `tarfile.extractfile` follows them and returns the bytes of
  the member they name (a legacy `torch.load` of a tar reads `pickle` that way). A link whose target
  mlvet scanned earlier in the archive is informational; a link to anything else (a later member,
  nothing, a path outside the archive) makes the artefact not fully inspected. A link named like a
  legacy PyTorch tar record (`sys_info`, `pickle`, `storages`, `tensors`) is high: `torch.save`
  never writes links.
- **character and block devices, FIFOs**: `tarfile.extractall` creates them (as root, a device node
  gives raw disk access); `extractfile` returns nothing.
- **unknown type flags**: `tarfile` treats a member whose type it does not know as a regular file and
  `extractfile` returns its data; mlvet scans that data too and reports the type.

GNU sparse members (`S`) and PAX sparse members (formats 0.0, 0.1, 1.0) are read expanded, the way
`tarfile.extractfile` returns them, and scanned like any file; they are not reported here.

## Why is this bad?
Scanners that look only at regular members miss a payload reached through a link, or stored under
a type flag they skip, while `tarfile` hands it to the unpickler.

## Remediation
Inspect the archive listing (`tar tvf`). Re-create the archive with only regular files from a
trusted source.
"#,
};

/// A finding for one special member, of the given severity.
pub fn finding(location: Location, what: &str, severity: Severity) -> Finding {
    let verdict = if severity == Severity::Info {
        Verdict::Safe
    } else {
        Verdict::Suspicious
    };
    Finding::new(&RULE, location, format!("tar member: {what}"))
        .severity(severity)
        .verdict(verdict)
        .evidence("member", what)
        .remediation("Re-create the archive with only regular files from a trusted source.")
}
