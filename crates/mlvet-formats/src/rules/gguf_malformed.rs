use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "gguf-malformed",
    category: "format",
    summary: "A GGUF file's header is truncated, inconsistent or exceeds mlvet's bounds",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reads the GGUF header (version 1 to 3, either byte order): the metadata key-values and the
tensor infos, never the tensor data. Every count and length is checked against the bytes left in
the file before anything is allocated. Reports a header that ends early, a count or length larger
than the file, an unknown value type, arrays nested deeper than 8 levels, tensor infos with more
than 4 dimensions, an unknown ggml type, a tensor whose data lies outside the file or overlaps
another, data offsets not aligned to `general.alignment`, duplicate keys or tensor names, and
strings that are not UTF-8.

## Why is this bad?
llama.cpp refuses such files, so they are broken downloads at best. Crafted headers have been
used against GGUF parsers themselves (heap overflows from unchecked lengths and counts in
llama.cpp's `gguf.c`), and metadata after the damage (a chat template) was not inspected.

## Remediation
Re-download the file from a trusted source and compare its hash with the publisher's.

## References
- Databricks, "GGML GGUF file format vulnerabilities" (2024): unchecked counts and lengths in
  llama.cpp's GGUF reader
- <https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>
"#,
};

pub fn finding(location: Location, what: impl Into<String>) -> Finding {
    let what = what.into();
    Finding::new(&RULE, location, format!("malformed GGUF header: {what}"))
        .evidence("problem", what)
}
