use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-torchscript-code",
    category: "container",
    summary: "A TorchScript archive carries code that runs when the module is called",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Notes that an archive is a TorchScript module (`torch.jit.save`): besides its pickles (which mlvet
scans like any other) it holds TorchScript source under `code/`.

## Why is this bad?
`torch.jit.load` compiles that code and it runs when the module is called. TorchScript is a
restricted language, but it can call any registered `torch.ops` operator, and the loader has had
code-execution bugs (CVE-2022-45907). mlvet does not analyse TorchScript, so it cannot call such a
file safe: the archive is reported `suspicious` (needs review), even when every pickle in it is
clean.

## Remediation
Load TorchScript only from sources you trust, or read the `code/` files before using the module.

## References
- [PyTorch: TorchScript](https://pytorch.org/docs/stable/jit.html)
"#,
};

pub fn finding(location: Location, code_files: usize) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("TorchScript archive with {code_files} code file(s): the code runs when the module is called"),
    )
    .evidence("code files", code_files.to_string())
}
