use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-staged-pickle",
    category: "container",
    summary: "Stored bytes (a tensor storage, joblib array data, a bytes or string value) hold a pickle with dangerous or unknown references (staged payload)",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Looks for complete pickles stored as data: tensor storage records of a PyTorch checkpoint
(`<root>/data/<n>`), the raw array bytes joblib reads inline, and `bytes`/`bytearray`/`str` values
inside a pickle (`BINBYTES`, `SHORT_BINBYTES`, `BINBYTES8`, `BYTEARRAY8`, `BINSTRING`,
`SHORT_BINSTRING`, `BINUNICODE`...). Stored bytes that start like a pickle are simulated as a pickle
(streaming, nested at most two levels deep, each byte read once); dangerous or unknown references,
computed calls or globals found in it are reported here, naming the first.

A pickle that the load itself unpickles is not staged: `torch.storage._load_from_bytes(b)` (what
`pickle.dumps(tensor)` writes) runs `torch.load(b, weights_only=False)` on load, so its argument is
read as the legacy torch file it is, and what it references is reported as the rest of the pickle
(`pickle-dangerous-callable`, `pickle-unknown-callable`), at the location of the bytes value.

## Why is this bad?
Nothing runs when the outer file is loaded: the loader returns the bytes as data. But stored bytes
that are a malicious pickle are a staged payload: any code that later calls `pickle.loads` on them
(`pickle.loads(tensor.numpy().tobytes())`, a plugin that unpickles a config value) runs it, and
other scanners never look there.

## Remediation
Find out why the model stores a pickle as data; never pass such bytes to an unpickler.
"#,
};

/// A tensor storage record that holds a pickle.
pub fn finding(location: Location, detail: &str) -> Finding {
    stored_in(location, "tensor storage", detail)
}

/// Stored bytes described by `what` ("bytes value", "joblib array data"...) that hold a pickle.
pub fn stored_in(location: Location, what: &str, detail: &str) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("{what} holds a pickle that, if unpickled, {detail}"),
    )
    .evidence("staged", detail)
}
