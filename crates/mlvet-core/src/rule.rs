use crate::{Severity, Verdict};

/// The static description of one rule. Every rule lives in its own source file next to its
/// documentation and exposes one `pub static RULE: RuleMeta`.
///
/// Rule ids are stable kebab-case public API: they appear in JSON, SARIF and suppressions.
#[derive(Debug, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable kebab-case id, e.g. `pickle-dangerous-callable`.
    pub id: &'static str,
    /// The analysis that emits it: `pickle`, `container`, `format`, `dependency`, ...
    pub category: &'static str,
    /// One line: what the rule detects.
    pub summary: &'static str,
    /// Severity of a finding unless the analysis grades it otherwise.
    pub default_severity: Severity,
    /// The verdict a finding of this rule pushes its artefact to (at least).
    pub verdict: Verdict,
    /// Markdown: `## What it does`, `## Why is this bad?`, `## Example` (optional), `## Remediation`.
    pub docs: &'static str,
}

/// Renders `docs/rules.md` from every registered rule, sorted by id so that the output is stable.
pub fn render_rules_markdown(rules: &[&RuleMeta]) -> String {
    let mut sorted: Vec<&RuleMeta> = rules.to_vec();
    sorted.sort_by_key(|rule| rule.id);
    let mut out = String::from(
        "<!-- Generated from the rule sources by `cargo test -p mlvet-cli --test rules_doc`; \
         run with MLVET_BLESS=1 to regenerate. Do not edit by hand. -->\n\n# mlvet rules\n\n\
         Every finding names one of these rule ids. Ids are stable public API.\n\n\
         | rule | category | default severity | verdict | summary |\n|---|---|---|---|---|\n",
    );
    for rule in &sorted {
        out.push_str(&format!(
            "| [`{id}`](#{id}) | {cat} | {sev} | {verdict} | {summary} |\n",
            id = rule.id,
            cat = rule.category,
            sev = rule.default_severity,
            verdict = rule.verdict,
            summary = rule.summary.replace('|', "\\|"),
        ));
    }
    for rule in &sorted {
        out.push_str(&format!(
            "\n## {id}\n\n{summary}\n\n- category: `{cat}`\n- default severity: `{sev}`\n- verdict: `{verdict}`\n\n",
            id = rule.id,
            summary = rule.summary,
            cat = rule.category,
            sev = rule.default_severity,
            verdict = rule.verdict,
        ));
        // Rule docs use `##` headings for their sections; nest them under the rule's heading.
        for line in rule.docs.trim().lines() {
            if let Some(rest) = line.strip_prefix("## ") {
                out.push_str("### ");
                out.push_str(rest);
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    static A: RuleMeta = RuleMeta {
        id: "b-rule",
        category: "test",
        summary: "second",
        default_severity: Severity::Low,
        verdict: Verdict::Suspicious,
        docs: "## What it does\nThings.",
    };
    static B: RuleMeta = RuleMeta {
        id: "a-rule",
        category: "test",
        summary: "first | piped",
        default_severity: Severity::High,
        verdict: Verdict::Malicious,
        docs: "## What it does\nOther things.",
    };

    #[test]
    fn rules_render_sorted_with_nested_headings() {
        let md = render_rules_markdown(&[&A, &B]);
        let a = md.find("\n## a-rule").expect("a-rule section");
        let b = md.find("\n## b-rule").expect("b-rule section");
        assert!(a < b);
        assert!(md.contains("### What it does\nThings."));
        assert!(md.contains("first \\| piped"));
    }
}
