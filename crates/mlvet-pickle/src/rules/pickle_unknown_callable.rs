use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "pickle-unknown-callable",
    category: "pickle",
    summary: "The pickle imports a callable that is on neither the allow list nor the deny list.",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"## What it does
Reports every callable or class reference that mlvet's allow list does not cover and its deny list
does not name. mlvet is allow-list first: anything it has not reviewed needs a human decision.
The first 100 such references of a pickle (called ones first) get a finding each; the rest are
counted in one finding that names the first 20 of them, so the report stays small.

## Why is this bad?
Any importable callable can be reached by a pickle, and the set of dangerous ones is unbounded
(hundreds of gadgets have been found in the standard library alone). A callable nobody reviewed may
execute code, touch files or the network when called with attacker-chosen arguments.

## Remediation
Check what the named callable does. If it is a legitimate class of your model's library, add it to a
policy extension (`[[allow]]` entry with a reason); otherwise treat the file as untrusted.

## References
- [Python `pickle` documentation: restricting globals](https://docs.python.org/3/library/pickle.html#restricting-globals)
- [Hugging Face: pickle scanning and its limits](https://huggingface.co/docs/hub/security-pickle)
"#,
};

pub(crate) fn finding(
    reference: &crate::vm::Reference,
    location: mlvet_core::Location,
) -> mlvet_core::Finding {
    let qualified = reference.qualified();
    let message =
        format!("imports {qualified}, which is on neither the allow list nor the deny list");
    let finding =
        mlvet_core::Finding::new(&RULE, location, message).evidence("callable", qualified);
    super::reference_evidence(finding, reference)
}

/// One finding for the unknown references past the number listed one by one: how many, and the
/// first names (so that a pickle of a million distinct globals gives a small report).
pub(crate) fn aggregate(
    location: mlvet_core::Location,
    count: u64,
    first_names: &[String],
) -> mlvet_core::Finding {
    let message = format!(
        "imports {count} further callables on neither the allow list nor the deny list \
         (first: {})",
        first_names.join(", ")
    );
    mlvet_core::Finding::new(&RULE, location, message)
        .evidence("further callables", count.to_string())
        .evidence("first of them", first_names.join(", "))
}
