use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "hub-integrity-mismatch",
    category: "provenance",
    summary: "A file read whole from the Hub does not match the hash its commit records",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
When `mlvet scan hf://…` reads a file whole (configs, tokenizer files, Python files, small pickles),
it hashes the bytes it received and compares them with what the pinned commit records for that
path: the sha256 of an LFS/Xet file (`lfs.sha256` of the repository listing, also sent as
`X-Linked-Etag`), or the git blob id (SHA-1 of `blob <length>\0<content>`) of a file stored in git.
A difference means the bytes that were scanned are not the bytes of the commit.

Files read only in part (the header of a multi-GB safetensors or GGUF file, the pickles and
central directory of a PyTorch zip) cannot be hashed; the report says so per file
(`hub_integrity = partial read, not verified`) and never claims their integrity.

## Why is this bad?
A mirror (`HF_ENDPOINT`), a proxy or a CDN that serves other bytes than the commit's can show a
scanner a clean file while serving a different one to the loader, or the other way round. The
verdict on such a file is about unknown content.

## Example
A mirror answers `config.json` of `org/model@<commit>` with a file whose SHA-1 blob id is not the
`blobId` the repository listing gives for it.

## Remediation
Scan against the official endpoint, or download the file and scan the local copy with `--hash`;
report the mirror.

## References
- Git object format (blob ids): <https://git-scm.com/book/en/v2/Git-Internals-Git-Objects>
- Hugging Face Hub, downloading files and ETags: <https://huggingface.co/docs/huggingface_hub/guides/download>
"#,
};

pub fn finding(location: Location, algorithm: &str, expected: &str, got: &str) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!("the {algorithm} of the bytes read ({got}) is not the one the commit records ({expected})"),
    )
    .evidence("algorithm", algorithm)
    .evidence("expected", expected)
    .evidence("received", got)
    .remediation("Do not trust this copy: scan against the official endpoint, or download and scan locally with --hash.")
}
