//! What the Hugging Face rules share: which modules are the hub's, what a hub repository id looks
//! like as opposed to a local path, and what pins a revision.

use crate::analysis::{Call, Literal, SourceAnalysis};

/// Libraries whose `from_pretrained`/download helpers fetch from the Hugging Face Hub.
pub(crate) const HUB_LIBRARIES: &[&str] = &[
    "transformers",
    "diffusers",
    "peft",
    "sentence_transformers",
    "huggingface_hub",
    "datasets",
    "optimum",
    "trl",
    "timm",
    "setfit",
    "accelerate",
    "adapters",
];

/// Whether `call` is a hub call of method `method`: resolved into a hub library, or called on a
/// receiver in a file that imports one (`model_class.from_pretrained(...)`).
pub(crate) fn is_hub_call(call: &Call, analysis: &SourceAnalysis, method: &str) -> bool {
    if call.method() != method {
        return false;
    }
    let root = call.name.split('.').next().unwrap_or("");
    if call.resolved {
        return HUB_LIBRARIES.contains(&root);
    }
    HUB_LIBRARIES
        .iter()
        .any(|library| analysis.imports(library))
}

/// A literal first argument that names a local path rather than a hub repository.
pub(crate) fn is_local_path(value: &str) -> bool {
    value.starts_with(['.', '/', '~', '\\'])
        || value.as_bytes().get(1) == Some(&b':')
        || value.split('/').count() > 2
        || value.contains(char::is_whitespace)
        || value.is_empty()
}

/// A full 40-hex commit, the only revision the Hub cannot move.
pub(crate) fn is_full_commit(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Describes a revision argument for messages: why it does not pin the download.
pub(crate) fn revision_problem(revision: Option<&Literal>) -> Option<String> {
    match revision {
        None => Some("no revision: the download follows the default branch".to_string()),
        Some(Literal::Str(rev)) if is_full_commit(rev) => None,
        Some(Literal::Str(rev)) if rev.len() >= 7 && rev.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(format!(
                "revision {rev:?} is a short commit id: the Hub resolves only full 40-hex commits immutably"
            ))
        }
        Some(Literal::Str(rev)) => Some(format!(
            "revision {rev:?} is a branch, tag or ref that can move"
        )),
        Some(Literal::None) => {
            Some("revision=None: the download follows the default branch".to_string())
        }
        Some(other) => Some(format!(
            "revision {} is not a literal commit (cannot check it is pinned)",
            other.display()
        )),
    }
}
