use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-archive-path-escape",
    category: "container",
    summary: "An archive member's name or link target escapes the extraction folder (`..`, absolute path, drive letter)",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Checks the name of every zip, tar and 7z member, and the target of every tar symbolic or hard
link, for paths that leave the folder the archive is extracted into: a `..` segment, an absolute
name (`/etc/...`, `\Windows\...`), a Windows drive letter (`C:...`) or a UNC path (`\\host\...`).
Both `/` and `\` count as separators, as they do on Windows.

## Why is this bad?
Several model formats are archives that their loaders extract to disk before anything is loaded:
NeMo's `SaveRestoreConnector` untars every `.nemo` file into a folder (releases before the
safe-extraction check it gained in April 2024 used a bare `tarfile.extractall`); TorchServe unpacks a `.mar`
zip into its model store when a model is registered; SageMaker-style `model.tar.gz` bundles and many
hub download helpers call `tarfile.extractall`, which before Python 3.14 applies no filter by default
and writes `../` and absolute names, and links to them, wherever they point (CVE-2007-4559). A member
named `../../home/user/.bashrc`, or a symlink to `/home/user/.ssh` followed by a member written
through it, overwrites files outside the folder: code execution at the next login or import, without
any pickle. Legitimate writers (`tarfile`, `zipfile`, `torch.save`, `torch-model-archiver`) never
produce such names.

## Example
A `.nemo` tar containing `model_config.yaml`, `model_weights.ckpt` and
`../../.config/autostart/x.desktop`.

## Remediation
Do not extract or load the archive. If the contents are needed, list them and extract only the
expected members with a filtering extractor (`tarfile` with `filter="data"`).

## References
- [CVE-2007-4559: `tarfile` extraction follows `..` and absolute member names](https://nvd.nist.gov/vuln/detail/CVE-2007-4559)
- [PEP 706: filters for `tarfile` extraction](https://peps.python.org/pep-0706/)
"#,
};

/// A finding for the escaping members of one archive: the first one located, all counted.
pub fn finding(location: Location, first: &str, why: &str, count: usize) -> Finding {
    let message = if count > 1 {
        format!(
            "archive member path escapes the extraction folder: `{first}` ({why}), and {} more",
            count - 1
        )
    } else {
        format!("archive member path escapes the extraction folder: `{first}` ({why})")
    };
    Finding::new(&RULE, location, message)
        .evidence("member", first)
        .evidence("reason", why)
        .evidence("escaping members", count.to_string())
        .remediation(
            "Do not extract the archive; extract only the expected members with a filtering extractor.",
        )
}

/// Why a member name (or link target) escapes the folder it is extracted into, if it does.
pub fn escape_reason(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if name.starts_with("\\\\") || name.starts_with("//") {
        return Some("UNC or network path");
    }
    if name.starts_with('/') || name.starts_with('\\') {
        return Some("absolute path");
    }
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Some("Windows drive letter");
    }
    if name.split(['/', '\\']).any(|segment| segment == "..") {
        return Some("`..` segment");
    }
    None
}

/// Collects the escaping names of one archive and reports them as one finding.
#[derive(Debug, Default)]
pub struct Escapes {
    first: Option<(String, &'static str)>,
    count: usize,
}

impl Escapes {
    /// Records `name` (described as `what`, e.g. "member" or "link target of `x`") if it escapes.
    pub fn check(&mut self, name: &str, what: impl FnOnce() -> String) {
        if let Some(why) = escape_reason(name) {
            self.count += 1;
            if self.first.is_none() {
                self.first = Some((what(), why));
            }
        }
    }

    /// The one finding for the archive at `archive`, if any name escaped.
    pub fn finding(self, archive: &Location) -> Option<Finding> {
        let (first, why) = self.first?;
        Some(finding(archive.clone(), &first, why, self.count))
    }
}

#[cfg(test)]
mod tests {
    use super::escape_reason;

    #[test]
    fn escaping_names_are_recognised_in_every_spelling() {
        for name in [
            "../x",
            "a/../../x",
            "a\\..\\x",
            "/etc/passwd",
            "\\Windows\\x",
            "C:x",
            "c:\\x",
            "\\\\host\\share\\x",
            "..",
        ] {
            assert!(escape_reason(name).is_some(), "{name}");
        }
        for name in [
            "archive/data.pkl",
            "a..b/c",
            "..a/b",
            "x/...",
            "model.ckpt",
            "./x",
        ] {
            assert!(escape_reason(name).is_none(), "{name}");
        }
    }
}
