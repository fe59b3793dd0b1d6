use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "template-unparseable",
    category: "template",
    summary: "A chat template could not be parsed or exceeds mlvet's bounds, so it was not inspected",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports a chat template that mlvet's Jinja2 parser rejects (a syntax error, an unknown tag, an
unterminated string or block), that exceeds its bounds (1 MiB of source, 96 levels of nesting,
200,000 syntax nodes), or that is stored in a shape the loader does not accept (a
`chat_template` that is neither a string nor a list of `{name, template}` objects, a GGUF
template key whose value is not a string).

## Why is this bad?
A template that was not parsed was not inspected, so it is never reported safe. Jinja2 itself
refuses most invalid templates, but parser differentials (a construct one parser accepts and the
other does not) are how payloads are hidden from scanners.

## Remediation
Check the template with `jinja2.Environment().parse()` and review it by hand; replace it with the
template the model's authors published.
"#,
};

pub fn finding(location: Location, key: &str, why: impl Into<String>) -> Finding {
    let why = why.into();
    Finding::new(
        &RULE,
        location,
        format!("chat template `{key}` was not inspected: {why}"),
    )
    .evidence("template", key)
    .evidence("problem", why)
}
