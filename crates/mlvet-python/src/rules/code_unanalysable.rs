use mlvet_core::{Confidence, Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "code-unanalysable",
    category: "code",
    summary: "A Python file or notebook could not be fully analysed (syntax error, size or nesting limit, malformed notebook)",
    default_severity: Severity::Low,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports a Python source or Jupyter notebook that the code analysis could not read completely: a
syntax error (the parser recovers and the rest of the file is still analysed), a file larger than
8 MiB, nesting deeper than 1,000 levels, or a notebook that is not valid nbformat JSON. The first
problem is named, with its position; the count of the others is in the evidence.

## Why is this bad?
mlvet never reports what it could not read as safe: a risky call in the part the parser could not
make sense of would go unseen. Python 2 sources, templates with Python extensions and generated
files are the usual benign causes; hiding code behind a deliberate syntax error is the hostile one.

## Remediation
Fix the syntax error (or exclude generated and Python 2 files with `exclude` in `mlvet.toml`).

## References
- [Python language reference: lexical analysis](https://docs.python.org/3/reference/lexical_analysis.html)
"#,
};

pub fn finding(location: Location, problem: &str, count: usize) -> Finding {
    Finding::new(&RULE, location, format!("code not fully analysed: {problem}"))
        .confidence(Confidence::High)
        .evidence("problems", count.to_string())
        .remediation("Fix the syntax error, or exclude the file if it is not Python 3 (generated, Python 2, template).")
}
