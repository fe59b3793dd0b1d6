use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-executable-model",
    category: "container",
    summary: "A native executable or script named like a model file, or an executable model (llamafile)",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports files named like model files (`.pt`, `.pkl`, `.bin`, `.safetensors`, `.gguf`, `.onnx`, `.h5`...)
whose content is an ELF, PE (`MZ`), Mach-O executable or a script (`#!`), and executable models:
llamafiles (Actually Portable Executables, `MZqFpD`, with the weights in an embedded zip), which run
native code when started.

Severity: high for an executable or script disguised under a model name (no model loader needs one;
it is there to be run by something else, or to pass review as "weights"); medium for an ambiguous
`.bin` (firmware and tools use it too) and for a llamafile (executable by design: its risk is the
native code you choose to run, so verify where it came from).

## Why is this bad?
Model repositories and caches are trusted as data. An executable inside them, under a data name,
is a dropper waiting for a `chmod +x` or a build script that runs everything in a folder.

## Remediation
Remove the file unless you know why it is there. Run llamafiles only from publishers you trust and
compare their hashes.
"#,
};

pub fn finding(location: Location, what: &str, severity: Severity) -> Finding {
    Finding::new(&RULE, location, what.to_string())
        .severity(severity)
        .evidence("content", what)
}
