use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "template-suspicious-access",
    category: "template",
    summary: "A chat template uses a private attribute or an attribute name that cannot be determined",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports chat template constructs that are not known escapes but that mlvet cannot show to be
harmless: a `_private` attribute or item (`x._module`), the `attr` filter with a computed name
(`x|attr(name)`), an item or attribute name built from underscores and values that are not
constant (`x['__' ~ name ~ '__']`), and `str.format` strings built at render time whose fields
walk underscored attributes.

## Why is this bad?
Real chat templates read message fields by fixed names. Computing attribute names is how escape
payloads hide `__class__` from scanners that look for the literal string; Jinja2's sandbox
refuses `_private` attributes, so a template that reaches for them is probing it.

## Example
```jinja
{% set n = request.args.n %}{{ messages|attr('__' ~ n ~ '__') }}
```

## Remediation
Review the template by hand, or replace it with the template the model's authors published.
"#,
};

/// A construct that needs review.
pub fn finding(location: Location, key: &str, issue: &mlvet_jinja::Issue) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!(
            "chat template `{key}` uses `{}` ({}, via {}) on line {}",
            issue.name,
            issue.kind.as_str(),
            issue.via,
            issue.line
        ),
    )
    .evidence("template", key)
    .evidence("attribute", issue.name.clone())
    .evidence("kind", issue.kind.as_str())
    .evidence("via", issue.via.clone())
    .evidence("expression", issue.expression.clone())
    .evidence("line", issue.line.to_string())
}
