use mlvet_core::{RuleMeta, Severity, Verdict};

use super::{Hit, keyword_true};
use crate::analysis::Call;

pub static RULE: RuleMeta = RuleMeta {
    id: "code-langchain-dangerous-deserialization",
    category: "code",
    summary: "Python code passes `allow_dangerous_deserialization=True` to a LangChain loader",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Finds any call with `allow_dangerous_deserialization=True`: LangChain's `FAISS.load_local`,
`FAISS.deserialize_from_bytes`, `Annoy.load_local`, `ScaNN.load_local`,
`SKLearnVectorStore`, `InMemoryVectorStore.load` and the other loaders that pickle.

## Why is this bad?
LangChain refuses to unpickle vector-store indexes unless the caller opts in with this flag
(introduced after CVE-2024-5998). With it, a `index.pkl` / serialized store from an untrusted
source runs code when loaded.

## Example
```python
db = FAISS.load_local("faiss_index", embeddings, allow_dangerous_deserialization=True)  # reported
```

## Remediation
Only load stores you built yourself, from storage only you can write; otherwise rebuild the index
from the source documents. Suppress the finding inline naming where the store comes from.

## References
- [LangChain FAISS.load_local documentation](https://python.langchain.com/api_reference/community/vectorstores/langchain_community.vectorstores.faiss.FAISS.html)
- [CVE-2024-5998](https://nvd.nist.gov/vuln/detail/CVE-2024-5998)
"#,
};

pub(crate) fn check(call: &Call, hits: &mut Vec<Hit>) {
    if keyword_true(call, "allow_dangerous_deserialization") {
        hits.push(
            Hit::at_call(
                &RULE,
                call,
                format!("`{}` with allow_dangerous_deserialization=True unpickles the store: it can run code", call.written),
            )
            .remediation("Load only stores you built and control, or rebuild the index from the source documents."),
        );
    }
}
