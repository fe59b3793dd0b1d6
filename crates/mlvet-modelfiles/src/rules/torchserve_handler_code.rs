use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "torchserve-handler-code",
    category: "format",
    summary: "A TorchServe .mar archive ships Python code (handler, model file, extra files, requirements) that runs when the model is served",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reads `MAR-INF/MANIFEST.json` of a TorchServe model archive and lists the code it ships: the
handler when it is a file in the archive (not one of TorchServe's built-in handlers such as
`image_classifier`), the `modelFile`, every other `.py` member, and `requirements.txt` (which
TorchServe installs with pip when `install_py_dep_per_model` is enabled). The serialized model
inside (`serializedFile`, usually a torch checkpoint) is scanned like any other file.

## Why is this bad?
TorchServe imports the handler module and the model file when it loads the model: that code runs
with the server's privileges. mlvet does not judge Python source, so an archive that ships code
is `suspicious` (needs review) even when every checkpoint inside it is clean.

## Example
A `.mar` whose manifest says `"handler": "handler.py"` with a `handler.py` member.

## Remediation
Read the shipped `.py` files and requirements before serving the model; serve only archives from
sources you trust. TorchServe's `--disable-token-auth` and model-control APIs should stay off on
exposed servers (CVE-2023-43654, "ShellTorch").

## References
- TorchServe model archiver documentation (`MANIFEST.json`, handlers)
- CVE-2023-43654 (TorchServe SSRF / arbitrary model registration)
- <https://github.com/pytorch/serve/blob/master/model-archiver/README.md>
- <https://nvd.nist.gov/vuln/detail/CVE-2023-43654>
"#,
};

pub fn finding(
    location: Location,
    handler: &str,
    code_files: &[String],
    requirements: bool,
) -> Finding {
    let mut message = format!(
        "TorchServe archive ships code that runs when the model is served (handler `{handler}`"
    );
    if !code_files.is_empty() {
        message.push_str(&format!("; Python files: {}", code_files.join(", ")));
    }
    if requirements {
        message.push_str("; a requirements file installed at load time");
    }
    message.push(')');
    let mut finding = Finding::new(&RULE, location, message).evidence("handler", handler);
    for file in code_files {
        finding = finding.evidence("code file", file.clone());
    }
    if requirements {
        finding = finding.evidence("requirements", "yes");
    }
    finding
}
