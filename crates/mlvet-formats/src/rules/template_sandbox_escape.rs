use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "template-sandbox-escape",
    category: "template",
    summary: "A chat template reaches Python interpreter internals (Jinja2 sandbox escape, CVE-2024-34359 class)",
    default_severity: Severity::Critical,
    verdict: Verdict::Malicious,
    docs: r#"
## What it does
Parses every chat template mlvet finds (GGUF `tokenizer.chat_template` and
`tokenizer.chat_template.<name>` keys; Hugging Face `tokenizer_config.json`, `chat_template.json`,
`chat_template.jinja`, `processor_config.json`, `preprocessor_config.json`) as Jinja2, without
rendering it, and reports every place the template reaches interpreter internals:

- a `__dunder__` attribute or item (`__class__`, `__subclasses__`, `__globals__`, `__builtins__`,
  `__import__`, `__mro__`, `__init__`...) reached with `.name`, `['name']`, the `attr` filter,
  `map(attribute=...)`, `selectattr`, or a `str.format` field (`'{0.__class__}'`), including
  names assembled from constants (`'__cla' ~ 'ss__'`, `'%c'|format(95)`, `|join`, `|replace`,
  `|reverse`, escapes such as `'\x5f'`, `dict(__cla=1, ss__=1)|join`, variables `set` to them);
- attributes that expose frames and globals without underscores (`mro`, `gi_frame`, `f_globals`...);
- Jinja2 and Flask gadget objects used as objects (`cycler.__init__`, `joiner`, `lipsum`,
  `namespace.__init__`, `self._TemplateReference__context`, `config`, `request`, `url_for`,
  `get_flashed_messages`). `namespace(...)` used as a constructor, as transformers templates do,
  is not reported.

The evidence names the template key, the template line, the attribute and the expression.

## Why is this bad?
Chat templates are code that runs when the model is used. llama-cpp-python before 0.2.72
rendered the GGUF chat template with a plain `jinja2.Environment`: a template walking
`().__class__.__base__.__subclasses__()` to `__builtins__['__import__']('os')` runs any command
on the machine that loads the model (CVE-2024-34359, "Llama Drama"). transformers renders in an
`ImmutableSandboxedEnvironment`, where such a template is at best an attempt to find a sandbox
gap. No legitimate chat template needs interpreter internals.

## Example
```jinja
{% for x in ().__class__.__base__.__subclasses__() %}{% if "warning" in x.__name__ %}
{{ x()._module.__builtins__['__import__']('os').popen("id").read() }}{% endif %}{% endfor %}
```

## Remediation
Do not load the model. Use the chat template published by the model's authors, or load the model
with a runtime that renders templates in a sandbox (llama-cpp-python >= 0.2.72, transformers).

## References
- CVE-2024-34359 / GHSA-56xg-wfcc-g829: llama-cpp-python server-side template injection
- Jinja2 sandbox documentation: `jinja2.sandbox.ImmutableSandboxedEnvironment`
- <https://github.com/advisories/GHSA-56xg-wfcc-g829>
- <https://jinja.palletsprojects.com/en/stable/sandbox/>
"#,
};

/// A template construct that reaches interpreter internals.
pub fn finding(location: Location, key: &str, issue: &mlvet_jinja::Issue) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!(
            "chat template `{key}` reaches `{}` ({}, via {}) on line {}",
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
