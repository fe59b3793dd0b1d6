use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-polyglot",
    category: "container",
    summary: "A file that is valid as two formats (a pickle or safetensors that is also a zip, an image that is also an archive...)",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Looks for a second reading of every file: a zip end-of-central-directory record at the tail of a
file whose content starts as something else (pickle, legacy torch, safetensors, GGUF, NumPy, an image,
an executable), and a pickle opcode stream at the start of a safetensors file. Each reading is
scanned on its own; findings of the second reading carry the member `<as zip>` or `<as pickle>` in
their location.

## Why is this bad?
Loaders pick a reading by different rules: `zipfile` and `np.load` find a zip by its end record,
`pickle.load` reads from the first byte, `torch.load` decides by the first bytes, a scanner may
decide by extension. A file that one tool sees as harmless weights (or an image) and another as an
archive of pickles is built to be scanned as one thing and loaded as the other. Real writers never
produce such files.

## Example
`model.pkl` = a harmless pickle followed by a zip whose `archive/data.pkl` calls `os.system`:
`pickle.load` returns the harmless object, `zipfile.ZipFile("model.pkl")` opens the archive.

## Remediation
Do not load the file. Ask the publisher for a file in a single format and compare hashes.
"#,
};

pub fn finding(location: Location, primary: &str, other: &str) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("the file is both {primary} and {other}: each reading was scanned"),
    )
    .evidence("first reading", primary)
    .evidence("second reading", other)
}
