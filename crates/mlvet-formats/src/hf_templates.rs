//! Hugging Face tokenizer and processor files that carry chat templates, recognised by the
//! names transformers loads them by (the content is ordinary JSON or text):
//!
//! | file | format | where the template is |
//! |---|---|---|
//! | `tokenizer_config.json` | `hf-tokenizer-config` | `chat_template`: a string, or a list of `{name, template}` |
//! | `chat_template.json` | `hf-chat-template` | `chat_template` (transformers < 4.47 for processors) |
//! | `processor_config.json`, `preprocessor_config.json` | `hf-processor-config` | `chat_template` |
//! | `chat_template.jinja`, `additional_chat_templates/*.jinja` | `jinja-template` | the file (transformers >= 4.47) |
//!
//! JSON is bounded: files over [`MAX_JSON_BYTES`] are not parsed, and nesting is limited by
//! `serde_json`'s recursion limit (128). A file that cannot be read completely is reported
//! incomplete, never safe.

use std::io::Read;
use std::path::Path;

use mlvet_core::{ArtifactReport, Finding, Location};

use crate::rules::{container_malformed, container_resource_limit, container_uninspectable_member};
use crate::templates::{self, TemplateCheck};

/// Largest JSON or template file read (real tokenizer configs with large added-token tables are a
/// few MiB).
const MAX_JSON_BYTES: u64 = 64 * 1024 * 1024;

/// A file transformers reads a chat template from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplateFile {
    TokenizerConfig,
    ChatTemplateJson,
    ProcessorConfig,
    Jinja,
}

impl TemplateFile {
    fn format(self) -> &'static str {
        match self {
            TemplateFile::TokenizerConfig => "hf-tokenizer-config",
            TemplateFile::ChatTemplateJson => "hf-chat-template",
            TemplateFile::ProcessorConfig => "hf-processor-config",
            TemplateFile::Jinja => "jinja-template",
        }
    }
}

/// Which template file `display` names, by its file name (and folder for additional templates).
pub(crate) fn kind_of(display: &str) -> Option<TemplateFile> {
    let mut parts = display.rsplit(['/', '\\']);
    let name = parts.next()?;
    let folder = parts.next().unwrap_or("");
    Some(match name {
        "tokenizer_config.json" => TemplateFile::TokenizerConfig,
        "chat_template.json" => TemplateFile::ChatTemplateJson,
        "processor_config.json" | "preprocessor_config.json" => TemplateFile::ProcessorConfig,
        "chat_template.jinja" => TemplateFile::Jinja,
        _ if folder == "additional_chat_templates" && name.ends_with(".jinja") => {
            TemplateFile::Jinja
        }
        _ => return None,
    })
}

/// Scans one template file.
pub(crate) fn scan(path: &Path, display: &str, kind: TemplateFile) -> ArtifactReport {
    let loc = Location::file(display);
    let (size, outcome) = read(path, &loc);
    report(display, kind, &loc, size, outcome)
}

/// Scans one template file read from `reader` (`size` bytes), e.g. a remote file.
pub(crate) fn scan_reader<R: Read>(
    reader: R,
    size: u64,
    display: &str,
    kind: TemplateFile,
) -> ArtifactReport {
    let loc = Location::file(display);
    let outcome = read_text(reader, &loc);
    report(display, kind, &loc, size, outcome)
}

fn report(
    display: &str,
    kind: TemplateFile,
    loc: &Location,
    size: u64,
    outcome: Result<String, Finding>,
) -> ArtifactReport {
    let loc = loc.clone();
    let (findings, inspected) = match outcome {
        Ok(text) => {
            let check = match kind {
                TemplateFile::Jinja => templates::check(&loc, file_name(display), &text),
                _ => json_templates(&loc, &text),
            };
            (check.findings, check.inspected)
        }
        Err(finding) => (vec![finding], false),
    };
    ArtifactReport::new(
        display.to_string(),
        kind.format().to_string(),
        size,
        inspected,
        findings,
    )
}

fn file_name(display: &str) -> &str {
    display.rsplit(['/', '\\']).next().unwrap_or(display)
}

/// The file as UTF-8 text, within [`MAX_JSON_BYTES`].
fn read(path: &Path, loc: &Location) -> (u64, Result<String, Finding>) {
    let file = match crate::open_regular(path) {
        Ok(f) => f,
        Err(e) => {
            return (
                0,
                Err(container_uninspectable_member::finding(
                    loc.clone(),
                    format!("unreadable: {e}"),
                )),
            );
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    (size, read_text(file, loc))
}

/// At most [`MAX_JSON_BYTES`] of UTF-8 text from `reader`.
// The error is the finding itself, reported once per file: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn read_text<R: Read>(reader: R, loc: &Location) -> Result<String, Finding> {
    let mut bytes = Vec::new();
    if let Err(e) = reader.take(MAX_JSON_BYTES + 1).read_to_end(&mut bytes) {
        return Err(container_uninspectable_member::finding(
            loc.clone(),
            format!("unreadable: {e}"),
        ));
    }
    if bytes.len() as u64 > MAX_JSON_BYTES {
        return Err(container_resource_limit::finding(
            loc.clone(),
            format!("larger than {MAX_JSON_BYTES} bytes; not parsed"),
        ));
    }
    // transformers opens these files as UTF-8 text (a BOM would make the JSON invalid there too).
    String::from_utf8(bytes)
        .map_err(|_| container_malformed::finding(loc.clone(), "not valid UTF-8"))
}

/// The `chat_template` of a JSON config: absent, a string, or a list of `{name, template}`.
fn json_templates(loc: &Location, text: &str) -> TemplateCheck {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return TemplateCheck {
                findings: vec![container_malformed::finding(
                    loc.clone(),
                    format!("invalid JSON: {e}"),
                )],
                inspected: false,
            };
        }
    };
    let Some(object) = value.as_object() else {
        return TemplateCheck {
            findings: vec![container_malformed::finding(
                loc.clone(),
                "the JSON document is not an object",
            )],
            inspected: false,
        };
    };
    let Some(template) = object.get("chat_template") else {
        return TemplateCheck {
            findings: Vec::new(),
            inspected: true,
        };
    };
    let json_line = key_line(text, "chat_template");
    let mut result = TemplateCheck {
        findings: Vec::new(),
        inspected: true,
    };
    let mut add = |check: TemplateCheck| {
        result.inspected &= check.inspected;
        result
            .findings
            .extend(check.findings.into_iter().map(|f| match json_line {
                Some(line) => f.evidence("json_line", line.to_string()),
                None => f,
            }));
    };
    match template {
        serde_json::Value::Null => {}
        serde_json::Value::String(source) => {
            add(templates::check(
                &loc.member("chat_template"),
                "chat_template",
                source,
            ));
        }
        serde_json::Value::Array(entries) => {
            for (i, entry) in entries.iter().enumerate() {
                let name = entry.get("name").and_then(serde_json::Value::as_str);
                let key = match name {
                    Some(name) => format!("chat_template[{i}] ({name})"),
                    None => format!("chat_template[{i}]"),
                };
                let at = loc.member(key.clone());
                match entry.get("template") {
                    Some(serde_json::Value::String(source)) => {
                        add(templates::check(&at, &key, source));
                    }
                    _ => add(templates::unusable(
                        &at,
                        &key,
                        "entry is not an object with a string `template`",
                    )),
                }
            }
        }
        _ => add(templates::unusable(
            &loc.member("chat_template"),
            "chat_template",
            "neither a string nor a list of {name, template} objects",
        )),
    }
    result
}

/// The 1-based line of the first `"key":` in a JSON text.
fn key_line(text: &str, key: &str) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    let mut from = 0;
    while let Some(found) = text.get(from..)?.find(&quoted) {
        let at = from + found;
        let after = text.get(at + quoted.len()..)?.trim_start();
        if after.starts_with(':') {
            return Some(text.get(..at)?.matches('\n').count() + 1);
        }
        from = at + quoted.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_transformers_loads_are_recognised() {
        assert_eq!(
            kind_of("m/tokenizer_config.json"),
            Some(TemplateFile::TokenizerConfig)
        );
        assert_eq!(
            kind_of("chat_template.json"),
            Some(TemplateFile::ChatTemplateJson)
        );
        assert_eq!(
            kind_of("a\\preprocessor_config.json"),
            Some(TemplateFile::ProcessorConfig)
        );
        assert_eq!(kind_of("m/chat_template.jinja"), Some(TemplateFile::Jinja));
        assert_eq!(
            kind_of("m/additional_chat_templates/tool_use.jinja"),
            Some(TemplateFile::Jinja)
        );
        assert_eq!(kind_of("m/other.jinja"), None);
        assert_eq!(kind_of("m/config.json"), None);
    }

    #[test]
    fn template_shapes() {
        let loc = Location::file("t");
        assert!(json_templates(&loc, "{}").inspected);
        let listed = json_templates(
            &loc,
            r#"{"chat_template": [{"name": "default", "template": "{{ x }}"}, {"name": "rag", "template": "{{ x.__class__ }}"}]}"#,
        );
        assert_eq!(listed.findings.len(), 1);
        assert_eq!(
            listed.findings[0].location.members,
            vec!["chat_template[1] (rag)".to_string()]
        );
        assert!(!json_templates(&loc, r#"{"chat_template": 5}"#).inspected);
        assert!(!json_templates(&loc, "[").inspected);
        let deep = "[".repeat(10_000);
        assert!(!json_templates(&loc, &deep).inspected);
    }

    #[test]
    fn key_lines() {
        assert_eq!(
            key_line(
                "{\n \"a\": \"chat_template\",\n \"chat_template\" : 1}",
                "chat_template"
            ),
            Some(3)
        );
    }
}
