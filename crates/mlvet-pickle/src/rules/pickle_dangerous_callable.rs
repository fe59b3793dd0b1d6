use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "pickle-dangerous-callable",
    category: "pickle",
    summary: "The pickle imports a callable on mlvet's deny list (code execution, processes, nested loaders, network, file access).",
    default_severity: Severity::Critical,
    verdict: Verdict::Malicious,
    docs: r#"## What it does
Simulates the pickle VM and resolves every `GLOBAL`, `STACK_GLOBAL` and `INST` reference exactly as
`pickle.Unpickler.find_class` would (protocol-dependent `_compat_pickle` renames, dotted attribute
walks). A reference that the deny list covers (with parent-module inheritance: `os` covers
`os.path.join`, `asyncio` covers `asyncio.unix_events`) is reported, graded by the entry's severity:
critical for code execution, processes and nested loaders, high for network, file and other side
effects. The evidence says whether the callable was also called (`REDUCE`, `OBJ`, `INST`, `NEWOBJ`,
`BUILD`) and with which literal arguments.
The first 100 deny-listed references of a pickle (called ones first) get a finding each; any
further ones are aggregated into one finding with their count, how many were called, the most
severe grade among them and the first 20 names: none disappears.

## Why is this bad?
`pickle.load` imports the module and fetches the attribute as soon as the opcode is executed, and
calls it on `REDUCE`: a reference to `os.system`, `builtins.eval`, `pkgutil.resolve_name` or
`torch.load` is the capability to run code on the machine that loads the file.

## Example
`\x80\x04\x95...\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.` calls `os.system('id')`.

## Remediation
Do not load the file. Obtain the model from a trusted source, or re-export it in a format that
cannot execute code (safetensors, ONNX without custom ops).

## References
- [Python `pickle` documentation: the security warning](https://docs.python.org/3/library/pickle.html)
- [Hugging Face: pickle scanning and its limits](https://huggingface.co/docs/hub/security-pickle)
- [CVE-2025-32434 / GHSA-53q9-r3pm-6pq6: `torch.load(weights_only=True)` still runs code](https://github.com/advisories/GHSA-53q9-r3pm-6pq6)
"#,
};

pub(crate) fn finding(
    reference: &crate::vm::Reference,
    location: mlvet_core::Location,
    severity: mlvet_core::Severity,
    category: &str,
    reason: &str,
) -> mlvet_core::Finding {
    let qualified = reference.qualified();
    let message = if reference.called {
        format!("calls {qualified} ({category})")
    } else {
        format!("imports {qualified} ({category})")
    };
    let mut finding = mlvet_core::Finding::new(&RULE, location, message)
        .severity(severity)
        .evidence("callable", qualified.clone())
        .evidence("category", category)
        .evidence("reason", reason);
    if let Some(public) = os_spelling(&qualified) {
        finding = finding.evidence("known as", public);
    }
    super::reference_evidence(finding, reference)
}

/// `os` functions are pickled under the platform module that defines them (`posix.system` on
/// Linux and macOS, `nt.system` on Windows): name the spelling people know.
fn os_spelling(qualified: &str) -> Option<String> {
    ["posix.", "nt."]
        .iter()
        .find_map(|prefix| qualified.strip_prefix(prefix))
        .map(|name| format!("os.{name}"))
}

/// One finding for the deny-listed references past the number listed one by one: how many, the most
/// severe grade among them, whether any was called, and the first names. The verdict stays
/// malicious: an aggregated dangerous callable never disappears.
pub(crate) fn aggregate(
    location: mlvet_core::Location,
    severity: mlvet_core::Severity,
    count: u64,
    called: u64,
    first_names: &[String],
) -> mlvet_core::Finding {
    let message = format!(
        "imports {count} further deny-listed callables, {called} of them called (first: {})",
        first_names.join(", ")
    );
    mlvet_core::Finding::new(&RULE, location, message)
        .severity(severity)
        .evidence("further callables", count.to_string())
        .evidence("called", called.to_string())
        .evidence("first of them", first_names.join(", "))
}
