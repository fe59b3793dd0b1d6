use mlvet_core::{RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "pickle-trailing-data",
    category: "pickle",
    summary: "Bytes that do not start a pickle follow the last complete pickle in the stream.",
    default_severity: Severity::Low,
    verdict: Verdict::Safe,
    docs: r#"## What it does
After a pickle's `STOP`, mlvet continues with the next pickle while the following bytes plausibly start
one; otherwise it stops and notes how many bytes it left unread.

## Why is this bad?
Usually harmless: legacy PyTorch files and some joblib files keep raw tensor storage after their
pickles, and the format layer handles those. Elsewhere, data appended to a pickle is unusual.

## Remediation
None needed when the format explains the data; otherwise check where the file comes from."#,
};

pub(crate) fn finding(location: mlvet_core::Location, first_bytes: &[u8]) -> mlvet_core::Finding {
    let shown: String = first_bytes
        .iter()
        .take(16)
        .map(|b| std::ascii::escape_default(*b).to_string())
        .collect();
    mlvet_core::Finding::new(
        &RULE,
        location,
        "data that does not start a pickle follows the last pickle",
    )
    .evidence("first bytes", shown)
}
