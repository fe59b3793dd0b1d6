//! Chat templates, wherever they are stored: parsed and analysed by `mlvet-jinja`, never
//! rendered. Shared by the GGUF scan and the Hugging Face tokenizer files.

use mlvet_core::{Finding, Location};
use mlvet_jinja::Severity;

use crate::rules::{template_sandbox_escape, template_suspicious_access, template_unparseable};

/// What checking one template found.
pub(crate) struct TemplateCheck {
    pub findings: Vec<Finding>,
    /// False when the template could not be parsed (it was not inspected).
    pub inspected: bool,
}

/// Parses and analyses one template stored under `key` at `loc` (the container member chain
/// already names the key); findings point at the template line.
pub(crate) fn check(loc: &Location, key: &str, source: &str) -> TemplateCheck {
    let limits = mlvet_jinja::Limits::default();
    match mlvet_jinja::inspect(source, &limits) {
        Ok(analysis) => TemplateCheck {
            findings: analysis
                .issues
                .iter()
                .map(|issue| {
                    let at = loc.clone().with_line(issue.line);
                    match issue.severity {
                        Severity::Malicious => template_sandbox_escape::finding(at, key, issue),
                        Severity::Suspicious => template_suspicious_access::finding(at, key, issue),
                    }
                })
                .collect(),
            inspected: true,
        },
        Err(err) => {
            let at = match err.line() {
                Some(line) => loc.clone().with_line(line),
                None => loc.clone(),
            };
            TemplateCheck {
                findings: vec![template_unparseable::finding(at, key, err.to_string())],
                inspected: false,
            }
        }
    }
}

/// A template stored in a shape its loader does not accept.
pub(crate) fn unusable(loc: &Location, key: &str, why: &str) -> TemplateCheck {
    TemplateCheck {
        findings: vec![template_unparseable::finding(loc.clone(), key, why)],
        inspected: false,
    }
}
